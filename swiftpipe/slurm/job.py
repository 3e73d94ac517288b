"""Inside a Slurm job: one stage of a recorded chain, run as a local run would run it.

The job reloads the recipe as it was submitted (the record keeps the invocation), takes its inputs from what
earlier jobs recorded, writes `<stage>.sh` (the sbatch script with every path filled in) beside the record and
runs it: srun then starts ms-swift on every node of the allocation. Its outcome and outputs go into its own
stage's entry, and its exit code is Slurm's, so `--dependency=afterok` holds the rest of the chain back.
"""
from __future__ import annotations

from pathlib import Path

from swiftpipe.render import dialects as dialect
from swiftpipe.recipe import loading as loader
from swiftpipe.run import preflight
from swiftpipe.run import run_record as records
from swiftpipe.run.run_record import FINISHED, State
from swiftpipe.recipe.scale import Scale
from swiftpipe.slurm.options import SlurmOptions


def run_job(folder: Path, stage: str) -> int:
    from swiftpipe.run.chain import Runner, RunOptions

    with records.locked(folder) as record:  # waits until the submission that started this job has been saved
        invocation = record.data["launcher"]["invocation"]
    loaded = loader.load(invocation["path"], params=invocation["params"], sets=invocation["sets"],
                         scale=Scale(master_port=invocation["master_port"]),
                         slurm=SlurmOptions.from_dict(invocation["slurm"]))
    runner = Runner(loaded, dialect.target(invocation["swift_version"]),
                    RunOptions(work_dir=folder.parent.parent, stages=[stage], interactive=False, echo=False))
    runner.record = records.RunRecord(folder, record.data, owns=stage)
    runner.swift = preflight.swift_executable()
    state = runner.run_in_allocation(stage)
    return 0 if state in FINISHED else 130 if state is State.INTERRUPTED else 1
