"""Run records: one folder per chain run under the work dir, with record.json and each stage's log and script.

JSON files rather than an embedded database: a record is small, written a few times per stage, read by
`status`/`runs`/`resolve` and by people (`cat .swiftpipe/runs/*/record.json`); each write goes to a temporary
file renamed over the old one, so a crash or Ctrl-C never leaves a half-written record, and two runs never
share a file. Layout:

    <work_dir>/runs/<run id>/record.json
    <work_dir>/runs/<run id>/<stage>.sh     the exact script that ran
    <work_dir>/runs/<run id>/<stage>.log    its output
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from enum import Enum
from pathlib import Path
from typing import Any, Iterator

DEFAULT_WORK_DIR = ".swiftpipe"


class State(str, Enum):
    PENDING = "pending"
    QUEUED = "queued"  # submitted to Slurm, not started yet
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"
    ABORTED = "aborted"
    REUSED = "reused"  # finished in an earlier run of the chain; its outputs are used as they are


FINISHED = (State.DONE, State.REUSED)
ENDED = (*FINISHED, State.FAILED, State.INTERRUPTED, State.SKIPPED, State.ABORTED)


def now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as they read back from JSON (paths and enums as text)."""
    return json.loads(json.dumps(values, default=str))


def chain_key(recipe_path: str, params: dict[str, Any]) -> str:
    """Identifies "this recipe with these parameters": what --resume continues. `--set` overrides are left out
    on purpose: they change a stage's command, so resume re-runs that stage (and what follows it) and reuses
    the ones before it."""
    text = json.dumps([str(Path(recipe_path).resolve()), params], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RunRecord:
    """One chain run. `data` is the JSON document; `save()` writes it atomically."""

    def __init__(self, folder: Path, data: dict[str, Any], *, owns: str | None = None) -> None:
        self.folder = folder
        self.data = data
        self.owns = owns  # a Slurm job writes only its own stage's entry; see save()

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        return self.data["stages"]

    def stage(self, name: str) -> dict[str, Any]:
        return self.data["stages"].setdefault(name, {"state": State.PENDING.value})

    def state_of(self, name: str) -> State:
        return State(self.stages.get(name, {}).get("state", State.PENDING.value))

    def path_for(self, stage: str, suffix: str) -> Path:
        return self.folder / f"{stage}{suffix}"

    def save(self) -> None:
        """Write the record. A record that `owns` one stage (a Slurm job's) merges that entry into what is on
        disk under the record's lock, so that `status` or `cancel` writing meanwhile lose nothing."""
        if self.owns is not None:
            with locked(self.folder) as current:
                current.data["stages"][self.owns] = self.data["stages"][self.owns]
                current.save()
            self.data = current.data
            return
        self._write()

    def _write(self) -> None:
        self.data["updated"] = now()
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".record-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=2, ensure_ascii=False, default=str)
            f.write("\n")
        os.replace(tmp, self.folder / "record.json")


def create(work_dir: Path, *, recipe_name: str, recipe_path: str, params: dict[str, Any], sets: list[str],
           stages: list[str]) -> RunRecord:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    runs = work_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    base = f"{recipe_name}-{stamp}"
    run_id, n = base, 1
    while (runs / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    (runs / run_id).mkdir()
    data = {
        "id": run_id,
        "recipe": {"name": recipe_name, "path": recipe_path, "abspath": str(Path(recipe_path).resolve()),
                   "params": params, "sets": sets, "key": chain_key(recipe_path, params),
                   "git": _git_commit(Path(recipe_path))},
        "created": now(),
        "cwd": os.getcwd(),
        "versions": versions(),
        "stages": {name: {"state": State.PENDING.value} for name in stages},
    }
    record = RunRecord(runs / run_id, data)
    record.save()
    return record


def read(folder: Path) -> RunRecord:
    return RunRecord(folder, json.loads((folder / "record.json").read_text(encoding="utf-8")))


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[RunRecord]:
    """The record as it is on disk, held under an exclusive lock until the block ends: read, change, save()
    without losing another process's write. Used wherever Slurm jobs and the login node share a record."""
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield read(folder)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_all(work_dir: Path) -> list[RunRecord]:
    """Every record under the work dir, oldest first."""
    found = []
    for path in sorted((work_dir / "runs").glob("*/record.json")):
        try:
            found.append(RunRecord(path.parent, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(found, key=lambda r: (r.data.get("created", ""), r.id))


def latest(work_dir: Path, key: str) -> RunRecord | None:
    matching = [r for r in load_all(work_dir) if r.data["recipe"].get("key") == key]
    return matching[-1] if matching else None


def produced(work_dir: Path, key: str, stage: str, output: str) -> str | None:
    """`output` (last_checkpoint, merged, results, ...) of `stage` from the newest run of this chain where the
    stage finished and recorded it."""
    for record in reversed([r for r in load_all(work_dir) if r.data["recipe"].get("key") == key]):
        if record.state_of(stage) in FINISHED and record.stages[stage].get("outputs", {}).get(output):
            return record.stages[stage]["outputs"][output]
    return None


def versions() -> dict[str, str | None]:
    """Versions of what ran, read from package metadata (no imports of torch or swift)."""
    from importlib import metadata

    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("swiftpipe", "ms-swift", "transformers", "torch"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def _git_commit(path: Path) -> dict[str, Any] | None:
    folder = path.resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", str(path.resolve())],
                               capture_output=True, text=True, timeout=5)
        return {"commit": commit.stdout.strip(), "recipe_modified": bool(dirty.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return None
