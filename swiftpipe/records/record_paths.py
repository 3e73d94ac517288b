"""The paths in a run record's JSON, kept relative to the project so that a moved or re-cloned project keeps its
history: `--resume` after `mv project elsewhere` finds every checkpoint it recorded.

The project is the folder swiftpipe ran in (the record's `cwd`). A record says where it is from its own folder
(`"project": "../../.."` for `<project>/.swiftpipe/runs/<id>`), so that reading it after a move finds the project
again; paths outside the project stay absolute. Records written before schema 3 hold absolute paths under their
old `cwd`: they are read by rebasing those on the project as it is now.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STAGE_PATHS = ("script", "log", "target")
_JOB_PATHS = ("sbatch", "output")


def project_field(folder: Path, cwd: str) -> str | None:
    """How the record in `folder` names its project: relative to the folder when the folder is really inside it
    (a work dir that is a link to another disk is not: its records keep absolute paths, read from anywhere)."""
    real_folder, real_cwd = os.path.realpath(folder), os.path.realpath(cwd)
    return os.path.relpath(real_cwd, real_folder) if _inside(real_folder, real_cwd) else None


def project_of(folder: Path, data: dict[str, Any], schema: int) -> str:
    """Where the project of the record in `folder` is now. A record older than schema 3 says only where it was:
    if that is gone, the project is taken to be the folder above the work dir (`<project>/.swiftpipe`)."""
    project, cwd = data.get("project"), data.get("cwd")
    if isinstance(project, str):
        return os.path.normpath(os.path.join(os.path.realpath(folder), project))
    if isinstance(cwd, str) and cwd and (schema >= 3 or os.path.isdir(cwd)):
        return cwd
    return os.path.realpath(folder.parent.parent.parent)


def to_project(data: dict[str, Any], project: str) -> None:
    """The record's paths under `project` made relative to it, in place."""
    _each_path(data, lambda path: os.path.relpath(path, project) if _inside(path, project) else path)


def from_project(data: dict[str, Any], project: str) -> None:
    """The record's relative paths made absolute under `project`, in place."""
    _each_path(data, lambda path: path if os.path.isabs(path) else os.path.normpath(os.path.join(project, path)))


def _inside(path: str, project: str) -> bool:
    return os.path.isabs(path) and (path == project or path.startswith(project.rstrip(os.sep) + os.sep))


def _each_path(data: dict[str, Any], change: Callable[[str], str]) -> None:
    """Every path field of a record's JSON, changed by `change`; values of the wrong type are left for the typed
    reading to name."""
    recipe = data.get("recipe")
    if isinstance(recipe, dict):
        _fields(recipe, ("abspath",), change)
    stages = data.get("stages")
    for entry in stages.values() if isinstance(stages, dict) else ():
        if not isinstance(entry, dict):
            continue
        _fields(entry, _STAGE_PATHS, change)
        _outputs(entry, change)
        _inputs(entry, change)
        if isinstance(entry.get("job"), dict):
            _fields(entry["job"], _JOB_PATHS, change)
        for attempt in entry.get("attempts", ()) if isinstance(entry.get("attempts"), list) else ():
            if isinstance(attempt, dict):
                _fields(attempt, _STAGE_PATHS, change)
                _outputs(attempt, change)
                _inputs(attempt, change)


def _fields(entry: dict[str, Any], names: tuple[str, ...], change: Callable[[str], str]) -> None:
    for name in names:
        if isinstance(entry.get(name), str) and entry[name]:
            entry[name] = change(entry[name])


def _outputs(entry: dict[str, Any], change: Callable[[str], str]) -> None:
    outputs = entry.get("outputs")
    if isinstance(outputs, dict):
        entry["outputs"] = {k: change(v) if isinstance(v, str) and v else v for k, v in outputs.items()}


def _inputs(entry: dict[str, Any], change: Callable[[str], str]) -> None:
    inputs = entry.get("inputs")
    for handed in inputs if isinstance(inputs, list) else ():
        if isinstance(handed, dict):
            _fields(handed, ("path",), change)
