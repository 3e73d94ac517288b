"""The chain loop: each stage rendered with what earlier stages produced, handed to a launcher, and recorded.

The outcome of each stage is a State in the run record; the exit code derives from them (errors.Exit): done when
every stage finished (or was reused or skipped), failed when one failed, interrupted when interrupted.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swiftpipe import console, moments, signals
from swiftpipe.data.cache import CheckCache
from swiftpipe.errors import Exit, UserError
from swiftpipe.msswift.dialects import Dialect
from swiftpipe.recipe import sweep, variants
from swiftpipe.recipe.launch import Launch
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import Ref
from swiftpipe.records import history, run_record, safe_write
from swiftpipe.records.run_record import CHECKED_DIR, RunRecord, State
from swiftpipe.render.commands import render_stage
from swiftpipe.run import devices, preflight, run_lock, side_by_side
from swiftpipe.run.backend import backend_of
from swiftpipe.run.launcher import Launcher, LocalLauncher
from swiftpipe.run.plan import Action, Gate, Plan, Step, carry_out, gate, plan
from swiftpipe.run.process import Grace
from swiftpipe.run.resolve import References, Unresolved
from swiftpipe.run.stage import StageRunner, prepare
from swiftpipe.run.watch import View


@dataclass
class RunOptions:
    work_dir: Path = Path(run_record.DEFAULT_WORK_DIR)
    stages: list[str] | None = None
    resume: bool = False
    dry_run: bool = False
    recheck: bool = False  # read every data file again, even those checked clean and unchanged since
    wait: bool = False  # another swiftpipe runs this chain or writes an output_dir of it: wait for it to end
    echo: bool = True
    view: View | None = None  # a live display (cli/live.py); None: lines on stdout
    interactive: bool | None = None  # None: when stdin and stdout are terminals
    gpus: str | None = None  # --gpus: the GPUs a sweep's stages are placed on (devices.py)
    jobs: int | None = None  # --jobs: at most this many stages at once (devices.py)
    grace: Grace = field(default_factory=Grace)
    say: Callable[[str], None] = console.say
    warn: Callable[[str], None] = console.warn


@dataclass
class ChainResult:
    """The exit code, and the run record (None for a dry run, or when nothing was recorded)."""

    exit_code: int
    record: RunRecord | None = None


def run_chain(loaded: LoadedRecipe, dialect: Dialect, options: RunOptions,
              launcher: Launcher | None = None) -> ChainResult:
    """Check everything that can be checked, then run the chosen stages in order (here, by default).

    Whatever stops it (a failed stage, Ctrl-C, SIGTERM or a hang-up at any moment) leaves the record final: the
    stage that was running interrupted or failed, the ones after it aborted, and `--resume` able to finish.
    Before anything else it claims the chain and its output folders (run_lock.claims): a second swiftpipe started
    at the same moment is refused, or waits with `options.wait`."""
    names = options.stages or loaded.recipe.stage_names
    if options.dry_run:
        return _run_claimed(loaded, dialect, options, names, launcher)
    who = f"swiftpipe run {loaded.path}, since {run_record.now()[11:19]}"
    with run_lock.claimed(options.work_dir, run_lock.claims(loaded, names), who=who, wait=options.wait,
                          say=options.say):
        return _run_claimed(loaded, dialect, options, names, launcher)


def _run_claimed(loaded: LoadedRecipe, dialect: Dialect, options: RunOptions, names: list[str],
                 launcher: Launcher | None) -> ChainResult:
    latest = history.latest(options.work_dir, loaded.key)
    if latest is not None and run_lock.held(latest):
        raise UserError(f"{loaded.path}: run {latest.id} of this recipe with these parameters is running now; wait "
                        f"for it to end (swiftpipe status {loaded.path}), or stop it")
    going = backend_of(latest).going(latest) if latest is not None else None
    if latest is not None and going is not None:
        raise UserError(f"{loaded.path}: run {latest.id} of this recipe with these parameters has {going}; follow "
                        f"them (swiftpipe status {loaded.path}) or cancel them (swiftpipe cancel {loaded.path}) first")
    previous = None
    if options.resume and latest is None:
        options.say(f"[swiftpipe] no earlier run of {loaded.path} with these parameters under {options.work_dir}: "
                    "starting the chain")
    elif options.resume and latest is not None:
        previous = backend_of(latest).settle(latest, wait=options.wait, say=options.say)
        previous.launcher = None  # continued here: its backend is now this one, whatever ran it before
    references = References(loaded, options.work_dir, names, previous)
    references.check()
    interactive = sys.stdin.isatty() and sys.stdout.isatty() if options.interactive is None else options.interactive
    steps = plan(loaded, dialect, names, work_dir=options.work_dir, record=previous, resume=options.resume,
                 interactive=interactive)
    checked = None if options.recheck else CheckCache(options.work_dir / CHECKED_DIR)
    preflight.check_overrides(loaded, dialect)
    for warning in preflight.check(loaded.recipe, [step.stage for step in steps.launched], where=loaded.path,
                                   checked=checked, progress=options.view is None):
        options.warn(warning)
    slots = devices.slots(gpus=options.gpus, jobs=options.jobs, sweep=loaded.source.sweeps,
                          launches=[_sized(loaded, step)[0] for step in steps.launched])
    if slots is not None:
        refused = slots.refusal([(step.stage, _sized(loaded, step)[0]) for step in steps.launched])
        if refused is not None:
            raise UserError(f"{refused}; nothing was launched", where=loaded.path)
    if options.dry_run:
        _show(loaded, dialect, steps, references, options.say, slots)
        return ChainResult(Exit.DONE)
    launcher = launcher or LocalLauncher(preflight.swift_executable())
    preflight.check_work_dir(options.work_dir)
    moments.reached("checked")
    record = previous or run_record.create(options.work_dir, loaded, stages=names)
    safe_write.keep_reserve(record.folder)  # a resumed run's reserve may have been given up to a full disk
    record.include(names)
    references.record = record
    hint = loaded.source.continues()
    if slots is not None:
        options.say(f"[swiftpipe] {slots}" + ("; ms-swift's output goes to each stage's log" if options.echo else ""))
    runner = StageRunner(record, launcher, references.resolve, options.say, echo=options.echo and slots is None,
                         grace=options.grace, resume_hint=hint, view=options.view)
    if options.view is not None:
        options.view.attach(record)
    with run_lock.hold(record), signals.handled(signals.raise_interrupt, signals.STOP_SIGNALS):  # as Ctrl-C
        try:
            moments.reached("recorded")
            result = _carry_out(loaded, dialect, runner, references, steps, slots)
        except KeyboardInterrupt:
            _interrupted(record, names)
            options.say(f"[swiftpipe] interrupted; {hint}")
            result = ChainResult(Exit.INTERRUPTED, record)
        except run_record.RecordWriteError:
            _unrecorded(record, names)
            raise
    safe_write.drop_reserve(record.folder)  # the record is final
    return result


def _show(loaded: LoadedRecipe, dialect: Dialect, steps: Plan, references: References,
          say: Callable[[str], None], slots: devices.Slots | None) -> None:
    """A dry run: the plan, then the script of each step it launches, inputs not produced yet as placeholders."""
    if loaded.source.sweeps:
        say("\n".join(sweep.summary(loaded.recipe, variants.expand(loaded.source.varies))))
    say("plan:\n" + "\n".join(f"  {line}" for line in steps.lines()))
    if slots is not None:
        say(f"{slots}; if each stage took as long as the others, they would start in this order:\n" + "\n".join(
            f"  {line}" for line in side_by_side.rehearsal(steps, slots, lambda step: _sized(loaded, step))) +
            "\n(the scripts below launch each stage as its recipe does; side by side, the GPUs and port it gets "
            "replace its CUDA_VISIBLE_DEVICES and MASTER_PORT)")
    references.settled = {step.stage: step.settled for step in steps.steps if step.settled is not None}
    launched = {step.stage for step in steps.launched}

    def resolve(ref: Ref) -> str:  # what a step that runs will produce is not known yet
        return ref.placeholder() if ref.stage in launched else references.resolve_or_placeholder(ref)

    for step in steps.launched:
        stage = loaded.recipe.stage(step.stage)
        if step.resume_from:
            stage = stage.with_flag("resume_from_checkpoint", step.resume_from)
        say(render_stage(loaded.recipe, stage, loaded.source, dialect=dialect, resolve=resolve).script)
    say("dry run: nothing was launched")


def _carry_out(loaded: LoadedRecipe, dialect: Dialect, runner: StageRunner, references: References,
               steps: Plan, slots: devices.Slots | None) -> ChainResult:
    """The plan's steps, here: one after another, or side by side in the `slots` (side_by_side.py). A step starts
    once the steps it waits for succeeded (else it is aborted); an interrupted step ends the chain."""
    record = runner.record
    record.state = State.RUNNING
    record.given(loaded)
    record.save()
    if slots is None:
        outcome = _one_by_one(loaded, dialect, runner, references, steps)
    else:
        outcome = side_by_side.carry_out(
            steps, record, slots, settle=lambda step: _step(loaded, dialect, runner, references, step),
            launch=lambda step, place, stop: _step(loaded, dialect, runner, references, step, place, stop),
            sized=lambda step: _sized(loaded, step))
    if outcome.interrupted:
        record.state = State.INTERRUPTED
        record.save()
        return ChainResult(Exit.INTERRUPTED, record)
    failed = outcome.failed
    record.state = State.FAILED if failed else State.DONE
    record.save()
    if failed and not any(steps.awaited(name) for name in failed):
        runner.say(f"[swiftpipe] failed: {', '.join(failed)}; `{loaded.source.command('run', '--resume')}` runs "
                   f"{'it' if len(failed) == 1 else 'them'} again and reuses the rest")
    return ChainResult(Exit.FAILED if failed else Exit.DONE, record)


def _one_by_one(loaded: LoadedRecipe, dialect: Dialect, runner: StageRunner, references: References,
                steps: Plan) -> side_by_side.Outcome:
    """The plan's steps in its order, each launched in this thread."""
    record = runner.record
    outcome = side_by_side.Outcome()
    for i, step in enumerate(steps.steps):
        entry = record.stage(step.stage)
        gated, why = gate(step, record.stage, {before.stage for before in steps.steps[:i]})
        if gated is Gate.SHUT:
            entry.restart(State.ABORTED, why)
            record.save()
            continue
        state = _step(loaded, dialect, runner, references, step)
        moments.reached("between")
        if state is State.INTERRUPTED:
            side_by_side.abort(record, [rest.stage for rest in steps.steps[i + 1:]],
                               f"prerequisite {step.stage} interrupted")
            outcome.interrupted = True
            return outcome
        if state is State.FAILED:
            outcome.failed.append(step.stage)
            if not steps.awaited(step.stage) and steps.steps[i + 1:]:
                runner.say(f"[swiftpipe] {step.stage} failed; no later stage takes what it produces, so the chain "
                           "goes on")
    return outcome


def _sized(loaded: LoadedRecipe, step: Step) -> tuple[Launch, bool]:
    """A step's launch settings, and whether it runs alone (a chat that holds the terminal)."""
    stage = loaded.recipe.stage(step.stage)
    return loaded.recipe.launch_for(stage), stage.interactive


def _step(loaded: LoadedRecipe, dialect: Dialect, runner: StageRunner, references: References, step: Step,
          place: devices.Placement | None = None, stop: threading.Event | None = None) -> State:
    """One step, as the plan says: recorded as settled, or launched (in `place`, beside other stages)."""
    record, say = runner.record, runner.say
    entry = record.stage(step.stage)
    if not step.launches:
        carry_out(step, entry, loaded.recipe.stage(step.stage))
        say(f"[swiftpipe] {step.stage}: " + (f"skipped: {step.reason}" if step.action is Action.SKIP else
                                            step.said or step.reason))
        record.save()
        return entry.state
    if step.said:
        say(f"[swiftpipe] {step.stage}: {step.said}")
    entry.job = None  # launched here: no job of another backend's is this launch's
    try:
        prepared = prepare(loaded, loaded.recipe.stage(step.stage), dialect, references, resume_from=step.resume_from,
                           placed=place.launch() if place is not None else None)
    except Unresolved as missing:  # what it reads was not recorded by the stage before it (a damaged record)
        return runner.not_launched(step.stage, f"{missing} is not in the run record")
    shown = str(place) if place is not None and place != devices.Placement() else ""
    return runner.run(prepared, needed=dict(step.needed), stop=stop, place=shown)


def _unrecorded(record: RunRecord, names: list[str]) -> None:
    """After a record write failed (a full disk): the chain stops, and one more write, the reserve given up,
    makes the record final if the disk allows it; if not, the next command finds it "running" with no swiftpipe
    and settles it."""
    with signals.handled(signal.SIG_IGN):
        for name in names:
            entry = record.stage(name)
            if entry.state is State.RUNNING:
                entry.end(State.INTERRUPTED, "its run record could not be written")
            elif entry.state is State.PENDING:
                entry.end(State.ABORTED, "the run record could not be written")
        record.state = State.INTERRUPTED
        with contextlib.suppress(run_record.RecordWriteError):
            record.save()


def _interrupted(record: RunRecord, names: list[str]) -> None:
    """The record made final after an interrupt between or around stages (one during a stage is the stage's)."""
    with signals.handled(signal.SIG_IGN):  # a second Ctrl-C waits until the record is final
        for name in names:
            entry = record.stage(name)
            if entry.state in (State.RUNNING, State.PENDING):
                entry.end(State.INTERRUPTED if entry.state is State.RUNNING else State.ABORTED,
                          None if entry.state is State.RUNNING else "the chain was interrupted")
        record.state = State.INTERRUPTED
        record.save()
