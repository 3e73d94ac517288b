"""The run record: one folder per chain run under the work dir, and the only module that knows its JSON.

A `RunRecord` and its `StageRecord`s are typed values; `save()` writes them to record.json through a temporary
file renamed over the old one, so a crash or Ctrl-C never leaves half a record. JSON rather than a database: a
record is small, written a few times per stage, and read by people (`cat .swiftpipe/runs/*/record.json`).

    <work_dir>/runs/<run id>/record.json
    <work_dir>/runs/<run id>/<stage>.sh     the exact script that ran
    <work_dir>/runs/<run id>/<stage>.log    its output

Schema 4 (this module) keeps what each stage read (its `inputs`, reads.py) and each launcher's `settings`; since
schema 3, paths inside the project are relative to it (record_paths.py). It reads schema 3 (no inputs: a stage's
command alone says whether it changed), schema 2 (absolute paths) and schema 1, the records of swiftpipe 0.1 (no
"schema" key, a Slurm job's fields flat in its stage), and refuses anything else with one line saying what to do.
Every field's type is checked as it is read (typed_json.py): a hand-edited or damaged record is one error naming
the field, never a crash in a later command.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from swiftpipe import versions
from swiftpipe.errors import InfrastructureError, UserError
from swiftpipe.recipe.loading import LoadedRecipe, chain_key
from swiftpipe.recipe.secrets import REDACTED, is_secret, redact_set
from swiftpipe.records import record_paths, safe_write
from swiftpipe.records.record_types import (  # noqa: F401  (the record's parts, imported from here by the rest)
    ENDED,
    FINISHED,
    Attempt,
    Handed,
    Job,
    LauncherInfo,
    RecipeInfo,
    StageRecord,
    State,
    now,
)
from swiftpipe.records.typed_json import FieldError, decode

DEFAULT_WORK_DIR = ".swiftpipe"
CHECKED_DIR = "checked"  # in the work dir, beside runs/: the data files checked clean (data/cache.py)
_WRITING = threading.Lock()  # one write of a record at a time in this process
_READS = 5  # tries at reading a record whose stages change meanwhile (the last try raises)
SCHEMA = 4
RECORD_FILE = "record.json"
_V1_JOB_KEYS = ("job_id", "submitted", "sbatch", "slurm_out", "slurm")


class RecordError(UserError):
    """A record.json this swiftpipe cannot read."""


class RecordWriteError(InfrastructureError):
    """A record.json that could not be written (a full disk, a file-size limit): the last good one is in place."""


@dataclass
class RunRecord:
    """One chain run. `save()` writes it atomically; a record that `owns` a stage writes only that stage."""

    folder: Path
    id: str
    recipe: RecipeInfo
    created: str
    stages: dict[str, StageRecord]
    state: State = State.PENDING
    cwd: str = ""
    versions: dict[str, str | None] = field(default_factory=dict)
    launcher: LauncherInfo | None = None
    updated: str | None = None
    owns: str | None = field(default=None, compare=False)  # a Slurm job's record: see save()
    # Where the project was when a record older than schema 3 was written: its fingerprints hold absolute paths
    # there (fingerprint.py). Not written: a record saved now holds paths relative to the project.
    recorded_in: str | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return self.recipe.key

    def stage(self, name: str) -> StageRecord:
        """The record of stage `name`; a KeyError for a stage this run does not have (Recipe.stage does the same)."""
        try:
            return self.stages[name]
        except KeyError:
            raise KeyError(f"run {self.id} has no stage {name!r}") from None

    def given(self, loaded: LoadedRecipe) -> None:
        """The --set (redacted) and --vary of the command that runs it now: a resume may change the overrides and
        extend a sweep."""
        self.recipe.sets = [redact_set(s) for s in loaded.source.sets]
        self.recipe.varies = list(loaded.source.varies)

    def include(self, names: list[str]) -> None:
        """A pending record for each of `names` this run does not have yet (a --resume that runs more stages)."""
        for name in names:
            self.stages.setdefault(name, StageRecord())

    def state_of(self, name: str) -> State:
        entry = self.stages.get(name)
        return entry.state if entry else State.PENDING

    def path_for(self, stage: str, suffix: str) -> Path:
        return self.folder / f"{stage}{suffix}"

    def save(self, *, use_reserve: bool = True) -> None:
        """Write the record. One that `owns` a stage (a Slurm job's) merges that stage into what is on disk, under
        the record's lock, so that `status` or `cancel` writing meanwhile lose nothing."""
        if self.owns is None:
            self._write(use_reserve)
            return
        with locked(self.folder) as current:
            current.stages[self.owns] = self.stages[self.owns]
            current.save(use_reserve=use_reserve)
        self.stages, self.state, self.updated = current.stages, current.state, current.updated

    def to_json(self) -> dict[str, Any]:
        """The record as it is written: paths inside the project relative to it (record_paths.py)."""
        data = {"schema": SCHEMA, **_plain(dataclasses.asdict(self), drop_empty=False)}
        data["stages"] = {name: _plain(dataclasses.asdict(entry), drop_empty=True, kept=_KEPT_EMPTY)
                          for name, entry in self.stages.items()}
        for name in ("folder", "owns", "recorded_in"):
            data.pop(name, None)
        project = record_paths.project_field(self.folder, self.cwd) if self.cwd else None
        if project is not None:
            data["project"] = project
            record_paths.to_project(data, self.cwd)
        return data

    def _write(self, use_reserve: bool) -> None:
        """Whole or not at all: a write that fails (a full disk) leaves the last good record and raises
        RecordWriteError. Stages that run side by side (run/side_by_side.py) save the same record from their own
        threads: one writes at a time."""
        with _WRITING:
            self._write_now(use_reserve)

    def _write_now(self, use_reserve: bool) -> None:
        self.updated = now()
        for _ in range(_READS):
            try:
                text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
                break
            except RuntimeError:  # another stage's thread added to one of its stage's fields as this read it
                continue
        else:
            text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            safe_write.replace(self.folder / RECORD_FILE, text, prefix="record", use_reserve=use_reserve)
        except OSError as exc:
            raise RecordWriteError(f"cannot write the run record ({exc.strerror or exc}); the last one written is "
                                   "kept: free space, then --resume", where=str(self.folder / RECORD_FILE)) from None


# A stage's fields whose empty value says something: `"inputs": []` is "it read no file", where no `inputs` is
# "not known" (a record from before they were kept).
_KEPT_EMPTY = frozenset({"inputs"})


def _plain(value: Any, *, drop_empty: bool, kept: frozenset[str] = frozenset()) -> Any:
    """JSON values: enums (values and keys) as their values, paths as text; with `drop_empty`, where every field
    has a default to read back (a stage record), the fields that say nothing (None, empty; `kept` ones only when
    None) are left out."""
    if isinstance(value, dict):
        return {_plain(k, drop_empty=False): _plain(v, drop_empty=drop_empty, kept=kept) for k, v in value.items()
                if not (drop_empty and (v is None or (k not in kept and (v == [] or v == {}))))}
    if isinstance(value, list):
        return [_plain(v, drop_empty=drop_empty, kept=kept) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


def create(work_dir: Path, loaded: LoadedRecipe, *, stages: list[str]) -> RunRecord:
    """A new run's folder and record of the loaded recipe, saved, every stage pending."""
    recipe_name, recipe_path = loaded.recipe.name, loaded.path
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    runs = work_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    base = f"{recipe_name}-{stamp}"
    run_id, n = base, 1
    while True:  # mkdir, not exists(): two runs started in the same second each get their own folder
        try:
            (runs / run_id).mkdir()
            break
        except FileExistsError:
            n += 1
            run_id = f"{base}-{n}"
    recipe = RecipeInfo(recipe_name, recipe_path, str(Path(recipe_path).resolve()), loaded.recorded_params(), [],
                        loaded.key, versions.git_commit(Path(recipe_path)))
    record = RunRecord(runs / run_id, run_id, recipe, now(), {name: StageRecord() for name in stages},
                       cwd=os.getcwd(), versions=versions.recorded())
    record.given(loaded)
    record.save()
    safe_write.keep_reserve(record.folder)
    return record


def read(folder: Path) -> RunRecord:
    path = folder / RECORD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"cannot read this run record ({type(exc).__name__}); move {folder} out of the work dir "
                          "to go on without it", where=str(path)) from None
    return _from_json(folder, data, path)


def _from_json(folder: Path, data: Any, path: Path) -> RunRecord:
    schema = data.get("schema", 1) if isinstance(data, dict) else None
    schema = schema if type(schema) is int else None  # "schema": true is no schema 1
    if schema not in (1, 2, 3, SCHEMA) or not isinstance(data.get("stages"), dict):
        if isinstance(schema, int) and schema > SCHEMA:
            raise RecordError(f"written by a newer swiftpipe (record schema {schema}; this one reads 1 to {SCHEMA}): "
                              "upgrade swiftpipe, or give --work-dir another folder", where=str(path))
        raise RecordError(f"not a swiftpipe run record; move {folder} out of the work dir to go on without it",
                          where=str(path))
    data = _from_schema_1(dict(data)) if schema == 1 else dict(data)
    if schema < 4:
        _from_schema_3(data)
    project = record_paths.project_of(folder, data, schema)
    recorded_in = data.get("cwd") if schema < 3 and isinstance(data.get("cwd"), str) and data["cwd"] else None
    if schema < 3 and isinstance(data.get("cwd"), str) and data["cwd"] != project:
        record_paths.to_project(data, data["cwd"])  # absolute under the project where it was: rebased on where it is
    record_paths.from_project(data, project)
    if schema < 3:
        _redact_secret_params(data, project)
    if isinstance(data.get("cwd", ""), str):  # one of another type is left for the typed reading to name
        data["cwd"] = project
    data.pop("project", None), data.pop("schema", None)
    try:
        return decode(RunRecord, data, given={"folder": folder, "recorded_in": recorded_in})
    except FieldError as exc:
        raise RecordError(f"a damaged run record: field {exc.field} is {exc.message}; move {folder} out of the work "
                          "dir to go on without it", where=str(path)) from None


def _redact_secret_params(data: dict[str, Any], project: str) -> None:
    """Records before schema 3 kept a parameter such as hub_token in plain text, and their key was computed from
    it; the key is now computed with it redacted (LoadedRecipe.recorded_params), so such a run is found again.
    A secret passed under a harmless name could not be told then and is left as it was."""
    recipe = data.get("recipe")
    if not isinstance(recipe, dict):
        return
    params = recipe.get("params")
    if not isinstance(params, dict) or not any(is_secret(name) for name in params):
        return
    recipe["params"] = {name: REDACTED if is_secret(name) else value for name, value in params.items()}
    if isinstance(recipe.get("abspath"), str):
        recipe["key"] = chain_key(recipe["abspath"], recipe["params"], project=project)


def _from_schema_3(data: dict[str, Any]) -> None:
    """Schema 3 and before: a launcher's settings were called its invocation; no stage kept what it read (so its
    command alone says whether it changed: reads.changed)."""
    launcher = data.get("launcher")
    if isinstance(launcher, dict) and "invocation" in launcher:
        data["launcher"] = {**launcher, "settings": launcher["invocation"]}
        del data["launcher"]["invocation"]


def _from_schema_1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1: the key named the recipe by its absolute path; a Slurm job's fields were flat in its stage; an
    output found missing was kept as null."""
    recipe = data.get("recipe")
    if isinstance(recipe, dict):
        data["recipe"] = {**recipe, "key": chain_key(str(recipe.get("abspath", "")), recipe.get("params", {}),
                                                     project=data.get("cwd") or None)}
    stages = {}
    for name, entry in data["stages"].items():
        if isinstance(entry, dict):
            entry = dict(entry)
            if "job_id" in entry:
                slurm = entry.get("slurm") or {}
                entry["job"] = {"id": entry["job_id"], "submitted": entry.get("submitted", ""),
                                "sbatch": entry.get("sbatch", ""), "output": entry.get("slurm_out", ""),
                                "state": slurm.get("state", "PENDING"), "reason": slurm.get("reason"),
                                "exit_code": slurm.get("exit_code")}
                for key in _V1_JOB_KEYS:
                    entry.pop(key, None)
            if isinstance(entry.get("outputs"), dict):
                entry["outputs"] = {k: v for k, v in entry["outputs"].items() if v}
        stages[name] = entry
    data["stages"] = stages
    return data


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
