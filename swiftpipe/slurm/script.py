"""A stage as an sbatch script: the #SBATCH resources, the recipe's environment, and an `srun` line that starts
ms-swift on every node with NNODES, NODE_RANK and MASTER_ADDR taken from Slurm's own variables.

The same text is what `render --launcher slurm` prints, what `export-scripts --launcher slurm` writes (inputs
found in shell), and what a job submitted by `run --launcher slurm` runs (inputs read from the run record).
"""
from __future__ import annotations

import re
from pathlib import Path

from swiftpipe.msswift.dialects import Dialect
from swiftpipe.recipe.loading import LoadedRecipe, Source
from swiftpipe.recipe.model import Recipe, Stage
from swiftpipe.render.commands import Resolver, build_command, placeholder
from swiftpipe.render.export import Layout, ShellInput, ShellInputs, layout_of, write_scripts
from swiftpipe.render.templating import ShellText, render_template
from swiftpipe.run.plan import Step, plan
from swiftpipe.slurm.options import SlurmPlan

SLURM_DERIVED = ("NNODES", "NODE_RANK", "MASTER_ADDR")  # the job script reads these from Slurm
EXPORT_OUTPUT = "%x-%j.out"  # Slurm's own pattern: job name and id, in the folder sbatch ran in


def job_name(recipe: Recipe, stage: Stage) -> str:
    return f"{recipe.name}-{stage.name}"


def sbatch_script(recipe: Recipe, stage: Stage, source: Source, plan: SlurmPlan, *, dialect: Dialect,
                  resolve: Resolver = placeholder, inputs: list[ShellInput] | None = None,
                  self_path: str | None = None, output: str = EXPORT_OUTPUT, chdir: str | None = None,
                  layout: Layout | None = None) -> str:
    """The job script of `stage`. `inputs` are the shell lookups that the resolver's ShellText refers to;
    `resolve` fills every reference in before that list is read. With a `layout` (an export), a training stage
    records the run folder it made, for the lookups of later stages."""
    command = build_command(recipe, stage, dialect=dialect, resolve=resolve).secrets_from_environment()
    resources = plan.resources[stage.name]
    env = [(name, value) for name, value in command.env if name not in SLURM_DERIVED]
    return render_template(
        "sbatch.sh.j2", recipe=recipe.name, stage=stage.name, dialect=str(dialect), command=command, env=env,
        job_name=job_name(recipe, stage), resources=resources, slurm=plan.options, output=output, chdir=chdir,
        multi_node=resources.nodes > 1, inputs=[] if inputs is None else inputs, rerun=source.command("render"),
        self_path=self_path or f"{stage.name}.sbatch", layout=layout,
        made_run=layout and layout.made_run(recipe, stage, command.subcommand))


def export(loaded: LoadedRecipe, directory: str | Path, resources: SlurmPlan, *, dialect: Dialect,
           force: bool = False, project: str | Path | None = None) -> list[Path]:
    """`<stage>.sbatch` for each step of a fresh run's plan (a chat, which needs a terminal, is none), inputs found
    in shell, and submit_all.sh submitting each with the plan's gate as its dependency. Each job starts in the
    project (`--chdir`), where the recipe's relative paths lead."""
    folder = Path(directory)
    layout = layout_of(folder, project)
    recipe, contents = loaded.recipe, {}
    steps = plan(loaded, dialect, recipe.stage_names, work_dir=Path(), interactive=False)
    for step in steps.launched:
        stage, inputs = recipe.stage(step.stage), ShellInputs(recipe)
        contents[f"{stage.name}.sbatch"] = sbatch_script(recipe, stage, loaded.source, resources, dialect=dialect,
                                                         resolve=inputs, inputs=inputs.found, chdir=str(layout.project),
                                                         self_path=str(folder / f"{stage.name}.sbatch"), layout=layout)
    variables = _job_variables([step.stage for step in steps.launched])
    contents["submit_all.sh"] = render_template("submit_all.sh.j2", recipe=recipe.name,
                                                self_path=str(folder / "submit_all.sh"),
                                                jobs=[_submitted(step, variables) for step in steps.launched])
    return write_scripts(folder, contents, force=force)


def _submitted(step: Step, variables: dict[str, str]) -> tuple[str, str, ShellText | None]:
    """A step as submit_all.sh submits it: the variable its job id goes in, its script, and its dependency on the
    jobs of the steps it waits for (a shell word that reads their variables)."""
    gate = [f"afterok:${{{variables[name]}}}" for name in step.after_ok]
    gate += [f"afterany:${{{variables[name]}}}" for name in step.after_end]
    return variables[step.stage], f"{step.stage}.sbatch", ShellText(f'"{",".join(gate)}"') if gate else None


def _job_variables(stages: list[str]) -> dict[str, str]:
    """A shell variable for each stage's job id, each its own (`a-b` and `a_b` would both be job_a_b)."""
    variables: dict[str, str] = {}
    for stage in stages:
        base = "job_" + re.sub(r"\W", "_", stage)
        variables[stage] = next(f"{base}{n or ''}" for n in range(len(stages) + 1)
                                if f"{base}{n or ''}" not in variables.values())
    return variables


def job_script(recipe: Recipe, stage: Stage, plan: SlurmPlan, *, run_id: str, record: str, python: str,
               output: str, chdir: str) -> str:
    """What `run --launcher slurm` submits: the resources, then swiftpipe running the stage inside the job."""
    return render_template(
        "sbatch_job.sh.j2", recipe=recipe.name, stage=stage.name, job_name=job_name(recipe, stage),
        resources=plan.resources[stage.name], slurm=plan.options, output=output, chdir=chdir, run_id=run_id,
        record=record, python=python)
