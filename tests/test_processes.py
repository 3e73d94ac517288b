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
