"""Carrying out a plan with several steps at once: each launched step starts, in a thread of its own, as soon as its
gate opens (plan.gate) and the slots give it a place (devices.py); the main thread follows them and takes the
signals.

A step whose gate shuts (a step it waits for failed) is aborted and says why; the others go on, so a variant that
fails leaves the other variants to finish. Ctrl-C, SIGTERM or a hang-up stops every running stage (each is
interrupted and records it, as it would alone) and aborts the steps not started.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from swiftpipe import moments, signals
from swiftpipe.recipe.launch import Launch
from swiftpipe.records.run_record import RunRecord, State
from swiftpipe.run.devices import Placement, Slots
from swiftpipe.run.plan import Gate, Plan, Step, gate

Launching = Callable[[Step, Placement, threading.Event], State]  # runs one step there; returns its final state


@dataclass
class Outcome:
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False


def carry_out(steps: Plan, record: RunRecord, slots: Slots, *, launch: Launching, settle: Callable[[Step], object],
              sized: Callable[[Step], tuple[Launch, bool]]) -> Outcome:
    """Every step of `steps`, each launched one by `launch` in its own thread once its gate is open and it has a
    place; `settle` records a step that launches nothing; `sized` gives a step's launch settings and whether it
    must run alone (a chat that holds the terminal)."""
    stop = threading.Event()
    outcome = Outcome()
    waiting = list(steps.steps)
    ended: set[str] = set()
    running: dict[Future[State], Step] = {}
    with ThreadPoolExecutor(max_workers=slots.jobs, thread_name_prefix="stage") as pool, \
            signals.handled(lambda *_: stop.set()):
        try:
            while waiting or running:
                if not stop.is_set():
                    waiting = _start_what_can(waiting, ended, record, slots, running, pool, launch, settle, sized,
                                              stop)
                if not running:
                    break  # stopped: what still waits is aborted below
                done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    step = running.pop(future)
                    slots.give_back(step.stage)
                    ended.add(step.stage)
                    state = _state_of(future)
                    moments.reached("between")
                    if state is State.INTERRUPTED:
                        stop.set()
                    elif state is State.FAILED:
                        outcome.failed.append(step.stage)
        except BaseException:
            stop.set()  # swiftpipe's own failure: the running stages stop before it is raised
            raise
    outcome.interrupted = stop.is_set()
    for step in waiting:  # (nothing waits unless stopped: each stage fits the slots, refusal() saw to it)
        record.stage(step.stage).restart(State.ABORTED, "the chain was interrupted")
    if waiting:
        record.save()
    return outcome


def _start_what_can(waiting: list[Step], ended: set[str], record: RunRecord, slots: Slots,
                    running: dict[Future[State], Step], pool: ThreadPoolExecutor, launch: Launching,
                    settle: Callable[[Step], object], sized: Callable[[Step], tuple[Launch, bool]],
                    stop: threading.Event) -> list[Step]:
    """Settle, abort or start each waiting step whose turn it is, in plan order; returns those still waiting."""
    still: list[Step] = []
    for step in waiting:
        if not step.launches:
            settle(step)
            ended.add(step.stage)
            continue
        shut, why = gate(step, record, ended)
        if shut is Gate.SHUT:
            record.stage(step.stage).restart(State.ABORTED, why)
            record.save()
            ended.add(step.stage)
            continue
        settings, alone = sized(step)
        place = slots.take(step.stage, settings, alone=alone) if shut is Gate.OPEN else None
        if place is None:
            still.append(step)
            continue
        running[pool.submit(launch, step, place, stop)] = step
    return still


def _state_of(future: Future[State]) -> State:
    """A step's final state; a stop that came while it was prepared (StageRunner.run raises KeyboardInterrupt once
    its record is whole) is an interrupt."""
    try:
        return future.result()
    except KeyboardInterrupt:
        return State.INTERRUPTED


def rehearsal(steps: Plan, slots: Slots, sized: Callable[[Step], tuple[Launch, bool]]) -> list[str]:
    """The order in which the launched steps would start, and where, if each took as long as the others: a line
    per round (for --dry-run; the real order follows how long each one takes)."""
    trial = Slots(slots.pool, slots.jobs, slots.cores)
    ended = {step.stage for step in steps.steps if not step.launches}
    waiting = [step for step in steps.steps if step.launches]
    lines: list[str] = []
    while waiting:
        started = []
        for step in waiting:
            if all(name in ended for name in (*step.after_ok, *step.after_end)):
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
