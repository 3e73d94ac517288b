"""Where a chain's stages run: the seam between the plan and a machine.

A backend carries out a plan's launched steps (here: run/chain.py; on a cluster: slurm/submit.py) and owns what it
keeps in the run record: the launcher's settings, each stage's job. The rest of swiftpipe asks a record's backend
what goes on, what to settle, what to cancel, and never which backend it is. A backend registers by name here, as
the module that holds its BACKEND, imported once a record of its own is read: run/ never imports the layers above
it, and a third backend is one new module and one line below.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from swiftpipe import console
from swiftpipe.errors import UserError
from swiftpipe.records.run_record import RunRecord

BACKENDS = {
    "local": "swiftpipe.run.local",
    "slurm": "swiftpipe.slurm.backend",
}


class Backend(Protocol):
    name: str

    def settle(self, record: RunRecord, *, wait: bool = False,
               say: Callable[[str], None] = console.say) -> RunRecord:
        """The record with what the backend knows now of stages whose own processes could not write their
        outcome (a swiftpipe killed outright, a job Slurm ended); with `wait`, after a stage still stopping."""
        ...

    def going(self, record: RunRecord) -> str | None:
        """What of the run goes on without a swiftpipe following it (jobs queued or running), for a refusal; None
        when nothing does."""
        ...

    def cancel(self, record: RunRecord, say: Callable[[str], None]) -> list[str]:
        """Stop what of the run goes on; returns what was stopped (job ids)."""
        ...

    def warnings(self, record: RunRecord) -> list[str]:
        """What a user following the run should know (the recipe changed since its jobs were submitted)."""
        ...


def backend_of(record: RunRecord) -> Backend:
    """The backend that ran `record` (a record without a launcher ran here)."""
    name = record.launcher.name if record.launcher is not None else "local"
    if name not in BACKENDS:
        raise UserError(f"run {record.id} ran on {name!r}, which this swiftpipe cannot follow (it knows "
                        f"{', '.join(BACKENDS)}); use the swiftpipe that started it", where=str(record.folder))
    backend: Backend = importlib.import_module(BACKENDS[name]).BACKEND
    return backend
