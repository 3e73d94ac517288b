"""The work dir's index: a summary of every run record, kept in `runs/.index.json` and refreshed from a record
only when its file changed (size, mtime, inode), so that finding and listing runs reads one file and stats the
others, at 10,000 runs too. It is a cache: deleting it costs one slow listing, never a run.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from swiftpipe.records import safe_write
from swiftpipe.records.run_record import RECORD_FILE, RecordError, RunRecord, read
from swiftpipe.records.typed_json import FieldError, decode

INDEX_FILE = ".index.json"
_VERSION = 3


@dataclass(frozen=True)
class Summary:
    """What listing and finding runs needs of a record, without reading it."""

    id: str
    folder: str
    key: str
    created: str
    path: str
    abspath: str
    params: dict[str, Any]
    state: str
    done: int
    total: int
    sets: list[str]  # the --set given, secrets redacted
    varies: list[str]  # a sweep's --vary, as given


def summaries(work_dir: Path, *, warn: Callable[[str], None]) -> list[Summary]:
    """A summary of every readable record under the work dir, oldest first; an unreadable one goes to `warn`."""
    runs = work_dir / "runs"
    if not runs.is_dir():
        return []
    cached = _load(runs)
    fresh: dict[str, _Entry] = {}
    with os.scandir(runs) as entries:
        for entry in entries:
            if not entry.is_dir():
                continue
            try:
                stat = os.stat(os.path.join(entry.path, RECORD_FILE))
            except OSError:
                continue
            stamp = [stat.st_mtime_ns, stat.st_size, stat.st_ino]
            hit = cached.get(entry.name)
            if hit is not None and hit[0] == stamp:
                fresh[entry.name] = hit
                continue
            try:
                fresh[entry.name] = (stamp, _summary(read(Path(entry.path))))
            except RecordError as exc:
                warn(str(exc))
    if fresh != cached:
        _save(runs, fresh)
    return sorted((summary for _, summary in fresh.values()), key=lambda s: (s.created, s.id))


def _summary(record: RunRecord) -> Summary:
    return Summary(record.id, record.folder.name, record.key, record.created, record.recipe.path,
                   record.recipe.abspath, record.recipe.params, record.state.value,
                   sum(1 for s in record.stages.values() if s.finished), len(record.stages), record.recipe.sets,
                   record.recipe.varies)


_Entry = tuple[list[int], Summary]  # the record file's (mtime_ns, size, inode) when summarised, and its summary


def _load(runs: Path) -> dict[str, _Entry]:
    """The cached summaries; an entry that is not what this module writes (a damaged or hand-edited index) is left
    out, and its record read again."""
    try:
        data = json.loads((runs / INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not (isinstance(data, dict) and data.get("version") == _VERSION and isinstance(data.get("runs"), dict)):
        return {}
    if data.get("folder") != os.path.abspath(runs):  # the project moved: the summaries' paths are the old ones
        return {}
    cached: dict[str, _Entry] = {}
    for name, value in data["runs"].items():
        if not (isinstance(value, list) and len(value) == 4 and all(type(v) is int for v in value[:3])):
            continue
        try:
            cached[name] = (value[:3], decode(Summary, value[3]))
        except FieldError:
            continue
    return cached


def _save(runs: Path, fresh: dict[str, _Entry]) -> None:
    """Whole or not at all; a work dir that cannot take it (read-only, full) just goes without the cache."""
    text = json.dumps({"version": _VERSION, "folder": os.path.abspath(runs), "runs": {name: [*stamp, asdict(summary)]
                                                     for name, (stamp, summary) in fresh.items()}},
                      ensure_ascii=False)
    try:
        safe_write.replace(runs / INDEX_FILE, text, prefix="index")
    except OSError:
        pass
