"""Files that are replaced whole or not at all, even on a full disk: the run record and the work dir's index.

A write goes to a temporary file beside the target, is flushed to disk, and is renamed over it; a write that fails
(no space, a file-size limit, a read-only disk) removes its temporary file and leaves the last good file in place.
A run folder keeps a small reserve file: when the disk is full, the reserve is given up so that the record saying
how the stage ended can still be written. Temporaries are named after their writer's pid, so that those of a
killed swiftpipe are swept on the next start and a live writer's never are.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import time
from pathlib import Path

RESERVE_FILE = ".reserve"
RESERVE_BYTES = 1 << 20  # a record with twenty answers per stage is well under 100 KB: room for several writes
_HOST = re.sub(r"[^\w.]", "_", socket.gethostname())  # a work dir on a shared disk: only this host's pids are known
_TEMPORARY = re.compile(r"^\.(?:record|index)-([\w.]+)-(\d+)-[0-9a-f]+\.tmp$")
_UNNAMED = re.compile(r"^\.(?:record|index)-[\w]+\.json$")  # swiftpipe 0.1's, without their writer's pid
_STALE = 600.0  # seconds: no write takes that long
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class WriteFailed(OSError):
    """A file that could not be written; the one it replaces is unchanged."""


def replace(path: Path, text: str, *, prefix: str, use_reserve: bool = True) -> None:
    """Write `text` to `path` through a temporary file renamed over it. On a full disk the folder's reserve, if
    any and if `use_reserve`, is released and the write tried once more; a write that still fails raises
    WriteFailed. The writes made while a stage runs keep the reserve for the one that says how it ended."""
    try:
        _replace(path, text, prefix)
    except OSError as exc:
        if exc.errno not in _FULL or not use_reserve or not _release_reserve(path.parent):
            raise WriteFailed(exc.errno, exc.strerror or str(exc), str(path)) from None
        try:
            _replace(path, text, prefix)
        except OSError as again:
            raise WriteFailed(again.errno, again.strerror or str(again), str(path)) from None


def _replace(path: Path, text: str, prefix: str) -> None:
    temporary = path.parent / f".{prefix}-{_HOST}-{os.getpid()}-{os.urandom(4).hex()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def keep_reserve(folder: Path) -> None:
    """Set aside RESERVE_BYTES in `folder` for the writes that end a run; nothing if the disk is already full."""
    reserve = folder / RESERVE_FILE
    if reserve.exists():
        return
    try:
        with open(reserve, "wb") as f:
            f.write(b"\0" * RESERVE_BYTES)  # written, not a sparse file: the blocks are really held
    except OSError:
        with contextlib.suppress(OSError):
            reserve.unlink()


def _release_reserve(folder: Path) -> bool:
    try:
        (folder / RESERVE_FILE).unlink()
    except OSError:
        return False
    return True


def drop_reserve(folder: Path) -> None:
    """The run ended with its record final: its reserve is no longer needed (a later --resume sets one again)."""
    _release_reserve(folder)


def sweep(folder: Path) -> int:
    """Remove the temporaries in `folder` whose writer is gone: a killed swiftpipe's on this host, and any old
    enough that no write can still be making it. Returns how many."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None and not _UNNAMED.match(name):
            continue
        pid = int(match.group(2)) if match is not None and match.group(1) == _HOST else None  # ours: its writer's
        if not (_older(folder / name, _STALE) or (pid is not None and not _alive(pid))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(folder / name)
            removed += 1
    return removed


def _older(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
