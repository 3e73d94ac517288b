"""The local backend: a chain's stages as processes on this machine, one after another (chain.py carries out the
plan). Its runs need no one to ask: a stage's process writes its own outcome, and a run whose swiftpipe is gone
(killed, the machine restarted) is made final before anything reads it to go on (status, --resume)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from swiftpipe import console
from swiftpipe.errors import UserError
from swiftpipe.records import safe_write
from swiftpipe.records.run_record import RunRecord, State
from swiftpipe.run import run_lock
from swiftpipe.run.process import stage_alive


def settle(record: RunRecord, *, wait: bool = False, say: Callable[[str], None] = console.say) -> RunRecord:
    """A local run that no swiftpipe runs any more, made final: a stage left "running" whose processes are gone
    (swiftpipe was killed, the machine restarted) is interrupted; one whose processes still run (its supervisor
    still stopping ms-swift) is refused, or with `wait` waited for."""
    if run_lock.held(record):
        return record
    safe_write.sweep(record.folder)  # the temporary files of a write that a kill cut short
    safe_write.sweep(record.folder.parent)  # and of the index's
    if record.state is not State.RUNNING:
        return record
    for name, entry in record.stages.items():
        if entry.state is not State.RUNNING:
            continue
        if wait and entry.pgid is not None and stage_alive(entry.pgid, record.cwd):
            say(f"[swiftpipe] stage {name!r} of run {record.id} still runs (process group {entry.pgid}); waiting "
                "for it to end")
            while stage_alive(entry.pgid, record.cwd):
                time.sleep(0.5)
        if entry.pgid is not None and stage_alive(entry.pgid, record.cwd):
            raise UserError(f"run {record.id}: stage {name!r} still runs (process group {entry.pgid}) though no "
                            f"swiftpipe follows it; wait for it, or stop it (kill -INT -{entry.pgid}), then resume")
        entry.end(State.INTERRUPTED, "its swiftpipe stopped without recording an outcome (killed, or the machine "
                  "restarted)")
    record.state = State.INTERRUPTED
    record.save()
    return record


@dataclass(frozen=True)
class LocalBackend:
    name: str = "local"

    def settle(self, record: RunRecord, *, wait: bool = False, say: Callable[[str], None] = console.say) -> RunRecord:
        return settle(record, wait=wait, say=say)

    def going(self, record: RunRecord) -> str | None:
        return None  # a local run goes on only while its swiftpipe holds it (run_lock.held)

    def cancel(self, record: RunRecord, say: Callable[[str], None]) -> list[str]:
        raise UserError(f"run {record.id} ran here, not on a cluster: stop a local run with Ctrl-C in its terminal")

    def warnings(self, record: RunRecord) -> list[str]:
        return []


BACKEND = LocalBackend()
