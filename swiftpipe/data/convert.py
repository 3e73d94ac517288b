"""Rewrite a data file into ms-swift's own form: JSON Lines of `{"messages": [...]}`, plus `rejected_response`
for preference data. The output appears only complete: it is written beside its target under a temporary name and
renamed into place once every record converted."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from swiftpipe.data import formats, registry, stream
from swiftpipe.data.validate import DataError, Report, checked_records
from swiftpipe.errors import UserError


@dataclass(frozen=True)
class Converted:
    source: Path
    target: Path
    purpose: str
    shape: str
    records: int
    mapping: list[tuple[str, str]]


def convert(source: Path, target: Path, *, to: str, entry: str | None = None, force: bool = False,
            limit: int = 20, progress: Callable[[int], object] | None = None) -> Converted:
    source, target = Path(source), Path(target)
    shape: formats.Shape | None = None
    if registry.is_registry(source):
        source, shape = registry.entry(source, entry, to)
    elif entry is not None:
        raise UserError(f"{source}: --entry reads a LLaMA-Factory registry (dataset_info.json), not a data file")
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    if target.exists() and target.resolve() == source.resolve():
        raise UserError(f"{target}: is the input; convert never overwrites its input")
    if target.exists() and not force:
        raise UserError(f"{target}: exists (--force to replace it)")
    if not target.parent.is_dir():
        raise UserError(f"{target.parent}: no such folder")

    report = Report(source, to, stream.read_framing(source), limit=limit)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    seen: set[str] = set()
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for found, record in checked_records(source, to, report=report, shape=shape, progress=progress):
                shape = found  # the file's (every good record has it): its mapping is reported below
                out.write(json.dumps(found.to_messages(record, to), ensure_ascii=False))
                out.write("\n")
                seen.update(record)
        report.raise_for_problems()
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 would outlive the rename
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    used = shape or formats.QUERY_RESPONSE
    mapping = [(column, goes_to) for column, goes_to in used.mapping(to) if _column(column) in seen]
    return Converted(source, target, to, report.shape, report.records, mapping)


def _column(source: str) -> str:
    """The record key a mapping's source names: `history`, `instruction + '\\n' + input`, `messages[].role`."""
    return source.split("[")[0].split(" ")[0]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
