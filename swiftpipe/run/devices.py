"""Side by side on one machine: which GPUs a sweep's stages share, how many run at once, and what each one gets.

The one place that decides it. A sweep (`--vary`) on a machine with several GPUs, or any chain with `--jobs N`,
runs the steps whose gates are open at the same time (run/side_by_side.py carries it out); `slots()` says whether
a run does, and `Slots` hands each stage that starts its own share:

- GPUs: a stage takes as many as its launch settings ask (NPROC_PER_NODE, else the count of its
  CUDA_VISIBLE_DEVICES); one that names none takes them all, as it would alone. It gets its own
  CUDA_VISIBLE_DEVICES set from the pool (`--gpus`, else $CUDA_VISIBLE_DEVICES, else `nvidia-smi`'s list). A stage
  that asks for more than the pool holds is refused before anything starts.
- A distributed stage (NPROC_PER_NODE or NNODES set: ms-swift starts torchrun) gets a MASTER_PORT that no other
  running stage has and nothing on this machine listens on, from the recipe's port (else torchrun's 29500) up.
- On a machine without GPUs, `--jobs N` stages at once, each with its share of the cores (OMP_NUM_THREADS), unless
  the user or the recipe set it.

Where a stage runs is not what it is: its fingerprint is taken before its place is given (stage.prepare), so a
variant that ran on GPUs 2,3 is reused by a later sweep that would have put it on 0,1.
"""
from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from swiftpipe.errors import UserError
from swiftpipe.recipe.launch import Launch

NVIDIA_SMI = "nvidia-smi"
TORCHRUN_PORT = 29500  # torchrun's default MASTER_PORT


@dataclass(frozen=True)
class Pool:
    """The GPUs stages may use, and where that list came from (for people)."""

    gpus: tuple[str, ...]
    source: str

    def __str__(self) -> str:
        return f"GPUs {','.join(self.gpus)} ({self.source})" if self.gpus else f"no GPU ({self.source})"


def pool(given: str | None) -> Pool:
    """`--gpus`, else $CUDA_VISIBLE_DEVICES (what this process may see), else every GPU `nvidia-smi` lists."""
    if given:
        return Pool(_ids(given), "--gpus")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return Pool(_ids(visible), "CUDA_VISIBLE_DEVICES")
    try:
        listed = subprocess.run([NVIDIA_SMI, "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                                text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return Pool((), "no nvidia-smi")
    if listed.returncode != 0:
        return Pool((), "nvidia-smi found none")
    return Pool(tuple(line.strip() for line in listed.stdout.splitlines() if line.strip().isdigit()), "nvidia-smi")


def _ids(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip() and item.strip() != "-1")


@dataclass(frozen=True)
class Placement:
    """What one stage gets for its launch: its GPUs, its torchrun port, its threads (None: as it is)."""

    devices: tuple[str, ...] = ()
    master_port: int | None = None
    threads: int | None = None

    def launch(self) -> Launch:
        """The launch settings that put the stage there (they override the recipe's)."""
        return Launch(cuda_visible_devices=",".join(self.devices) if self.devices else None,
                      master_port=self.master_port,
                      env={"OMP_NUM_THREADS": str(self.threads)} if self.threads else {})

    def __str__(self) -> str:
        parts = [f"GPU{'s' if len(self.devices) > 1 else ''} {','.join(self.devices)}"] if self.devices else []
        parts += [f"port {self.master_port}"] if self.master_port else []
        parts += [f"{self.threads} thread{'s' if self.threads > 1 else ''}"] if self.threads else []
        return ", ".join(parts) or "here"


@dataclass
class Slots:
    """The places of a run whose stages go side by side: at most `jobs` at once, each with GPUs of its own."""

    pool: Pool
    jobs: int
    cores: int = field(default_factory=lambda: _cores())
    taken: dict[str, Placement] = field(default_factory=dict)
    alone: str | None = None  # the stage that runs with no other (a chat that holds the terminal)

    def size(self, launch: Launch) -> int:
        """The GPUs a stage with these launch settings needs (none on a machine without them)."""
        if not self.pool.gpus:
            return 0
        if launch.nproc_per_node:
            return launch.nproc_per_node
        devices = _ids(_text(launch.cuda_visible_devices))
        return len(devices) or len(self.pool.gpus)

    def refusal(self, sized: Sequence[tuple[str, Launch]]) -> str | None:
        """Why the run cannot start here: the first stage that asks for more GPUs than the pool holds."""
        for name, launch in sized:
            need = self.size(launch)
            if need > len(self.pool.gpus):
                asked = f"NPROC_PER_NODE={launch.nproc_per_node}" if launch.nproc_per_node else \
                    f"CUDA_VISIBLE_DEVICES={_text(launch.cuda_visible_devices)}"
                return (f"stage {name!r} asks for {need} GPUs ({asked}), and this run has {len(self.pool.gpus)}: "
                        f"{self.pool}")
        return None

    def take(self, name: str, launch: Launch, *, alone: bool = False) -> Placement | None:
        """A place for stage `name` now, or None when it has to wait for one; `alone`: it runs with no other (a
        chat that holds the terminal)."""
        if len(self.taken) >= self.jobs or (self.taken and alone) or self.alone is not None:
            return None
        need = self.size(launch)
        used = {gpu for placement in self.taken.values() for gpu in placement.devices}
        free = [gpu for gpu in self.pool.gpus if gpu not in used]
        if need > len(free):
            return None
        port = self._port(launch) if launch.nproc_per_node or launch.nnodes else None
        threads = None
        if not self.pool.gpus and self.jobs > 1 and "OMP_NUM_THREADS" not in os.environ \
                and "OMP_NUM_THREADS" not in launch.env:
            threads = max(1, self.cores // self.jobs)
        placement = Placement(tuple(free[:need]), port, threads)
        self.taken[name] = placement
        self.alone = name if alone else None
        return placement

    def give_back(self, name: str) -> None:
        self.taken.pop(name, None)
        if self.alone == name:
            self.alone = None

    def _port(self, launch: Launch) -> int:
        used = {placement.master_port for placement in self.taken.values()}
        port = launch.master_port or TORCHRUN_PORT
        while port in used or not _free(port):
            port += 1
        return port

    def __str__(self) -> str:
        if self.pool.gpus and self.jobs == 1:
            return f"one stage at a time on {self.pool}"
        if self.pool.gpus:
            return f"side by side on {self.pool}" + (f", at most {self.jobs} at once" if
                                                     self.jobs < len(self.pool.gpus) else "")
        threads = max(1, self.cores // self.jobs)
        return f"{self.jobs} at once on the CPU ({threads} thread{'s' if threads > 1 else ''} each)"


def slots(*, gpus: str | None, jobs: int | None, sweep: bool, launches: Sequence[Launch]) -> Slots | None:
    """The slots of a run, or None when its stages run one after another as the recipe launches them: a chain
    that is not a sweep, without `--jobs`; a sweep on a machine without GPUs, without `--jobs`; a run with a stage
    over several nodes (`launches`), whose every node must start the same stage on the same port at the same time,
    which only the chain's own order guarantees."""
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs {jobs}: give 1 or more")
    if (not sweep and jobs is None) or any((launch.nnodes or 1) > 1 for launch in launches):
        return None
    found = pool(gpus)
    at_once = jobs or len(found.gpus)
    if at_once <= 1 and not found.gpus:
        return None
    return Slots(found, max(1, at_once))


def _cores() -> int:
    """The cores this process may use (a cgroup or Slurm may give it fewer than the machine has)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _free(port: int) -> bool:
    """Whether nothing on this machine listens on `port` (torchrun's rendezvous would fail to bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


def _text(devices: object) -> str:
    if devices is None:
        return ""
    if isinstance(devices, (list, tuple)):
        return ",".join(str(d) for d in devices)
    return str(devices)
