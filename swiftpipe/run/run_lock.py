"""One swiftpipe at a time: for a run record (the run lock), and for what two runs would share, a chain (a recipe
with its parameters) and an output_dir that ms-swift writes into (the claims). Both are flock(2) locks: the kernel
drops them when their holder dies, however it dies, so a killed swiftpipe never blocks the next one."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from swiftpipe.errors import UserError
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.records.run_record import RunRecord

RUN_LOCK = ".run.lock"
CLAIMS_DIR = "locks"  # in the work dir


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


def claims(loaded: LoadedRecipe, names: list[str]) -> dict[str, str]:
    """What a run of these stages must have to itself: the chain (another run of it would resume or record the
    same stages) and every output_dir its stages write (ms-swift numbers its run folders there by what it finds:
    two runs at once take the same number). Key -> what it is, said to the one refused."""
    found = {f"chain {loaded.key}": f"{loaded.path} with these parameters"}
    for name in names:
        stage = loaded.recipe.stage(name)
        folder = stage.flags.get("output_dir")
        if isinstance(folder, (str, os.PathLike)):
            # The node ranks of one multi-node job share their output folders by design (even on one machine)
            launch = loaded.recipe.launch_for(stage)
            rank = f" node {launch.node_rank or 0}" if (launch.nnodes or 1) > 1 else ""
            found[f"{OUTPUT_DIR} {os.path.realpath(folder)}{rank}"] = f"--output_dir {folder}"
    return found


OUTPUT_DIR = "output_dir"  # a claim on a folder is this machine's, whatever work dir or project asks for it


def _folder_for(key: str, work_dir: Path) -> Path:
    """Where a claim's lock lives: a chain's in its work dir; an output folder's in one folder for the whole
    machine (this user's), so that runs with other work dirs or from other projects see it too."""
    if not key.startswith(f"{OUTPUT_DIR} "):
        return work_dir / CLAIMS_DIR
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"swiftpipe-{os.getuid()}-locks"


@contextlib.contextmanager
def claimed(work_dir: Path, wanted: dict[str, str], *, who: str, wait: bool = False,
            say: Callable[[str], None] = lambda text: None) -> Iterator[None]:
    """Hold every claim in `wanted` until the block ends (in one order, so that two runs never wait on each
    other). One held by another swiftpipe refuses in one line naming it, or with `wait` is waited for."""
    with contextlib.ExitStack() as held:
        for key in sorted(wanted):
            folder = _folder_for(key, work_dir)
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                lock = held.enter_context(open(folder / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock", "a+"))
            except OSError as exc:
                if folder == work_dir / CLAIMS_DIR:
                    raise UserError(f"--work-dir {work_dir}: cannot write run records there "
                                    f"({exc.strerror or exc})") from None
                raise UserError(f"{folder}: cannot keep swiftpipe's locks there ({exc.strerror or exc}); set "
                                "XDG_RUNTIME_DIR to a folder of yours") from None
            _take(lock, wanted[key], who=who, wait=wait, say=say)
            held.callback(_give_back, lock)
        yield


def _take(lock: IO[str], what: str, *, who: str, wait: bool, say: Callable[[str], None]) -> None:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(lock)
        if not wait:
            pid = holder.split(" ", 1)[0]
            stop = f", or stop it (kill {pid})" if pid.isdigit() else ""  # SIGTERM: a background job ignores INT
            raise UserError(f"{what}: in use by {holder or 'another swiftpipe'}; wait for it to end (--wait "
                            f"waits){stop}") from None
        say(f"[swiftpipe] {what}: in use by {holder or 'another swiftpipe'}; waiting for it to end")
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:  # who holds it, for the message of the one refused; a full disk only loses the name
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()} ({who})")
        lock.flush()
    except OSError:
        pass


def _give_back(lock: IO[str]) -> None:
    """Unlock, leaving no holder's name behind to be read by the next one refused before it writes its own."""
    try:
        lock.seek(0)
        lock.truncate()
        lock.flush()
    except OSError:
        pass
    fcntl.flock(lock, fcntl.LOCK_UN)


def _holder(lock: IO[str]) -> str:
    """Who holds the lock, as it wrote itself in; a holder that took it a moment ago writes its name within
    milliseconds, so an empty file is read again for a little while."""
    for _ in range(25):
        lock.seek(0)
        holder = lock.read().strip()
        if holder:
            return holder
        time.sleep(0.02)
    return ""
