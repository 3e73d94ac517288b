"""The plan: what each stage of a chain does next, and why. The one place that decides it.

`plan()` takes the recipe, the stages asked for, the run to continue (`--resume`) and the work dir's history, and
returns a `Plan`: the steps in chain order, each with its action and the reason, what it reads of other stages,
and its gate: the launched steps that must succeed before it starts (`after_ok`) and those that need only have
ended (`after_end`: a stage that observes, whose answers no stage reads, stops no other when it fails). The local
chain (chain.py), a Slurm submission and the job in its allocation (slurm/), and the exported scripts carry the
plan out; none of them decides again. A plan is a value: `run --dry-run` prints it, tests compare it, and making
one starts no process.

A finished stage is reused when its command, its environment and everything it reads are as they were
(fingerprint.py, reads.py); a stage that reads what a launched step will produce runs. An unfinished training
stage continues from its last checkpoint only when that checkpoint was written by the same command on the same
inputs.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from swiftpipe.msswift.dialects import Dialect
from swiftpipe.msswift.layout import Output
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import SEPARATOR, Stage
from swiftpipe.records import history
from swiftpipe.records.record_types import Handed, StageRecord, State
from swiftpipe.records.run_record import RunRecord
from swiftpipe.render.commands import render_stage
from swiftpipe.run import reads
from swiftpipe.run.chat import chat_note
from swiftpipe.run.fingerprint import Fingerprint, changed_flags, fingerprint
from swiftpipe.run.outputs import (
    FINISHED_BEFORE_STOP,
    changed_since_checkpoint,
    checkpoint_to_resume,
    finished_before_stop,
)
from swiftpipe.run.resolve import References, Unresolved


class Action(str, Enum):
    RUN = "run"
    CONTINUE = "continue"  # from the last checkpoint of its unfinished launch
    REUSE = "reuse"  # finished unchanged, in the run it continues or in an earlier one
    FINISHED = "finished"  # saved its final checkpoint before it was stopped: done, with what it saved
    SKIP = "skip"  # a chat or a server, with no terminal to hold it


LAUNCHING = (Action.RUN, Action.CONTINUE)


@dataclass(frozen=True)
class Read:
    """An output of another stage that a step takes through one of its flags."""

    flag: str
    producer: str
    output: Output


@dataclass(frozen=True)
class Step:
    """One stage's part in the plan. `said` is what the runner says as it carries the step out (None: nothing worth
    a line); `settled` is the stage record a step that launches nothing leaves (reused, finished)."""

    stage: str
    action: Action
    reason: str = ""
    said: str | None = None
    observes: bool = False
    reads: tuple[Read, ...] = ()
    needed: tuple[tuple[Output, str], ...] = ()  # (output, "stage 'x' (--flag)"): what later steps read of it
    after_ok: tuple[str, ...] = ()
    after_end: tuple[str, ...] = ()
    resume_from: str | None = None
    reused_from: str | None = None  # the earlier run whose outputs a reused step takes (None: the one continued)
    settled: StageRecord | None = field(default=None, compare=False)

    @property
    def launches(self) -> bool:
        return self.action in LAUNCHING

    def line(self) -> str:
        """The step for people: `sft: run: data/sft.jsonl changed since it finished (after pretrain)`."""
        gate = [*self.after_ok, *(f"{name} ends" for name in self.after_end)]
        text = f"{self.stage}: {self.action.value}" + (f": {self.reason}" if self.reason else "")
        return text + (f" (after {' and '.join(gate)})" if gate else "")


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.stage == name:
                return step
        raise KeyError(name)

    @property
    def launched(self) -> list[Step]:
        return [step for step in self.steps if step.launches]

    def awaited(self, name: str) -> bool:
        """Whether a later step waits for step `name` to succeed: if not, its failure stops no other."""
        return any(name in step.after_ok for step in self.steps)

    def lines(self) -> list[str]:
        return [step.line() for step in self.steps]


def plan(loaded: LoadedRecipe, dialect: Dialect, names: Sequence[str], *, work_dir: Path,
         record: RunRecord | None = None, resume: bool = False, interactive: bool = True) -> Plan:
    """The plan for running stages `names` of the recipe, in order. With `resume`, `record` is the run it continues
    (settled by its backend: backend.py), and finished stages of it or of earlier runs are reused where unchanged.
    A sweep (`--vary`) reuses the finished stages of its earlier runs without `resume` too: given one more value, it
    runs only the new variant (as DVC's run cache does). `interactive`: whether a chat can hold the terminal (never
    in a batch job)."""
    planner = _Planner(loaded, dialect, list(names), work_dir, record if resume else None, interactive)
    serves = {name: loaded.recipe.stage(name).variants for name in names}
    return Plan(_gated([planner.step(name) for name in names], serves))


class Gate(str, Enum):
    OPEN = "open"  # every step it waits for succeeded or ended, as it asks: it may start
    WAIT = "wait"  # a step it waits for has not ended yet
    SHUT = "shut"  # a step it waits for to succeed did not: it is aborted


def gate(step: Step, outcome: Callable[[str], StageRecord], ended: Container[str]) -> tuple[Gate, str | None]:
    """Whether `step` may start, given the steps of this run that have `ended` and their `outcome` (RunRecord.stage):
    shut, with the reason its stage is aborted, once a step it waits for to succeed has ended without; open once each
    of them finished and each step it waits for to end has ended."""
    for name in step.after_ok:
        before = outcome(name)
        if name in ended and not before.finished:
            return Gate.SHUT, before.reason if before.state is State.ABORTED else \
                f"prerequisite {name} {before.state.value}"
    if any(name not in ended for name in (*step.after_ok, *step.after_end)):
        return Gate.WAIT, None
    return Gate.OPEN, None


def carry_out(step: Step, entry: StageRecord, stage: Stage) -> None:
    """A step that launches nothing, written into its stage's record. A stage taken from another run is named as
    this run names it: a compare model's label is this run's (`sft@lr=5e-3` in a sweep, where the chain said `sft`)."""
    if step.action is Action.SKIP:
        entry.end(State.SKIPPED, step.reason)
        return
    settled = step.settled
    assert settled is not None and step.action in (Action.REUSE, Action.FINISHED), "a step that launches nothing"
    if step.reused_from is not None:
        entry.restart(State.REUSED)
        entry.fingerprint, entry.inputs, entry.outputs = settled.fingerprint, settled.inputs, dict(settled.outputs)
        entry.command, entry.env = list(settled.command), dict(settled.env)  # what ran, for status and the report
        entry.final_loss, entry.answers, entry.scores = settled.final_loss, settled.answers, settled.scores
        entry.headline = settled.headline
        entry.group, entry.label = (stage.group.name, stage.group.label) if stage.group else (None, None)
    elif step.action is Action.FINISHED:
        entry.outputs, entry.final_loss, entry.headline = dict(settled.outputs), settled.final_loss, settled.headline
        entry.end(State.DONE)
    # else: it finished in the run continued and stays as it ended there: done (reused only if taken from another)


def _gated(steps: list[Step], serves: dict[str, tuple[str, ...]]) -> tuple[Step, ...]:
    """Each launched step waits for the last launched step before it that others depend on to succeed, and for a
    launched step that only observes, since then, to end: the chain's order, where an observer stops nothing. In a
    sweep, a step waits only on steps that serve every variant it serves (`serves`, none: all of them): a variant's
    own steps on its shared ones and on each other, never on another variant's, and a shared step on shared ones;
    and on each launched step it reads that those do not already wait for (in a grid, a stage that reads two
    stages split by different settings)."""
    gated: list[Step] = []
    launched: list[Step] = []
    succeeded: dict[str, set[str]] = {}  # per launched step: every step that has succeeded once it starts
    for step in steps:
        if not step.launches:
            gated.append(step)
            continue
        gate: str | None = None  # the last launched step that must succeed first
        ended: str | None = None  # the last launched step since then, when it only observes
        for before in reversed(launched):
            if not _serves_all(serves[before.stage], serves[step.stage]):
                continue
            if not before.observes:
                gate = before.stage
                break
            ended = ended or before.stage
        implied = {gate, *succeeded[gate]} if gate else set()
        read = [r.producer for r in step.reads if r.producer in succeeded and r.producer not in implied]
        after_ok = tuple(dict.fromkeys([*([gate] if gate else []), *read]))
        succeeded[step.stage] = set().union(*({name, *succeeded[name]} for name in after_ok))
        gated.append(dataclasses.replace(step, after_ok=after_ok, after_end=(ended,) if ended else ()))
        launched.append(step)
    return tuple(gated)


def _serves_all(theirs: tuple[str, ...], mine: tuple[str, ...]) -> bool:
    """Whether a step serving the variants `theirs` serves each of `mine` (none: every variant)."""
    return not theirs or (bool(mine) and set(mine) <= set(theirs))


_NOT_FINISHED = {State.FAILED: "it failed", State.INTERRUPTED: "it was interrupted", State.ABORTED: "it was aborted",
                 State.RUNNING: "it was stopped", State.SKIPPED: "it was skipped", State.PENDING: "it has not run"}


class _Planner:
    def __init__(self, loaded: LoadedRecipe, dialect: Dialect, names: list[str], work_dir: Path,
                 record: RunRecord | None, interactive: bool) -> None:
        self.loaded, self.dialect, self.names, self.work_dir = loaded, dialect, names, work_dir
        self.record, self.interactive = record, interactive
        self.references = References(loaded, work_dir, names, record)
        self.launched: set[str] = set()
        self.consumers: dict[str, dict[Output, str]] = {}  # producer -> what later steps read of it (_needed)
        for name in names:  # a reference names an earlier stage: each consumer comes after its producer
            for flag, ref in loaded.recipe.stage(name).refs():
                self.consumers.setdefault(ref.stage, {}).setdefault(ref.output, f"stage {name!r} (--{flag})")
        self.project = record.cwd if record is not None and record.cwd else os.getcwd()

    def step(self, name: str) -> Step:
        stage = self.loaded.recipe.stage(name)
        needed = self._needed(name)
        decided = self._decide(stage, needed)
        step = dataclasses.replace(decided, observes=stage.observes, needed=tuple(needed.items()),
                                   reads=tuple(Read(flag, ref.stage, ref.output) for flag, ref in stage.refs()))
        if step.launches:
            self.launched.add(name)
        elif step.settled is not None:
            self.references.settled[name] = step.settled
        return step

    def _decide(self, stage: Stage, needed: dict[Output, str]) -> Step:
        name = stage.name
        skip = Step(name, Action.SKIP, chat_note(self.loaded.path, stage)) \
            if stage.interactive and not self.interactive else None
        upstream = next((ref for _, ref in stage.refs() if ref.stage in self.launched), None)
        if self.record is None and not self.loaded.source.sweeps:  # a fresh run: every stage runs
            return skip or Step(name, Action.RUN)
        if upstream is not None:  # (said when the run continues one; a new sweep says only what it reuses)
            return skip or Step(name, Action.RUN, f"stage {upstream.stage!r} runs before it" if self.record else "")
        try:
            rendered = render_stage(self.loaded.recipe, stage, self.loaded.source, dialect=self.dialect,
                                    resolve=self.references.resolve)
            inputs = reads.handed(stage, rendered.command, self.references.handed)
        except Unresolved as missing:
            return skip or Step(name, Action.RUN, f"{missing} is not recorded")
        current = fingerprint(rendered, recorded_in=self.record.recorded_in if self.record else None)
        entry = (self.record.stages.get(name) if self.record else None) or StageRecord()  # new to the run continued
        reused = self._reused(stage, entry, current, inputs, needed)
        if reused is not None:
            return reused
        if skip is not None:
            return skip
        produced = finished_before_stop(stage, entry) if self._unchanged(entry, current, inputs) else None
        if produced is not None:
            done = dataclasses.replace(entry, outputs=produced.outputs, final_loss=produced.final_loss,
                                       headline=produced.headline, state=State.DONE)
            return Step(name, Action.FINISHED, FINISHED_BEFORE_STOP, FINISHED_BEFORE_STOP, settled=done)
        resume_from = checkpoint_to_resume(stage, entry, current, inputs)
        if resume_from is not None:
            return Step(name, Action.CONTINUE, f"from {resume_from}", f"continuing from {resume_from}",
                        resume_from=resume_from)
        return self._run_again(stage, entry, current, inputs, needed, rendered.command.redacted().argv)

    def _reused(self, stage: Stage, entry: StageRecord, current: Fingerprint, inputs: list[Handed],
                needed: dict[Output, str]) -> Step | None:
        """Reuse: the stage finished unchanged in the run continued, or else in an earlier run; what it produced is
        on disk, with what later steps read of it (a record edited by hand may have lost it)."""
        if (entry.finished and self._unchanged(entry, current, inputs) and entry.outputs_on_disk
                and all(entry.outputs.get(output) for output in needed)):
            why = "unchanged since it finished"
            return Step(stage.name, Action.REUSE, why, f"{why}; reusing its outputs", settled=entry)
        base = stage.name.partition(SEPARATOR)[0]  # what a sweep's stage is in the chain alone, and the reverse
        earlier = history.finished_elsewhere(self.work_dir, self.loaded.reuse_keys,
                                             lambda name: name.partition(SEPARATOR)[0] == base,
                                             lambda done: self._unchanged(done, current, inputs),
                                             besides=self.record.id if self.record else None)
        if earlier is None or not all(earlier[1].outputs.get(output) for output in needed):
            return None
        run_id, done = earlier
        why = f"finished unchanged in run {run_id}"
        return Step(stage.name, Action.REUSE, why, f"{why}; reusing its outputs", settled=done, reused_from=run_id)

    @staticmethod
    def _unchanged(entry: StageRecord, current: Fingerprint, inputs: list[Handed]) -> bool:
        return current.matches(entry.fingerprint) and reads.changed(entry.inputs, inputs) is None

    def _run_again(self, stage: Stage, entry: StageRecord, current: Fingerprint, inputs: list[Handed],
                   needed: dict[Output, str], argv: list[str]) -> Step:
        """Why a stage that is not reused runs, and what to say of it."""
        if entry.finished:
            if not current.matches(entry.fingerprint) and entry.command:
                why = f"changed since it finished ({changed_flags(entry.command, argv)})"
            elif reads.changed(entry.inputs, inputs) is not None:
                why = f"{reads.changed(entry.inputs, inputs)} since it finished"
            elif _gone_outside_project(entry, self.project):
                why = (f"it finished, but {_gone_outside_project(entry, self.project)} (outside the project, "
                       "recorded by its absolute path) is missing")
            elif not entry.outputs_on_disk:
                why = "what it produced is no longer on disk"
            elif not current.matches(entry.fingerprint):
                why = "its launch variables or program changed since it finished"
            else:
                output, consumer = next((o, c) for o, c in needed.items() if not entry.outputs.get(o))
                why = f"it recorded no {output.in_words}, which {consumer} needs"
            return Step(stage.name, Action.RUN, why, f"{why}; running it again")
        started_over = changed_since_checkpoint(stage, entry, current, inputs, argv)
        if started_over is not None:
            return Step(stage.name, Action.RUN, started_over, started_over)
        return Step(stage.name, Action.RUN, _NOT_FINISHED.get(entry.state, "") if self.record else "")

    def _needed(self, producer: str) -> dict[Output, str]:
        """What the later stages of this run read of `producer`: output -> "stage X (--flag)"."""
        return dict(self.consumers.get(producer, {}))


def _gone_outside_project(entry: StageRecord, project: str) -> str | None:
    """An output of a finished stage that is missing and lies outside the project: a moved project's own outputs
    move with it (record_paths.py), these do not, and the user should know why the stage runs again."""
    inside = project.rstrip(os.sep) + os.sep
    missing = [path for path in entry.outputs.values() if not path.startswith(inside) and not os.path.exists(path)]
    return missing[0] if entry.finished and missing else None
