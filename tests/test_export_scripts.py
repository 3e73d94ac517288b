"""export-scripts: standalone scripts that find each stage's input in ms-swift's output folders."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from swiftpipe.cli import main
from swiftpipe.errors import UserError
from swiftpipe.msswift import dialects as dialect
from swiftpipe.recipe import loading as loader
from swiftpipe.run import exported as scripts


def _export(repo: Path, folder: Path, *params: str, major: str = "3") -> list[Path]:
    # infer in batch mode: with no terminal, the tutorial's interactive chat would end in EOFError, as in ms-swift;
    # the questions compared and evaluated are q.jsonl in the working folder
    loaded = loader.load(repo / "recipes" / "medical.py", params=[*params, "questions=q.jsonl"],
                         sets=["pretrain.output_dir=out/pretrain", "sft.output_dir=out/sft", "dpo.output_dir=out/dpo",
                               "infer.val_dataset=q.jsonl"])
    return scripts.export(loaded, folder, dialect=dialect.target(major), project=folder.parent)


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _bash(script: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script)], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env})


def _flag(call: dict, name: str) -> str:
    argv = call["argv"]
    return argv[argv.index(name) + 1]


def test_writes_one_executable_script_per_stage_and_run_all(repo: Path, tmp_path: Path) -> None:
    written = _export(repo, tmp_path / "script")
    assert [p.name for p in written] == ["pretrain.sh", "sft.sh", "merge.sh", "dpo.sh", "merge_dpo.sh",
                                         "compare_base.sh", "compare_pretrain.sh", "compare_sft.sh", "compare_dpo.sh",
                                         "eval_base.sh", "eval_sft.sh", "eval_dpo.sh", "eval_cmb_base.sh",
                                         "eval_cmb_sft.sh", "eval_cmb_dpo.sh", "infer.sh", "run_all.sh"]
    for path in written:
        assert os.access(path, os.X_OK)
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
        assert "swiftpipe " not in path.read_text().split("pipefail", 1)[1]  # runs without swiftpipe


def test_the_whole_chain_runs_and_hands_each_checkpoint_on(repo: Path, tmp_path: Path, fake_swift: Path) -> None:
    _export(repo, tmp_path / "script")
    (tmp_path / "q.jsonl").write_text('{"query": "what?", "response": "this."}\n')
    done = _bash(tmp_path / "script" / "run_all.sh", tmp_path, FAKE_SWIFT_STEPS="5", FAKE_SWIFT_SAVE_STEPS="2")
    assert done.returncode == 0, done.stderr
    pt, sft, merge, dpo, merge_dpo, *compared_and_evaluated, infer = _calls(fake_swift)
    compared, evaluated = compared_and_evaluated[:4], compared_and_evaluated[4:]
    assert [c["argv"][1] for c in evaluated] == ["eval"] * 6
    pt_run = next((tmp_path / "out/pretrain").glob("v0-*"))
    assert _flag(sft, "--model") == f"{pt_run.relative_to(tmp_path)}/checkpoint-5"
    sft_run = next((tmp_path / "out/sft").glob("v0-*"))
    assert _flag(merge, "--ckpt_dir") == f"{sft_run.relative_to(tmp_path)}/checkpoint-5"
    assert _flag(dpo, "--model") == f"{sft_run.relative_to(tmp_path)}/checkpoint-5-merged"
    dpo_run = next((tmp_path / "out/dpo").glob("v0-*"))
    assert _flag(merge_dpo, "--ckpt_dir") == f"{dpo_run.relative_to(tmp_path)}/checkpoint-5"
    assert _flag(infer, "--model") == f"{dpo_run.relative_to(tmp_path)}/checkpoint-5-merged"
    assert pt["env"]["NPROC_PER_NODE"] == "1" and infer["env"]["CUDA_VISIBLE_DEVICES"] == "0"
    assert [_flag(c, "--model") for c in compared] == [  # the same questions to every model of the chain
        "Qwen/Qwen2.5-1.5B", _flag(sft, "--model"), _flag(dpo, "--model"), _flag(infer, "--model")]


@pytest.mark.parametrize("failing, ran, failed", [
    ({"FAKE_SWIFT_FAIL_MODEL": "Qwen/Qwen2.5-1.5B"},  # the base model cannot be loaded: every stage asking it fails
     ["pt", "sft", "export", "rlhf", "export", *["infer"] * 4, *["eval"] * 6, "infer"],
     "failed: compare_base.sh eval_base.sh eval_cmb_base.sh"),
    ({"FAKE_SWIFT_FAIL_ON": "sft"}, ["pt", "sft"], None),  # a stage that trains stops the chain where it fails
])
def test_run_all_goes_past_a_failed_comparison_but_not_a_failed_training(repo: Path, tmp_path: Path, fake_swift: Path,
                                                                         failing: dict, ran: list, failed: str) -> None:
    _export(repo, tmp_path / "script")
    (tmp_path / "q.jsonl").write_text('{"query": "what?", "response": "this."}\n')
    done = _bash(tmp_path / "script" / "run_all.sh", tmp_path, **failing)
    assert done.returncode == 1, done.stderr
    assert [c["argv"][1] for c in _calls(fake_swift)] == ran
    if failed:
        assert done.stderr.splitlines()[-1] == failed


def test_checkpoints_are_found_by_number_not_by_name_order_or_time(repo: Path, tmp_path: Path,
                                                                    fake_swift: Path) -> None:
    _export(repo, tmp_path / "script")
    runs = tmp_path / "out/sft"
    for version, steps in [("v9-20250101-000000", [900]), ("v10-20240101-000000", [20, 100, 3]),
                           ("v2-20260101-000000", [5000]), ("v12-backup", [7000]), ("v99-copy-20250101-000000", [1])]:
        for step in steps:
            ckpt = runs / version / f"checkpoint-{step}"
            ckpt.mkdir(parents=True)
            (ckpt / "adapter_model.safetensors").write_bytes(b"w")
            (ckpt / "trainer_state.json").write_text("{}")
    (runs / "v10-20240101-000000" / "checkpoint-20-merged").mkdir()  # a merge output, not a checkpoint
    incomplete = runs / "v10-20240101-000000" / "checkpoint-120"  # crashed while saving: weights, no state
    incomplete.mkdir()
    (incomplete / "adapter_model.safetensors").write_bytes(b"w")
    os.utime(runs / "v9-20250101-000000", (4e9, 4e9))  # the newest by mtime, and lexically after v10
    done = _bash(tmp_path / "script" / "merge.sh", tmp_path)
    assert done.returncode == 0, done.stderr
    assert _flag(_calls(fake_swift)[0], "--ckpt_dir") == "out/sft/v10-20240101-000000/checkpoint-100"


def test_a_missing_input_stops_the_script_before_swift(repo: Path, tmp_path: Path, fake_swift: Path) -> None:
    _export(repo, tmp_path / "script")
    done = _bash(tmp_path / "script" / "sft.sh", tmp_path)
    assert done.returncode != 0
    assert "no ms-swift run (v<N>-...) under out/pretrain; run its stage first" in done.stderr
    assert not fake_swift.exists()


def test_ms_swift_4_scripts_use_the_4_spelling(repo: Path, tmp_path: Path) -> None:
    _export(repo, tmp_path / "script", major="4")
    merge = (tmp_path / "script" / "merge.sh").read_text()
    assert '--adapters "$SFT_LAST_CHECKPOINT"' in merge and "--ckpt_dir" not in merge
    assert "--tuner_type full" in (tmp_path / "script" / "pretrain.sh").read_text()


def test_refuses_to_overwrite_without_force(repo: Path, tmp_path: Path) -> None:
    _export(repo, tmp_path / "script")
    with pytest.raises(UserError, match="pretrain.sh already exists"):
        _export(repo, tmp_path / "script")
    loaded = loader.load(repo / "recipes" / "medical.py")
    scripts.export(loaded, tmp_path / "script", dialect=dialect.target("3"), force=True)


def test_a_producer_without_output_dir_and_a_referenced_model_is_an_error(write_recipe, tmp_path: Path) -> None:
    path = write_recipe('''recipe = make_recipe("r", [
    sft("a", {"model": "m", "output_dir": "o"}),
    sft("b", {"model": checkpoint("a")}),
    merge("m", {"ckpt_dir": checkpoint("b")}),
])
''')
    loaded = loader.load(path)
    with pytest.raises(UserError, match=r"scenario.py:4: stage 'b' has no --output_dir"):
        scripts.export(loaded, tmp_path / "s", dialect=dialect.target("3"))


def test_a_best_checkpoint_lookup_without_a_finished_log_is_one_line(write_recipe, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_recipe("""
recipe = make_recipe("best", [
    sft("sft", {"model": "m", "output_dir": "out/sft"}),
    merge("merge", {"ckpt_dir": checkpoint("sft", "best")}),
])
""")
    assert CliRunner().invoke(main, ["export-scripts", str(path), str(tmp_path / "s")]).exit_code == 0
    run = tmp_path / "out/sft/v0-20250101-000000"
    run.mkdir(parents=True)
    for log, message in [(None, "swiftpipe: no out/sft/v0-20250101-000000/logging.jsonl: that run logged nothing"),
                         ('{"loss": 1.0}\n{"best_model_che', "swiftpipe: no best checkpoint in "
                          "out/sft/v0-20250101-000000/logging.jsonl (no evaluation ran, or the run did not finish)")]:
        if log is not None:
            (run / "logging.jsonl").write_text(log)
        done = subprocess.run(["bash", str(tmp_path / "s" / "merge.sh")], cwd=tmp_path, capture_output=True,
                              text=True)
        assert done.returncode != 0 and done.stderr.splitlines() == [
            "swiftpipe: no record of the run stage sft made (s/.runs/sft); taking the newest under out/sft: "
            "out/sft/v0-20250101-000000", message]


SHARED_OUTPUT = '''
recipe = make_recipe("{name}", [
    pretrain("pretrain", {{"model": "base", "train_type": "full", "dataset": "data/pt.jsonl",
                          "output_dir": "out/shared", "learning_rate": {lr}}}),
    sft("sft", {{"model": checkpoint("pretrain"), "dataset": "data/sft.jsonl", "output_dir": "out/{name}-sft",
                "hub_token": "placeholder"}}),
])
'''


def test_scripts_take_inputs_from_their_own_runs_in_their_project_wherever_they_are_run_from(
        write_recipe, tmp_path: Path, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two recipes write their pretraining to one output_dir; each one's SFT script continues from the run its
    own pretraining script made, not the newest, and the scripts run from any directory. The secret flag is read
    from the environment when the script runs, and no file holds it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    for name, lr in (("a", "1e-5"), ("b", "2e-5")):
        write_recipe(SHARED_OUTPUT.format(name=name, lr=lr), name=f"{name}.py")
        exported = CliRunner().invoke(main, ["export-scripts", f"{name}.py", f"scripts/{name}",
                                             "--set", "sft.hub_token=hf_s3cr3t"])
        assert exported.exit_code == 0, exported.output
        assert "hf_s3cr3t" not in "".join(p.read_text() for p in (tmp_path / "scripts" / name).iterdir())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"FAKE_SWIFT_STEPS": "2", "FAKE_SWIFT_SAVE_STEPS": "2", "HUB_TOKEN": "hf_s3cr3t"}
    for script in ("a/pretrain.sh", "b/pretrain.sh", "a/sft.sh"):  # b's pretraining is the newest when a's SFT starts
        done = _bash(tmp_path / "scripts" / script, elsewhere, **env)
        assert done.returncode == 0, (script, done.stderr)
    a_pt, b_pt, a_sft = _calls(fake_swift)
    assert _flag(a_pt, "--learning_rate") == "1e-5" and _flag(b_pt, "--learning_rate") == "2e-5"
    runs = sorted((tmp_path / "out/shared").glob("v*-*"), key=lambda p: int(p.name[1:].split("-")[0]))
    assert [p.name.split("-")[0] for p in runs] == ["v0", "v1"]
    assert _flag(a_sft, "--model") == f"out/shared/{runs[0].name}/checkpoint-2"  # a's own, not b's newer v1
    assert _flag(a_sft, "--hub_token") == "hf_s3cr3t"
    assert (tmp_path / "scripts/a/.runs/pretrain").read_text().strip() == f"out/shared/{runs[0].name}"
    assert (tmp_path / "out/a-sft").is_dir() and not (elsewhere / "out").exists()  # paths are the project's

    missing = _bash(tmp_path / "scripts" / "a/sft.sh", elsewhere)  # no HUB_TOKEN: one line, and no swift
    assert missing.returncode != 0
    assert missing.stderr.strip().endswith("HUB_TOKEN: set HUB_TOKEN: swiftpipe writes no secrets into scripts")
    assert len(_calls(fake_swift)) == 3
    shutil.rmtree(runs[0])
    gone = _bash(tmp_path / "scripts" / "a/sft.sh", elsewhere, **env)
    assert gone.returncode != 0 and gone.stderr.strip() == (
        f"swiftpipe: out/shared/{runs[0].name}, the run stage pretrain made (scripts/a/.runs/pretrain), is gone; "
        "run stage pretrain again")


def test_slurm_jobs_start_in_the_project(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exported = CliRunner().invoke(main, ["export-scripts", str(repo / "recipes/medical.py"), "jobs", "--launcher",
                                         "slurm"])
    assert exported.exit_code == 0, exported.output
    sft = (tmp_path / "jobs/sft.sbatch").read_text()
    assert f"#SBATCH --chdir={tmp_path}\n" in sft
    assert "swiftpipe_runs=jobs/.runs" in sft and 'swiftpipe_record_run output/sft_lora sft "$swiftpipe_before"' in sft
