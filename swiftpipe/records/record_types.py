"""The typed parts of a run record: a stage's state, record and earlier launches, the recipe and the launcher it ran
with. Values only; run_record.py reads and writes them."""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from swiftpipe.msswift.layout import Answer, Headline, Output


class State(str, Enum):
    PENDING = "pending"
    QUEUED = "queued"  # handed to a backend that starts it later (a Slurm job waiting in the queue)
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"
    ABORTED = "aborted"
    REUSED = "reused"  # finished in an earlier run of the chain; its outputs are used as they are


FINISHED = (State.DONE, State.REUSED)
ENDED = (*FINISHED, State.FAILED, State.INTERRUPTED, State.SKIPPED, State.ABORTED)


def now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class Job:
    """The batch job that runs a stage (a backend's: slurm/), and its scheduler's last word on it, in its words."""

    id: str
    submitted: str
    sbatch: str  # the script submitted
    output: str  # Slurm's output file for the job
    state: str = "PENDING"  # the scheduler's own state name
    reason: str | None = None
    exit_code: str | None = None  # the scheduler's, as it gives it (Slurm's "exit:signal")


@dataclass
class Handed:
    """What a stage was handed through one flag, when it launched: a local file or folder, or an output of another
    stage (`producer`, and which of its outputs, `kind`: the record's name for it); `identity` is the file's
    (reads.py) or the producing stage's seal (fingerprint.py)."""

    flag: str
    path: str
    identity: str
    producer: str | None = None
    kind: Output | None = None


@dataclass
class Attempt:
    """An earlier launch of a stage, kept when the stage is launched again."""

    state: State
    started: str | None = None
    ended: str | None = None
    seconds: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    script: str | None = None
    log: str | None = None
    outputs: dict[Output, str] = field(default_factory=dict)
    fingerprint: str | None = None  # of the command it ran (None in records before schema 3)
    command: list[str] = field(default_factory=list)  # the command it ran, secrets redacted
    inputs: list[Handed] | None = None  # what it read (None in records before inputs were kept)


@dataclass
class StageRecord:
    """One stage of a run: its state, the command that ran, and what it produced."""

    state: State = State.PENDING
    reason: str | None = None
    started: str | None = None
    ended: str | None = None
    seconds: float | None = None
    exit_code: int | None = None
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    script: str | None = None
    log: str | None = None
    fingerprint: str | None = None  # of its command and environment (fingerprint.py)
    inputs: list[Handed] | None = None  # what it read, with their identities; None: not known (an older record)
    pgid: int | None = None  # the process group of the running launch (its supervisor's pid)
    target: str | None = None  # where a merge launch writes its merged model
    target_made: str | None = None  # "device:inode" of that folder, once this stage's launch saw ms-swift create it
    target_mark: str | None = None  # what the launch's supervisor marks that folder with once it appears
    outputs: dict[Output, str] = field(default_factory=dict)
    final_loss: float | None = None
    headline: Headline | None = None  # its last logged number: the loss, or its method's reward (layout.headline)
    answers: list[Answer] = field(default_factory=list)  # the first of a batch inference's answers
    scores: dict[str, float] = field(default_factory=dict)  # what `swift infer --metric` logged: rouge-l, acc, ...
    group: str | None = None  # the compare() this stage is one model of
    label: str | None = None  # the model's name in that comparison
    resume_from: str | None = None  # the checkpoint its next launch continues from
    job: Job | None = None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def outputs_on_disk(self) -> bool:
        """Whether every path the stage recorded as its output is still there."""
        return all(Path(path).exists() for path in self.outputs.values())

    @property
    def launches(self) -> int:
        """How many times the stage was launched, this launch included."""
        return len(self.attempts) + (self.started is not None)

    def end(self, state: State, reason: str | None = None) -> None:
        """The stage's outcome, one of ENDED."""
        assert state in ENDED, f"{state} is no outcome"
        self.state, self.reason = state, reason

    def waits_or_runs(self, state: State) -> None:
        """What a backend says of a stage it has not ended: queued, or running."""
        assert state in (State.QUEUED, State.RUNNING), f"{state} is an outcome: end()"
        self.state, self.reason = state, None

    def begin(self, *, command: list[str], env: dict[str, str], script: str, log: str, fingerprint: str,
              inputs: list[Handed]) -> None:
        """A new launch: an earlier one moves to `attempts`; the Slurm job and resume point stay."""
        self._archive()
        self.state, self.started = State.RUNNING, now()
        self.command, self.env, self.script, self.log, self.fingerprint = command, env, script, log, fingerprint
        self.inputs = inputs

    def restart(self, state: State, reason: str | None = None) -> None:
        """The stage starts over in `state` (queued again, aborted): the earlier launch moves to `attempts`."""
        self._archive()
        self.job = None
        self.resume_from = None
        self.state, self.reason = state, reason

    def _archive(self) -> None:
        if self.started is not None:
            self.attempts.append(Attempt(self.state, self.started, self.ended, self.seconds, self.exit_code,
                                         self.reason, self.script, self.log, dict(self.outputs), self.fingerprint,
                                         list(self.command), self.inputs))
        fresh = StageRecord(resume_from=self.resume_from, job=self.job, attempts=self.attempts)
        self.__dict__.update(fresh.__dict__)


@dataclass
class RecipeInfo:
    name: str
    path: str
    abspath: str
    params: dict[str, Any]  # as they read back from JSON
    sets: list[str]
    key: str
    git: dict[str, Any] | None = None
    varies: list[str] = field(default_factory=list)  # a sweep's --vary, as given


@dataclass
class LauncherInfo:
    """A run that is not local: its backend's name (backend.py), and what that backend needs to run a stage later
    (its own settings, opaque here)."""

    name: str
    settings: dict[str, Any]
