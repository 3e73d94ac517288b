"""A stage's processes, whatever ends around them: a group of zombies counts as gone, a killed supervisor takes
ms-swift with it, and a killed `swiftpipe data validate` takes its workers. Real processes, no timing."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from swiftpipe.run.process import group_alive

LINUX = Path("/proc/self/stat").is_file()


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
