"""Which data files were checked clean, remembered in the work dir, so that a file that has not changed is not read
again: a 20 GB corpus is checked once, not on every run and every --resume.

A file is the same file when its identity is: its resolved path, size, modification and inode-change times (in
nanoseconds), inode and device, and a hash of its first and last 64 KiB. The inode-change time moves on every write,
so a file edited in place within the same second, at the same size, is read again; the hash catches a copy that
kept the old times. The check's settings are part of the key: the purpose, the `--columns` renaming, the record size
limit and swiftpipe's version. Only a clean result is kept; a file with problems is always read again. The
identity is taken before the check and compared after it, so a file that changed while it was read is not kept.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from swiftpipe.data import stream
from swiftpipe.data.validate import Report, validate
from swiftpipe.versions import SWIFTPIPE_VERSION

SCHEMA = 1
_ENDS = 64 << 10


@dataclass(frozen=True)
class Identity:
    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int
    ends: str  # blake2b of the first and last 64 KiB


def identity(path: Path) -> Identity:
    resolved = Path(path).resolve()
    with open(resolved, "rb") as f:
        info = os.fstat(f.fileno())
        digest = hashlib.blake2b(f.read(_ENDS), digest_size=16)
        if info.st_size > _ENDS:
            f.seek(max(_ENDS, info.st_size - _ENDS))
            digest.update(f.read(_ENDS))
    return Identity(str(resolved), info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev,
                    digest.hexdigest())


class CheckCache:
    """Clean check results, one small JSON file each, under `folder` (the work dir's `checked/`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def clean(self, path: Path, settings: Mapping[str, object], now: Identity) -> dict | None:
        """What the last clean check of this very file (`now`, its identity) with these settings found, or None."""
        try:
            entry = json.loads(self._entry(path, settings).read_text())
            return entry["found"] if entry["identity"] == asdict(now) else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def remember(self, path: Path, settings: Mapping[str, object], before: Identity, report: Report) -> None:
        """Keep a clean report, if the file is still the one that was checked."""
        if not report.ok or identity(path) != before:
            return
        entry = {"identity": asdict(before), "settings": dict(settings),
                 "found": {"records": report.records, "shape": report.shape, "native": report.native,
                           "framing": report.framing.container}}
        target = self._entry(path, settings)
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs a re-read
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(entry))
            partial.replace(target)

    def _entry(self, path: Path, settings: Mapping[str, object]) -> Path:
        key = json.dumps([str(Path(path).resolve()), settings], sort_keys=True)
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def check_settings(purpose: str | None, columns: Mapping[str, str] | None, max_record_bytes: int) -> dict:
    # "kind", as the checks remembered so far were keyed: another name would read every file again once.
    return {"schema": SCHEMA, "kind": purpose, "columns": sorted((columns or {}).items()),
            "max_record_bytes": max_record_bytes, "swiftpipe": SWIFTPIPE_VERSION}


def validate_once(path: Path, purpose: str | None, *, cache: CheckCache | None, limit: int,
                  columns: Mapping[str, str] | None = None,
                  max_record_bytes: int = stream.DEFAULT_MAX_RECORD_BYTES,
                  progress: Callable[[int], object] | None = None) -> tuple[Report, bool]:
    """`validate`, unless `cache` remembers a clean check of this same file with these settings; returns the report
    and whether it came from the cache."""
    path = Path(path)
    if cache is None or not path.is_file():
        return validate(path, purpose, limit=limit, columns=columns, max_record_bytes=max_record_bytes,
                        progress=progress), False
    settings = check_settings(purpose, columns, max_record_bytes)
    before = identity(path)
    found = cache.clean(path, settings, before)
    if found is not None:
        return Report(path, purpose, stream.Framing(found["framing"], False), records=found["records"],
                      shape=found["shape"], native=found["native"], limit=limit), True
    report = validate(path, purpose, limit=limit, columns=columns, max_record_bytes=max_record_bytes, progress=progress)
    cache.remember(path, settings, before, report)
    return report, False
