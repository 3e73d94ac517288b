"""What Ctrl-C, SIGTERM and a hang-up do while a block runs: one way to install handlers and put the old ones back.

Below every layer (the CLI installs one at its first line, the chain and a stage theirs); only the main thread can
handle signals, so elsewhere the block runs with the handlers as they are.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Union

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, a polite kill, a dropped terminal
POLITE = (signal.SIGTERM, signal.SIGHUP)  # the two that Python does not turn into KeyboardInterrupt itself

Handler = Union[Callable[[int, Any], None], int]  # a function, or signal.SIG_IGN


def raise_interrupt(*_: object) -> None:
    """A handler that makes the signal a KeyboardInterrupt, as Ctrl-C is."""
    raise KeyboardInterrupt


@contextlib.contextmanager
def handled(handler: Handler, signals: Sequence[signal.Signals] = STOP_SIGNALS) -> Iterator[None]:
    """`signals` go to `handler` until the block ends; then the handlers before it are back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(sig: signal.Signals, parent: int) -> bool:
    """Have the kernel send this process `sig` when its parent ends, even by `kill -9` (Linux's PR_SET_PDEATHSIG;
    strictly, when the parent's thread that started it ends: start it from a thread that lives as long as the
    parent means it to). A `parent` already gone gets the same answer at once. False where the system cannot
    (not Linux): the caller then needs a watch of its own."""
    import ctypes  # here: only the processes that ask pay for it

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    if prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # it ended before the call above: no signal will come
        os.kill(os.getpid(), sig)
    return True
