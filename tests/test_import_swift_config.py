"""`swiftpipe import` of ms-swift's own config files: a YAML or JSON mapping of flag name -> value, on its own
(`swiftpipe import train.yaml`) or named by a script (`swift sft --config train.yaml`), comes back as the command
line ms-swift's launcher would build from it (swift/cli/main.py in 3.x and 4.x)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from shell_commands import flag_pairs

from swiftpipe.cli import main
from swiftpipe.importer import swift_config
from swiftpipe.importer.calls import Call, Flag, Imported
from swiftpipe.importer.importing import import_files, reader_for
from swiftpipe.importer.writer import recipe_text
from swiftpipe.msswift import dialects
from swiftpipe.recipe import loading
from swiftpipe.render.commands import render_recipe

TRAIN_YAML = """\
# a LoRA run, as `swift sft --config train.yaml` reads it
model: Qwen/Qwen3-0.6B
train_type: lora
dataset:
  - a.jsonl
  - b.jsonl#100
learning_rate: 1e-4
gradient_checkpointing: true
lora_rank: 8
model_kwargs:
  max_pixels: 1003520
seed:
output_dir: out/sft
ENV:
  NPROC_PER_NODE: 2
"""


def _import(tmp_path: Path, *files: Path):
    imported = import_files([str(f) for f in files])
    path = tmp_path / "imported.py"
    path.write_text(recipe_text(imported, name="imported", path=str(path)))
    return imported, loading.load(path)


def _flags(loaded, major: int) -> dict[str, dict[str, tuple[str, ...]]]:
    rendered = render_recipe(loaded.recipe, loaded.source, dialect=dialects.target(major))
    return {r.command.stage: dict(flag_pairs(r.command.argv)) for r in rendered}


def _cli(*args: str):
    return CliRunner().invoke(main, ["import", *args])


def test_a_yaml_config_alone_is_an_sft_stage_with_its_keys_as_flags(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(TRAIN_YAML)
    imported, loaded = _import(tmp_path, config)
    three = _flags(loaded, 3)["sft"]
    assert list(three) == ["--model", "--train_type", "--dataset", "--learning_rate", "--gradient_checkpointing",
                           "--lora_rank", "--model_kwargs", "--output_dir"]
    assert three["--dataset"] == ("a.jsonl", "b.jsonl#100") and three["--learning_rate"] == ("1e-4",)
    assert three["--gradient_checkpointing"] == ("true",)
    assert three["--model_kwargs"] == ('{"max_pixels": 1003520}',)  # a mapping: JSON text, as ms-swift passes it
    assert _flags(loaded, 4)["sft"]["--tuner_type"] == ("lora",)
    [rendered] = render_recipe(loaded.recipe, loaded.source, dialect=dialects.target(3))
    assert "NPROC_PER_NODE=2" in rendered.script  # ms-swift 4's ENV: mapping
    findings = {(f.where, f.category) for f in imported.findings}
    assert (f"{config}:12", "dropped") in findings  # `seed:` with no value, at its own line
    assert (f"{config}:2", "warning") in findings  # sft assumed: a pt config has the same keys
    assert any("pretrain" in f.text for f in imported.findings if f.category == "warning")


def test_an_rlhf_config_is_an_rlhf_stage_with_its_type_first(tmp_path: Path) -> None:
    config = tmp_path / "dpo.yaml"
    config.write_text("model: Qwen/Qwen3-0.6B\ndataset: [prefs.jsonl]\nrlhf_type: dpo\nbeta: 0.1\n")
    imported, loaded = _import(tmp_path, config)
    assert [c.command for c in imported.calls] == ["rlhf"]
    assert "dpo(" in (tmp_path / "imported.py").read_text()
    [(name, flags)] = _flags(loaded, 3).items()
    assert list(flags.items()) == [("--rlhf_type", ("dpo",)), ("--model", ("Qwen/Qwen3-0.6B",)),
                                   ("--dataset", ("prefs.jsonl",)), ("--beta", ("0.1",))]


def test_a_json_config_names_its_subcommand_by_its_keys_and_its_lines_in_findings(tmp_path: Path) -> None:
    config = tmp_path / "infer.json"
    config.write_text('{\n  "model": "Qwen/Qwen3-0.6B",\n  "infer_backend": "pt",\n  "seed": null,\n'
                      '  "val_dataset": ["a.jsonl"],\n  "max_new_tokens": 64\n}\n')
    imported, loaded = _import(tmp_path, config)
    assert [c.command for c in imported.calls] == ["infer"]
    flags = _flags(loaded, 3)["infer"]
    assert flags == {"--model": ("Qwen/Qwen3-0.6B",), "--infer_backend": ("pt",), "--val_dataset": ("a.jsonl",),
                     "--max_new_tokens": ("64",)}
    assert any(f.where == f"{config}:4" and f.category == "dropped" for f in imported.findings)
    assert any(f.where == f"{config}:3" and "swift infer" in f.text for f in imported.findings)


@pytest.mark.parametrize("name,text,reader", [
    ("train.yaml", TRAIN_YAML, "ms-swift config"),
    ("merge.json", '{"adapters": ["out/v0/checkpoint-10"], "merge_lora": true}', "ms-swift config"),
    ("lf.yaml", "stage: sft\nmodel_name_or_path: m\ndataset: alpaca\noutput_dir: out\n", "LLaMA-Factory config"),
    ("run.sh", "cat > cfg.yaml <<EOF\nmodel: m\nEOF\nswift sft --config cfg.yaml\n", "shell"),
])
def test_the_reader_is_chosen_by_the_keys(name: str, text: str, reader: str) -> None:
    assert reader_for(name, text) == reader


def test_a_scripts_config_file_becomes_its_flags_where_ms_swift_3_puts_them(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "train.yaml").write_text(TRAIN_YAML)
    script = folder / "train.sh"
    script.write_text("CUDA_VISIBLE_DEVICES=0 swift sft --config train.yaml --learning_rate 2e-4 --save_steps 50\n")
    monkeypatch.chdir(tmp_path)  # the file is found beside the script, not here
    imported, loaded = _import(tmp_path, script)
    flags = _flags(loaded, 3)["sft"]
    assert "--config" not in flags
    assert list(flags)[:2] == ["--save_steps", "--model"]  # ms-swift 3 appends the file's keys
    assert flags["--learning_rate"] == ("1e-4",)  # ... so the file's value is the last, and wins
    assert flags["--dataset"] == ("a.jsonl", "b.jsonl#100") and flags["--save_steps"] == ("50",)
    [clash] = [f for f in imported.findings if "learning_rate" in f.text]
    assert clash.where == f"{folder / 'train.yaml'}:7" and clash.category == "warning"
    assert "--learning_rate 1e-4 here, 2e-4 on the command" in clash.text and "keeps 1e-4" in clash.text
    assert any(f.where == f"{script}:1" and f.category == "translated" and "--config" in f.text
               for f in imported.findings)
    [rendered] = render_recipe(loaded.recipe, loaded.source, dialect=dialects.target(3))
    assert "CUDA_VISIBLE_DEVICES=0" in rendered.script and "NPROC_PER_NODE=2" in rendered.script


def test_a_config_given_first_keeps_the_command_lines_values_as_ms_swift_4_does(tmp_path: Path) -> None:
    (tmp_path / "train.yaml").write_text(TRAIN_YAML)
    call = Call("sft", [Flag("config", ["train.yaml"], 3), Flag("learning_rate", [2e-4], 3)], [], "run.sh", 3)
    swift_config.expand(call, Imported(sources=["run.sh"]), tmp_path, command_line_wins=True)
    assert [f.name for f in call.flags][-1] == "learning_rate" and call.get("learning_rate").values == [2e-4]
    assert call.get("config") is None and call.get("model").values == ["Qwen/Qwen3-0.6B"]


def test_a_config_at_another_machines_absolute_path_is_read_from_the_same_place_beside_the_script(
        tmp_path: Path) -> None:
    (tmp_path / "exp" / "configs").mkdir(parents=True)
    (tmp_path / "exp" / "configs" / "train.yaml").write_text(TRAIN_YAML)
    script = tmp_path / "exp" / "train.sh"
    script.write_text("swift sft --config /cluster/work/exp/configs/train.yaml\n")
    imported, loaded = _import(tmp_path, script)
    assert _flags(loaded, 3)["sft"]["--model"] == ("Qwen/Qwen3-0.6B",)
    assert any(f"read from {tmp_path / 'exp' / 'configs' / 'train.yaml'}" in f.text for f in imported.findings)


def test_a_config_file_that_is_not_here_stays_as_written_with_a_warning(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("train.sh").write_text("swift sft --config /nowhere/train.yaml --model m --dataset d.jsonl\n")
    result = _cli("train.sh", "-o", "out.py")
    assert result.exit_code == 0, result.output
    assert "train.sh:1: warning: --config /nowhere/train.yaml: not found" in result.stderr
    flags = _flags(loading.load(Path("out.py")), 3)["sft"]
    assert flags["--config"] == ("/nowhere/train.yaml",) and flags["--model"] == ("m",)


@pytest.mark.parametrize("files,message", [
    ({"bad.yaml": "model: m\ndataset: [a.jsonl, b.jsonl\nlearning_rate: 1e-4\n"}, "bad.yaml:3: not valid YAML"),
    ({"bad.json": '{\n  "model": "m",\n  "dataset": ["a.jsonl",]\n}\n'}, "bad.json:3: not valid JSON"),
    ({"run.sh": "swift sft --config bad.yaml\n", "bad.yaml": "model: m\n  train_type: lora\n"},
     "bad.yaml:2: not valid YAML"),
])
def test_an_invalid_config_is_one_line_naming_file_and_line_and_nothing_is_written(
        tmp_path: Path, monkeypatch, files: dict[str, str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        Path(name).write_text(text)
    result = _cli(next(iter(files)), "-o", "out.py")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {message}") and len(result.stderr.strip().splitlines()) == 1, \
        result.stderr
    assert "Traceback" not in result.output
    assert not Path("out.py").exists()
