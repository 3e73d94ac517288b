"""A stage's supervisor: the process between swiftpipe and ms-swift that ties ms-swift's life to swiftpipe's.

`swift` starts its own children (the training process, torchrun and its workers), so a signal to `swift` alone
would leave them running. The supervisor leads the stage's process group and starts `swift` in it; it holds the
read end of a pipe whose write end only swiftpipe holds. When swiftpipe dies, even by `kill -9` or a dropped ssh
session, the pipe reads end-of-file and the supervisor stops the whole group: interrupt, terminate, kill, with
the grace periods swiftpipe gave it. It ignores the interrupt and terminate it sends (they are for ms-swift) and
exits with ms-swift's exit code (128 + N for signal N, as shells report it). If the supervisor itself is killed,
`swift` gets SIGTERM from the kernel (Linux), and swiftpipe stops the rest of the group.

With `--mark FOLDER TEXT`, a folder that the command creates (a merge's target, absent when it starts) gets a
file UNFINISHED_MARK holding TEXT as soon as it appears, and once more when the command has ended: swiftpipe can
then tell the folder its own launch left from anyone else's at that path, even if swiftpipe was killed first.

    python -m swiftpipe.run.supervise FD INTERRUPT_GRACE TERMINATE_GRACE [--mark FOLDER TEXT] -- ARGV...
"""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from swiftpipe import signals


def _watch_parent(fd: int, child: subprocess.Popen, graces: tuple[float, float]) -> None:
    while os.read(fd, 4096):
        pass  # swiftpipe never writes; end-of-file means it is gone
    for sig, grace in ((signal.SIGINT, graces[0]), (signal.SIGTERM, graces[1])):
        os.killpg(0, sig)
        try:
            child.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
    os.killpg(0, signal.SIGKILL)


UNFINISHED_MARK = ".swiftpipe-unfinished"


def mark(folder: Path, text: str) -> bool:
    """Put the mark in `folder` if it is there; whether it now holds it."""
    if not folder.is_dir():
        return False
    try:
        (folder / UNFINISHED_MARK).write_text(text, encoding="utf-8")
    except OSError:
        return False
    return True


def _mark_when_made(folder: Path, text: str, child: subprocess.Popen) -> None:
    while child.poll() is None and not mark(folder, text):
        time.sleep(0.1)


def main(argv: list[str]) -> int:
    fd, interrupt, terminate, *rest = argv
    marked = None
    if rest[:1] == ["--mark"] and len(rest) >= 3:
        marked, rest = (Path(rest[1]), rest[2]), rest[3:]
    separator, *command = rest or [""]
    if separator != "--" or not command:
        sys.exit("usage: python -m swiftpipe.run.supervise FD INTERRUPT_GRACE TERMINATE_GRACE [--mark FOLDER TEXT] "
                 "-- ARGV...")
    if marked is not None and marked[0].exists():  # not the command's to create: nothing of it to mark
        marked = None
    # The pipe is not inherited (close_fds). preexec_fn is safe here: no other thread runs yet. SIGTERM, not SIGKILL:
    # real `swift` runs the training in a child of its own, which swiftpipe stops gently with the rest of the group.
    child = subprocess.Popen(command, preexec_fn=functools.partial(signals.die_with_parent, signal.SIGTERM,
                                                                   os.getpid()))
    for sig in (signal.SIGINT, signal.SIGTERM):  # after the start: an ignored signal would be inherited
        signal.signal(sig, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(int(fd), child, (float(interrupt), float(terminate))),
                     daemon=True).start()
    if marked is not None:
        threading.Thread(target=_mark_when_made, args=(*marked, child), daemon=True).start()
    code = child.wait()
    if marked is not None:
        mark(*marked)  # a folder made just before the end
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
