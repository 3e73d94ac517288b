"""How wide a chain runs, from the command line: `--gpus`, `--nodes`, `--node-rank`, `--master-addr`,
`--master-port`. They override the recipe's launch settings, for training stages in full (torchrun's world) and
for the others only as the devices they may use. A `per_process(N)` flag then divides by the new process count,
so a recipe's global batch stays the same on 1, 4 or 16 GPUs (or the command fails, when it cannot)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from swiftpipe.errors import UserError
from swiftpipe.recipe.launch import Launch
from swiftpipe.recipe.model import Recipe, Stage


@dataclass(frozen=True)
class Scale:
    """The launch options given on the command line; None where one is not given."""

    gpus: str | None = None
    nodes: int | None = None
    node_rank: int | None = None
    master_addr: str | None = None
    master_port: int | None = None

    def __post_init__(self) -> None:
        if self.gpus is not None:
            ids = [g.strip() for g in str(self.gpus).split(",")]
            if not all(g.isdigit() for g in ids) or len(set(ids)) != len(ids):
                raise UserError(f"--gpus {self.gpus}: expected distinct GPU indices such as 0,1,2,3")
        if self.nodes is not None and self.node_rank is not None and not 0 <= self.node_rank < self.nodes:
            raise UserError(f"--node-rank {self.node_rank}: must be below --nodes {self.nodes}")
        if (self.node_rank is not None or self.master_addr is not None) and self.nodes is None:
            raise UserError("--node-rank and --master-addr describe a multi-node run: give --nodes too")

    def options(self) -> tuple[str, ...]:
        """The command-line options that give this scale, for a script's re-run line."""
        words: list[str] = []
        for f in dataclasses.fields(self):
            if getattr(self, f.name) is not None:
                words += [f"--{f.name.replace('_', '-')}", str(getattr(self, f.name))]
        return tuple(words)

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))

    def launch(self, *, trains: bool) -> Launch:
        devices = ",".join(g.strip() for g in self.gpus.split(",")) if self.gpus else None
        if not trains:
            return Launch(cuda_visible_devices=devices)
        return Launch(nproc_per_node=len(devices.split(",")) if devices else None, cuda_visible_devices=devices,
                      nnodes=self.nodes, node_rank=0 if self.nodes and self.node_rank is None else self.node_rank,
                      master_addr=self.master_addr, master_port=self.master_port)


def apply(recipe: Recipe, scale: Scale, *, pooled: bool = False) -> Recipe:
    """The recipe with every stage's launch settings overridden by `scale`. `pooled` (a sweep, whose stages go side
    by side on the GPUs: run/devices.py): `--gpus` names the GPUs to share, and a stage whose launch settings give
    its size (NPROC_PER_NODE, CUDA_VISIBLE_DEVICES) keeps it; one that gives none runs on them all."""
    if scale.empty:
        return recipe

    def scaled(stage: Stage) -> Stage:
        if not pooled or scale.gpus is None:
            return dataclasses.replace(stage, launch=stage.launch.overridden_by(scale.launch(trains=stage.trains)))
        # Which GPUs is the pool's to decide as stages start (run/devices.py), and no part of what a stage is: a
        # stage without a size of its own gets as many processes as --gpus names (a training stage), or none.
        own = recipe.launch_for(stage)
        sized = own.nproc_per_node or own.cuda_visible_devices not in (None, "")
        given = dataclasses.replace(scale, gpus=None).launch(trains=stage.trains)
        if stage.trains and not sized:
            given = dataclasses.replace(given, nproc_per_node=len(scale.gpus.split(",")))
        return dataclasses.replace(stage, launch=stage.launch.overridden_by(given))

    return dataclasses.replace(recipe, stages=tuple(scaled(stage) for stage in recipe.stages))
