"""The run lock: one swiftpipe runs a run record at a time. The kernel drops the lock when its holder dies, however
it dies, so a killed swiftpipe never blocks the next one."""
from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Iterator

from swiftpipe.errors import UserError
from swiftpipe.run.run_record import RunRecord

RUN_LOCK = ".run.lock"


@contextlib.contextmanager
def hold(record: RunRecord) -> Iterator[None]:
    """This process runs `record` until the block ends: a second swiftpipe that tries is refused in one line.
    The kernel drops the lock when the process dies, however it dies."""
    with open(record.folder / RUN_LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise UserError(f"run {record.id} is being run by another swiftpipe (pid {holder}); wait for it to end, "
                            f"or stop it (kill -INT {holder})") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def held(record: RunRecord) -> bool:
    """Whether some process runs `record` now (holds its run lock)."""
    path = record.folder / RUN_LOCK
    if not path.exists():
        return False
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False
