"""`swiftpipe import` of LLaMA-Factory configs whose `dataset:` names entries of a dataset_info.json kept elsewhere:
each name the config's own dataset_dir cannot resolve becomes a recipe parameter with a warning, `--dataset-info
FILE` resolves it at import time, and a bad registry is one line naming the file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from shell_commands import flag_pairs

from swiftpipe.cli import main
from swiftpipe.importer.importing import import_files
from swiftpipe.importer.writer import recipe_text
from swiftpipe.msswift import dialects
from swiftpipe.recipe import loading
from swiftpipe.render.commands import render_recipe

CONFIG = """\
model_name_or_path: /models/Qwen3-0.6B
stage: sft
do_train: true
finetuning_type: lora
dataset: {dataset}
{extra}template: qwen3
output_dir: saves/sft
"""


def _config(folder: Path, dataset: str, *, extra: str = "", name: str = "sft.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(CONFIG.format(dataset=dataset, extra=extra))
    return path


def _registry(folder: Path, entries: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dataset_info.json"
    path.write_text(json.dumps(entries))
    return path


def _write(imported, path: Path) -> Path:
    path.write_text(recipe_text(imported, name=path.stem, path=str(path)))
    return path


def _flags(recipe: Path, *params: str) -> dict:
    loaded = loading.load(recipe, params=list(params))
    [rendered] = render_recipe(loaded.recipe, loaded.source, dialect=dialects.target(3))
    return dict(flag_pairs(rendered.command.argv))


def _cli(*args: str):
    return CliRunner().invoke(main, ["import", *args])


def test_a_registered_name_with_no_dataset_info_becomes_a_parameter_that_renders(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config(Path("configs"), "alpaca_en_demo")
    imported = import_files([str(config)])
    assert {p.name: p.default for p in imported.params.values()} == {"alpaca_en_demo": "alpaca_en_demo"}
    [warning] = [f for f in imported.findings if f.category == "warning"]
    assert warning.where == "configs/sft.yaml:5" and "\n" not in warning.text
    assert "dataset: alpaca_en_demo names an entry of LLaMA-Factory's dataset_info.json that was not found" in \
        warning.text
    assert "configs/data/" in warning.text  # where it looked
    assert "--dataset-info FILE" in warning.text and "-p alpaca_en_demo=PATH" in warning.text
    recipe = _write(imported, tmp_path / "recipe.py")
    assert "-p alpaca_en_demo=..." in recipe.read_text()
    assert _flags(recipe)["--dataset"] == ("alpaca_en_demo",)
    assert _flags(recipe, "alpaca_en_demo=data/alpaca.json")["--dataset"] == ("data/alpaca.json",)


def test_each_of_several_names_and_the_eval_dataset_is_a_parameter_with_max_samples_kept(tmp_path: Path,
                                                                                          monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config(Path("configs"), "alpaca_en_demo, 2nd-set", extra="eval_dataset: alpaca_en_demo\nmax_samples: "
                     "50\n")
    imported = import_files([str(config)])
    assert {p.name: p.default for p in imported.params.values()} == {"alpaca_en_demo": "alpaca_en_demo",
                                                                     "dataset_2nd_set": "2nd-set"}
    warnings = [f.text.split(" names ")[0] for f in imported.findings if f.category == "warning"]
    assert warnings == ["dataset: alpaca_en_demo", "dataset: 2nd-set", "eval_dataset: alpaca_en_demo"]
    assert sum("max_samples" in f.text for f in imported.findings) == 1
    recipe = _write(imported, tmp_path / "recipe.py")
    flags = _flags(recipe)
    assert flags["--dataset"] == ("alpaca_en_demo#50", "2nd-set#50")
    assert flags["--val_dataset"] == ("alpaca_en_demo#50",)
    flags = _flags(recipe, "dataset_2nd_set=b.jsonl", "alpaca_en_demo=a.json")
    assert flags["--dataset"] == ("a.json#50", "b.jsonl#50") and flags["--val_dataset"] == ("a.json#50",)


def test_dataset_info_resolves_files_columns_and_hub_entries_relative_to_its_folder(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    info = _registry(Path("LLaMA-Factory/data"), {
        "qa": {"file_name": "qa.json", "columns": {"prompt": "question", "response": "answer"}},
        "chat": {"file_name": "chat.json", "formatting": "sharegpt", "columns": {"messages": "dialogue"}},
        "book": {"hf_hub_url": "someone/books", "subset": "zh"}})
    config = _config(Path("repo/configs"), "qa,chat,book")
    result = _cli(str(config), "--dataset-info", str(info), "-o", "recipe.py")
    assert result.exit_code == 0, result.output
    assert "not found" not in result.stderr and "qa's columns" in result.stderr
    flags = _flags(Path("recipe.py"))
    assert flags["--dataset"] == ("LLaMA-Factory/data/qa.json", "LLaMA-Factory/data/chat.json", "someone/books:zh")
    assert json.loads(flags["--columns"][0]) == {"question": "instruction", "answer": "output",
                                                 "dialogue": "conversations"}
    assert flags["--use_hf"] == ("true",)


def test_the_configs_own_dataset_info_comes_first_and_the_given_one_fills_in(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _registry(Path("repo/configs/data"), {"mine": {"file_name": "mine.jsonl"}, "both": {"file_name": "ours.jsonl"}})
    info = _registry(Path("lf/data"), {"both": {"file_name": "theirs.jsonl"}, "demo": {"file_name": "demo.json"}})
    config = _config(Path("repo/configs"), "mine,both,demo,neither")
    imported = import_files([str(config)], dataset_info=str(info))
    flags = _flags(_write(imported, tmp_path / "recipe.py"))
    assert flags["--dataset"] == ("repo/configs/data/mine.jsonl", "repo/configs/data/ours.jsonl", "lf/data/demo.json",
                                  "neither")
    [warning] = [f.text for f in imported.findings if f.category == "warning"]
    assert "not an entry of repo/configs/data/dataset_info.json, nor of lf/data/dataset_info.json" in warning


def test_the_dataset_dir_above_the_config_is_found_up_to_its_repository(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _registry(Path("repo/data"), {"spider": {"file_name": "spider.json"}})
    config = _config(Path("repo/configs/spider"), "spider", extra="dataset_dir: data\n")
    imported = import_files([str(config)])
    assert _flags(_write(imported, tmp_path / "recipe.py"))["--dataset"] == ("repo/data/spider.json",)
    assert any(f.category == "translated" and f.text.startswith("dataset_dir: data -> repo/data/")
               for f in imported.findings)
    for top in ("repo/configs", "repo/configs/spider"):  # a repository of its own: what is above it is not its
        (tmp_path / top / ".git").mkdir()
        assert import_files([str(config)]).params["spider"].default == "spider"
        (tmp_path / top / ".git").rmdir()


@pytest.mark.parametrize("name,text,message", [
    ("missing.json", None, "missing.json: no such file"),
    ("broken.json", '{\n  "qa": {"file_name": "qa.json",}\n}\n', "broken.json:2: not valid JSON"),
    ("list.json", '["qa"]\n', "list.json: a dataset_info.json is a mapping of dataset names to their entries"),
    ("folder", "", "folder: not a file"),
])
def test_a_bad_dataset_info_is_one_line_naming_it_and_nothing_is_written(tmp_path: Path, monkeypatch, name: str,
                                                                         text: str | None, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config(Path("configs"), "qa")
    if name == "folder":
        Path(name).mkdir()
    elif text is not None:
        Path(name).write_text(text)
    result = _cli(str(config), "--dataset-info", name, "-o", "out.py")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output and not Path("out.py").exists()


@pytest.mark.parametrize("name,text,message", [
    ("dataset_info.json", '{"qa": {"file_name": "qa.json"}}\n', "dataset_info.json: not a kind of file"),
    ("bad.yaml", "stage: sft\nmodel_name_or_path: [m\n", "bad.yaml:3: not valid YAML"),
    ("configs/own.yaml", CONFIG.format(dataset="qa", extra=""), "configs/data/dataset_info.json:1: not valid JSON"),
])
def test_what_is_not_a_config_or_a_registry_stays_refused_in_one_line(tmp_path: Path, monkeypatch, name: str,
                                                                      text: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_text(text)
    _registry(Path("configs/data"), {}).write_text("{'qa': 1}\n")  # the own registry of configs/own.yaml, broken
    result = _cli(name, "-o", "out.py")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output and not Path("out.py").exists()
