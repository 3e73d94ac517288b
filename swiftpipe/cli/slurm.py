"""`swiftpipe run --launcher slurm`'s submission and following, `swiftpipe cancel`, and the hidden `job`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from swiftpipe import console
from swiftpipe.cli.common import recipe_options, user_errors, vary_option, work_dir_option
from swiftpipe.errors import Exit

if TYPE_CHECKING:
    from swiftpipe.msswift.dialects import Dialect
    from swiftpipe.recipe.loading import LoadedRecipe
    from swiftpipe.slurm.options import SlurmOptions


def run_on_slurm(loaded: LoadedRecipe, options: SlurmOptions, dialect: Dialect, *, work_dir: Path,
                 stages: list[str] | None, resume: bool, wait: bool, master_port: int | None,
                 recheck: bool = False) -> int:
    """Submit the chain; with `wait`, follow it to the end. Returns the exit code."""
    from swiftpipe.cli import tables
    from swiftpipe.records.run_record import State
    from swiftpipe.slurm import submit
    from swiftpipe.slurm.options import adapt

    loaded, plan = adapt(loaded, options)
    record = submit.submit(loaded, plan, dialect, work_dir=work_dir, stages=stages, resume=resume,
                           master_port=master_port, say=console.say, recheck=recheck)
    if not any(entry.job is not None and entry.state in submit.LIVE for entry in record.stages.values()):
        console.console.print(tables.stage_table(record))  # nothing was submitted: the plan settled every stage
        return Exit.DONE if record.state is State.DONE else Exit.FAILED
    if not wait:
        console.console.print(tables.stage_table(record))
        console.say(f"submitted; follow with: swiftpipe status {loaded.path}   stop with: swiftpipe cancel "
                    f"{loaded.path}")
        return Exit.DONE
    try:
        code = submit.wait(record, console.say)
    except KeyboardInterrupt:
        console.say(f"stopped waiting; the jobs go on (swiftpipe status {loaded.path})", err=True)
        return Exit.INTERRUPTED
    console.console.print(tables.stage_table(submit.refresh(record)))
    return code


@click.command(epilog="""\b
Examples:
  swiftpipe cancel recipes/medical.py
  swiftpipe cancel recipes/medical.py -p sft=full --work-dir /scratch/runs
""")
@recipe_options
@vary_option
@work_dir_option
@user_errors
def cancel(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], varies: tuple[str, ...],
           work_dir: Path) -> None:
    """Cancel (scancel) the Slurm jobs of the latest run that are still queued or running.

    `swiftpipe run ... --launcher slurm --resume` later resubmits what did not finish, as a local --resume plans it.
    """
    from swiftpipe.cli.runs import latest_run
    from swiftpipe.run.backend import backend_of

    record = latest_run(recipe_path, params, sets, work_dir, varies)
    if not backend_of(record).cancel(record, console.say):
        console.say(f"run {record.id}: no job queued or running")


@click.command(hidden=True, epilog="""\b
Example (what every submitted job runs):
  swiftpipe job .swiftpipe/runs/medical-20261123-101500 sft
""")
@click.argument("record", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("stage")
@user_errors
def job(record: Path, stage: str) -> None:
    """Run one stage of a recorded chain inside its Slurm job (what `run --launcher slurm` submits)."""
    from swiftpipe.slurm.job import run_job

    sys.exit(run_job(record, stage))


COMMANDS = (cancel, job)
