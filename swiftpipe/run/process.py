"""Running a stage's process (ms-swift, or a chat): an argv (never a shell string), its own process group led by
a supervisor (supervise.py) that stops the group if swiftpipe dies, its output tee'd to a log, and Ctrl-C or
SIGTERM escalated interrupt -> terminate -> kill on the whole group.

Short queries with a timeout (git, nvidia-smi, Slurm's sbatch/squeue/scancel) use subprocess.run where they are
asked, also argv-only.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from swiftpipe import signals
from swiftpipe.recipe.secrets import OutputRedactor, redact_argv, secret_values


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    interrupted: bool
    seconds: float
    failure: str | None = None  # swiftpipe's own reason to stop the stage (its log could not be written)


@dataclass(frozen=True)
class Grace:
    """Seconds to wait after each signal before sending the next, harder one."""

    interrupt: float = 10.0
    terminate: float = 5.0


def stops_deferred(stop: threading.Event) -> contextlib.AbstractContextManager[None]:
    """Ctrl-C, SIGTERM and hang-ups only set `stop` until the block ends, so that a stage's record is written whole;
    a process started meanwhile (run_process with the same `stop`) is stopped at once. The caller decides what a
    set `stop` means afterwards."""
    return signals.handled(lambda *_: stop.set())


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group `pgid` is still running. A zombie (ended, not yet reaped) is not:
    after `kill -9` of swiftpipe its stage's processes go to pid 1, and where nothing reaps them (a container
    without an init) they stay zombies for good, which `kill(0)` still finds."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    states = _group_states(pgid)
    # none seen although kill(0) found one: /proc hides it (another user's, hidepid) or it just ended; say alive
    return not states or any(state not in _ENDED for state in states)


_ENDED = ("Z", "X")  # /proc's states of a process that has ended: zombie, dead
SUPERVISOR = "swiftpipe.run.supervise"


def stage_alive(pgid: int, project: str) -> bool:
    """Whether the process group a record names (its stage's supervisor's) still runs that stage. A number the
    system gave to another program since (a reboot, a long uptime), the group of the same stage in a copy of the
    project, or a number no stage can have (a damaged record: 0, 1, negative) runs nothing of it."""
    if pgid <= 1 or not group_alive(pgid):
        return False
    try:
        command = Path(f"/proc/{pgid}/cmdline").read_bytes().split(b"\0")
        cwd = os.readlink(f"/proc/{pgid}/cwd")
    except OSError:  # the supervisor itself is gone and what it started goes on, or no /proc: still running
        return True
    return SUPERVISOR.encode() in command and os.path.realpath(cwd) == os.path.realpath(project)


def _group_states(pgid: int) -> list[str] | None:
    """The /proc states (R, S, Z, ...) of the processes in group `pgid`; None without /proc (not Linux)."""
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    if not pids:
        return None
    states = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            # pid (comm) state ppid pgrp ...: the name may hold spaces and parentheses, the fields after it not
            state, _ppid, pgrp = stat[stat.rindex(")") + 2:].split(maxsplit=3)[:3]
            if int(pgrp) == pgid:
                # a zombie leader whose other threads still run (it called pthread_exit) is a running process
                states.append("S" if state in _ENDED and len(os.listdir(f"/proc/{pid}/task")) > 1 else state)
        except (OSError, ValueError):  # it ended meanwhile
            continue
    return states


def run_process(argv: Sequence[str], *, environ: Mapping[str, str], log: Path, on_output: Callable[[bytes], None],
                tick: Callable[[], None] = lambda: None, attach: bool = False, grace: Grace = Grace(),
                on_start: Callable[[int], None] = lambda pgid: None,
                say: Callable[[str], None] = lambda text: None, stop: threading.Event | None = None,
                shown: Sequence[str] | None = None, mark: tuple[str, str] | None = None) -> Outcome:
    """Run `argv` to the end (or until Ctrl-C, SIGTERM or a hang-up); output goes to `log` and to `on_output`.

    With `attach`, the process gets the terminal itself (an interactive chat): nothing is captured.
    `on_start` gets the process group as soon as it exists; `tick` is called about once a second while it runs
    (progress display); `say` tells what happens while the group is being stopped. A `stop` already set (a signal
    that arrived while the stage was being prepared, see `stops_deferred`) stops the process as soon as it starts.
    The log's first line is `shown`, else the argv with secrets redacted; in the output copied to `log` and
    `on_output`, secrets are redacted (recipe/secrets.py: redact_text), a line at a time.
    """
    started = time.monotonic()
    stop = stop or threading.Event()
    # Unbuffered: a write that fails is lost, not retried when the log is closed.
    with stops_deferred(stop), open(log, "ab", buffering=0) as sink:  # a stop now stops the group (see _wait)
        sink.write(f"$ {' '.join(shown or redact_argv(argv))}\n".encode())
        lifeline, held = os.pipe()  # the supervisor reads end-of-file from `lifeline` once `held` closes with us
        try:
            proc = _start_supervised(argv, env=environ, attach=attach, grace=grace, lifeline=lifeline, mark=mark)
            # ms-swift prints its arguments, secrets too (see recipe/secrets.py): neither log nor screen shows them
            redactor = OutputRedactor(secret_values(argv, environ))
            copier = None if attach else _Copier(proc, sink, on_output, stop, redactor)
            try:
                on_start(proc.pid)
                interrupted = _wait(proc, stop, tick, grace, say, copier)
                orphaned = None if interrupted else _after_supervisor_killed(proc, grace, say)
            except BaseException:  # swiftpipe's own failure: the stage must not outlive it
                _stop_group(proc, grace, say)
                raise
            if copier is not None:
                copier.join()  # after the group is stopped: what it leaves running holds the output open
        finally:
            os.close(held)
    failure = (copier.failure if copier is not None else None) or orphaned
    return Outcome(proc.returncode, interrupted and failure is None, time.monotonic() - started, failure)


def _start_supervised(argv: Sequence[str], *, env: Mapping[str, str], attach: bool, grace: Grace,
                      lifeline: int, mark: tuple[str, str] | None) -> subprocess.Popen:
    """`argv` under its supervisor, leading a new process group; `lifeline` goes to the supervisor alone; `mark`:
    a folder the process creates, and the text the supervisor marks it with (supervise.py)."""
    supervised = [sys.executable, "-m", SUPERVISOR, str(lifeline), str(grace.interrupt), str(grace.terminate),
                  *(("--mark", *mark) if mark else ()), "--", *argv]
    try:
        return subprocess.Popen(supervised, env=dict(env), start_new_session=True, pass_fds=(lifeline,),
                                stdin=None if attach else subprocess.DEVNULL,
                                stdout=None if attach else subprocess.PIPE,
                                stderr=None if attach else subprocess.STDOUT)
    finally:
        os.close(lifeline)


def _write_all(sink: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = sink.write(view)
        if not written:
            raise OSError(28, "No space left on device")
        view = view[written:]


def _ignore(chunk: bytes) -> None:
    pass


class _Copier(threading.Thread):
    """Copies the process's output to the log and `on_output`. A log that cannot be written (a full disk) is
    noted and the output still drained, so that the process never blocks on a full pipe; the stage is stopped."""

    def __init__(self, proc: subprocess.Popen, sink: IO[bytes], on_output: Callable[[bytes], None],
                 stop: threading.Event, redactor: OutputRedactor) -> None:
        super().__init__(daemon=True)
        self.proc, self.sink, self.on_output, self.stop, self.redactor = proc, sink, on_output, stop, redactor
        self.failure: str | None = None
        self.start()

    def run(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            if self.failure is None:
                self._copy(self.redactor.feed(chunk))
        if self.failure is None:
            self._copy(self.redactor.end())

    def _copy(self, data: bytes) -> None:
        if not data:
            return
        try:
            _write_all(self.sink, data)
        except OSError as exc:
            self.failure = f"cannot write its log {self.sink.name}: {exc.strerror or exc}"
            self.stop.set()
            return
        try:
            self.on_output(data)
        except (OSError, ValueError):  # the terminal or the pipe went away: the log still has everything
            self.on_output = _ignore


def _wait(proc: subprocess.Popen, stop: threading.Event, tick: Callable[[], None], grace: Grace,
          say: Callable[[str], None], copier: _Copier | None) -> bool:
    last_tick = 0.0
    while proc.poll() is None:
        if stop.wait(0.2):
            if copier is not None and copier.failure:
                say(copier.failure)
            _stop_group(proc, grace, say)
            return True
        if time.monotonic() - last_tick >= 1.0:
            last_tick = time.monotonic()
            tick()
    return False


def _after_supervisor_killed(proc: subprocess.Popen, grace: Grace, say: Callable[[str], None]) -> str | None:
    """Why the stage failed when its supervisor was killed (it ends by a signal no other way, see supervise.py),
    after stopping what it left running: the stage follows its supervisor, as its supervisor follows swiftpipe."""
    if proc.returncode >= 0:
        return None
    why = f"its supervisor (process {proc.pid}) was killed by {_signal_name(-proc.returncode)}"
    if not group_alive(proc.pid):
        return why
    say(f"{why}; stopping what it started")
    _stop_group(proc, grace, say)
    return f"{why}; what it started was stopped"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _stop_group(proc: subprocess.Popen, grace: Grace, say: Callable[[str], None]) -> None:
    steps = ((signal.SIGINT, grace.interrupt, "terminate"), (signal.SIGTERM, grace.terminate, "kill"),
             (signal.SIGKILL, None, ""))
    for sig, wait, next_step in steps:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        if wait is None:
            proc.wait()
            break
        say(f"stopping: {sig.name} sent to process group {proc.pid}; {next_step} in {wait:g} s if it goes on")
        if _ended(proc, wait):
            break


def _ended(proc: subprocess.Popen, seconds: float) -> bool:
    """Whether the supervisor and every process of its group end within `seconds`: a process the supervisor
    no longer waits for (its own is gone, or it was killed) is stopped too."""
    deadline = time.monotonic() + seconds
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    while group_alive(proc.pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True
