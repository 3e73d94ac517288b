"""The Slurm backend: each launched step a job, submitted at once with the plan's gates as dependencies
(submit.py); each job runs its stage and writes its outcome (job.py); what a job could not write, Slurm says."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from swiftpipe import console
from swiftpipe.records.run_record import RunRecord
from swiftpipe.slurm import client, submit
from swiftpipe.slurm.job import recipe_changed


@dataclass(frozen=True)
class SlurmBackend:
    name: str = "slurm"

    def settle(self, record: RunRecord, *, wait: bool = False, say: Callable[[str], None] = console.say) -> RunRecord:
        return submit.refresh(record)

    def going(self, record: RunRecord) -> str | None:
        live = [f"{name} (job {entry.job.id}, {entry.state.value})" for name, entry in record.stages.items()
                if entry.job is not None and entry.state in submit.LIVE]
        return f"jobs queued or running on Slurm: {', '.join(live)}" if live else None

    def cancel(self, record: RunRecord, say: Callable[[str], None]) -> list[str]:
        client.available()
        return submit.cancel(record, say)

    def warnings(self, record: RunRecord) -> list[str]:
        changed = recipe_changed(record.folder, record.launcher.settings) if record.launcher is not None else None
        return [changed] if changed else []


BACKEND = SlurmBackend()
