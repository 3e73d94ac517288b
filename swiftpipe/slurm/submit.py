"""A chain as Slurm jobs: submitted at once with --dependency=afterok, tracked in the run record.

Each job runs `swiftpipe job RECORD STAGE` (see job.py), which reads its inputs from the record when it starts
and writes its own stage's outcome there, as a local run does. What a job cannot write itself (it has not
started, its dependency failed, Slurm killed it) comes from polling Slurm: `refresh`.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from swiftpipe import console
from swiftpipe.data.cache import CheckCache
from swiftpipe.errors import Exit, UserError
from swiftpipe.msswift.dialects import Dialect
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.records import history, run_record
from swiftpipe.records.run_record import (
    CHECKED_DIR,
    ENDED,
    Job,
    LauncherInfo,
    RunRecord,
    StageRecord,
    State,
)
from swiftpipe.render.commands import build_command
from swiftpipe.run import preflight, run_lock
from swiftpipe.run.backend import backend_of
from swiftpipe.run.plan import Action, Plan, carry_out
from swiftpipe.run.plan import plan as make_plan
from swiftpipe.run.resolve import References
from swiftpipe.slurm import client
from swiftpipe.slurm.client import JobState
from swiftpipe.slurm.job import submitted_settings
from swiftpipe.slurm.options import SlurmPlan
from swiftpipe.slurm.script import job_script

POLL_SECONDS = float(os.environ.get("SWIFTPIPE_SLURM_POLL", "10"))
LIVE = (State.QUEUED, State.RUNNING)
# Job states in which Slurm stopped a job that had not failed: its time limit, a preemption. The stage was
# interrupted (--resume continues from its last checkpoint, or finds it had finished), not failed.
STOPPED_BY_SLURM = frozenset({"TIMEOUT", "PREEMPTED", "DEADLINE"})


def submit(loaded: LoadedRecipe, plan: SlurmPlan, dialect: Dialect, *, work_dir: Path, stages: list[str] | None,
           resume: bool, master_port: int | None, say: Callable[[str], None], recheck: bool = False) -> RunRecord:
    """Check, then sbatch every stage of the chain (from the first unfinished one, with `resume`). The chain and its
    output folders are claimed while it is submitted, as for a local run: two submissions at once make one."""
    client.available()
    chosen = stages or loaded.recipe.stage_names
    with run_lock.claimed(work_dir, run_lock.claims(loaded, chosen), who=f"swiftpipe run {loaded.path} --launcher "
                          f"slurm, since {run_record.now()[11:19]}"):
        return _submit(loaded, plan, dialect, work_dir=work_dir, stages=stages, resume=resume, say=say,
                       recheck=recheck, master_port=master_port)


def _submit(loaded: LoadedRecipe, plan: SlurmPlan, dialect: Dialect, *, work_dir: Path, stages: list[str] | None,
            resume: bool, master_port: int | None, say: Callable[[str], None], recheck: bool) -> RunRecord:
    previous = _resumable(work_dir, loaded) if resume else None
    names = stages or loaded.recipe.stage_names
    steps = make_plan(loaded, dialect, names, work_dir=work_dir, record=previous, resume=resume, interactive=False)
    if previous is not None and not steps.launched:  # what the plan settles is still recorded
        with run_record.locked(previous.folder) as record:
            record.include(names)
            _submit_steps(record, loaded, plan, dialect, steps, say)
            record.state = chain_state(record)
            record.save()
        say(f"[swiftpipe] every stage of run {record.id} has finished; nothing to submit")
        return record
    references = References(loaded, work_dir, names, previous)
    references.check()
    checked = None if recheck else CheckCache(work_dir / CHECKED_DIR)
    preflight.check_overrides(loaded, dialect)
    for warning in preflight.check(loaded.recipe, [step.stage for step in steps.launched], where=loaded.path,
                                   gpus=0, allocation=True, checked=checked):
        console.warn(warning)
    preflight.swift_executable()
    record = previous or run_record.create(work_dir, loaded, stages=names)
    with run_record.locked(record.folder) as record:
        record.launcher = LauncherInfo("slurm", submitted_settings(loaded, plan.options, dialect, master_port,
                                                                   folder=record.folder))
        record.given(loaded)
        record.include(names)
        _submit_steps(record, loaded, plan, dialect, steps, say)
        record.state = chain_state(record)
        record.save()
    return record


def _submit_steps(record: RunRecord, loaded: LoadedRecipe, plan: SlurmPlan, dialect: Dialect, steps: Plan,
                  say: Callable[[str], None]) -> None:
    """sbatch each step that launches, with the plan's gate as its dependency (afterok, afterany); the others are
    written into the record as the plan settled them. Secrets go to the jobs in sbatch's environment, never in a
    file."""
    jobs: dict[str, str] = {}
    for step in steps.steps:
        entry = record.stage(step.stage)
        if not step.launches:
            carry_out(step, entry, loaded.recipe.stage(step.stage))
            if step.said:
                say(f"[swiftpipe] {step.stage}: {step.said}")
            continue
        if step.said and step.action is not Action.CONTINUE:
            say(f"[swiftpipe] {step.stage}: {step.said}")
        stage = loaded.recipe.stage(step.stage)
        entry.restart(State.QUEUED)
        script, output = record.path_for(step.stage, ".sbatch"), record.path_for(step.stage, ".slurm.out")
        script.write_text(job_script(loaded.recipe, stage, plan, run_id=record.id, record=str(record.folder.resolve()),
                                     python=sys.executable, output=str(output.resolve()), chdir=os.getcwd()),
                          encoding="utf-8")
        secrets = build_command(loaded.recipe, stage, dialect=dialect).secrets
        after_ok, after_end = [jobs[name] for name in step.after_ok], [jobs[name] for name in step.after_end]
        try:
            job_id = client.submit(script, after=after_ok, after_any=after_end, env=secrets)
        except client.SlurmError:
            client.cancel(list(jobs.values()))
            for other in steps.launched:  # what the plan settled stays as it is
                record.stage(other.stage).restart(State.ABORTED, "the chain's submission failed")
            record.state = chain_state(record)
            record.save()
            raise
        jobs[step.stage] = job_id
        entry.job = Job(job_id, run_record.now(), str(script), str(output))
        entry.resume_from = step.resume_from
        waits = [*(f"job {job}" for job in after_ok), *(f"job {job} ends" for job in after_end)]
        say(f"[swiftpipe] {step.stage}: job {job_id}" + (f" (after {' and '.join(waits)})" if waits else "")
            + (f", continuing from {step.resume_from}" if step.resume_from else ""))


def _resumable(work_dir: Path, loaded: LoadedRecipe) -> RunRecord:
    previous = history.latest(work_dir, loaded.key)
    if previous is None:
        raise UserError(f"{loaded.path}: no earlier run of this recipe with these parameters to resume "
                        f"(runs are recorded under {work_dir})")
    backend = backend_of(previous)
    previous = backend.settle(previous)
    going = backend.going(previous)
    if going is not None:
        raise UserError(f"{loaded.path}: run {previous.id} is still going: {going}; wait for it, or "
                        f"swiftpipe cancel {loaded.path}")
    return previous


def refresh(record: RunRecord) -> RunRecord:
    """The record with what Slurm says of every job whose outcome is not known yet."""
    with run_record.locked(record.folder) as current:
        polled = {e.job.id: n for n, e in current.stages.items() if e.job and e.job.state in client.ACTIVE}
        if not polled:
            return current
        found = client.states(list(polled))
        for job_id, name in polled.items():
            apply_slurm_state(current.stages[name], found.get(job_id))
        # A dependant of a failed job would sit in the queue for good (Slurm's default): it is aborted, so go.
        client.cancel([j for j in polled if found.get(j) and found[j].reason == client.NEVER
                       and found[j].state == "PENDING"])
        current.state = chain_state(current)
        current.save()
        return current


def apply_slurm_state(entry: StageRecord, job: JobState | None) -> None:
    """Slurm's word on a stage's job (None: Slurm no longer knows it), where the job could not write its own
    outcome."""
    assert entry.job is not None, "only a stage with a job is polled"
    job_id = entry.job.id
    if job is None:
        if entry.state not in ENDED:
            entry.end(State.FAILED, f"Slurm no longer knows job {job_id} and the job recorded no outcome (it ended "
                      "longer ago than Slurm's MinJobAge)")
        entry.job.state = "FORGOTTEN"
        return
    entry.job.state, entry.job.reason, entry.job.exit_code = job.state, job.reason, job.exit_code or None
    if entry.state in ENDED:
        return
    if job.reason == client.NEVER:
        entry.end(State.ABORTED, f"job {job_id} would never start, as a job it depends on failed; it was cancelled")
    elif job.state == "PENDING":
        entry.waits_or_runs(State.QUEUED)
    elif job.active:
        entry.waits_or_runs(State.RUNNING)
    elif job.state == "CANCELLED":
        entry.end(State.INTERRUPTED, f"job {job_id} was cancelled")
    elif job.state in STOPPED_BY_SLURM:
        entry.end(State.INTERRUPTED, f"Slurm stopped job {job_id}: {job.state} ({job.reason}); see {entry.job.output}")
    else:
        entry.end(State.FAILED, f"Slurm ended job {job_id} {job.state} ({job.reason}), exit code {job.exit_code}; "
                  f"see {entry.job.output}")


def chain_state(record: RunRecord) -> State:
    states = [record.state_of(n) for n in record.stages]
    for state in (State.RUNNING, State.QUEUED, State.FAILED, State.INTERRUPTED, State.ABORTED):
        if state in states:
            return State.RUNNING if state is State.QUEUED else state
    return State.DONE


def cancel(record: RunRecord, say: Callable[[str], None]) -> list[str]:
    """scancel every job of the run that is still queued or running; returns their ids."""
    record = refresh(record)
    with run_record.locked(record.folder) as current:
        live = {e.job.id: n for n, e in current.stages.items() if e.job and e.state in LIVE}
        client.cancel(list(live))
        for job_id, name in live.items():
            current.stages[name].end(State.INTERRUPTED, f"job {job_id} cancelled by swiftpipe cancel")
            say(f"[swiftpipe] {name}: cancelled job {job_id}")
        current.state = chain_state(current)
        current.save()
    return list(live)


def wait(record: RunRecord, say: Callable[[str], None], *, poll: float = POLL_SECONDS) -> int:
    """Block until no job of the run is queued or running, saying each change; 0 when every stage finished,
    1 when one failed or was stopped. Ctrl-C stops the waiting, not the jobs."""
    seen: dict[str, str] = {}
    with console.err_console.status("waiting for Slurm") as status:
        while True:
            record = refresh(record)
            for name, entry in record.stages.items():
                shown = entry.state.value + (f" ({entry.reason})" if entry.reason else "")
                if seen.get(name) != shown:
                    seen[name] = shown
                    say(f"[swiftpipe] {name}:{f' job {entry.job.id}' if entry.job else ''} {shown}")
                    if entry.state is State.FAILED:
                        say(_tail(entry))
            state = chain_state(record)
            if state is not State.RUNNING:
                _until_slurm_agrees(record, poll)
                return Exit.DONE if state is State.DONE else Exit.FAILED
            status.update(f"waiting for Slurm: {', '.join(n for n, e in record.stages.items() if e.state in LIVE)}")
            time.sleep(poll)


def _until_slurm_agrees(record: RunRecord, poll: float, *, timeout: float = 60.0) -> None:
    """Once every stage has its outcome, the last jobs may still be exiting: wait (a minute at most) for Slurm's
    final word on each, so that the record ends with its state and exit code."""
    deadline = time.monotonic() + timeout
    while any(e.job and e.job.state in client.ACTIVE for e in record.stages.values()) and time.monotonic() < deadline:
        time.sleep(min(poll, 1.0))
        record = refresh(record)


def _tail(entry: StageRecord, lines: int = 20) -> str:
    """The last lines of a failed stage's log (ms-swift's output), else of its Slurm output file."""
    for name in (entry.log, entry.job.output if entry.job else None):
        path = Path(name or "")
        if name and path.is_file() and path.stat().st_size:
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            return "\n".join([f"    last lines of {path}:", *("    " + line for line in tail)])
    return "    (no output was written)"
