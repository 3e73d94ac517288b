"""A local run that no swiftpipe runs any more, made final before anything reads it to go on (status, --resume)."""
from __future__ import annotations

import time
from typing import Callable

from swiftpipe import console
from swiftpipe.errors import UserError
from swiftpipe.run import run_lock, safe_write
from swiftpipe.run.process import stage_alive
from swiftpipe.run.run_record import RunRecord, State


def settle(record: RunRecord, *, wait: bool = False, say: Callable[[str], None] = console.say) -> RunRecord:
    """A local run that no swiftpipe runs any more, made final: a stage left "running" whose processes are gone
    (swiftpipe was killed, the machine restarted) is interrupted; one whose processes still run (its supervisor
    still stopping ms-swift) is refused, or with `wait` waited for."""
    if record.launcher is not None or run_lock.held(record):
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
