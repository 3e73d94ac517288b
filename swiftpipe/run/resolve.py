"""Reference resolution: the path a `checkpoint("sft")` or `merged("merge")` stands for when a stage runs.

A reference resolves to what its stage produced in this run when it ran here, else to the newest run of the same
recipe and parameters where it finished. The chain loop, a Slurm job and the Slurm submission share this.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import Ref
from swiftpipe.records import history
from swiftpipe.records.run_record import RunRecord, StageRecord
from swiftpipe.run.fingerprint import seal
from swiftpipe.run.preflight import PreflightError


class Unresolved(Exception):
    """A reference to an output that no run has recorded (yet)."""


@dataclass
class References:
    loaded: LoadedRecipe
    work_dir: Path
    names: Sequence[str]  # the stages this run launches, in chain order
    record: RunRecord | None = None  # this run's record, once it exists
    # Stages of this run that a plan settles without launching them (reused, finished before a stop), by name:
    # what they will hold once the plan is carried out (plan.py).
    settled: dict[str, StageRecord] = field(default_factory=dict)

    def resolve(self, ref: Ref) -> str:
        """The produced path, or Unresolved. A reference's output is the key of the stage's recorded outputs."""
        return self.producing(ref).outputs[ref.output]

    def handed(self, ref: Ref) -> tuple[str, str]:
        """The produced path, and the seal of the stage that produced it (what a stage that reads it was handed)."""
        entry = self.producing(ref)
        return entry.outputs[ref.output], seal(entry)

    def producing(self, ref: Ref) -> StageRecord:
        """The record of the stage whose output `ref` is, or Unresolved."""
        entry = self.settled.get(ref.stage)
        if entry is None and self.record is not None:
            entry = self.record.stages.get(ref.stage)
        if entry is not None and entry.finished and entry.outputs.get(ref.output):
            return entry
        if ref.stage not in self.names:
            produced = history.producing(self.work_dir, self.loaded.key, ref.stage, ref.output)
            if produced is not None:
                return produced
        raise Unresolved(f"{ref.stage}.{ref.output}")

    def resolve_or_placeholder(self, ref: Ref) -> str:
        try:
            return self.resolve(ref)
        except Unresolved:
            return ref.placeholder()

    def check(self) -> None:
        """A PreflightError listing every reference that neither an earlier stage of this run nor a finished
        earlier run provides."""
        path, names = self.loaded.path, list(self.names)
        problems = []
        for name in names:
            for flag, ref in self.loaded.recipe.stage(name).refs():
                if ref.stage in names and names.index(ref.stage) < names.index(name):
                    continue  # produced earlier in this run
                try:
                    self.resolve(ref)
                except Unresolved:
                    problems.append(f"{path}: stage {name!r}, --{flag}: needs {ref.stage}.{ref.output}, but stage "
                                    f"{ref.stage!r} has not finished in any run of this recipe with these parameters; "
                                    f"run it first (swiftpipe run {path} --stage {ref.stage})")
        if problems:
            raise PreflightError("\n".join(problems))
