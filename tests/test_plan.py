"""The plan (run/plan.py): what each stage does next and why, as one value that the local chain, Slurm and the
exported scripts all carry out; and a stage keyed by what it reads (run/reads.py)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from records import latest_record
from test_runner import _calls
from test_slurm import _slurm_stand_ins

from swiftpipe.cli import main
from swiftpipe.msswift.dialects import target
from swiftpipe.recipe.loading import load
from swiftpipe.records.record_types import Handed
from swiftpipe.run import reads
from swiftpipe.run.plan import Action, Step, plan

OBSERVED = """
recipe = make_recipe("observed", [
    sft("sft", {"model": "base", "train_type": "lora", "dataset": "data/sft.jsonl", "output_dir": "out/sft"}),
    compare("compare", "data/q.jsonl", {"base": "base", "sft": checkpoint("sft")}),
    merge("merge", {"ckpt_dir": checkpoint("sft")}),
    infer("chat", {"model": merged("merge")}),
])
"""


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, [*args])
    assert result.exit_code == code, result.output
    return result.output


def _plan_lines(output: str) -> list[str]:
    """The plan as `run --dry-run` prints it."""
    lines = output.split("plan:\n", 1)[1].splitlines()
    return [line.strip() for line in lines[:lines.index(next(x for x in lines if not x.startswith("  ")))]]


def test_a_fresh_plan_runs_every_stage_in_order_and_an_observer_stops_nothing(chain: Path, write_recipe) -> None:
    loaded = load(str(write_recipe(OBSERVED, name="observed.py")))
    steps = plan(loaded, target("3"), loaded.recipe.stage_names, work_dir=Path(".swiftpipe"), interactive=False)
    assert [(s.stage, s.action, s.after_ok, s.after_end) for s in steps.steps] == [
        ("sft", Action.RUN, (), ()),
        ("compare_base", Action.RUN, ("sft",), ()),
        ("compare_sft", Action.RUN, ("sft",), ("compare_base",)),
        ("merge", Action.RUN, ("sft",), ("compare_sft",)),
        ("chat", Action.SKIP, (), ()),  # a chat with no terminal
    ]
    assert [step.stage for step in steps.launched] == ["sft", "compare_base", "compare_sft", "merge"]
    assert steps.awaited("sft") and not steps.awaited("compare_base") and not steps.awaited("merge")
    assert steps.step("merge").needed == (("merged", "stage 'chat' (--model)"),)
    assert steps.step("compare_sft").line() == "compare_sft: run (after sft and compare_base ends)"
    assert steps == plan(loaded, target("3"), loaded.recipe.stage_names, work_dir=Path(".swiftpipe"),
                         interactive=False)  # a value: the same inputs make an equal plan
    assert plan(loaded, target("3"), loaded.recipe.stage_names, work_dir=Path(".swiftpipe"),
                interactive=True).step("chat") == Step("chat", Action.RUN, observes=True, after_ok=("merge",),
                                                       reads=steps.step("chat").reads)


def _edit_in_place(path: Path, text: str) -> None:
    """New content of the same size, written into the same file, its times put back: only what it holds changed."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    with open(path, "r+b") as f:
        f.write(text.encode())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_a_dataset_edited_in_place_runs_its_stage_again_and_what_reads_it(chain: Path, fake_swift: Path) -> None:
    _run("run", str(chain), "--quiet")
    _edit_in_place(Path("data/sft.jsonl"), '{"query": "Q", "response": "R"}\n')
    shown = _run("run", str(chain), "--resume", "--dry-run")
    assert _plan_lines(shown) == [
        "pretrain: reuse: unchanged since it finished",
        "sft: run: data/sft.jsonl changed since it finished",
        "merge: run: stage 'sft' runs before it (after sft)",
        "infer: run: stage 'merge' runs before it (after merge)",
    ]
    assert len(_calls(fake_swift)) == 4  # the dry run launched nothing
    assert "'<sft.last_checkpoint>'" in shown  # the merge reads what the SFT will make, not what it made
    output = _run("run", str(chain), "--resume", "--quiet")
    assert "sft: data/sft.jsonl changed since it finished; running it again" in output
    assert [c["argv"][1] for c in _calls(fake_swift)[4:]] == ["sft", "export", "infer"]
    [path] = sorted(Path(".swiftpipe/runs").glob("*/record.json"))[-1:]
    handed = {h["flag"]: h for h in json.loads(path.read_text())["stages"]["sft"]["inputs"]}
    assert handed["dataset"]["path"] == "data/sft.jsonl"  # relative to the project, as every path of the record
    assert handed["model"]["producer"] == "pretrain" and handed["model"]["kind"] == "last_checkpoint"
    assert latest_record()["stages"]["sft"]["inputs"][0]["path"] == \
        latest_record()["stages"]["pretrain"]["outputs"]["last_checkpoint"]  # --model, what it was handed
    assert _plan_lines(_run("run", str(chain), "--resume", "--dry-run")) == [
        f"{name}: reuse: unchanged since it finished" for name in ("pretrain", "sft", "merge", "infer")]


def test_a_replaced_base_model_runs_everything_after_it(chain: Path, fake_swift: Path) -> None:
    _run("run", str(chain), "--quiet")
    shutil.rmtree("base")
    Path("base").mkdir()
    Path("base/config.json").write_text("{}")  # the same file name and content: another model folder
    assert _plan_lines(_run("run", str(chain), "--resume", "--dry-run"))[:2] == [
        "pretrain: run: base changed since it finished",
        "sft: run: stage 'pretrain' runs before it (after pretrain)"]


def test_a_stage_whose_command_changed_never_continues_the_old_commands_checkpoint(
        chain: Path, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "sft")  # fails after its first checkpoint
    _run("run", str(chain), "--quiet", code=1)
    monkeypatch.delenv("FAKE_SWIFT_FAIL_ON")
    steps = _plan_lines(_run("run", str(chain), "--resume", "--dry-run"))
    assert steps[1].startswith("sft: continue: from ") and steps[1].endswith("/checkpoint-2")
    edited = _run("run", str(chain), "--resume", "--dry-run", "--set", "sft.train_type=full")
    assert _plan_lines(edited)[1].startswith("sft: run: its command changed since ")
    assert "(--train_type lora -> full); starting over" in _plan_lines(edited)[1].replace("tuner_type", "train_type")
    _edit_in_place(Path("data/sft.jsonl"), '{"query": "Q", "response": "R"}\n')  # trained on data since edited
    assert _plan_lines(_run("run", str(chain), "--resume", "--dry-run"))[1].startswith(
        "sft: run: data/sft.jsonl changed since ")


@pytest.mark.parametrize("situation", ["a stage failed", "its data was edited"])
def test_a_local_and_a_slurm_resume_of_one_record_decide_alike(
        chain: Path, fake_swift: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, situation: str) -> None:
    if situation == "a stage failed":
        monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "export")
        _run("run", str(chain), "--quiet", code=1)
        monkeypatch.delenv("FAKE_SWIFT_FAIL_ON")
    else:
        _run("run", str(chain), "--quiet")
        _edit_in_place(Path("data/sft.jsonl"), '{"query": "Q", "response": "R"}\n')
    shutil.copytree(".swiftpipe", tmp_path / "records")
    before = len(_calls(fake_swift))
    local = _run("run", str(chain), "--resume", "--quiet")
    launched_here = [c["argv"][1] for c in _calls(fake_swift)[before:]]
    states_here = {n: e["state"] for n, e in latest_record()["stages"].items()}

    shutil.rmtree(".swiftpipe")
    shutil.copytree(tmp_path / "records", ".swiftpipe")  # the same records, as the local resume found them
    sbatch_log = _slurm_stand_ins(tmp_path / "slurm", monkeypatch)
    slurm = _run("run", str(chain), "--launcher", "slurm", "--resume", "--quiet")
    submitted = [line.rsplit("/", 1)[-1].removesuffix(".sbatch") for line in sbatch_log.read_text().splitlines()]
    subcommand = {"pretrain": "pt", "sft": "sft", "merge": "export", "infer": "infer"}
    assert [subcommand[name] for name in submitted] == launched_here
    states_there = {n: e["state"] for n, e in latest_record()["stages"].items()}
    assert {n: s for n, s in states_there.items() if s != "queued"} == \
        {n: s for n, s in states_here.items() if n not in submitted}
    said = [line.split("] ", 1)[1] for line in local.splitlines()
            if "reusing its outputs" in line or "running it again" in line]
    assert said and all(line in slurm for line in said)


def test_what_a_stage_reads_is_keyed_by_content_not_by_where_the_project_is(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("model").mkdir()
    Path("model/config.json").write_text("{}")
    Path("model/weights.safetensors").write_bytes(b"w" * 200_000)
    Path("data.jsonl").write_text("{}\n")
    first = reads.identity("model")
    assert first == reads.identity(tmp_path / "model") and first != reads.identity("data.jsonl")
    os.chmod("model/weights.safetensors", 0o600)  # a change of mode changes no data
    assert reads.identity("model") == first
    Path("model/infer_result").mkdir()  # what `swift infer` and `swift eval` write into a checkpoint they read
    Path("model/infer_result/20261203-120000.jsonl").write_text("{}\n")
    Path("model/eval_result.jsonl").write_text("{}\n")
    assert reads.identity("model") == first
    with open("model/weights.safetensors", "r+b") as f:  # the middle edited: size, ends and times kept
        before = os.fstat(f.fileno())
        f.seek(100_000)
        f.write(b"x")
    os.utime("model/weights.safetensors", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert reads.identity("model") == first  # what is not hashed is not seen: the trade for a 20 GB file in ms
    Path("model/weights.safetensors").write_bytes(b"w" * 199_999 + b"x")  # the tail edited
    assert reads.identity("model") != first
    assert reads.identity("missing") is None
    assert reads.local_path("data.jsonl#100") == "data.jsonl" and reads.local_path("Qwen/Qwen2.5-1.5B") is None
    handed = [Handed("dataset", str(tmp_path / "data.jsonl"), "a")]
    assert reads.changed(None, handed) is None  # an older record: its command decides
    assert reads.changed(handed, [Handed("dataset", str(tmp_path / "data.jsonl"), "b")]) == "data.jsonl changed"
    assert reads.changed(handed, []) == "--dataset no longer reads data.jsonl"


def test_a_record_without_inputs_is_read_and_its_stages_reused(chain: Path, fake_swift: Path) -> None:
    """A record written before inputs were kept: its stages are reused on their command alone."""
    _run("run", str(chain), "--quiet")
    path = next(Path(".swiftpipe/runs").glob("*/record.json"))
    data = json.loads(path.read_text())
    for entry in data["stages"].values():
        del entry["inputs"]
    path.write_text(json.dumps(data))
    assert _plan_lines(_run("run", str(chain), "--resume", "--dry-run")) == [
        f"{name}: reuse: unchanged since it finished" for name in ("pretrain", "sft", "merge", "infer")]


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_moved_or_copied_project_reuses_every_stage(chain: Path, fake_swift: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """`mv` keeps inodes and times, `cp -a` (rsync -a, a backup restored) only times: either way nothing it reads
    changed, and no stage runs again."""
    _run("run", str(chain), "--quiet")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-{how}"
    if how == "moved":
        os.rename(tmp_path, elsewhere)
    else:
        shutil.copytree(tmp_path, elsewhere, symlinks=True)
    monkeypatch.chdir(elsewhere)
    assert _plan_lines(_run("run", str(chain), "--resume", "--dry-run")) == [
        f"{name}: reuse: unchanged since it finished" for name in ("pretrain", "sft", "merge", "infer")]


EVALUATED = """
recipe = make_recipe("evaluated", [
    sft("sft", {"model": "base", "train_type": "lora", "dataset": "data/sft.jsonl", "output_dir": "out/sft"}),
    evaluate("eval", {"base": "base", "sft": checkpoint("sft")}, ["data/qa.jsonl"]),
])
"""


def test_an_edited_questions_file_that_only_a_json_flag_names_runs_its_evaluations_again(
        chain: Path, fake_swift: Path, write_recipe) -> None:
    Path("data/qa.jsonl").write_text('{"query": "what?", "response": "this."}\n')
    recipe = str(write_recipe(EVALUATED, name="evaluated.py"))
    _run("run", recipe, "--quiet")
    Path("data/qa.jsonl").write_text('{"query": "what?", "response": "that."}\n')
    assert _plan_lines(_run("run", recipe, "--resume", "--dry-run")) == [
        "sft: reuse: unchanged since it finished",
        "eval_base: run: data/qa.jsonl changed since it finished",
        "eval_sft: run: data/qa.jsonl changed since it finished (after eval_base ends)"]


def test_a_resume_without_p_continues_with_the_parameters_and_set_of_the_run_it_continues(
        chain: Path, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's short form, `run RECIPE --resume`, after `-p` and `--set`: the checkpoint is continued with
    the command it was written with, not started over with the recipe's defaults."""
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "sft")
    _run("run", str(chain), "--quiet", "-p", "out=elsewhere", "--set", "sft.learning_rate=1e-4", code=1)
    monkeypatch.delenv("FAKE_SWIFT_FAIL_ON")
    _run("run", str(chain), "--quiet", "--resume")
    sft = [c["argv"] for c in _calls(fake_swift) if c["argv"][1] == "sft"][-1]
    assert sft[sft.index("--learning_rate") + 1] == "1e-4"
    assert sft[sft.index("--resume_from_checkpoint") + 1].startswith(str(Path("elsewhere/sft").resolve()))
