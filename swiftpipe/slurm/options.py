"""What a Slurm run asks for: nodes, GPUs per node, partition, account, time limit, and any other sbatch option;
and what that changes in each stage.

Inside an allocation Slurm owns the devices and the node list, so a stage's launch loses the recipe's
CUDA_VISIBLE_DEVICES, NODE_RANK and MASTER_ADDR (the job script derives them from Slurm's variables). Training
stages get every node and `--gpus-per-node` processes per node; merge and inference stages one node and one GPU.
Without `--gpus-per-node`, a stage asks for as many GPUs as the recipe gives it (its NPROC_PER_NODE, else the
count in its CUDA_VISIBLE_DEVICES, else none: a CPU job).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from swiftpipe.errors import UserError
from swiftpipe.recipe.launch import Launch
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import Recipe, Stage

# Slurm's --time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS (or "infinite").
_TIME = re.compile(r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}|infinite|"
                   r"unlimited)$")
_NAME = re.compile(r"^[A-Za-z0-9_.,:+@-]+$")


@dataclass(frozen=True)
class Resources:
    """One stage's job: `nodes` nodes, one task per node, `gpus` GPUs on each."""

    nodes: int
    gpus: int


@dataclass(frozen=True)
class SlurmOptions:
    nodes: int = 1
    gpus_per_node: int | None = None
    partition: str | None = None
    account: str | None = None
    time: str | None = None
    sbatch_args: tuple[str, ...] = ()  # any other option, e.g. --qos=high or --cpus-per-task=16

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise UserError(f"--nodes {self.nodes}: must be at least 1")
        if self.gpus_per_node is not None and self.gpus_per_node < 0:
            raise UserError(f"--gpus-per-node {self.gpus_per_node}: must be 0 or more")
        if self.time is not None and not _TIME.match(self.time):
            raise UserError(f"--time {self.time}: not a Slurm time limit (minutes, HH:MM:SS or D-HH:MM:SS)")
        for option, value in (("--partition", self.partition), ("--account", self.account)):
            if value is not None and not _NAME.match(value):
                raise UserError(f"{option} {value!r}: not a Slurm name")
        for arg in self.sbatch_args:
            if not arg.startswith("--") or "\n" in arg:
                raise UserError(f"--sbatch {arg!r}: give one long sbatch option, such as --qos=high")

    def options(self) -> tuple[str, ...]:
        """The command-line words that ask for these settings, for a script's re-run line."""
        words = ["--launcher", "slurm"]
        if self.nodes != 1:
            words += ["--nodes", str(self.nodes)]
        for name in ("gpus_per_node", "partition", "account", "time"):
            if getattr(self, name) is not None:
                words += [f"--{name.replace('_', '-')}", str(getattr(self, name))]
        for arg in self.sbatch_args:
            words += ["--sbatch", arg]
        return tuple(words)

    def as_dict(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "sbatch_args": list(self.sbatch_args)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SlurmOptions:
        # `data` is as_dict's output read back from JSON: each value has its field's type
        return cls(**{**data, "sbatch_args": tuple(data.get("sbatch_args", ()))})  # type: ignore[arg-type]


@dataclass(frozen=True)
class SlurmPlan:
    """The options, and each stage's resources as the recipe asked for them before Slurm took the devices."""

    options: SlurmOptions
    resources: dict[str, Resources] = field(default_factory=dict)


def from_command_line(*, gpus: str | None, nodes: int | None, node_rank: int | None, master_addr: str | None,
                      gpus_per_node: int | None, partition: str | None, account: str | None, time: str | None,
                      sbatch_args: tuple[str, ...]) -> SlurmOptions:
    """The Slurm options of `--launcher slurm`, refusing the local launch options that Slurm decides instead."""
    for option, value in (("--gpus", gpus), ("--node-rank", node_rank), ("--master-addr", master_addr)):
        if value is not None:
            raise UserError(f"{option}: with --launcher slurm, Slurm picks the GPUs and nodes; use --gpus-per-node "
                            "and --nodes")
    return SlurmOptions(nodes or 1, gpus_per_node, partition, account, time, tuple(sbatch_args))


def adapt(loaded: LoadedRecipe, options: SlurmOptions) -> tuple[LoadedRecipe, SlurmPlan]:
    """The loaded recipe as it runs inside Slurm allocations (its re-run lines ask for the same), and the plan."""
    recipe, planned = plan(loaded.recipe, options)
    return loaded.adapted(recipe, *options.options()), planned


def plan(recipe: Recipe, options: SlurmOptions) -> tuple[Recipe, SlurmPlan]:
    """The recipe as it runs inside Slurm allocations, and every stage's resources."""
    resources = {s.name: _resources(recipe, s, options) for s in recipe.stages}
    stages = tuple(_inside_allocation(recipe, s, resources[s.name], options) for s in recipe.stages)
    # Each stage now carries its whole launch, so that nothing the recipe set for every stage comes back.
    return dataclasses.replace(recipe, stages=stages, launch=Launch()), SlurmPlan(options, resources)


def _resources(recipe: Recipe, stage: Stage, options: SlurmOptions) -> Resources:
    launch = recipe.launch_for(stage)
    devices = launch.cuda_visible_devices
    asked = launch.nproc_per_node or (len(str(devices).split(",")) if devices not in (None, "") else 0)
    gpus = options.gpus_per_node if options.gpus_per_node is not None else asked
    if not stage.trains:
        return Resources(1, min(gpus, 1))
    return Resources(options.nodes, gpus)


def _inside_allocation(recipe: Recipe, stage: Stage, resources: Resources, options: SlurmOptions) -> Stage:
    launch = recipe.launch_for(stage)
    if not stage.trains:
        return dataclasses.replace(stage, launch=Launch(env=launch.env))
    nproc = launch.nproc_per_node
    if resources.gpus and (options.gpus_per_node is not None or resources.nodes > 1):
        nproc = resources.gpus  # one process per GPU on every node
    # A recipe that sets CUDA_VISIBLE_DEVICES=0,1 and no NPROC_PER_NODE asked for ms-swift's device_map over
    # those GPUs: it keeps that, over the GPUs Slurm gives the job.
    return dataclasses.replace(stage, launch=dataclasses.replace(
        launch, nproc_per_node=nproc, nnodes=resources.nodes if resources.nodes > 1 else None, node_rank=None,
        master_addr=None, cuda_visible_devices=None))
