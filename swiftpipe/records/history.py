"""The work dir's history: what its run records say across runs (the latest run of a recipe, what a stage
produced, where a stage already finished). Runs are found through the index (index.py) and read through
run_record, the one module that knows their JSON.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from swiftpipe import console
from swiftpipe.msswift.layout import Output
from swiftpipe.records import index
from swiftpipe.records.index import Summary
from swiftpipe.records.run_record import RECORD_FILE, RecordError, RunRecord, StageRecord, State, read

_told: set[str] = set()


def load_all(work_dir: Path, *, warn: Callable[[str], None] = console.warn) -> list[RunRecord]:
    """Every record under the work dir, oldest first. One that cannot be read is said in one line (through `warn`)
    and left out: it blocks no other recipe, and a --resume that might have meant it is not silent about it."""
    found = []
    for path in sorted((work_dir / "runs").glob(f"*/{RECORD_FILE}")):
        try:
            found.append(read(path.parent))
        except RecordError as exc:
            _warn_once(str(exc), warn)
    return sorted(found, key=lambda r: (r.created, r.id))


def _warn_once(message: str, warn: Callable[[str], None] = console.warn) -> None:
    if message not in _told:  # once per command, however often it reads the work dir
        _told.add(message)
        warn(f"{message} (left out)")


def latest(work_dir: Path, key: str) -> RunRecord | None:
    """The newest run of this recipe with these parameters (found through the index: one record is read)."""
    records = _records_of(work_dir, key, newest=1)
    return records[0] if records else None


def produced(work_dir: Path, key: str, stage: str, output: Output) -> str | None:
    """`output` (last_checkpoint, merged, results, ...) of `stage` from the newest run of this chain where the
    stage finished and recorded it, and it is still on disk."""
    found = producing(work_dir, key, stage, output)
    return found.outputs[output] if found is not None else None


def producing(work_dir: Path, key: str, stage: str, output: Output) -> StageRecord | None:
    """The record of `stage` in the newest run of this chain where it finished and recorded `output`, still on
    disk."""
    for record in _records_of(work_dir, key):
        entry = record.stages.get(stage)
        found = entry.outputs.get(output) if entry is not None and entry.finished else None
        if found and Path(found).exists():
            return entry
    return None


def finished_elsewhere(work_dir: Path, keys: Sequence[str], alike: Callable[[str], bool],
                       unchanged: Callable[[StageRecord], bool], *,
                       besides: str | None) -> tuple[str, StageRecord] | None:
    """The newest other run of these chains (id, stage record) where a stage that may be this one (`alike`, by its
    name: a sweep names the chain's `sft` `sft@lr-5e-5`) finished as this one is now (`unchanged`) and its outputs
    are all still on disk."""
    for record in _records_of(work_dir, *keys):
        if record.id == besides:
            continue
        for name, entry in record.stages.items():
            if alike(name) and entry.finished and unchanged(entry) and entry.outputs_on_disk:
                return record.id, entry
    return None


def earlier_outcomes(work_dir: Path, key: str, names: Sequence[str], newest: RunRecord) -> dict[str, tuple[str,
                                                                                                    StageRecord]]:
    """For each of `names` that the newest run of the chain did not run (a `--stage` run of other stages), its
    latest outcome in an earlier run: (run id, stage record). What `status` shows of the chain as a whole."""
    wanted = [name for name in names if name not in newest.stages or newest.stages[name].state is State.PENDING]
    found: dict[str, tuple[str, StageRecord]] = {}
    for record in _records_of(work_dir, key) if wanted else []:
        for name in wanted:
            entry = record.stages.get(name)
            if record.id != newest.id and name not in found and entry is not None and entry.state is not State.PENDING:
                found[name] = (record.id, entry)
        if len(found) == len(wanted):
            break
    return found


def summaries(work_dir: Path) -> list[Summary]:
    """Every run, summarised from the index, oldest first."""
    return index.summaries(work_dir, warn=_warn_once)


def _records_of(work_dir: Path, *keys: str, newest: int | None = None) -> list[RunRecord]:
    """The runs of these chains, newest first (at most `newest` of them), read in full."""
    found = []
    for summary in reversed(summaries(work_dir)):
        if summary.key not in keys:
            continue
        try:
            found.append(read(work_dir / "runs" / summary.folder))
        except RecordError as exc:
            _warn_once(str(exc))
            continue
        if newest is not None and len(found) >= newest:
            break
    return found


def producer_of(work_dir: Path, path: str) -> tuple[str, str] | None:
    """The run and stage that recorded `path` as one of its outputs, newest first."""
    for record in reversed(load_all(work_dir)):
        for name, entry in record.stages.items():
            if path in entry.outputs.values():
                return record.id, name
    return None


def parameter_sets(work_dir: Path, recipe_path: str) -> list[dict[str, Any]]:
    """The parameters of this recipe file's recorded runs, each set once, the most recently used first."""
    wanted = str(Path(recipe_path).resolve())
    found: list[dict[str, Any]] = []
    for summary in reversed(summaries(work_dir)):
        if summary.abspath == wanted and summary.params not in found:
            found.append(summary.params)
    return found
