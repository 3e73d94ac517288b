"""A chain as Slurm jobs: submitted at once with --dependency=afterok, tracked in the run record.

Each job runs `swiftpipe job RECORD STAGE` (see job.py), which reads its inputs from the record when it
starts and writes its own stage's outcome there, as a local run does. What a job cannot write itself (it has
not started, its dependency failed, Slurm killed it) comes from polling Slurm: `refresh`.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable

from swiftpipe.run import preflight
from swiftpipe.run import run_record as records
from swiftpipe.render.dialects import Dialect
from swiftpipe.errors import UserError
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.run.run_record import ENDED, FINISHED, RunRecord, State
from swiftpipe.slurm import client
from swiftpipe.slurm.client import JobState
from swiftpipe.slurm.script import job_script

POLL_SECONDS = float(os.environ.get("SWIFTPIPE_SLURM_POLL", "10"))


def submit(loaded: LoadedRecipe, dialect: Dialect, *, work_dir: Path, stages: list[str] | None, resume: bool,
           master_port: int | None, say: Callable[[str], None]) -> RunRecord:
    """Check, then sbatch every stage of the chain (from the first unfinished one, with `resume`)."""
    from swiftpipe.run.chain import Runner, RunOptions

    assert loaded.slurm is not None
    client.available()
    previous = _resumable(work_dir, loaded) if resume else None
    names = _to_submit(previous, loaded, stages)
    if not names:  # only a resumed run can have none left
        assert previous is not None
        raise UserError(f"{loaded.path}: every stage of run {previous.id} finished; nothing to resubmit")
    runner = Runner(loaded, dialect, RunOptions(work_dir=work_dir, stages=names))
    runner.check_references()
    for warning in preflight.check(loaded.recipe, names, where=loaded.path, gpus=0, allocation=True):
        say(f"warning: {warning}")
    preflight.swift_executable()
    record = previous or records.create(
        work_dir, recipe_name=loaded.recipe.name, recipe_path=loaded.path,
        params=records.jsonable(loaded.values), sets=list(loaded.source.sets), stages=names)
    invocation = {"path": loaded.path, "params": list(loaded.source.params), "sets": list(loaded.source.sets),
                  "master_port": master_port, "slurm": loaded.slurm.options.as_dict(), "swift_version": str(dialect)}
    with records.locked(record.folder) as record:
        record.data["launcher"] = {"name": "slurm", "invocation": invocation}
        record.data["recipe"]["sets"] = list(loaded.source.sets)
        _submit_stages(record, loaded, names, say)
        record.data["state"] = chain_state(record).value
        record.save()
    return record


def _submit_stages(record: RunRecord, loaded: LoadedRecipe, names: list[str], say: Callable[[str], None]) -> None:
    from swiftpipe.run.chain import checkpoint_to_resume

    assert loaded.slurm is not None
    after: str | None = None
    submitted: list[str] = []
    for name in names:
        stage = loaded.recipe.stage(name)
        entry = record.stage(name)
        resume_from = checkpoint_to_resume(stage, entry)
        entry.clear()
        if stage.interactive:
            entry.update(state=State.SKIPPED.value, reason=f"an interactive chat has no batch job; "
                         f"`swiftpipe chat {loaded.path}` opens it")
            continue
        script = record.path_for(name, ".sbatch")
        output = record.path_for(name, ".slurm.out")
        script.write_text(job_script(loaded.recipe, stage, loaded.slurm, run_id=record.id,
                                     record=str(record.folder.resolve()), python=sys.executable,
                                     output=str(output.resolve()), chdir=os.getcwd()), encoding="utf-8")
        try:
            job_id = client.submit(script, after=after)
        except client.SlurmError:
            client.cancel(submitted)
            for other in names:
                record.stage(other).update(state=State.ABORTED.value, reason="the chain's submission failed")
            record.save()
            raise
        submitted.append(job_id)
        entry.update(state=State.QUEUED.value, job_id=job_id, submitted=records.now(), sbatch=str(script),
                     slurm_out=str(output), **({"resume_from": resume_from} if resume_from else {}))
        say(f"[swiftpipe] {name}: job {job_id}" + (f" (after job {after})" if after else "")
            + (f", continuing from {resume_from}" if resume_from else ""))
        after = job_id


def _resumable(work_dir: Path, loaded: LoadedRecipe) -> RunRecord:
    previous = records.latest(work_dir, loaded.key)
    if previous is None:
        raise UserError(f"{loaded.path}: no earlier run of this recipe with these parameters to resume "
                        f"(runs are recorded under {work_dir})")
    previous = refresh(previous)
    busy = [f"{n} (job {e['job_id']}, {e['state']})" for n, e in previous.stages.items()
            if e.get("job_id") and State(e["state"]) in (State.QUEUED, State.RUNNING)]
    if busy:
        raise UserError(f"{loaded.path}: run {previous.id} is still going: {', '.join(busy)}; wait for it, or "
                        f"swiftpipe cancel {loaded.path}")
    return previous


def _to_submit(previous: RunRecord | None, loaded: LoadedRecipe, stages: list[str] | None) -> list[str]:
    names = stages or loaded.recipe.stage_names
    if previous is None:
        return list(names)
    for i, name in enumerate(names):
        if previous.state_of(name) not in FINISHED:
            return list(names[i:])
    return []


def refresh(record: RunRecord) -> RunRecord:
    """The record with what Slurm says of every job whose outcome is not known yet."""
    if record.data.get("launcher", {}).get("name") != "slurm":
        return record
    with records.locked(record.folder) as current:
        polled = {e["job_id"]: n for n, e in current.stages.items()
                  if e.get("job_id") and e.get("slurm", {}).get("state", "PENDING") in client.ACTIVE}
        if not polled:
            return current
        found = client.states(list(polled))
        for job_id, name in polled.items():
            _apply(current.stages[name], job_id, found.get(job_id))
        # A dependant of a failed job would sit in the queue for good (Slurm's default): it is aborted, so go.
        client.cancel([j for j in polled if found.get(j) and found[j].reason == client.NEVER
                       and found[j].state == "PENDING"])
        current.data["state"] = chain_state(current).value
        current.save()
        return current


def _apply(entry: dict, job_id: str, job: JobState | None) -> None:
    """Slurm's word on a job, where the job could not write its own outcome."""
    state = State(entry.get("state", State.PENDING.value))
    if job is None:
        if state not in ENDED:
            entry.update(state=State.FAILED.value, reason=f"Slurm no longer knows job {job_id} and the job recorded "
                         "no outcome (it ended longer ago than Slurm's MinJobAge)")
        entry.setdefault("slurm", {})["state"] = "FORGOTTEN"
        return
    entry["slurm"] = {"state": job.state, "reason": job.reason, **({"exit_code": job.exit_code}
                                                                   if job.exit_code else {})}
    if state in ENDED:
        return
    if job.reason == client.NEVER:
        entry.update(state=State.ABORTED.value, reason=f"job {job_id} would never start, as a job it depends on "
                     "failed; it was cancelled")
    elif job.state == "PENDING":
        entry["state"] = State.QUEUED.value
    elif job.active:
        entry["state"] = State.RUNNING.value
    elif job.state == "CANCELLED":
        entry.update(state=State.INTERRUPTED.value, reason=f"job {job_id} was cancelled")
    else:
        entry.update(state=State.FAILED.value, reason=f"Slurm ended job {job_id} {job.state} ({job.reason}), exit "
                     f"code {job.exit_code}; see {entry.get('slurm_out')}")


def _tail(entry: dict, lines: int = 20) -> str:
    """The last lines of a failed stage's log (ms-swift's output), else of its Slurm output file."""
    for key in ("log", "slurm_out"):
        path = Path(entry.get(key) or "")
        if entry.get(key) and path.is_file() and path.stat().st_size:
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            return "\n".join([f"    last lines of {path}:", *("    " + line for line in tail)])
    return "    (no output was written)"


def chain_state(record: RunRecord) -> State:
    states = [record.state_of(n) for n in record.stages]
    for state in (State.RUNNING, State.QUEUED, State.FAILED, State.INTERRUPTED, State.ABORTED):
        if state in states:
            return State.RUNNING if state is State.QUEUED else state
    return State.DONE


def cancel(record: RunRecord, say: Callable[[str], None]) -> list[str]:
    """scancel every job of the run that is still queued or running; returns their ids."""
    record = refresh(record)
    with records.locked(record.folder) as current:
        live = {e["job_id"]: n for n, e in current.stages.items()
                if e.get("job_id") and State(e["state"]) in (State.QUEUED, State.RUNNING)}
        client.cancel(list(live))
        for job_id, name in live.items():
            current.stages[name].update(state=State.INTERRUPTED.value, reason=f"job {job_id} cancelled by "
                                        "swiftpipe cancel")
            say(f"[swiftpipe] {name}: cancelled job {job_id}")
        current.data["state"] = chain_state(current).value
        current.save()
    return list(live)


def wait(record: RunRecord, say: Callable[[str], None], *, poll: float = POLL_SECONDS) -> int:
    """Block until no job of the run is queued or running, saying each change; 0 when every stage finished,
    1 when one failed or was stopped. Ctrl-C stops the waiting, not the jobs."""
    from swiftpipe.console import err_console

    seen: dict[str, str] = {}
    with err_console.status("waiting for Slurm") as status:
        while True:
            record = refresh(record)
            for name, entry in record.stages.items():
                shown = entry["state"] + (f" ({entry['reason']})" if entry.get("reason") else "")
                if seen.get(name) != shown:
                    seen[name] = shown
                    job = f" job {entry['job_id']}" if entry.get("job_id") else ""
                    say(f"[swiftpipe] {name}:{job} {shown}")
                    if entry["state"] == State.FAILED.value:
                        say(_tail(entry))
            state = chain_state(record)
            if state is not State.RUNNING:
                return 0 if state is State.DONE else 1
            going = [n for n in record.stages if record.state_of(n) in (State.QUEUED, State.RUNNING)]
            status.update(f"waiting for Slurm: {', '.join(going)}")
            time.sleep(poll)
