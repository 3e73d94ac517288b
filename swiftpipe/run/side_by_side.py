"""Carrying out a plan with several steps at once: each launched step starts, in a thread of its own, as soon as its
gate opens (plan.gate) and the slots give it a place (devices.py); the main thread follows them and takes the
signals.

A step whose gate shuts (a step it waits for failed) is aborted and says why; the others go on, so a variant that
fails leaves the other variants to finish. Ctrl-C, SIGTERM or a hang-up stops every running stage (each is
interrupted and records it, as it would alone) and aborts the steps not started. Each stage has its own stop
event, so that what stops one stage by itself (its log cannot be written) stops no other.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from swiftpipe import moments, signals
from swiftpipe.recipe.launch import Launch
from swiftpipe.records.record_types import StageRecord
from swiftpipe.records.run_record import RunRecord, State
from swiftpipe.run.devices import Placement, Slots
from swiftpipe.run.plan import Gate, Plan, Step, gate

Launching = Callable[[Step, Placement, threading.Event], State]  # runs one step there; returns its final state
Sizing = Callable[[Step], tuple[Launch, bool]]  # a step's launch settings, and whether it must run alone


@dataclass
class Outcome:
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False


def carry_out(steps: Plan, record: RunRecord, slots: Slots, *, launch: Launching, settle: Callable[[Step], object],
              sized: Sizing) -> Outcome:
    """Every step of `steps`: one that launches is handed to `launch` in its own thread once its gate is open and
    it has a place; `settle` records one that launches nothing."""
    return _Scheduler(record, slots, launch, settle, sized).carry_out(steps)


def abort(record: RunRecord, names: Iterable[str], why: str) -> None:
    """The stages of steps that will not start now, aborted; one finished before (that the plan would reuse) stays
    finished."""
    for name in names:
        if not record.stage(name).finished:
            record.stage(name).restart(State.ABORTED, why)
    record.save()


class _Scheduler:
    def __init__(self, record: RunRecord, slots: Slots, launch: Launching, settle: Callable[[Step], object],
                 sized: Sizing) -> None:
        self.record, self.slots, self.launch, self.settle, self.sized = record, slots, launch, settle, sized
        self.outcome = Outcome()
        self.ended: set[str] = set()
        self.running: dict[Future[State], Step] = {}
        self.stops: dict[str, threading.Event] = {}  # per running stage: set to stop it
        self.stopping = threading.Event()  # the whole chain stops: start nothing more

    def carry_out(self, steps: Plan) -> Outcome:
        waiting = list(steps.steps)
        # The handlers stay until every stage's thread has ended: a second Ctrl-C stops nothing half-way.
        with signals.handled(lambda *_: self.stop()), \
                ThreadPoolExecutor(max_workers=self.slots.jobs, thread_name_prefix="stage") as pool:
            try:
                while waiting or self.running:
                    waiting = self._start_what_can(waiting, pool)
                    if not self.running:
                        break  # stopped: what still waits is aborted below
                    self._collect(wait(self.running, timeout=0.2, return_when=FIRST_COMPLETED)[0])
            except BaseException:
                self.stop()  # swiftpipe's own failure: the running stages stop before it is raised
                raise
        self.outcome.interrupted = self.stopping.is_set()
        if waiting:  # (nothing waits unless stopped: each stage fits the slots, Slots.refusal saw to it)
            abort(self.record, [step.stage for step in waiting], "the chain was interrupted")
        return self.outcome

    def stop(self) -> None:
        self.stopping.set()
        for event in list(self.stops.values()):
            event.set()

    def _start_what_can(self, waiting: list[Step], pool: ThreadPoolExecutor) -> list[Step]:
        """Settle, abort or start each waiting step whose turn it is, in plan order; returns those still waiting."""
        still: list[Step] = []
        for step in waiting:
            if self.stopping.is_set():
                still.append(step)
                continue
            if not step.launches:
                self.settle(step)
                self.ended.add(step.stage)
                continue
            state, why = gate(step, self.record.stage, self.ended)
            if state is Gate.SHUT:
                self.record.stage(step.stage).restart(State.ABORTED, why)
                self.record.save()
                self.ended.add(step.stage)
                continue
            settings, alone = self.sized(step)
            place = self.slots.take(step.stage, settings, alone=alone) if state is Gate.OPEN else None
            if place is None:
                still.append(step)
                continue
            self.stops[step.stage] = stop = threading.Event()
            if self.stopping.is_set():  # a signal came since the check above: the stage stops as it starts
                stop.set()
            self.running[pool.submit(self.launch, step, place, stop)] = step
        return still

    def _collect(self, done: Iterable[Future[State]]) -> None:
        for future in done:
            step = self.running.pop(future)
            self.slots.give_back(step.stage)
            self.stops.pop(step.stage, None)
            self.ended.add(step.stage)
            state = _state_of(future)
            moments.reached("between")
            if state is State.INTERRUPTED:  # as one after another: an interrupted stage ends the chain
                self.stop()
            elif state is State.FAILED:
                self.outcome.failed.append(step.stage)


def _state_of(future: Future[State]) -> State:
    """A step's final state; a stop that came while it was prepared (StageRunner.run raises KeyboardInterrupt once
    its record is whole) is an interrupt."""
    try:
        return future.result()
    except KeyboardInterrupt:
        return State.INTERRUPTED


_SUCCEEDED = StageRecord(state=State.DONE)


def rehearsal(steps: Plan, slots: Slots, sized: Sizing) -> list[str]:
    """The order in which the launched steps would start, and where, if each took as long as the others and all
    succeeded: a line per round (for --dry-run; the real order follows how long each one takes)."""
    trial = Slots(slots.pool, slots.jobs, slots.cores)
    ended = {step.stage for step in steps.steps if not step.launches}
    waiting = [step for step in steps.steps if step.launches]
    lines: list[str] = []
    while waiting:
        started = []
        for step in waiting:
            if gate(step, lambda _: _SUCCEEDED, ended)[0] is Gate.OPEN:
                settings, alone = sized(step)
                place = trial.take(step.stage, settings, alone=alone)
                if place is not None:
                    started.append((step, place))
        if not started:
            break
        lines.append(f"{len(lines) + 1}. " + " · ".join(
            step.stage + (f" ({place})" if place != Placement() else "") for step, place in started))
        for step, _ in started:
            trial.give_back(step.stage)
            ended.add(step.stage)
            waiting.remove(step)
    return lines
