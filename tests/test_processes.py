"""A stage's processes, whatever ends around them: a group of zombies counts as gone, a killed supervisor takes
ms-swift with it, and a killed `swiftpipe data validate` takes its workers. Real processes, no timing."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_nothing_lost import _sleeping_sft, _start
from test_runner import _record

from swiftpipe.data import parallel
from swiftpipe.run.process import group_alive

LINUX = Path("/proc/self/stat").is_file()


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _stat(pid: int) -> tuple[str, int] | None:
    """A process's state and parent pid, from /proc; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
    return state, int(ppid)


def _children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _stat(int(name))) is not None and stat[1] == pid:
            found.append(int(name))
    return found


def _ended_unreaped(proc: subprocess.Popen) -> None:
    """Wait until `proc` has exited, without reaping it: it stays a zombie while this process holds it."""
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)


@pytest.mark.skipif(not LINUX, reason="zombies are told apart through /proc")
def test_a_group_whose_only_member_is_a_zombie_is_gone() -> None:
    proc = subprocess.Popen(["true"], start_new_session=True)
    try:
        _ended_unreaped(proc)
        os.killpg(proc.pid, 0)  # what kill(0) says: the zombie is still found
        assert not group_alive(proc.pid)
    finally:
        proc.wait()


def test_a_group_with_a_running_member_is_alive() -> None:
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert group_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert not group_alive(proc.pid)


@pytest.mark.skipif(not LINUX, reason="zombies are told apart through /proc")
def test_a_group_whose_leader_is_a_zombie_and_a_member_runs_is_alive() -> None:
    read, write = os.pipe()
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!"], start_new_session=True, stdout=write)
    os.close(write)
    with os.fdopen(read) as out:
        member = int(out.readline())  # the shell started it, in its group, before it exited
    try:
        _ended_unreaped(leader)
        assert group_alive(leader.pid)
    finally:
        os.kill(member, signal.SIGKILL)
        leader.wait()


@pytest.mark.skipif(not LINUX, reason="the workers are found through /proc")
@pytest.mark.skipif(parallel.cores() < 2, reason="a file is checked in parts only with two cores or more")
def test_kill_9_of_data_validate_ends_its_workers(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    line = b'{"text": "a"}\n'  # short records: many of them, so that the check takes a while
    big.write_bytes(line * (parallel.WORTH_SPLITTING // len(line) + 1))
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "data", "validate", str(big), "--kind", "pt",
                             "--no-cache", "--work-dir", str(tmp_path / "work")],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: len(_children(proc.pid)) >= parallel.cores())  # the pool starts them all at once
        proc.send_signal(signal.SIGSTOP)  # held before its pool ends: its workers finish their parts and wait for more
        _wait_for(lambda: _stat(proc.pid) in (None, ("T", os.getpid())))
        workers = _children(proc.pid)
        assert len(workers) == parallel.cores(), "the check ended before the test could stop it"
        proc.kill()
        proc.wait()
        _wait_for(lambda: not group_alive(proc.pid), timeout=20)  # the workers too: they are in its group
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _gone(pid: int) -> bool:
    return _stat(pid) is None or _stat(pid)[0] in "ZX"  # type: ignore[index]


def _ends_with_the_sft_failed(proc: subprocess.Popen, supervisor: int) -> str:
    """The run's output, once it ended with the SFT failed for its killed supervisor and every later stage aborted."""
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, output
    record = _record()
    sft = record["stages"]["sft"]
    assert record["state"] == "failed" and sft["state"] == "failed" and sft["exit_code"] == -signal.SIGKILL
    assert sft["reason"].startswith(f"its supervisor (process {supervisor}) was killed by SIGKILL")
    assert record["stages"]["merge"] == {"state": "aborted", "reason": "prerequisite sft failed"}
    assert f"sft failed (its supervisor (process {supervisor}) was killed by SIGKILL" in output
    return output


@pytest.mark.skipif(not LINUX, reason="the stage's processes are found through /proc")
def test_a_killed_supervisor_takes_what_it_started_down_with_it(chain: Path, fake_swift: Path) -> None:
    """As ms-swift's `swift` does, the fake runs the training in a child of its own: the kernel ends `swift` with
    its supervisor, and swiftpipe stops the training it leaves in the group."""
    proc = _start(chain, env={"FAKE_SWIFT_SLEEP_ON": "sft:120", "FAKE_SWIFT_RUN_SH": "1"})
    training = _sleeping_sft(fake_swift)
    supervisor = _record()["stages"]["sft"]["pgid"]
    wrapper = _stat(training["pid"])[1]  # type: ignore[index]
    assert training["pgid"] == supervisor and _stat(wrapper)[1] == supervisor  # type: ignore[index]
    try:
        os.kill(supervisor, signal.SIGKILL)
        output = _ends_with_the_sft_failed(proc, supervisor)
        assert _gone(wrapper) and _gone(training["pid"]) and not group_alive(supervisor)
        assert "what it started was stopped" in _record()["stages"]["sft"]["reason"]
        assert f"stopping: SIGINT sent to process group {supervisor}" in output
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor, signal.SIGKILL)
        proc.kill()
        proc.communicate()


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux's")
def test_swift_ends_with_its_supervisor_while_swiftpipe_cannot_act(chain: Path, fake_swift: Path) -> None:
    proc = _start(chain, env={"FAKE_SWIFT_SLEEP_ON": "sft:120"})
    swift = _sleeping_sft(fake_swift)
    supervisor = _record()["stages"]["sft"]["pgid"]
    try:
        proc.send_signal(signal.SIGSTOP)  # swiftpipe stops nothing now: only the kernel can
        os.kill(supervisor, signal.SIGKILL)
        _wait_for(lambda: _gone(swift["pid"]), timeout=20)
        proc.send_signal(signal.SIGCONT)
        _ends_with_the_sft_failed(proc, supervisor)
        assert not group_alive(supervisor)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor, signal.SIGKILL)
        proc.kill()
        proc.communicate()
