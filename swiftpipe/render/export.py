"""`swiftpipe export-scripts`: one standalone bash script per stage, and run_all.sh for the chain.

Where a stage uses what an earlier stage produced, its script finds it in shell from that stage's
`--output_dir`, the way ms-swift lays it out (see templates/_find_checkpoint.sh.j2).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from swiftpipe.render.dialects import Dialect
from swiftpipe.errors import UserError
from swiftpipe.recipe.model import Recipe, Ref, Stage
from swiftpipe.render.commands import Source, build_command, source_file
from swiftpipe.slurm.options import SlurmPlan
from swiftpipe.slurm.script import sbatch_script
from swiftpipe.render.templating import ShellText, render_template

_FUNCTIONS = {
    "last_checkpoint": "swiftpipe_last_checkpoint",
    "best_checkpoint": "swiftpipe_best_checkpoint",
    "run_dir": "swiftpipe_run_dir",
}

# (variable, shell function, output_dir it searches, suffix appended to what the function prints)
Input = tuple[str, str, str, str]


def export(recipe: Recipe, source: Source, directory: str | Path, *, dialect: Dialect, force: bool = False,
           slurm: SlurmPlan | None = None) -> list[Path]:
    """Write the scripts; refuse to overwrite existing ones unless `force`. Returns the paths written.
    With a Slurm plan: one sbatch script per stage (an interactive chat has no batch form) and submit_all.sh."""
    folder = Path(directory)
    if slurm is None:
        contents = {f"{s.name}.sh": _stage_script(recipe, s, source, folder, dialect) for s in recipe.stages}
        contents["run_all.sh"] = render_template("run_all.sh.j2", recipe=recipe.name, scripts=list(contents),
                                                 self_path=str(folder / "run_all.sh"))
    else:
        contents = {f"{s.name}.sbatch": _stage_script(recipe, s, source, folder, dialect, slurm)
                    for s in recipe.stages if not s.interactive}
        contents["submit_all.sh"] = render_template("submit_all.sh.j2", recipe=recipe.name, scripts=list(contents),
                                                    self_path=str(folder / "submit_all.sh"))
    existing = [name for name in contents if (folder / name).exists()]
    if existing and not force:
        raise UserError(f"{folder / existing[0]} already exists (use --force to overwrite)")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in contents.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o755)
        written.append(path)
    return written


def _stage_script(recipe: Recipe, stage: Stage, source: Source, folder: Path, dialect: Dialect,
                  slurm: SlurmPlan | None = None) -> str:
    inputs: list[Input] = []  # the shell lookups this stage needs, in the order its flags use them

    def resolve(ref: Ref) -> ShellText | str:
        found = _locate(recipe, ref)
        if isinstance(found, str):
            return found
        if found not in inputs:
            inputs.append(found)
        return ShellText(f'"${found[0]}"')

    if slurm is not None:
        return sbatch_script(recipe, stage, source, slurm, dialect=dialect, resolve=resolve, inputs=inputs,
                             self_path=str(folder / f"{stage.name}.sbatch"))
    command = build_command(recipe, stage, dialect=dialect, resolve=resolve)
    rerun = f"swiftpipe export-scripts {source.path} {folder}"
    return render_template("script.sh.j2", recipe=recipe.name, stage=stage.name, dialect=str(dialect),
                           self_path=str(folder / f"{stage.name}.sh"), rerun=rerun, command=command,
                           inputs=inputs)


def _locate(recipe: Recipe, ref: Ref) -> Input | str:
    """How a script finds `ref`: a shell lookup, or a plain path when the producer names it outright."""
    producer = recipe.stage(ref.stage)
    variable = re.sub(r"\W", "_", f"{ref.stage}_{ref.kind}").upper()
    if ref.kind == "merged":
        if producer.flags.get("output_dir") is not None:
            return str(producer.flags["output_dir"])
        merged_from = producer.merge_source
        if isinstance(merged_from, Ref):  # ms-swift writes `<checkpoint>-merged` beside the checkpoint
            _, function, directory, _ = _locate(recipe, merged_from)  # type: ignore[misc]
            return (variable, function, directory, "-merged")
        if isinstance(merged_from, (str, Path)):
            return f"{merged_from}-merged"
        raise UserError(f"{_where(recipe, producer)}: cannot tell where stage {producer.name!r} writes its merged "
                        "model; give it --output_dir")
    return (variable, _FUNCTIONS[ref.kind], _output_dir(recipe, producer), "")


def _output_dir(recipe: Recipe, producer: Stage) -> str:
    """The stage's --output_dir, or ms-swift's default `output/<basename of --model>` for a literal model."""
    if producer.flags.get("output_dir") is not None:
        return str(producer.flags["output_dir"])
    model = producer.flags.get("model")
    if isinstance(model, (str, Path)):
        return f"output/{Path(str(model)).name}"
    raise UserError(f"{_where(recipe, producer)}: stage {producer.name!r} has no --output_dir; set one so that "
                    "later scripts can find its checkpoints")


def _where(recipe: Recipe, stage: Stage) -> str:
    return str(stage.origin or source_file(recipe))
