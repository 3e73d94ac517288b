"""Running a stage's process (ms-swift, or a chat): an argv (never a shell string), its own process group, its
output tee'd to a log, and Ctrl-C or SIGTERM escalated interrupt -> terminate -> kill on the whole group.

Short queries with a timeout (git, nvidia-smi, Slurm's sbatch/squeue/scancel) use subprocess.run where they are
asked, also argv-only.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    interrupted: bool
    seconds: float


@dataclass(frozen=True)
class Grace:
    """Seconds to wait after each signal before sending the next, harder one."""

    interrupt: float = 10.0
    terminate: float = 5.0


def run_process(argv: Sequence[str], *, env: Mapping[str, str], log: Path, on_output: Callable[[bytes], None],
           tick: Callable[[], None] = lambda: None, attach: bool = False, grace: Grace = Grace(),
           cwd: str | None = None) -> Outcome:
    """Run `argv` to the end (or until Ctrl-C/SIGTERM); output goes to `log` and to `on_output`.

    With `attach`, the process gets the terminal itself (an interactive chat): nothing is captured.
    `tick` is called about once a second while it runs (progress display).
    """
    started = time.monotonic()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with open(log, "ab") as sink:
            sink.write(f"$ {' '.join(argv)}\n".encode())
            sink.flush()
            proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, start_new_session=True,
                                    stdin=None if attach else subprocess.DEVNULL,
                                    stdout=None if attach else subprocess.PIPE,
                                    stderr=None if attach else subprocess.STDOUT)
            reader = None
            if not attach:
                reader = threading.Thread(target=_copy, args=(proc, sink, on_output), daemon=True)
                reader.start()
            interrupted = _wait(proc, stop, tick, grace)
            if reader is not None:
                reader.join(timeout=5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return Outcome(proc.returncode, interrupted, time.monotonic() - started)


def _copy(proc: subprocess.Popen, sink, on_output: Callable[[bytes], None]) -> None:
    assert proc.stdout is not None
    while chunk := os.read(proc.stdout.fileno(), 65536):
        sink.write(chunk)
        sink.flush()
        on_output(chunk)


def _wait(proc: subprocess.Popen, stop: threading.Event, tick: Callable[[], None], grace: Grace) -> bool:
    last_tick = 0.0
    while proc.poll() is None:
        if stop.wait(0.2):
            _stop_group(proc, grace)
            return True
        if time.monotonic() - last_tick >= 1.0:
            last_tick = time.monotonic()
            tick()
    return False


def _stop_group(proc: subprocess.Popen, grace: Grace) -> None:
    for sig, wait in ((signal.SIGINT, grace.interrupt), (signal.SIGTERM, grace.terminate), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        if wait is None:
            proc.wait()
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
