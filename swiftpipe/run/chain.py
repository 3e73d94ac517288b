"""The chain loop: each stage rendered with what earlier stages produced, handed to a launcher, and recorded.

The outcome of each stage is a State in the run record; the exit code derives from them: 0 when every stage
finished (or was reused or skipped), 1 when one failed, 130 when interrupted.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from swiftpipe import console, signals
from swiftpipe.data.cache import CheckCache
from swiftpipe.errors import UserError
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import Stage
from swiftpipe.recipe.secrets import redact_set
from swiftpipe.render.commands import render_stage
from swiftpipe.render.dialects import Dialect
from swiftpipe.run import history, preflight, run_lock, run_record, safe_write
from swiftpipe.run.chat import chat_note
from swiftpipe.run.launcher import Launcher, LocalLauncher
from swiftpipe.run.outputs import (
    FINISHED_BEFORE_STOP,
    changed_since_checkpoint,
    checkpoint_to_resume,
    end_if_finished_before_stop,
)
from swiftpipe.run.process import Grace
from swiftpipe.run.settle import settle
from swiftpipe.run.resolve import References, Unresolved
from swiftpipe.run.run_record import CHECKED_DIR, RunRecord, StageRecord, State
from swiftpipe.run.fingerprint import Fingerprint, changed_flags, fingerprint
from swiftpipe.run.stage import StageRunner
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
    if latest is not None and latest.launcher is not None and any(
            entry.state in (State.QUEUED, State.RUNNING) for entry in latest.stages.values()):
        raise UserError(f"{loaded.path}: run {latest.id} of this recipe with these parameters has jobs queued or "
                        f"running on {latest.launcher.name}; follow them (swiftpipe status {loaded.path}) or cancel "
                        f"them (swiftpipe cancel {loaded.path}) first")
    previous = None
    if options.resume and latest is None:
        options.say(f"[swiftpipe] no earlier run of {loaded.path} with these parameters under {options.work_dir}: "
                    "starting the chain")
    elif options.resume:
        previous = settle(latest, wait=options.wait, say=options.say)
    references = References(loaded, options.work_dir, names, previous)
    references.check()
    checked = None if options.recheck else CheckCache(options.work_dir / CHECKED_DIR)
    for warning in preflight.check(loaded.recipe, names, where=loaded.path, checked=checked,
                                   progress=options.view is None):
        options.warn(warning)
    if options.dry_run:
        for name in names:
            options.say(render_stage(loaded.recipe, loaded.recipe.stage(name), loaded.source, dialect=dialect,
                                     resolve=references.resolve_or_placeholder).script)
        options.say("dry run: nothing was launched")
        return ChainResult(0)
    launcher = launcher or LocalLauncher(preflight.swift_executable())
    preflight.check_work_dir(options.work_dir)
    record = previous or run_record.create(
        options.work_dir, recipe_name=loaded.recipe.name, recipe_path=loaded.path,
        params=loaded.recorded_params(), sets=[redact_set(s) for s in loaded.source.sets], stages=names)
    safe_write.keep_reserve(record.folder)  # a resumed run's reserve may have been given up to a full disk
    references.record = record
    hint = loaded.source.continues()
    runner = StageRunner(record, launcher, references.resolve, options.say, echo=options.echo,
                         grace=options.grace, resume_hint=hint, view=options.view)
    if options.view is not None:
        options.view.attach(record)
    with run_lock.hold(record), signals.handled(signals.raise_interrupt, signals.POLITE):  # as Ctrl-C
        try:
            result = _run_stages(loaded, dialect, runner, names, options)
        except KeyboardInterrupt:
            _interrupted(record, names)
            options.say(f"[swiftpipe] interrupted; {hint}")
            result = ChainResult(130, record)
        except run_record.RecordWriteError:
            _unrecorded(record, names)
            raise
    safe_write.drop_reserve(record.folder)  # the record is final
    return result


def _run_stages(loaded: LoadedRecipe, dialect: Dialect, runner: StageRunner, names: list[str],
                options: RunOptions) -> ChainResult:
    record = runner.record
    record.state = State.RUNNING
    record.recipe.sets = [redact_set(s) for s in loaded.source.sets]  # a resume may change the overrides
    record.save()
    interactive = sys.stdin.isatty() and sys.stdout.isatty() if options.interactive is None else options.interactive
    changed_upstream, failed = False, []
    for i, name in enumerate(names):
        stage = loaded.recipe.stage(name)
        state = _run_stage(loaded, dialect, runner, stage, options=options, names=names,
                           changed_upstream=changed_upstream, interactive=interactive)
        if state is State.FAILED and stage.observes:  # its answers are no stage's input
            failed.append(name)
            if names[i + 1:]:
                runner.say(f"[swiftpipe] {name} failed; no later stage takes what it produces, so the chain goes on")
            continue
        if state in (State.FAILED, State.INTERRUPTED):
            for rest in names[i + 1:]:
                record.stage(rest).restart(State.ABORTED, f"prerequisite {name} {state.value}")
            record.state = state
            record.save()
            return ChainResult(130 if state is State.INTERRUPTED else 1, record)
        changed_upstream = changed_upstream or (state is State.DONE and not stage.observes)
    record.state = State.FAILED if failed else State.DONE
    record.save()
    if failed:
        runner.say(f"[swiftpipe] failed: {', '.join(failed)}; `{loaded.source.command('run', '--resume')}` runs "
                   f"{'it' if len(failed) == 1 else 'them'} again and reuses the rest")
    return ChainResult(1 if failed else 0, record)


def _run_stage(loaded: LoadedRecipe, dialect: Dialect, runner: StageRunner, stage: Stage, *, options: RunOptions,
               names: list[str], changed_upstream: bool, interactive: bool) -> State:
    record, say = runner.record, runner.say
    entry = record.stage(stage.name)
    try:
        rendered = render_stage(loaded.recipe, stage, loaded.source, dialect=dialect, resolve=runner.resolve)
    except Unresolved as missing:  # what it reads was not recorded by the stage before it (a damaged record)
        return runner.not_launched(stage.name, f"{missing} is not in the run record")
    # of the stage as written, without a checkpoint to continue from
    current = fingerprint(rendered, recorded_in=record.recorded_in)
    if options.resume and not changed_upstream:
        reused = _reusable(record, stage.name, current, options.work_dir, loaded.key,
                           _needed(loaded, stage.name, names))
        if reused:
            say(f"[swiftpipe] {stage.name}: {reused}; reusing its outputs")
            record.save()
            return State.REUSED
        if entry.finished and not current.matches(entry.fingerprint) and entry.command:
            say(f"[swiftpipe] {stage.name}: changed since it finished "
                f"({changed_flags(entry.command, rendered.command.redacted().argv)}); running it again")
        gone = _gone_outside_project(entry, record.cwd)
        if gone:
            say(f"[swiftpipe] {stage.name}: it finished, but {gone} (outside the project, recorded by its absolute "
                "path) is missing; running it again")
    if stage.interactive and not interactive:
        entry.end(State.SKIPPED, chat_note(loaded.path, stage))
        say(f"[swiftpipe] {stage.name}: skipped: {entry.reason}")
        record.save()
        return State.SKIPPED
    if options.resume and not changed_upstream and end_if_finished_before_stop(stage, entry, current):
        say(f"[swiftpipe] {stage.name}: {FINISHED_BEFORE_STOP}")
        record.save()
        return State.DONE
    resume_from = checkpoint_to_resume(stage, entry, current) if options.resume else None
    started_over = changed_since_checkpoint(stage, entry, current, rendered.command.redacted().argv) \
        if options.resume else None
    if started_over:
        say(f"[swiftpipe] {stage.name}: {started_over}")
    if resume_from:
        stage = stage.with_flag("resume_from_checkpoint", resume_from)
        rendered = render_stage(loaded.recipe, stage, loaded.source, dialect=dialect, resolve=runner.resolve)
        say(f"[swiftpipe] {stage.name}: continuing from {resume_from}")
    return runner.run(stage, rendered, fingerprint=current.value, needed=_needed(loaded, stage.name, names))


def _needed(loaded: LoadedRecipe, producer: str, names: list[str]) -> dict[str, str]:
    """What the later stages of this run read of `producer`: kind -> "stage X (--flag)"."""
    needed: dict[str, str] = {}
    for name in names[names.index(producer) + 1:]:
        for flag, ref in loaded.recipe.stage(name).refs():
            if ref.stage == producer:
                needed.setdefault(ref.kind, f"stage {name!r} (--{flag})")
    return needed


def _reusable(record: RunRecord, name: str, current: Fingerprint, work_dir: Path, key: str,
              needed: dict[str, str]) -> str | None:
    """Why stage `name` need not run again (None: it must): it finished unchanged, in this run or an earlier one
    of the same recipe and parameters, what it produced is still on disk, and it recorded what later stages read
    of it (`needed`: a record edited by hand may have lost it)."""
    entry = record.stage(name)
    if (entry.finished and current.matches(entry.fingerprint) and entry.outputs_on_disk
            and all(entry.outputs.get(kind) for kind in needed)):
        entry.end(State.REUSED)
        return "unchanged since it finished"
    earlier = history.finished_elsewhere(work_dir, key, name, current, besides=record.id)
    if earlier is None or not all(earlier[1].outputs.get(kind) for kind in needed):
        return None
    run_id, done = earlier
    entry.restart(State.REUSED)
    entry.fingerprint, entry.outputs, entry.final_loss = done.fingerprint, dict(done.outputs), done.final_loss
    entry.answers, entry.scores, entry.group, entry.label = done.answers, done.scores, done.group, done.label
    return f"finished unchanged in run {run_id}"


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


def _gone_outside_project(entry: StageRecord, project: str) -> str | None:
    """An output of a finished stage that is missing and lies outside the project: a moved project's own outputs
    move with it (record_paths.py), these do not, and the user should know why the stage runs again."""
    inside = project.rstrip(os.sep) + os.sep
    missing = [path for path in entry.outputs.values() if not path.startswith(inside) and not os.path.exists(path)]
    return missing[0] if entry.finished and missing else None


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
