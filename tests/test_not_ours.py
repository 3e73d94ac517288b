"""What is not swiftpipe's is never deleted or continued: a folder at a merge's target that this stage's own launch
did not create, and a checkpoint written by another command of the stage. Against the fake `swift`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from records import latest_record
from test_runner import _calls

from swiftpipe.cli import main
from swiftpipe.run.supervise import UNFINISHED_MARK


def _run(*args: str):
    return CliRunner().invoke(main, ["run", *args, "--quiet"])


def test_a_users_folder_at_the_target_of_a_merge_that_failed_before_creating_it_is_kept(
        chain: Path, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "export")
    assert _run(str(chain)).exit_code == 1
    monkeypatch.delenv("FAKE_SWIFT_FAIL_ON")
    target = Path(latest_record()["stages"]["merge"]["target"])
    target.mkdir()  # the user merges by hand, into the folder the stage would have written
    (target / "model.safetensors").write_text("the user's own")
    result = _run(str(chain), "--resume")
    assert result.exit_code == 1, result.output
    assert (target / "model.safetensors").read_text() == "the user's own"
    assert (f"merge: not launched: {target} already exists (not what this stage's own launch left) and ms-swift "
            "refuses to overwrite") in result.output.replace("\n", "")
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft", "export"]  # nothing more launched


def test_a_folder_put_in_place_of_the_one_the_merge_left_is_kept(chain: Path, fake_swift: Path) -> None:
    """The merge created its folder and was stopped; the user replaced that folder by their own: same path, not the
    same folder."""
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet"],
                            env={**os.environ, "FAKE_SWIFT_SLEEP_ON": "export:60"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not list(Path("out/sft").glob(f"v0-*/checkpoint-4-merged/{UNFINISHED_MARK}")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    [partial] = Path("out/sft").glob("v0-*/checkpoint-4-merged")
    os.rename(partial, "theirs-old")
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    (partial / UNFINISHED_MARK).write_text("copied along with the rest\n")  # even the mark: not the same folder
    result = _run(str(chain), "--resume")
    assert result.exit_code == 1 and (partial / "config.json").is_file(), result.output
    assert "(not what this stage's own launch left)" in result.output.replace("\n", "")


def test_the_merged_model_keeps_no_mark_once_done(chain: Path, fake_swift: Path) -> None:
    assert _run(str(chain)).exit_code == 0
    merged = Path(latest_record()["stages"]["merge"]["outputs"]["merged"])
    assert not (merged / UNFINISHED_MARK).exists() and (merged / "model.safetensors").is_file()


def test_a_stage_edited_between_a_stop_and_resume_starts_over_and_says_what_changed(
        chain: Path, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "sft")  # fails after its first checkpoint
    assert _run(str(chain)).exit_code == 1
    monkeypatch.delenv("FAKE_SWIFT_FAIL_ON")
    checkpoint = Path(latest_record()["stages"]["sft"]["outputs"]["run_dir"]) / "checkpoint-2"
    assert checkpoint.is_dir()
    chain.write_text(chain.read_text().replace('"train_type": "lora"', '"train_type": "full"'))
    result = _run(str(chain), "--resume")
    assert result.exit_code == 0, result.output
    sft = [c["argv"] for c in _calls(fake_swift) if c["argv"][1] == "sft"][-1]
    flag = "--tuner_type" if "--tuner_type" in sft else "--train_type"  # ms-swift 4 renamed it
    assert (f"[swiftpipe] sft: its command changed since {checkpoint.resolve()} was written ({flag} lora -> "
            "full); starting over") in result.output.splitlines()
    assert "--resume_from_checkpoint" not in sft and sft[sft.index(flag) + 1] == "full"
    assert latest_record()["stages"]["pretrain"]["state"] == "done"


def test_an_unchanged_stage_still_continues_from_its_checkpoint(chain: Path, fake_swift: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "sft")
    assert _run(str(chain)).exit_code == 1
    monkeypatch.delenv("FAKE_SWIFT_FAIL_ON")
    result = _run(str(chain), "--resume")
    assert result.exit_code == 0 and "starting over" not in result.output, result.output
    sft = [c["argv"] for c in _calls(fake_swift) if c["argv"][1] == "sft"][-1]
    assert sft[sft.index("--resume_from_checkpoint") + 1].endswith("/checkpoint-2")


def test_a_merge_into_a_relative_output_dir_knows_its_own_unfinished_folder(chain: Path, fake_swift: Path) -> None:
    chain.write_text(chain.read_text().replace('merge("merge", {"ckpt_dir": checkpoint("sft")})',
                                               'merge("merge", {"ckpt_dir": checkpoint("sft"), "output_dir": '
                                               '"out/merged"})'))
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet"],
                            env={**os.environ, "FAKE_SWIFT_SLEEP_ON": "export:60"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not Path("out/merged", UNFINISHED_MARK).is_file():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    result = _run(str(chain), "--resume")
    assert result.exit_code == 0, result.output
    assert f"merge: removed {Path('out/merged').resolve()}, which its own unfinished launch left" in result.output
    again = _run(str(chain), "--stage", "merge")  # and once merged, it is named as that run's model
    assert again.exit_code == 1 and "(the merged model of run " in again.output.replace("\n", ""), again.output


def test_a_rotated_token_changes_no_stage(chain: Path, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "sft")
    tokens = ["pretrain.hub_token=hf_aaaa1111", "sft.hub_token=hf_aaaa1111"]
    assert _run(str(chain), *(w for t in tokens for w in ("--set", t))).exit_code == 1
    monkeypatch.delenv("FAKE_SWIFT_FAIL_ON")
    rotated = [t.replace("aaaa1111", "bbbb2222") for t in tokens]
    result = _run(str(chain), "--resume", *(w for t in rotated for w in ("--set", t)))
    assert result.exit_code == 0, result.output
    assert latest_record()["stages"]["pretrain"]["state"] == "done" and "starting over" not in result.output
    sft = [c["argv"] for c in _calls(fake_swift) if c["argv"][1] == "sft"][-1]
    assert "--resume_from_checkpoint" in sft and sft[sft.index("--hub_token") + 1] == "hf_bbbb2222"


def test_a_merge_folder_left_when_swiftpipe_was_killed_the_moment_it_appeared_is_replaced(
        chain: Path, fake_swift: Path) -> None:
    """swiftpipe killed outright before it could note the folder: the stage's supervisor marked it, so it is still
    provably the launch's own."""
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet"],
                            env={**os.environ, "FAKE_SWIFT_SLEEP_ON": "export:60"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not list(Path("out/sft").glob("v0-*/checkpoint-4-merged")):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.kill()
    proc.wait(timeout=10)
    [partial] = Path("out/sft").glob("v0-*/checkpoint-4-merged")
    export = [c for c in _calls(fake_swift) if c["argv"][1] == "export"][0]
    while True:  # its supervisor stops the merge, then is gone
        try:
            os.killpg(export["pgid"], 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline + 30
        time.sleep(0.05)
    result = _run(str(chain), "--resume")
    assert result.exit_code == 0, result.output
    assert f"merge: removed {partial.resolve()}, which its own unfinished launch left" in result.output
