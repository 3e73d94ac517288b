"""One stage: launched through a Launcher, watched, and its outcome and outputs written to its stage record."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swiftpipe import moments
from swiftpipe.msswift import layout
from swiftpipe.msswift.dialects import Dialect
from swiftpipe.msswift.layout import Output
from swiftpipe.recipe.launch import Launch
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import Ref, Stage
from swiftpipe.recipe.secrets import redact_argv
from swiftpipe.records import history
from swiftpipe.records.run_record import Handed, RecordWriteError, RunRecord, StageRecord, State, now
from swiftpipe.render.commands import RenderedStage, Resolver, render_stage
from swiftpipe.run import reads
from swiftpipe.run.fingerprint import fingerprint
from swiftpipe.run.launcher import Launcher
from swiftpipe.run.outputs import collect, run_dir_of, run_dirs_before
from swiftpipe.run.process import Grace, run_process, stops_deferred
from swiftpipe.run.resolve import References
from swiftpipe.run.supervise import UNFINISHED_MARK, mark
from swiftpipe.run.watch import StageWatcher, View

LOG_TAIL = 20


@dataclass(frozen=True)
class Prepared:
    """A stage ready to launch: rendered with what it reads, with `fingerprint` and `inputs` taken of the stage
    as written (a checkpoint to continue from, in `stage` and `rendered`, is how it runs, not what it is)."""

    stage: Stage
    rendered: RenderedStage
    fingerprint: str
    inputs: list[Handed]


def prepare(loaded: LoadedRecipe, stage: Stage, dialect: Dialect, references: References, *,
            resume_from: str | None, placed: Launch | None = None) -> Prepared:
    """Render `stage` with its references resolved (Unresolved when one is not recorded), continuing from
    `resume_from` if given (the plan's word), on the devices and port `placed` gives it (devices.Placement: where
    it runs beside other stages, which is not part of what it is)."""
    rendered = render_stage(loaded.recipe, stage, loaded.source, dialect=dialect, resolve=references.resolve)
    recorded_in = references.record.recorded_in if references.record is not None else None
    current = fingerprint(rendered, recorded_in=recorded_in)
    inputs = reads.handed(stage, rendered.command, references.handed)
    if resume_from:
        stage = stage.with_flag("resume_from_checkpoint", resume_from)
    if placed is not None:
        stage = dataclasses.replace(stage, launch=stage.launch.overridden_by(placed))
    if resume_from or placed is not None:
        rendered = render_stage(loaded.recipe, stage, loaded.source, dialect=dialect, resolve=references.resolve)
    return Prepared(stage, rendered, current.value, inputs)


@dataclass
class StageRunner:
    """Runs stages of one run record: each launch is recorded before it starts and after it ends."""

    record: RunRecord
    launcher: Launcher
    resolve: Resolver
    say: Callable[[str], None]
    resume_hint: str  # how to continue the chain (Source.continues), said when a stage is interrupted
    echo: bool = True
    grace: Grace = field(default_factory=Grace)
    view: View | None = None  # the live display, when there is one (watch.View)

    def run(self, prepared: Prepared, *, needed: dict[Output, str] | None = None,
            stop: threading.Event | None = None, place: str = "") -> State:
        """Launch the stage unless pre-launch checks refuse it; return its final state. Its fingerprint and inputs
        are what a later --resume compares to tell whether the stage changed; `needed` maps what later stages read
        of it to who reads it, and a stage that exits 0 without it fails. A stop asked for while the stage
        was prepared or recorded (not while it ran: then it is interrupted) is a KeyboardInterrupt once its record
        is whole. `stop`: an event shared with the stages that run beside it (set by the thread that takes the
        signals); by default, its own. `place`: where it runs beside other stages, for the line that says it starts."""
        stop = stop or threading.Event()
        with stops_deferred(stop):
            state = self._run(prepared, stop, needed or {}, place)
        if stop.is_set() and state not in (State.INTERRUPTED, State.FAILED):  # FAILED: the stop was its own
            raise KeyboardInterrupt
        return state

    def _run(self, prepared: Prepared, stop: threading.Event, needed: dict[Output, str], place: str) -> State:
        stage, rendered = prepared.stage, prepared.rendered
        refused = self.refused_merge_target(stage)
        if refused:
            return self.not_launched(stage.name, refused)
        entry = self.record.stage(stage.name)
        number = entry.launches + 1  # each launch keeps its own script and log: sft.sh, sft.2.sh, ...
        suffix = "" if number == 1 else f".{number}"
        script = self.record.path_for(stage.name, f"{suffix}.sh")
        log = self.record.path_for(stage.name, f"{suffix}.log")
        invocation = self.launcher.invocation(stage, rendered, script=script, resolve=self.resolve)
        script.write_text(invocation.script, encoding="utf-8")
        log.write_bytes(b"")
        before = run_dirs_before(stage)
        shown = rendered.command.redacted()
        entry.begin(command=shown.argv, env=shown.environment, script=str(script), log=str(log),
                    fingerprint=prepared.fingerprint, inputs=prepared.inputs)
        entry.target = self.merge_target(stage)
        entry.target_mark = f"{self.record.id} {stage.name} {os.urandom(8).hex()}" if entry.target else None
        if stage.group is not None:
            entry.group, entry.label = stage.group.name, stage.group.label
        self.record.save()
        self.say(f"[swiftpipe] {stage.name}: {' '.join(shown.argv[:2])}{f' on {place}' if place else ''} (log: {log})")
        watcher = StageWatcher(stage.name, echo=self.echo, view=self.view)

        def tick() -> None:
            watcher.tick()
            self._note_run_dir(stage, watcher, entry, before)
            self._note_target(entry)

        def started(pgid: int) -> None:
            entry.pgid = pgid
            self.record.save()
            moments.reached("launched")

        with self.view.held() if self.view is not None and stage.interactive else contextlib.nullcontext():
            outcome = run_process(invocation.argv, environ=invocation.environ, log=log, on_output=watcher.output,
                                  attach=stage.interactive, grace=self.grace, tick=tick, on_start=started,
                                  say=lambda text: self.say(f"[swiftpipe] {stage.name}: {text}"), stop=stop,
                                  shown=redact_argv(invocation.argv),
                                  mark=(entry.target, entry.target_mark) if entry.target and entry.target_mark
                                  else None)
        self._note_target(entry)
        produced = collect(stage, watcher.found, before, scores=watcher.scores)
        run_dir = Path(produced.outputs[Output.RUN_DIR]) if Output.RUN_DIR in produced.outputs else None
        entry.ended, entry.seconds, entry.exit_code = now(), round(outcome.seconds, 1), outcome.exit_code
        entry.outputs, entry.final_loss, entry.answers = produced.outputs, produced.final_loss, produced.answers
        entry.headline = produced.headline
        entry.scores = produced.scores
        if outcome.failure:
            entry.end(State.FAILED, outcome.failure)
        elif outcome.interrupted and stage.trains and run_dir is not None and layout.training_complete(run_dir):
            entry.end(State.DONE)  # stopped after its final save: done; the stop still ends the chain (run())
        elif outcome.interrupted:
            entry.end(State.INTERRUPTED)
        elif outcome.exit_code != 0:
            entry.end(State.FAILED)
        else:
            missing = self._missing(stage, entry, needed)
            entry.end(State.FAILED if missing else State.DONE, missing)
        if entry.state is State.DONE and entry.target_made is not None:
            with contextlib.suppress(OSError):
                (Path(entry.target or "") / UNFINISHED_MARK).unlink()
        self.record.save()
        if entry.state is State.FAILED:
            self._report_failure(stage.name, log, entry)
        elif entry.state is State.INTERRUPTED:
            self.say(f"[swiftpipe] {stage.name}: interrupted; {self.resume_hint}")
        return entry.state

    def not_launched(self, name: str, reason: str) -> State:
        """Record `name` as failed before launch, and say why."""
        self.record.stage(name).end(State.FAILED, reason)
        self.say(f"[swiftpipe] {name}: not launched: {reason}")
        self.record.save()
        return State.FAILED

    def merge_target(self, stage: Stage) -> str | None:
        """Where `swift export --merge_lora true` writes: its --output_dir, else `<first adapter>-merged`; absolute,
        as the record holds paths once read back."""
        if not stage.merges:
            return None
        target = stage.flags.get("output_dir")
        if target is None:
            source = stage.merge_source
            if source is None:
                return None
            target = f"{self.resolve(source) if isinstance(source, Ref) else source}{layout.MERGED_SUFFIX}"
        return os.path.abspath(str(target))

    def refused_merge_target(self, stage: Stage) -> str | None:
        """Why a merge must not launch: the folder it would write exists, and ms-swift refuses to overwrite it
        after loading the whole model. Only a folder that is provably what this stage's own unfinished launch
        created (the same folder it recorded, still holding the mark it put there) is removed; never one chosen by
        its name alone."""
        target = self.merge_target(stage)
        if target is None or not Path(target).exists():
            return None
        entry = self.record.stage(stage.name)
        if entry.target == target and not entry.finished and self._made_by_its_launch(entry):
            shutil.rmtree(target)
            self.say(f"[swiftpipe] {stage.name}: removed {target}, which its own unfinished launch left")
            return None
        owner = history.producer_of(self.record.folder.parent.parent, target)
        whose = f" (the merged model of run {owner[0]}, stage {owner[1]!r})" if owner else \
            " (not what this stage's own launch left)" if entry.target == target and not entry.finished else ""
        return (f"{target} already exists{whose} and ms-swift refuses to overwrite a merged model: remove it, or "
                f"--set {stage.name}.output_dir=NEW_FOLDER")

    @staticmethod
    def _made_by_its_launch(entry: StageRecord) -> bool:
        """Whether the folder at the merge target is the one the stage's last launch created: it holds the mark
        that launch's supervisor put in it, and is the same folder the launch recorded (when it lived to)."""
        target = Path(entry.target or "")
        try:
            marked = (target / UNFINISHED_MARK).read_text(encoding="utf-8") == entry.target_mark
        except OSError:
            return False
        return marked and entry.target_mark is not None and entry.target_made in (None, _identity(target))

    def _note_target(self, entry: StageRecord) -> None:
        """A merge target that this launch saw appear (it did not exist at launch) is marked, as its supervisor
        marks it, and its identity recorded, so that a later launch can tell it from anyone else's folder there."""
        if entry.target is None or entry.target_mark is None or entry.target_made is not None:
            return
        if not mark(Path(entry.target), entry.target_mark):
            return
        entry.target_made = _identity(Path(entry.target))
        self._save_quietly()

    def _save_quietly(self) -> None:
        """A save while the stage runs: one that cannot be written now (a full disk) is kept for the next, and the
        reserve is left for the write that says how the stage ended."""
        with contextlib.suppress(RecordWriteError):
            self.record.save(use_reserve=False)

    def _missing(self, stage: Stage, entry: StageRecord, needed: dict[Output, str]) -> str | None:
        """Why a stage that exited 0 did not produce what it must: a training run's checkpoint, a merge's model on
        disk, or what a later stage of the chain reads from it."""
        if stage.trains and not entry.outputs.get(Output.LAST_CHECKPOINT):
            return "ms-swift exited 0 but saved no complete checkpoint"
        if stage.merges and Output.MERGED not in entry.outputs:
            if entry.target is not None and (Path(entry.target) / "config.json").is_file():
                entry.outputs[Output.MERGED] = entry.target  # ms-swift's line was not recognised: the folder is there
            else:
                return f"ms-swift exited 0 but wrote no merged model (nothing at {entry.target})"
        for output, consumer in needed.items():
            if not entry.outputs.get(output):
                why = " (no evaluation ran: give it a --val_dataset or --split_dataset_ratio)" \
                    if output is Output.BEST_CHECKPOINT else ""
                return f"ms-swift exited 0 but recorded no {output.in_words}{why}, which {consumer} needs"
        return None

    def _note_run_dir(self, stage: Stage, watcher: StageWatcher, entry: StageRecord, before: set[Path]) -> None:
        """Record a training run's folder as soon as ms-swift names it (or it appears under --output_dir): a process
        killed outright (swiftpipe's kill -9, a Slurm time limit, the OOM killer) then still leaves a record that
        --resume can continue from."""
        if not stage.trains or Output.RUN_DIR in entry.outputs:
            return
        found = run_dir_of(stage, watcher.found, before)
        if found is not None:
            entry.outputs[Output.RUN_DIR] = str(found)
            self._save_quietly()

    def _report_failure(self, name: str, log: Path, entry: StageRecord) -> None:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL:]
        reason = entry.reason or f"exit code {entry.exit_code}"
        self.say("\n".join([f"[swiftpipe] {name} failed ({reason}); last lines of {log}:",
                            *("    " + line for line in tail)]))


def _identity(path: Path) -> str | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{stat.st_dev}:{stat.st_ino}"
