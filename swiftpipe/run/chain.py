"""The chain loop: each stage rendered with what earlier stages produced, handed to a launcher, and recorded.

The outcome of each stage is a State in the run record; the exit code derives from them: 0 when every stage
finished (or was reused or skipped), 1 when one failed, 130 when interrupted.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from swiftpipe import console
from swiftpipe.errors import UserError
from swiftpipe.recipe.loading import LoadedRecipe, jsonable
from swiftpipe.recipe.model import Stage
from swiftpipe.render.commands import render_stage
from swiftpipe.render.dialects import Dialect
from swiftpipe.run import preflight, run_record
from swiftpipe.run.chat import chat_note
from swiftpipe.run.launcher import Launcher, LocalLauncher
from swiftpipe.run.outputs import checkpoint_to_resume
from swiftpipe.run.process import Grace
from swiftpipe.run.resolve import References
from swiftpipe.run.run_record import FINISHED, RunRecord, State
from swiftpipe.run.stage import StageRunner, fingerprint


@dataclass
class RunOptions:
    work_dir: Path = Path(run_record.DEFAULT_WORK_DIR)
    stages: list[str] | None = None
    resume: bool = False
    dry_run: bool = False
    echo: bool = True
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
    """Check everything that can be checked, then run the chosen stages in order (here, by default)."""
    names = options.stages or loaded.recipe.stage_names
    previous = None
    if options.resume:
        previous = run_record.latest(options.work_dir, loaded.key)
        if previous is None:
            raise UserError(f"{loaded.path}: no earlier run of this recipe with these parameters to resume "
                            f"(runs are recorded under {options.work_dir})")
    references = References(loaded, options.work_dir, names, previous)
    references.check()
    for warning in preflight.check(loaded.recipe, names, where=loaded.path):
        options.warn(warning)
    if options.dry_run:
        for name in names:
            options.say(render_stage(loaded.recipe, loaded.recipe.stage(name), loaded.source, dialect=dialect,
                                     resolve=references.resolve_or_placeholder).script)
        options.say("dry run: nothing was launched")
        return ChainResult(0)
    launcher = launcher or LocalLauncher(preflight.swift_executable())
    record = previous or run_record.create(
        options.work_dir, recipe_name=loaded.recipe.name, recipe_path=loaded.path,
        params=jsonable(loaded.values), sets=list(loaded.source.sets), stages=names)
    references.record = record
    record.state = State.RUNNING
    record.recipe.sets = list(loaded.source.sets)  # a resume may change the overrides
    runner = StageRunner(record, launcher, references.resolve, options.say, echo=options.echo,
                         grace=options.grace, resume_hint=loaded.source.command("run", "--resume"))
    interactive = sys.stdin.isatty() and sys.stdout.isatty() if options.interactive is None else options.interactive
    changed_upstream = False
    for i, name in enumerate(names):
        state = _run_stage(loaded, dialect, runner, loaded.recipe.stage(name), resume=options.resume,
                           changed_upstream=changed_upstream, interactive=interactive)
        if state in (State.FAILED, State.INTERRUPTED):
            for rest in names[i + 1:]:
                record.stage(rest).restart(State.ABORTED, f"prerequisite {name} {state.value}")
            record.state = state
            record.save()
            return ChainResult(130 if state is State.INTERRUPTED else 1, record)
        changed_upstream = changed_upstream or state is State.DONE
    record.state = State.DONE
    record.save()
    return ChainResult(0, record)


def _run_stage(loaded: LoadedRecipe, dialect: Dialect, runner: StageRunner, stage: Stage, *, resume: bool,
               changed_upstream: bool, interactive: bool) -> State:
    record, say = runner.record, runner.say
    entry = record.stage(stage.name)
    rendered = render_stage(loaded.recipe, stage, loaded.source, dialect=dialect, resolve=runner.resolve)
    current = fingerprint(rendered)  # of the stage as written, without a checkpoint to continue from
    if resume and entry.state in FINISHED and entry.fingerprint == current and not changed_upstream:
        entry.end(State.REUSED)
        say(f"[swiftpipe] {stage.name}: unchanged since it finished; reusing its outputs")
        record.save()
        return State.REUSED
    if stage.interactive and not interactive:
        entry.end(State.SKIPPED, chat_note(loaded.path))
        say(f"[swiftpipe] {stage.name}: skipped: {entry.reason}")
        record.save()
        return State.SKIPPED
    resume_from = checkpoint_to_resume(stage, entry) if resume else None
    if resume_from:
        stage = stage.with_flag("resume_from_checkpoint", resume_from)
        rendered = render_stage(loaded.recipe, stage, loaded.source, dialect=dialect, resolve=runner.resolve)
        say(f"[swiftpipe] {stage.name}: continuing from {resume_from}")
    return runner.run(stage, rendered, fingerprint=current)


