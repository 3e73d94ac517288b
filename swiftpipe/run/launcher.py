"""Where a stage runs: the seam between the chain loop and the machine.

The chain loop renders a stage and hands it to a `Launcher`, which says what to execute: the script text saved
beside the stage's log, the argv and the environment. `LocalLauncher` runs ms-swift's `swift` here; a Slurm job
supplies its own (slurm/job.py), whose script is the sbatch text with `srun` starting ms-swift on every node.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from swiftpipe.recipe.model import Stage
from swiftpipe.render.commands import RenderedStage, Resolver


@dataclass(frozen=True)
class Invocation:
    """What runs for one stage: `script` is saved as `<stage>.sh` and is exactly what `argv` executes."""

    script: str
    argv: list[str]
    environ: dict[str, str]  # the process's whole environment


class Launcher(Protocol):
    def invocation(self, stage: Stage, rendered: RenderedStage, *, script: Path, resolve: Resolver) -> Invocation:
        """How `stage`, rendered with every reference resolved, runs; `script` is where its text is saved."""
        ...


@dataclass(frozen=True)
class LocalLauncher:
    """A process on this machine: `swift` with the stage's argv, the launch variables in its environment."""

    swift: str  # ms-swift's `swift` executable

    def invocation(self, stage: Stage, rendered: RenderedStage, *, script: Path, resolve: Resolver) -> Invocation:
        command = rendered.command
        program = self.swift if command.program == "swift" else command.program
        return Invocation(rendered.script, [program, *command.argv[1:]], {**os.environ, **command.environment})
