"""Slurm's own commands, run as argv: sbatch to submit, squeue and scontrol to look, scancel to stop.

Facts this relies on (Slurm 22.05, checked on the local cluster that tests/slurm/cluster.sh starts):
- `squeue -h -t all -j IDS -o FORMAT` lists finished jobs too, but only for MinJobAge seconds (300 by default);
  an id Slurm no longer knows makes squeue fail, so jobs are asked about one call for all, then one by one.
- A dependant of a failed job stays PENDING with reason DependencyNeverSatisfied (or is CANCELLED with that
  reason under DependencyParameters=kill_invalid_depend): it will never run.
- `scontrol show job -o ID` has ExitCode=CODE:SIGNAL; squeue has no exit-code field in 22.05.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from swiftpipe.errors import InfrastructureError

TIMEOUT = 60  # seconds for one Slurm command; a controller that does not answer is an error, not a hang
NEVER = "DependencyNeverSatisfied"
ACTIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING",
                    "STAGE_OUT", "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "STOPPED"})


class SlurmError(InfrastructureError):
    """A Slurm command that failed: its own message, in one line."""


@dataclass(frozen=True)
class JobState:
    job_id: str
    state: str  # Slurm's JobState: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
    reason: str  # Slurm's Reason: None, Dependency, DependencyNeverSatisfied, NonZeroExitCode, ...
    exit_code: str | None = None  # "CODE:SIGNAL", for a job that ended

    @property
    def active(self) -> bool:
        """Queued or running, and able to run: a dependant of a failed job is not."""
        return self.state in ACTIVE and self.reason != NEVER


def available() -> None:
    missing = [name for name in ("sbatch", "squeue", "scontrol", "scancel") if shutil.which(name) is None]
    if missing:
        raise SlurmError(f"--launcher slurm: {', '.join(missing)} not found on PATH; run on a Slurm login node "
                         "(or use the local launcher)")


def submit(script: Path, *, after: Sequence[str] = (), after_any: Sequence[str] = (),
           env: Mapping[str, str] | None = None) -> str:
    """sbatch the script, to start once the jobs `after` have succeeded and the jobs `after_any` have ended, however
    they ended; returns the new job's id. `env` is added to what sbatch passes on to the job (the secrets its script
    reads from the environment)."""
    dependency = ",".join([*(f"afterok:{job}" for job in after), *(f"afterany:{job}" for job in after_any)])
    argv = ["sbatch", "--parsable", *(["--dependency", dependency] if dependency else []), str(script)]
    out = _run(argv, env=env)
    job_id = out.strip().split(";")[0]  # --parsable prints "id" or "id;cluster"
    if not job_id.isdigit():
        raise SlurmError(f"sbatch {script}: printed {out.strip()!r}, not a job id")
    return job_id


def states(job_ids: Sequence[str]) -> dict[str, JobState]:
    """What Slurm says of each job it still knows; jobs it has forgotten are left out."""
    if not job_ids:
        return {}
    found = _squeue(job_ids)
    if found is None:  # one of them is forgotten: ask one by one
        found = {}
        for job_id in job_ids:
            found.update(_squeue([job_id]) or {})
    for job_id, job in list(found.items()):
        if not job.active:
            found[job_id] = JobState(job.job_id, job.state, job.reason, exit_code(job_id))
    return found


def exit_code(job_id: str) -> str | None:
    try:
        out = _run(["scontrol", "show", "job", "-o", job_id])
    except SlurmError:
        return None
    return parse_scontrol(out).get("ExitCode")


def cancel(job_ids: Sequence[str]) -> None:
    if job_ids:
        _run(["scancel", *job_ids])


def parse_squeue(text: str) -> dict[str, JobState]:
    """Lines of `%i|%T|%r` as squeue prints them."""
    found = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3 and parts[0]:
            found[parts[0]] = JobState(parts[0], parts[1], parts[2])
    return found


def parse_scontrol(text: str) -> dict[str, str]:
    """`scontrol show job -o`: one line of Key=Value pairs (values have no spaces, except a few at the end)."""
    fields = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if sep and key not in fields:
            fields[key] = value
    return fields


def _squeue(job_ids: Sequence[str]) -> dict[str, JobState] | None:
    argv = ["squeue", "-h", "-t", "all", "-j", ",".join(job_ids), "-o", "%i|%T|%r"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SlurmError(f"squeue: {exc}") from None
    if done.returncode != 0:
        if "Invalid job id" in done.stderr:
            return None
        raise SlurmError(f"squeue: {_first_line(done.stderr)}")
    return parse_squeue(done.stdout)


def _run(argv: list[str], env: Mapping[str, str] | None = None) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                              env={**os.environ, **env} if env else None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SlurmError(f"{argv[0]}: {exc}") from None
    if done.returncode != 0:
        raise SlurmError(f"{' '.join(argv[:2])}: {_first_line(done.stderr or done.stdout)}")
    return done.stdout


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "failed with no message"
