"""export-scripts: standalone scripts that find each stage's input in ms-swift's output folders."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from swiftpipe.cli import main
from swiftpipe.errors import UserError
from swiftpipe.recipe import loading as loader
from swiftpipe.render import dialects as dialect
from swiftpipe.render import export as scripts


def _export(repo: Path, folder: Path, *params: str, major: str = "3") -> list[Path]:
    # infer in batch mode: with no terminal, the tutorial's interactive chat would end in EOFError, as in ms-swift
    loaded = loader.load(repo / "recipes" / "medical.py", params=list(params),
                         sets=["pretrain.output_dir=out/pretrain", "sft.output_dir=out/sft", "dpo.output_dir=out/dpo",
                               "infer.val_dataset=q.jsonl"])
    return scripts.export(loaded.recipe, loaded.source, folder, dialect=dialect.target(major))


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _bash(script: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script)], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env})


def _flag(call: dict, name: str) -> str:
    argv = call["argv"]
    return argv[argv.index(name) + 1]


def test_writes_one_executable_script_per_stage_and_run_all(repo: Path, tmp_path: Path) -> None:
    written = _export(repo, tmp_path / "script")
    assert [p.name for p in written] == ["pretrain.sh", "sft.sh", "merge.sh", "dpo.sh", "merge_dpo.sh", "infer.sh",
                                         "run_all.sh"]
    for path in written:
        assert os.access(path, os.X_OK)
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
        assert "swiftpipe " not in path.read_text().split("set -euo pipefail", 1)[1]  # runs without swiftpipe


def test_the_whole_chain_runs_and_hands_each_checkpoint_on(repo: Path, tmp_path: Path, fake_swift: Path) -> None:
    _export(repo, tmp_path / "script")
    (tmp_path / "q.jsonl").write_text('{"query": "what?"}\n')
    done = _bash(tmp_path / "script" / "run_all.sh", tmp_path, FAKE_SWIFT_STEPS="5", FAKE_SWIFT_SAVE_STEPS="2")
    assert done.returncode == 0, done.stderr
    pt, sft, merge, dpo, merge_dpo, infer = _calls(fake_swift)
    pt_run = next((tmp_path / "out/pretrain").glob("v0-*"))
    assert _flag(sft, "--model") == f"{pt_run.relative_to(tmp_path)}/checkpoint-5"
    sft_run = next((tmp_path / "out/sft").glob("v0-*"))
    assert _flag(merge, "--ckpt_dir") == f"{sft_run.relative_to(tmp_path)}/checkpoint-5"
    assert _flag(dpo, "--model") == f"{sft_run.relative_to(tmp_path)}/checkpoint-5-merged"
    dpo_run = next((tmp_path / "out/dpo").glob("v0-*"))
    assert _flag(merge_dpo, "--ckpt_dir") == f"{dpo_run.relative_to(tmp_path)}/checkpoint-5"
    assert _flag(infer, "--model") == f"{dpo_run.relative_to(tmp_path)}/checkpoint-5-merged"
    assert pt["env"]["NPROC_PER_NODE"] == "1" and infer["env"]["CUDA_VISIBLE_DEVICES"] == "0"


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
    scripts.export(loaded.recipe, loaded.source, tmp_path / "script", dialect=dialect.target("3"), force=True)


def test_a_producer_without_output_dir_and_a_referenced_model_is_an_error(write_recipe, tmp_path: Path) -> None:
    path = write_recipe('''recipe = make_recipe("r", [
    sft("a", {"model": "m", "output_dir": "o"}),
    sft("b", {"model": checkpoint("a")}),
    merge("m", {"ckpt_dir": checkpoint("b")}),
])
''')
    loaded = loader.load(path)
    with pytest.raises(UserError, match=r"scenario.py:4: stage 'b' has no --output_dir"):
        scripts.export(loaded.recipe, loaded.source, tmp_path / "s", dialect=dialect.target("3"))


def test_a_best_checkpoint_lookup_without_a_finished_log_is_one_line(write_recipe, tmp_path: Path) -> None:
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
        assert done.returncode != 0 and done.stderr.strip() == message
