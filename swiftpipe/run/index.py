"""The work dir's index: a summary of every run record, kept in `runs/.index.json` and refreshed from a record
only when its file changed (size, mtime, inode), so that finding and listing runs reads one file and stats the
others, at 10,000 runs too. It is a cache: deleting it costs one slow listing, never a run.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from swiftpipe.run.run_record import RECORD_FILE, RecordError, RunRecord, read

INDEX_FILE = ".index.json"
_VERSION = 1


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


def summaries(work_dir: Path, *, warn: Callable[[str], None]) -> list[Summary]:
    """A summary of every readable record under the work dir, oldest first; an unreadable one goes to `warn`."""
    runs = work_dir / "runs"
    if not runs.is_dir():
        return []
    cached = _load(runs)
    fresh: dict[str, list[Any]] = {}
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
            if hit is not None and hit[:3] == stamp:
                fresh[entry.name] = hit
                continue
            try:
                fresh[entry.name] = [*stamp, _summary(read(Path(entry.path)))]
            except RecordError as exc:
                warn(str(exc))
    if fresh != cached:
        _save(runs, fresh)
    return sorted((Summary(**value[3]) for value in fresh.values()), key=lambda s: (s.created, s.id))


def _summary(record: RunRecord) -> dict[str, Any]:
    return asdict(Summary(record.id, record.folder.name, record.key, record.created, record.recipe.path,
                          record.recipe.abspath, record.recipe.params, record.state.value,
                          sum(1 for s in record.stages.values() if s.finished), len(record.stages)))


def _load(runs: Path) -> dict[str, list[Any]]:
    try:
        data = json.loads((runs / INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("runs", {}) if isinstance(data, dict) and data.get("version") == _VERSION else {}


def _save(runs: Path, fresh: dict[str, list[Any]]) -> None:
    """Atomically; a work dir that cannot take it (read-only, full) just goes without the cache."""
    try:
        fd, tmp = tempfile.mkstemp(dir=runs, prefix=".index-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": _VERSION, "runs": fresh}, f, ensure_ascii=False)
        os.replace(tmp, runs / INDEX_FILE)
    except OSError:
        pass
