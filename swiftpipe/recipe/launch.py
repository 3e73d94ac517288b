"""Launch settings: the environment assignments in front of `swift` that its launcher and torch read."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Union

Devices = Union[str, int, Sequence[int], None]

# Field -> variable, in the order the tutorials write them (seed 000: NPROC_PER_NODE, MASTER_PORT,
# CUDA_VISIBLE_DEVICES). ms-swift's launcher starts torchrun only when NPROC_PER_NODE or NNODES is set.
_VARIABLES = (
    ("nproc_per_node", "NPROC_PER_NODE"),
    ("nnodes", "NNODES"),
    ("node_rank", "NODE_RANK"),
    ("master_addr", "MASTER_ADDR"),
    ("master_port", "MASTER_PORT"),
    ("cuda_visible_devices", "CUDA_VISIBLE_DEVICES"),
)
VARIABLES = frozenset(var for _, var in _VARIABLES)


@dataclass(frozen=True)
class Launch:
    """Where and how wide a stage runs. Only the settings that are set are rendered."""

    nproc_per_node: int | None = None
    cuda_visible_devices: Devices = None
    master_port: int | None = None
    nnodes: int | None = None
    node_rank: int | None = None
    master_addr: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # any other variable, e.g. USE_HF=1

    def overridden_by(self, other: Launch) -> Launch:
        """These settings with every setting that `other` sets taking precedence; `env` is merged."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "env"}
        values.update({f.name: getattr(other, f.name) for f in fields(other)
                       if f.name != "env" and getattr(other, f.name) is not None})
        return Launch(**values, env={**self.env, **other.env})

    def environment(self) -> list[tuple[str, str]]:
        """(variable, value) pairs in render order."""
        pairs = [(var, _text(getattr(self, name))) for name, var in _VARIABLES if getattr(self, name) is not None]
        return pairs + [(str(k), str(v)) for k, v in self.env.items()]

    @property
    def processes(self) -> int:
        """The training world size: processes per node times nodes."""
        return (self.nproc_per_node or 1) * (self.nnodes or 1)


def _text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)
