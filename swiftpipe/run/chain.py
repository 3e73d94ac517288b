"""Running a chain: each stage rendered with what earlier stages produced, launched, and recorded.

The outcome of each stage is a State in the run record; the exit code derives from them: 0 when every
stage finished (or was reused or skipped), 1 when one failed, 130 when interrupted.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rich.markup import escape

from swiftpipe.run import layout
from swiftpipe.run import preflight
from swiftpipe.run import run_record as records
from swiftpipe.console import err_console
from swiftpipe.render.dialects import Dialect
from swiftpipe.errors import UserError
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.run.process import Grace, launch
from swiftpipe.recipe.model import Ref, Stage
from swiftpipe.run.run_record import RunRecord, State
from swiftpipe.render.commands import RenderedStage, render_stage
from swiftpipe.slurm.script import sbatch_script
from swiftpipe.run.watch import StageWatcher

LOG_TAIL = 20
_SLURM_KEYS = ("job_id", "submitted", "sbatch", "slurm_out", "slurm", "resume_from")  # kept when a job starts


@dataclass
class RunOptions:
    work_dir: Path = Path(records.DEFAULT_WORK_DIR)
    stages: list[str] | None = None
    resume: bool = False
    dry_run: bool = False
    echo: bool = True
    interactive: bool | None = None  # None: when stdin and stdout are terminals
    grace: Grace = field(default_factory=Grace)
    say: Callable[[str], None] = print


class _Unresolved(Exception):
    pass


class Runner:
    def __init__(self, loaded: LoadedRecipe, dialect: Dialect, options: RunOptions) -> None:
        self.loaded = loaded
        self.recipe = loaded.recipe
        self.dialect = dialect
        self.opts = options
        self.key = loaded.key
        self.names = options.stages or self.recipe.stage_names
        self.record: RunRecord | None = None
        self.previous: RunRecord | None = None
        if options.interactive is None:
            options.interactive = sys.stdin.isatty() and sys.stdout.isatty()

    # -- references ---------------------------------------------------------------------------------
    def resolve(self, ref: Ref) -> str:
        """A produced path: from this run when the stage ran here, else from the newest run where it finished.
        A reference's kind is the key of the stage's recorded outputs (last_checkpoint, merged, ...)."""
        if self.record is not None and self.record.state_of(ref.stage) in records.FINISHED:
            value = self.record.stages[ref.stage].get("outputs", {}).get(ref.kind)
            if value:
                return value
        if ref.stage not in self.names:
            produced = records.produced(self.opts.work_dir, self.key, ref.stage, ref.kind)
            if produced:
                return produced
        raise _Unresolved(f"{ref.stage}.{ref.kind}")

    def check_references(self) -> None:
        problems = []
        for name in self.names:
            for flag, ref in self.recipe.stage(name).refs():
                if ref.stage in self.names and self.names.index(ref.stage) < self.names.index(name):
                    continue  # produced earlier in this run
                try:
                    self.resolve(ref)
                except _Unresolved:
                    problems.append(f"{self.loaded.path}: stage {name!r}, --{flag}: needs {ref.stage}.{ref.kind}, "
                                    f"but stage {ref.stage!r} has not finished in any run of this recipe with these "
                                    f"parameters; run it first (swiftpipe run {self.loaded.path} --stage {ref.stage})")
        if problems:
            raise preflight.PreflightError("\n".join(problems))

    # -- the chain ----------------------------------------------------------------------------------
    def run(self) -> int:
        if self.opts.resume:
            self.previous = records.latest(self.opts.work_dir, self.key)
            if self.previous is None:
                raise UserError(f"{self.loaded.path}: no earlier run of this recipe with these parameters to resume "
                                f"(runs are recorded under {self.opts.work_dir})")
        self.check_references()
        for warning in preflight.check(self.recipe, self.names, where=self.loaded.path):
            err_console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
        if self.opts.dry_run:
            return self._dry_run()
        self.swift = preflight.swift_executable()
        self.record = self.previous or records.create(
            self.opts.work_dir, recipe_name=self.recipe.name, recipe_path=self.loaded.path,
            params=records.jsonable(self.loaded.values), sets=list(self.loaded.source.sets), stages=self.names)
        self.record.data["state"] = State.RUNNING.value
        self.record.data["recipe"]["sets"] = list(self.loaded.source.sets)  # a resume may change overrides
        changed_upstream = False
        for i, name in enumerate(self.names):
            state = self._run_stage(self.recipe.stage(name), changed_upstream)
            if state in (State.FAILED, State.INTERRUPTED):
                self._abort_rest(self.names[i + 1:], because=f"prerequisite {name} {state.value}")
                self.record.data["state"] = state.value
                self.record.save()
                return 130 if state is State.INTERRUPTED else 1
            changed_upstream = changed_upstream or state is State.DONE
        self.record.data["state"] = State.DONE.value
        self.record.save()
        return 0

    def run_in_allocation(self, name: str) -> State:
        """One stage inside a Slurm job (see slurm/job.py): inputs from the record, outcome into it."""
        assert self.record is not None
        stage = self.recipe.stage(name)
        entry = self.record.stage(name)
        if entry.get("resume_from"):
            stage = stage.with_flag("resume_from_checkpoint", entry["resume_from"])
            self.opts.say(f"[swiftpipe] {name}: continuing from {entry['resume_from']}")
        try:
            rendered = render_stage(self.recipe, stage, self.loaded.source, dialect=self.dialect,
                                    resolve=self.resolve)
        except _Unresolved as missing:
            return self._not_launched(name, entry, f"{missing} was not recorded by the job before this one")
        if self._refused_merge_target(stage, entry):
            return State.FAILED
        return self._launch(stage, rendered, _fingerprint(rendered), entry)

    def _dry_run(self) -> int:
        for name in self.names:
            stage = self.recipe.stage(name)
            rendered = render_stage(self.recipe, stage, self.loaded.source, dialect=self.dialect,
                                    resolve=self._resolve_or_placeholder)
            self.opts.say(rendered.script)
        self.opts.say("dry run: nothing was launched")
        return 0

    def _resolve_or_placeholder(self, ref: Ref) -> str:
        try:
            return self.resolve(ref)
        except _Unresolved:
            return ref.placeholder()

    def _run_stage(self, stage: Stage, changed_upstream: bool) -> State:
        assert self.record is not None
        entry = self.record.stage(stage.name)
        previous_state = State(entry.get("state", State.PENDING.value))
        rendered = render_stage(self.recipe, stage, self.loaded.source, dialect=self.dialect, resolve=self.resolve)
        fingerprint = _fingerprint(rendered)
        if (self.opts.resume and previous_state in records.FINISHED and entry.get("fingerprint") == fingerprint
                and not changed_upstream):
            entry["state"] = State.REUSED.value
            self.opts.say(f"[swiftpipe] {stage.name}: unchanged since it finished; reusing its outputs")
            self.record.save()
            return State.REUSED
        if stage.interactive and not self.opts.interactive:
            entry.update(state=State.SKIPPED.value, reason="interactive chat needs a terminal; "
                         f"`swiftpipe chat {self.loaded.path}` opens it")
            self.opts.say(f"[swiftpipe] {stage.name}: skipped: {entry['reason']}")
            self.record.save()
            return State.SKIPPED
        if self._refused_merge_target(stage, entry):
            return State.FAILED
        resume_from = checkpoint_to_resume(stage, entry) if self.opts.resume else None
        if resume_from:
            stage = stage.with_flag("resume_from_checkpoint", resume_from)
            rendered = render_stage(self.recipe, stage, self.loaded.source, dialect=self.dialect, resolve=self.resolve)
            self.opts.say(f"[swiftpipe] {stage.name}: continuing from {resume_from}")
        return self._launch(stage, rendered, fingerprint, entry)

    def _refused_merge_target(self, stage: Stage, entry: dict[str, Any]) -> bool:
        """Whether the folder `swift export --merge_lora true` would write exists; the stage is then recorded as
        failed without launching."""
        if not stage.merges:
            return False
        target = stage.flags.get("output_dir")
        if target is None:
            source = stage.merge_source
            if source is None:
                return False
            target = f"{self.resolve(source) if isinstance(source, Ref) else source}{layout.MERGED_SUFFIX}"
        if not Path(str(target)).exists():
            return False
        self._not_launched(stage.name, entry, f"{target} already exists and ms-swift refuses to overwrite a merged "
                           f"model: remove it, or --set {stage.name}.output_dir=NEW_FOLDER")
        return True

    def _not_launched(self, name: str, entry: dict[str, Any], reason: str) -> State:
        assert self.record is not None
        entry.update(state=State.FAILED.value, reason=reason)
        self.opts.say(f"[swiftpipe] {name}: not launched: {reason}")
        self.record.save()
        return State.FAILED

    def _launch(self, stage: Stage, rendered: RenderedStage, fingerprint: str, entry: dict[str, Any]) -> State:
        assert self.record is not None
        command = rendered.command
        script, log = self.record.path_for(stage.name, ".sh"), self.record.path_for(stage.name, ".log")
        argv, env = [self.swift, *command.argv[1:]], {**os.environ, **command.environment}
        text = rendered.script
        if self.loaded.slurm is not None:  # inside an allocation: the sbatch script, whose srun starts ms-swift
            text = sbatch_script(self.recipe, stage, self.loaded.source, self.loaded.slurm, dialect=self.dialect,
                                 resolve=self.resolve, self_path=str(script), output=entry.get("slurm_out", ""))
            argv = ["bash", str(script)]
            env = {**os.environ, "PATH": f"{os.path.dirname(self.swift)}{os.pathsep}{os.environ.get('PATH', '')}"}
        script.write_text(text, encoding="utf-8")
        log.write_bytes(b"")
        before = _run_dirs_of(stage)
        kept = {k: entry[k] for k in _SLURM_KEYS if k in entry}
        entry.clear()
        entry.update(state=State.RUNNING.value, started=records.now(), command=command.argv,
                     env=command.environment, script=str(script), log=str(log), fingerprint=fingerprint, **kept)
        self.record.save()
        self.opts.say(f"[swiftpipe] {stage.name}: {' '.join(command.argv[:2])} (log: {log})")
        attach = stage.interactive
        watcher = StageWatcher(stage.name, echo=self.opts.echo)
        outcome = launch(argv, env=env, log=log, on_output=watcher.output, attach=attach, grace=self.opts.grace,
                         tick=lambda: (watcher.tick(), self._note_run_dir(stage, watcher, entry)))
        outputs = _collect(stage, watcher.found, before)
        state = State.INTERRUPTED if outcome.interrupted else State.DONE if outcome.exit_code == 0 else State.FAILED
        entry.update(state=state.value, ended=records.now(), seconds=round(outcome.seconds, 1),
                     exit_code=outcome.exit_code, outputs=outputs)
        if state is State.DONE and stage.trains and not outputs.get("last_checkpoint"):
            entry.update(state=State.FAILED.value, reason="ms-swift exited 0 but saved no complete checkpoint")
            state = State.FAILED
        if "final_loss" in outputs:
            entry["final_loss"] = outputs.pop("final_loss")
        if "answers" in outputs:
            entry["answers"] = outputs.pop("answers")
        self.record.save()
        if state is State.FAILED:
            self._report_failure(stage.name, log, entry)
        elif state is State.INTERRUPTED:
            how = " --launcher slurm" if self.loaded.slurm else ""
            self.opts.say(f"[swiftpipe] {stage.name}: interrupted; `swiftpipe run {self.loaded.path}{how} --resume` "
                          "continues the chain")
        return state

    def _note_run_dir(self, stage: Stage, watcher: StageWatcher, entry: dict[str, Any]) -> None:
        """Record a training run's folder as soon as ms-swift names it: a process killed outright (a Slurm time
        limit, the OOM killer) then still leaves a record that --resume can continue from."""
        assert self.record is not None
        if stage.trains and "run_dir" in watcher.found and "outputs" not in entry:
            entry["outputs"] = {"run_dir": watcher.found["run_dir"]}
            self.record.save()

    def _report_failure(self, name: str, log: Path, entry: dict[str, Any]) -> None:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL:]
        reason = entry.get("reason") or f"exit code {entry.get('exit_code')}"
        self.opts.say("\n".join([f"[swiftpipe] {name} failed ({reason}); last lines of {log}:",
                                 *("    " + line for line in tail)]))

    def _abort_rest(self, names: list[str], *, because: str) -> None:
        assert self.record is not None
        for name in names:
            entry = self.record.stage(name)
            entry.clear()
            entry.update(state=State.ABORTED.value, reason=because)


def checkpoint_to_resume(stage: Stage, entry: dict[str, Any]) -> str | None:
    """The last complete checkpoint of a training stage that failed or was stopped, to continue from."""
    if not stage.trains or entry.get("state") not in (State.FAILED.value, State.INTERRUPTED.value):
        return None
    run_dir = entry.get("outputs", {}).get("run_dir")
    saved = layout.checkpoints(Path(run_dir)) if run_dir else []
    return str(saved[-1]) if saved else None


def _run_dirs_of(stage: Stage) -> set[Path]:
    output_dir = stage.flags.get("output_dir")
    return set(layout.run_dirs(Path(str(output_dir))).values()) if stage.trains and output_dir else set()


def _collect(stage: Stage, found: dict[str, str], before: set[Path]) -> dict[str, Any]:
    """What this stage produced, as ms-swift reported it; for a training run, the folder this run created."""
    outputs: dict[str, Any] = {}
    if stage.trains:
        run_dir = Path(found["run_dir"]) if "run_dir" in found else None
        if run_dir is None and stage.flags.get("output_dir"):
            created = set(layout.run_dirs(Path(str(stage.flags["output_dir"]))).values()) - before
            run_dir = created.pop() if len(created) == 1 else None
        if run_dir is not None:
            result = layout.read_training(run_dir)
            outputs.update(run_dir=str(run_dir), final_loss=result.final_loss,
                           last_checkpoint=str(result.last_checkpoint) if result.last_checkpoint else None,
                           best_checkpoint=str(result.best_checkpoint) if result.best_checkpoint else None)
    elif stage.command == "export" and "merged" in found:
        outputs["merged"] = found["merged"]
    elif stage.command == "infer" and "results" in found:
        outputs["results"] = found["results"]
        outputs["answers"] = _answers(Path(found["results"]))
    return outputs


def _answers(path: Path, limit: int = 20) -> list[dict[str, str]]:
    answers = []
    if not path.is_file():
        return answers
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:limit]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        question = next((m.get("content") for m in reversed(row.get("messages", [])) if m.get("role") == "user"), None)
        answers.append({"question": question, "answer": row.get("response")})
    return answers


def _fingerprint(rendered: RenderedStage) -> str:
    text = json.dumps([rendered.command.argv, sorted(rendered.command.env)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
