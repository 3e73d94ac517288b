"""Inside a Slurm job: one stage of a recorded chain, run by the same StageRunner as a local run.

The job reloads the recipe as it was submitted (the record keeps the launcher's settings), takes its inputs from what
earlier jobs recorded, and hands the stage to `SlurmJobLauncher`: `<stage>.sh` is the sbatch script with every
path filled in, run with bash, so srun starts ms-swift on every node of the allocation. Its outcome and outputs go
into its own stage's record, and its exit code is Slurm's, so `--dependency=afterok` holds the rest back.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftpipe import console
from swiftpipe.errors import Exit, UserError
from swiftpipe.msswift.dialects import Dialect, target
from swiftpipe.recipe.loading import LoadedRecipe, Source, load
from swiftpipe.recipe.model import Recipe, Stage
from swiftpipe.recipe.scale import Scale
from swiftpipe.recipe.secrets import redact_set
from swiftpipe.records import run_record
from swiftpipe.records.run_record import State
from swiftpipe.render.commands import RenderedStage, Resolver
from swiftpipe.run import preflight
from swiftpipe.run.launcher import Invocation
from swiftpipe.run.resolve import References, Unresolved
from swiftpipe.run.stage import StageRunner, prepare
from swiftpipe.slurm.options import SlurmOptions, SlurmPlan, adapt
from swiftpipe.slurm.script import sbatch_script


@dataclass(frozen=True)
class SlurmJobLauncher:
    """In an allocation: the stage's sbatch script, with real paths, run by bash; its srun starts `swift`."""

    recipe: Recipe
    source: Source
    plan: SlurmPlan
    dialect: Dialect
    swift: str
    output: str  # the job's Slurm output file, named in the script's #SBATCH header

    def invocation(self, stage: Stage, rendered: RenderedStage, *, script: Path, resolve: Resolver) -> Invocation:
        text = sbatch_script(self.recipe, stage, self.source, self.plan, dialect=self.dialect, resolve=resolve,
                             self_path=str(script), output=self.output)
        path = f"{os.path.dirname(self.swift)}{os.pathsep}{os.environ.get('PATH', '')}"
        return Invocation(text, ["bash", str(script)], {**os.environ, "PATH": path})


SNAPSHOT = "recipe.py"  # the recipe file as submitted, in the run's folder


def submitted_settings(loaded: LoadedRecipe, options: SlurmOptions, dialect: Dialect, master_port: int | None, *,
               folder: Path) -> dict[str, Any]:
    """What a job needs to load the recipe exactly as it was submitted (kept in the run record); the recipe file
    itself is copied into the run's folder, so that an edit after submission changes no job."""
    text = Path(loaded.path).read_bytes()
    (folder / SNAPSHOT).write_bytes(text)
    sets = [redact_set(s) for s in loaded.source.sets]  # the jobs read secrets from sbatch's environment
    return {"path": loaded.path, "params": list(loaded.source.shown_params), "sets": sets,
            "varies": list(loaded.source.varies), "master_port": master_port, "slurm": options.as_dict(),
            "swift_version": str(dialect),
            "recipe_sha256": hashlib.sha256(text).hexdigest()}


def recipe_changed(folder: Path, given: dict[str, Any]) -> str | None:
    """A note when the recipe file differs from the copy its jobs run (none when the record cannot say)."""
    if not isinstance(given.get("path"), str):
        return None
    try:
        now = hashlib.sha256(Path(given["path"]).read_bytes()).hexdigest()
    except OSError:
        now = None
    if given.get("recipe_sha256") in (None, now):
        return None
    return (f"{given['path']} changed since this chain was submitted; its jobs run the submitted copy "
            f"({folder / SNAPSHOT})")


def run_job(folder: Path, name: str) -> int:
    """Run stage `name` of the record in `folder`; the exit code afterok sees."""
    with run_record.locked(folder) as record:  # waits until the submission that started this job has been saved
        if record.launcher is None:
            raise UserError(f"{folder}: run {record.id} was not submitted to Slurm; there is no job to run")
        given = record.launcher.settings
    snapshot = folder / SNAPSHOT
    loaded = load(given["path"], params=given["params"], sets=given["sets"], varies=given.get("varies", []),
                  scale=Scale(master_port=given["master_port"]), snapshot=snapshot if snapshot.is_file() else None)
    loaded, plan = adapt(loaded, SlurmOptions.from_dict(given["slurm"]))
    dialect = target(given["swift_version"])
    if name not in record.stages:
        raise UserError(f"{folder}: run {record.id} has no stage {name!r}")
    record = dataclasses.replace(record, owns=name)  # a job writes its own stage only
    entry = record.stage(name)
    references = References(loaded, folder.parent.parent, [name], record)
    launcher = SlurmJobLauncher(loaded.recipe, loaded.source, plan, dialect, preflight.swift_executable(),
                                entry.job.output if entry.job else "")
    runner = StageRunner(record, launcher, references.resolve, console.say, echo=False,
                         resume_hint=loaded.source.continues())
    try:
        prepared = prepare(loaded, loaded.recipe.stage(name), dialect, references, resume_from=entry.resume_from)
    except Unresolved as missing:
        state = runner.not_launched(name, f"{missing} was not recorded by the job before this one")
    else:
        if entry.resume_from:
            console.say(f"[swiftpipe] {name}: continuing from {entry.resume_from}")
        state = runner.run(prepared)
    if state in run_record.FINISHED:
        return Exit.DONE
    return Exit.INTERRUPTED if state is State.INTERRUPTED else Exit.FAILED
