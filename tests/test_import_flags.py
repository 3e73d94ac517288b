"""`swiftpipe import` and flags the installed ms-swift does not take: names retired since 2.x become what replaced
them, in a spelling ms-swift 3 and 4 both accept; any other (a fork's own, a typo) is kept as written, with a warning
on stderr and in the recipe, and `swiftpipe lint` names it. No such flag refuses the import.

Run under each of the two environments (ms-swift 3 and 4), the installed parser checks every translation; the other
major's spelling comes from the dialect tables, as in test_import.py."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from shell_commands import flag_pairs

from swiftpipe.cli import main
from swiftpipe.errors import LintError
from swiftpipe.importer.importing import import_files
from swiftpipe.importer.writer import recipe_text
from swiftpipe.msswift import dialects
from swiftpipe.msswift.arguments import known_flags
from swiftpipe.msswift.retired import RETIRED
from swiftpipe.recipe import loading
from swiftpipe.render.commands import render_recipe
from swiftpipe.render.lint import lint
from swiftpipe.versions import swift_version

INSTALLED = dialects.target(swift_version()).major
SUBCOMMANDS = ("pt", "sft", "rlhf", "infer", "export", "eval", "deploy", "app", "rollout", "sample")
TRAINING = ("pt", "sft", "rlhf")  # transformers' own training flags (eval_strategy) are theirs alone


def _retired() -> list[tuple[str, str, str]]:
    """(old flag, subcommand, its successor there) for each retired flag that has one."""
    cases = []
    for old, successors in RETIRED.items():
        for rule in successors:
            everywhere = TRAINING if old == "evaluation_strategy" else SUBCOMMANDS
            cases += [(old, command, rule.new) for command in sorted(rule.commands or everywhere) if rule.new]
    return cases


@pytest.mark.parametrize("old,command,new", _retired())
def test_every_retired_flag_has_a_successor_the_installed_ms_swift_takes(old: str, command: str, new: str) -> None:
    spelled = dialects.RENAMED.get(new, {}).get(INSTALLED, new)
    assert spelled in known_flags(command), f"swift {command} --{old} -> --{new}"
    assert old not in known_flags(command) or (old, INSTALLED) == ("lora_modules", 3)  # 3.x's own shim, gone in 4


def _import(tmp_path: Path, text: str, name: str = "imported"):
    script = tmp_path / f"{name}.sh"
    script.write_text(text)
    imported = import_files([str(script)])
    path = tmp_path / f"{name}.py"
    path.write_text(recipe_text(imported, name=name, path=str(path)))
    return imported, path


def _commands(path: Path, major: int) -> dict:
    loaded = loading.load(path)
    return {r.command.stage: r.command for r in render_recipe(loaded.recipe, loaded.source,
                                                               dialect=dialects.target(major))}


OLD_SCRIPT = """\
NPROC_PER_NODE=2 swift rlhf --rlhf_type grpo --model Qwen/Qwen2.5-0.5B --dataset data/train.jsonl \\
    --use_lmdeploy true --num_infer_workers 2 --vllm_device auto --tensor_parallel_size 1 \\
    --evaluation_strategy steps --no_load_from_cache_file --output_dir out/grpo
swift infer --model Qwen/Qwen2.5-0.5B --adapter out/lora --use_vllm true --gpu_memory_utilization 0.8 \\
    --max_num_seqs 64 --enforce_eager true --save_result_path out/result.jsonl --val_dataset data/eval.jsonl
swift sample --model Qwen/Qwen2.5-0.5B --use_lmdeploy true --dataset data/train.jsonl --output_dir out/sample
swift export --model Qwen/Qwen2.5-0.5B --lora_modules out/lora --merge_lora true
"""


def test_a_script_of_retired_flags_imports_as_flags_both_majors_take(tmp_path: Path) -> None:
    imported, path = _import(tmp_path, OLD_SCRIPT)
    commands = _commands(path, INSTALLED)
    assert lint(list(commands.values()), where="retired flags") > 20  # the installed parser takes every one
    grpo, infer, sample, export = (dict(flag_pairs(c.argv)) for c in commands.values())
    assert grpo["--use_vllm"] == ("true",) and grpo["--vllm_mode"] == ("colocate",)  # 2 workers for 2 processes
    assert grpo["--vllm_tensor_parallel_size"] == ("1",) and grpo["--eval_strategy"] == ("steps",)
    assert grpo["--load_from_cache_file"] == ("false",)
    assert not {"--use_lmdeploy", "--num_infer_workers", "--vllm_device", "--no_load_from_cache_file"} & set(grpo)
    assert infer["--adapters"] == ("out/lora",) and infer["--infer_backend"] == ("vllm",)
    assert infer["--vllm_gpu_memory_utilization"] == ("0.8",) and infer["--vllm_max_num_seqs"] == ("64",)
    assert infer["--vllm_enforce_eager"] == ("true",) and infer["--result_path"] == ("out/result.jsonl",)
    assert sample["--sampler_engine"] == ("lmdeploy",)
    assert export["--adapters"] == ("out/lora",)
    other = 7 - INSTALLED  # 3 <-> 4: the same flags, spelled for the other major
    assert [c.flags for c in _commands(path, other).values()] == [c.flags for c in commands.values()]
    texts = [str(f) for f in imported.findings]
    assert not [t for t in texts if "warning" in t], texts
    assert any("--vllm_device auto (3.5 dropped it" in t for t in texts)
    assert "# " + texts[0] in path.read_text().replace("\n        #   ", " ")  # each beside its stage


@pytest.mark.parametrize("flags,env,mode,finding", [
    ("--use_vllm true", "", "colocate", "translated: --use_vllm true -> --vllm_mode colocate"),
    ("--use_vllm true --vllm_server_host 127.0.0.1", "", "server", "-> --vllm_mode server"),
    ("--use_vllm true --num_infer_workers 4", "NPROC_PER_NODE=4 ", "colocate", "--num_infer_workers 4 -> "
     "--vllm_mode colocate"),
    ("--use_vllm true --num_infer_workers 2", "NPROC_PER_NODE=4 ", None, "warning: --num_infer_workers 2 ran vLLM on "
     "GPUs of its own"),
    ("--num_infer_workers 2", "NPROC_PER_NODE=4 ", None, "dropped: --num_infer_workers 2 (it placed a vLLM rollout"),
    ("--use_vllm true --vllm_mode server --vllm_server_host h --num_infer_workers 1", "", "server", "dropped: "
     "--num_infer_workers 1 (--vllm_mode places the rollout)"),
], ids=["implied-colocate", "implied-server", "workers-colocate", "workers-apart", "no-vllm", "mode-given"])
def test_grpo_places_its_vllm_rollout_as_ms_swift_3_12_and_4_require(tmp_path: Path, flags: str, env: str,
                                                                       mode: str | None, finding: str) -> None:
    imported, path = _import(tmp_path, f"{env}swift rlhf --rlhf_type grpo --model m --dataset d.jsonl {flags}\n")
    (grpo,) = _commands(path, INSTALLED).values()
    assert dict(flag_pairs(grpo.argv)).get("--vllm_mode") == ((mode,) if mode else None)
    assert "--num_infer_workers" not in grpo.argv
    assert any(finding in str(f) for f in imported.findings), [str(f) for f in imported.findings]


FORK = "swift sft --model Qwen/Qwen2.5-0.5B --dataset data/train.jsonl --EWC true --EWC_lambda 0.5 \\\n    " \
       "--learning_rat 1e-4\n"


def test_a_flag_no_ms_swift_takes_is_kept_with_a_warning_beside_its_stage_and_lint_names_it(tmp_path: Path) -> None:
    imported, path = _import(tmp_path, FORK)
    warnings = [f for f in imported.findings if f.category == "warning"]
    assert [w.where for w in warnings] == [f"{tmp_path}/imported.sh:{n}" for n in (1, 1, 2)]
    assert f"--learning_rat is not a flag of ms-swift {swift_version()}'s `swift sft` (closest: --learning_rate)" \
        in warnings[2].text and "swiftpipe lint" in warnings[2].text
    text = path.read_text()
    assert '"EWC": True,' in text and '"EWC_lambda": 0.5,' in text and '"learning_rat": 1e-4,' in text
    comments = text[text.index("def recipe"):text.index('sft("sft"')].replace("\n        #   ", " ")
    assert all(f"# {w}\n" in comments for w in warnings), comments
    (sft,) = _commands(path, INSTALLED).values()
    assert ("--EWC", ("true",)) in flag_pairs(sft.argv) and ("--learning_rat", ("1e-4",)) in flag_pairs(sft.argv)
    with pytest.raises(LintError) as error:
        lint([sft], where=str(path))
    assert [line.split(", ")[1].split(":")[0] for line in str(error.value).splitlines()] == [
        "--EWC", "--EWC_lambda", "--learning_rat"]
    assert "did you mean --learning_rate?" in str(error.value)


def test_the_cli_imports_a_forks_flags_and_warns_on_stderr(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fork.sh").write_text(FORK)
    result = CliRunner().invoke(main, ["import", "fork.sh", "-o", "fork.py"])
    assert result.exit_code == 0, result.output
    assert "fork.sh:1: warning: --EWC is not a flag of ms-swift" in result.stderr
    assert "fork.sh:2: warning: --learning_rat is not a flag" in result.stderr and "wrote fork.py" in result.stderr
    assert loading.load(Path("fork.py")).recipe.stage_names == ["sft"]
    linted = CliRunner().invoke(main, ["lint", "fork.py"])
    assert linted.exit_code != 0 and "--EWC" in linted.stderr and "--learning_rat" in linted.stderr


@pytest.mark.parametrize("flags,rendered,finding", [
    ("--check_dataset_strategy error", ["--strict", "true"], "--check_dataset_strategy error -> --strict true"),
    ("--check_dataset_strategy discard", [], "dropped: --check_dataset_strategy discard (ms-swift 3/4's default)"),
    ("--no_load_from_cache_file", ["--load_from_cache_file", "false"], "-> --load_from_cache_file false"),
    ("--evaluation_strategy epoch", ["--eval_strategy", "epoch"], "--evaluation_strategy -> --eval_strategy"),
], ids=["2x-check-error", "2x-check-discard", "negated-switch", "transformers-name"])
def test_a_training_flag_of_older_releases_becomes_its_successor(tmp_path: Path, flags: str, rendered: list[str],
                                                                  finding: str) -> None:
    imported, path = _import(tmp_path, f"swift sft --model m --dataset data/d.jsonl {flags}\n")
    (sft,) = _commands(path, INSTALLED).values()
    assert sft.argv[6:] == rendered
    assert any(finding in str(f) for f in imported.findings), [str(f) for f in imported.findings]
    assert not [f for f in imported.findings if f.category == "warning"]


def test_an_engine_switch_is_dropped_when_off_and_kept_with_a_warning_when_the_script_sets_it(tmp_path: Path) -> None:
    imported, path = _import(tmp_path, "swift infer --model m --use_vllm false --use_lmdeploy $FAST\n")
    (infer,) = _commands(path, INSTALLED).values()
    assert "--use_vllm" not in infer.argv and "--use_lmdeploy" in infer.argv  # $FAST: only known when it runs
    texts = [str(f) for f in imported.findings]
    assert any("dropped: --use_vllm false (off, the default)" in t for t in texts), texts
    assert any("warning: --use_lmdeploy is not a flag" in t for t in texts), texts
