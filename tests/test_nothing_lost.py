"""Whatever stops a chain (a signal at any moment, swiftpipe killed outright, a second swiftpipe) ends in a record
that `--resume` finishes, and no process of a stage outlives swiftpipe. Against the fake `swift`."""
from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from process_groups import group_gone
from test_runner import _calls, _record

from swiftpipe import moments
from swiftpipe.cli import main
from swiftpipe.records import run_record

STAGES = ["pretrain", "sft", "merge", "infer"]


def _start(chain: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet", *args],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _sleeping_sft(fake_swift: Path, launch: int = 1) -> dict:
    """The fake swift's record of the SFT's `launch`-th call, once it sleeps after its first checkpoint and the run
    record knows its run folder (within a second of its appearing)."""
    def ready() -> bool:
        calls = [c for c in _calls(fake_swift) if c["argv"][1] == "sft"]
        run_dir = _record()["stages"]["sft"].get("outputs", {}).get("run_dir") if len(calls) >= launch else None
        return bool(run_dir) and (Path(run_dir) / "checkpoint-2").is_dir()

    _wait_for(ready)
    return [c for c in _calls(fake_swift) if c["argv"][1] == "sft"][launch - 1]


def _resume(chain: Path):
    return CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"])


def test_kill_9_of_swiftpipe_stops_the_stage_and_resume_continues_from_its_checkpoint(chain: Path,
                                                                                     fake_swift: Path) -> None:
    proc = _start(chain, env={"FAKE_SWIFT_SLEEP_ON": "sft:60"})
    sft = _sleeping_sft(fake_swift)
    proc.kill()  # SIGKILL: swiftpipe records nothing more
    proc.wait(timeout=10)
    _wait_for(lambda: group_gone(sft["pgid"]), timeout=20)  # the supervisor stopped the stage's whole group
    assert _record()["stages"]["sft"]["state"] == "running"
    status = CliRunner().invoke(main, ["status", str(chain)])  # a swiftpipe that is gone runs nothing
    assert status.exit_code == 0 and _record()["stages"]["sft"]["state"] == "interrupted"
    result = _resume(chain)
    assert result.exit_code == 0, result.output
    stages = _record()["stages"]
    calls = _calls(fake_swift)
    assert [c["argv"][1] for c in calls] == ["pt", "sft", "sft", "export", "infer"]
    resumed_from = calls[2]["argv"][calls[2]["argv"].index("--resume_from_checkpoint") + 1]
    assert resumed_from.endswith("/checkpoint-2") and Path(resumed_from).parent.name.startswith("v0-")
    assert [stages[n]["state"] for n in STAGES] == ["done", "done", "done", "done"]
    [earlier] = stages["sft"]["attempts"]  # the killed launch is kept, with its own log
    assert earlier["state"] == "interrupted" and "swiftpipe stopped without recording" in earlier["reason"]
    assert Path(earlier["log"]).name == "sft.log" and Path(stages["sft"]["log"]).name == "sft.2.log"
    assert Path(earlier["log"]).read_text().startswith("$ ") and Path(earlier["script"]).is_file()
    status = CliRunner().invoke(main, ["status", str(chain)])
    assert "launches" in status.output and "interrupted," in status.output  # the SFT's: interrupted, done


def test_a_second_stop_before_the_resumed_launch_saves_resumes_from_the_first_launchs_checkpoint(
        chain: Path, fake_swift: Path) -> None:
    first = _start(chain, env={"FAKE_SWIFT_SLEEP_ON": "sft:60"})
    _sleeping_sft(fake_swift)
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=30) == 130
    # the resumed launch is stopped before it saves anything: it fails at once, having made an empty run folder
    second = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"],
                                env={"FAKE_SWIFT_FAIL_BEFORE_SAVE": "sft"})
    assert second.exit_code == 1
    third = _resume(chain)
    assert third.exit_code == 0, third.output
    sft_calls = [c for c in _calls(fake_swift) if c["argv"][1] == "sft"]
    starts = [c["argv"][c["argv"].index("--resume_from_checkpoint") + 1] for c in sft_calls[1:]]
    assert len(starts) == 2 and starts[0] == starts[1] and starts[0].endswith("/checkpoint-2")


def test_a_stage_still_running_without_its_swiftpipe_is_not_started_twice(chain: Path, fake_swift: Path) -> None:
    proc = _start(chain, env={"FAKE_SWIFT_SLEEP_ON": "sft:60"})
    sft = _sleeping_sft(fake_swift)
    # the supervisor held, then swiftpipe killed: the stage runs on with nothing that follows it (a killed
    # supervisor would take the fake swift with it: test_processes)
    os.kill(sft["pgid"], signal.SIGSTOP)
    proc.kill()
    proc.wait(timeout=10)
    try:
        refused = _resume(chain)
        assert refused.exit_code == 2
        assert refused.output.splitlines() == [
            f"error: run {Path(_record()['stages']['sft']['log']).parent.name}: stage 'sft' still runs (process group "
            f"{sft['pgid']}) though no swiftpipe follows it; wait for it, or stop it (kill -INT -{sft['pgid']}), "
            "then resume"]
        assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft"]  # nothing started twice
    finally:
        os.killpg(sft["pgid"], signal.SIGKILL)
    _wait_for(lambda: group_gone(sft["pgid"]))
    assert _resume(chain).exit_code == 0


def test_a_second_swiftpipe_on_a_running_chain_is_refused(chain: Path, fake_swift: Path) -> None:
    proc = _start(chain, env={"FAKE_SWIFT_SLEEP_ON": "sft:60"})
    _sleeping_sft(fake_swift)
    try:
        for args in ([], ["--resume"]):
            second = CliRunner().invoke(main, ["run", str(chain), "--quiet", *args])
            assert second.exit_code == 2
            assert second.output.startswith(f"error: {chain} with these parameters: in use by {proc.pid} "
                                            f"(swiftpipe run {chain}, since "), second.output
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft"]


def test_a_stage_killed_after_its_final_save_is_done_on_resume_without_training_again(chain: Path,
                                                                                     fake_swift: Path) -> None:
    """Resumed from its final checkpoint, ms-swift would train no step and save none (its last_model_checkpoint is
    then None): the stage is done with what it saved, and the chain goes on from there."""
    proc = _start(chain, env={"FAKE_SWIFT_SLEEP_ON": "pt:60", "FAKE_SWIFT_SAVE_STEPS": "4"})

    def final_saved() -> bool:
        run_dir = _record()["stages"]["pretrain"].get("outputs", {}).get("run_dir") if _calls(fake_swift) else None
        return bool(run_dir) and (Path(run_dir) / "checkpoint-4" / "trainer_state.json").is_file()

    _wait_for(final_saved)
    pt = _calls(fake_swift)[0]
    proc.kill()
    proc.wait(timeout=10)
    _wait_for(lambda: group_gone(pt["pgid"]), timeout=20)
    result = _resume(chain)
    assert result.exit_code == 0, result.output
    assert "pretrain: it saved its final checkpoint before it was stopped; done" in result.output
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft", "export", "infer"]
    pretrain = _record()["stages"]["pretrain"]
    assert pretrain["state"] == "done"
    assert Path(pretrain["outputs"]["last_checkpoint"]) == Path(pretrain["outputs"]["run_dir"]) / "checkpoint-4"
    sft = _calls(fake_swift)[1]["argv"]
    assert sft[sft.index("--model") + 1] == pretrain["outputs"]["last_checkpoint"]


# Where the sweep stops swiftpipe (swiftpipe/moments.py), and what the run has done by then: the record's
# state (None: no record yet) and the stages the fake swift has started.
WHAT_RAN = {
    "started": (None, []),
    "checked": (None, []),
    "recorded": ("pending", []),
    "launched": ("running", ["pt"]),
    "between": ("running", ["pt"]),
    "summarised": ("done", ["pt", "sft", "export", "infer"]),
}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
                         ids=lambda s: s.name)
@pytest.mark.parametrize("moment", moments.MOMENTS)
def test_a_signal_at_any_moment_leaves_a_chain_that_resume_finishes(chain: Path, fake_swift: Path, tmp_path: Path,
                                                                    sig: signal.Signals, moment: str) -> None:
    """The sweep: a signal at each named moment of a chain of four quick stages (start-up, pre-flight, the record
    made, a stage launched, the hand-off between two, the summary), each case held there until it comes. Then
    `--resume` finishes it without a manual step, running no stage more than once more."""
    paused = tmp_path / "paused"
    proc = _start(chain, env={"SWIFTPIPE_PAUSE_AT": moment, "SWIFTPIPE_PAUSED": str(paused)})
    _wait_for(paused.exists)
    assert paused.read_text() == moment  # the phase it hit
    state, ran = WHAT_RAN[moment]
    _wait_for(lambda: len(_calls(fake_swift)) >= len(ran))  # a stage just launched: its swift may not have begun
    runs = list(Path(".swiftpipe/runs").glob("*/record.json"))
    assert (_record()["state"] if runs else None) == state and [c["argv"][1] for c in _calls(fake_swift)] == ran
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == (-signal.SIGKILL if sig is signal.SIGKILL else 130), output
    assert "Traceback" not in output and "Aborted!" not in output
    groups = {c["pgid"] for c in _calls(fake_swift)}
    if runs:  # a group whose swift had not started yet is only in the record
        groups |= {s["pgid"] for s in _record()["stages"].values() if "pgid" in s}
    for pgid in groups:  # no process of any stage outlives swiftpipe (after kill -9, once its supervisor is done)
        _wait_for(functools.partial(group_gone, pgid), timeout=20)
    if sig is not signal.SIGKILL and runs:
        assert _record()["state"] in ("done", "interrupted"), output  # final, never "running"
    before = [c["argv"][1] for c in _calls(fake_swift)]
    result = _resume(chain) if runs else CliRunner().invoke(main, ["run", str(chain), "--quiet"])
    assert result.exit_code == 0, result.output
    assert {s["state"] for s in _record()["stages"].values()} <= {"done", "reused"}, result.output
    again = [c["argv"][1] for c in _calls(fake_swift)][len(before):]
    assert len(again) == len(set(again))  # each stage at most once more
    assert before + again == ["pt", "sft", "export", "infer"] or moment in ("launched", "between")


def test_a_moved_project_keeps_its_history(chain: Path, fake_swift: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet", "--stage", "pretrain"]).exit_code == 0
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    os.rename(tmp_path, moved)
    monkeypatch.chdir(moved)
    monkeypatch.setenv("FAKE_SWIFT_LOG", str(moved / fake_swift.name))
    status = CliRunner().invoke(main, ["status", str(chain)])
    assert status.exit_code == 0 and "pretrain" in status.output
    resumed = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert _record()["stages"]["pretrain"]["state"] == "done"  # its outputs moved with the project
    assert [c["argv"][1] for c in _calls(moved / fake_swift.name)] == ["pt", "sft", "export", "infer"]  # pt once
    assert len(list(Path(".swiftpipe/runs").glob("*/record.json"))) == 1  # the same run, continued


def test_an_unreadable_record_is_said_and_left_out(chain: Path, fake_swift: Path) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet"]).exit_code == 0
    broken = Path(".swiftpipe/runs/chain-29991231-235959")
    broken.mkdir()
    (broken / "record.json").write_text('{"id": "chain-29991231-235959", "stages": ')
    result = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"])
    assert result.exit_code == 0, result.output
    assert (f"warning: {broken / 'record.json'}: cannot read this run record (JSONDecodeError); move {broken} out "
            "of the work dir to go on without it (left out)") in result.output
    [good] = [p for p in Path(".swiftpipe/runs").glob("*/record.json") if p.parent != broken]
    assert {s["state"] for s in json.loads(good.read_text())["stages"].values()} == {"done"}


def _small_files() -> None:
    """In the child: files may grow to 256 KiB, and a write past that fails (EFBIG) instead of killing it."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))


def test_a_log_that_cannot_be_written_fails_the_stage_and_stops_it(chain: Path, fake_swift: Path) -> None:
    """A full disk under the log, as a file-size limit: the output is still drained (ms-swift never blocks on a full
    pipe), the stage fails with one line, and its process group is stopped."""
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet"],
                            env={**os.environ, "FAKE_SWIFT_CHATTER": "20000", "FAKE_SWIFT_SLEEP_ON": "pt:60"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_small_files)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, output
    stages = _record()["stages"]
    assert stages["pretrain"]["state"] == "failed", output
    log = os.path.relpath(stages["pretrain"]["log"])  # the log as the stage named it, in the work dir
    assert stages["pretrain"]["reason"] == f"cannot write its log {log}: File too large"
    assert stages["sft"] == {"state": "aborted", "reason": "prerequisite pretrain failed"}
    _wait_for(lambda: group_gone(stages["pretrain"]["pgid"]), timeout=20)


def test_an_error_in_swiftpipe_while_a_stage_runs_stops_the_stage_first(tmp_path: Path) -> None:
    from swiftpipe.run.process import Grace, run_process

    started: list[int] = []

    def broken_tick() -> None:
        raise RuntimeError("a bug in the progress display")

    with pytest.raises(RuntimeError, match="progress display"):
        run_process(["sleep", "60"], environ=dict(os.environ), log=tmp_path / "log", on_output=lambda _: None,
                    tick=broken_tick, on_start=started.append, grace=Grace(interrupt=2, terminate=2))
    assert started and group_gone(started[0])


def test_two_runs_started_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    from swiftpipe.recipe import loading
    from swiftpipe.records import run_record

    loaded = loading.load(Path(__file__).resolve().parent.parent / "recipes" / "demo.py")
    made = [run_record.create(tmp_path, loaded, stages=["a"]) for _ in range(3)]
    assert len({r.folder for r in made}) == 3 and all((r.folder / "record.json").is_file() for r in made)


def test_a_missing_output_outside_the_project_is_said_when_the_stage_runs_again(chain: Path, fake_swift: Path,
                                                                                tmp_path: Path) -> None:
    elsewhere = tmp_path.parent / f"{tmp_path.name}-scratch"  # an output_dir outside the project, by absolute path
    result = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--stage", "pretrain",
                                       "--set", f"pretrain.output_dir={elsewhere}"])
    assert result.exit_code == 0, result.output
    checkpoint = _record()["stages"]["pretrain"]["outputs"]["last_checkpoint"]
    assert checkpoint.startswith(str(elsewhere))
    shutil.rmtree(elsewhere)  # the scratch disk was wiped
    result = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--stage", "pretrain", "--resume",
                                       "--set", f"pretrain.output_dir={elsewhere}"])
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if "outside the project" in line]
    assert said and said[0].startswith("[swiftpipe] pretrain: it finished, but ") and "is missing; running it " \
        "again" in said[0], result.output


SCHEMA_2_COMMIT = "1e78d93"  # the last swiftpipe that wrote schema 2 (absolute paths, fingerprints of them)


def test_a_moved_project_with_records_of_the_previous_swiftpipe_continues_its_sft(
        chain: Path, fake_swift: Path, tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case with a record that swiftpipe at SCHEMA_2_COMMIT wrote itself: the SFT failed after a
    checkpoint, the project was moved, and this swiftpipe's --resume reuses the pretraining and continues the SFT."""
    old = tmp_path.parent / f"{tmp_path.name}-old-swiftpipe"
    archive = subprocess.run(["git", "-C", str(repo), "archive", SCHEMA_2_COMMIT, "swiftpipe", "templates"],
                             capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"this clone lacks commit {SCHEMA_2_COMMIT}")  # a shallow clone
    old.mkdir()
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    failed = subprocess.run([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet"], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(old), "FAKE_SWIFT_FAIL_ON": "sft"})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    [written] = Path(".swiftpipe/runs").glob("*/record.json")
    assert json.loads(written.read_text())["schema"] == 2
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    os.rename(tmp_path, moved)
    monkeypatch.chdir(moved)
    monkeypatch.setenv("FAKE_SWIFT_LOG", str(moved / fake_swift.name))
    resumed = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert _record()["stages"]["pretrain"]["state"] == "done"
    sft = [c["argv"] for c in _calls(moved / fake_swift.name) if c["argv"][1] == "sft"][-1]
    continued = sft[sft.index("--resume_from_checkpoint") + 1]
    assert continued.startswith(str(moved / "out/sft/v0-")) and continued.endswith("/checkpoint-2")


SCHEMA_3_COMMIT = "61781c7"  # the last swiftpipe that wrote schema 3 (no stage inputs; a launcher's "invocation")


def test_a_chain_the_previous_swiftpipe_finished_is_reused_by_this_one(chain: Path, fake_swift: Path, tmp_path: Path,
                                                                       repo: Path) -> None:
    """Its records keep no stage inputs: each stage is reused on its command alone, and the record is read and then
    written as the current schema."""
    old = tmp_path.parent / f"{tmp_path.name}-schema-3-swiftpipe"
    archive = subprocess.run(["git", "-C", str(repo), "archive", SCHEMA_3_COMMIT, "swiftpipe", "templates"],
                             capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"this clone lacks commit {SCHEMA_3_COMMIT}")  # a shallow clone
    old.mkdir()
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    done = subprocess.run([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(old)})
    assert done.returncode == 0, done.stdout + done.stderr
    [written] = Path(".swiftpipe/runs").glob("*/record.json")
    assert json.loads(written.read_text())["schema"] == 3
    resumed = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert [f"[swiftpipe] {name}: unchanged since it finished; reusing its outputs" for name in STAGES] == [
        line for line in resumed.output.splitlines() if "reusing its outputs" in line]
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft", "export", "infer"]  # nothing ran again
    assert json.loads(written.read_text())["schema"] == run_record.SCHEMA


def test_a_work_dir_behind_a_link_to_another_disk_keeps_its_records_readable_from_both_paths(
        chain: Path, fake_swift: Path, tmp_path: Path) -> None:
    scratch = tmp_path.parent / f"{tmp_path.name}-scratch-records"
    scratch.mkdir()
    os.symlink(scratch, ".swiftpipe")  # a work dir on a scratch disk, as clusters have them
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet", "--stage", "pretrain"]).exit_code == 0
    for work in (".swiftpipe", str(scratch)):
        resumed = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--stage", "pretrain", "--resume",
                                            "--work-dir", work])
        assert resumed.exit_code == 0 and "reusing its outputs" in resumed.output, (work, resumed.output)
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt"]


def test_a_reader_that_goes_away_stops_nothing(chain: Path, fake_swift: Path) -> None:
    """`swiftpipe run ... | head -1`: the pipe closes after the first line; the chain goes on, its record final."""
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    _, errors = proc.communicate(timeout=60)
    assert first.startswith(b"[swiftpipe] pretrain: "), (first, errors)
    assert proc.returncode == 0 and b"Traceback" not in errors and b"Exception" not in errors, (proc.returncode,
                                                                                                 errors)
    assert _record()["state"] == "done" and [c["argv"][1] for c in _calls(fake_swift)] == [
        "pt", "sft", "export", "infer"]


@pytest.mark.parametrize("other", ["reused", "1", "0", "-1"])
def test_a_recorded_process_group_that_is_not_the_stages_runs_nothing_of_it(chain: Path, fake_swift: Path,
                                                                            other: str) -> None:
    """A stage left "running" names a process group that is now another program's (a reboot reused the number) or
    that no stage can have (a damaged record): status settles it, and --resume continues."""
    proc = _start(chain, env={"FAKE_SWIFT_SLEEP_ON": "sft:60"})
    _sleeping_sft(fake_swift)
    proc.kill()
    proc.wait(timeout=10)
    _wait_for(lambda: group_gone(_record()["stages"]["sft"]["pgid"]), timeout=20)
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)  # another program's group
    try:
        [path] = Path(".swiftpipe/runs").glob("*/record.json")
        data = json.loads(path.read_text())
        data["stages"]["sft"]["pgid"] = stranger.pid if other == "reused" else int(other)
        path.write_text(json.dumps(data))
        status = CliRunner().invoke(main, ["status", str(chain)])
        assert status.exit_code == 0 and "still runs" not in status.output, status.output
        assert _record()["stages"]["sft"]["state"] == "interrupted"
        assert _resume(chain).exit_code == 0
        assert stranger.poll() is None  # left alone
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.parametrize("how", ["say", "rich"])
def test_output_to_a_reader_gone_is_no_error_whichever_way_it_is_written(how: str) -> None:
    """The summary table (rich) may be the first write after the reader went away, as may a plain line."""
    write = {"say": "console.say('x' * 100)", "rich": "console.console.print('x' * 100)"}[how]
    proc = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom swiftpipe import console\n"
                             "sys.stdin.read()\n" + f"{write}\n{write}\nconsole.say('done', err=True)"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written
    proc.stdin.close()  # now it writes
    errors = proc.stderr.read()
    assert (proc.wait(timeout=30), errors) == (0, b"done\n")
