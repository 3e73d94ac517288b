"""`swiftpipe export-scripts`: one standalone bash script per stage, and run_all.sh for the chain.

Where a stage uses what an earlier stage produced, its script finds it in shell from that stage's
`--output_dir`, the way ms-swift lays it out (see templates/_find_checkpoint.sh.j2). The Slurm form of the same
scripts (slurm/script.py) uses `ShellInputs` and `write_scripts` from here.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from swiftpipe.errors import UserError
from swiftpipe.recipe.loading import Source
from swiftpipe.recipe.model import Recipe, Ref, Stage
from swiftpipe.render.commands import build_command, source_file
from swiftpipe.render.dialects import Dialect
from swiftpipe.render.templating import ShellText, render_template

_FUNCTIONS = {
    "last_checkpoint": "swiftpipe_last_checkpoint",
    "best_checkpoint": "swiftpipe_best_checkpoint",
    "run_dir": "swiftpipe_run_dir",
}


class ShellInput(NamedTuple):
    """A shell variable set from a lookup: `variable="$(function directory)"suffix`."""

    variable: str
    function: str
    directory: str  # the producing stage's output_dir
    suffix: str  # appended to what the function prints


class ShellInputs:
    """A resolver for standalone scripts: each reference becomes a shell variable, found in shell when the script
    runs; `found` lists the lookups in the order the stage's flags use them."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.found: list[ShellInput] = []

    def __call__(self, ref: Ref) -> ShellText | str:
        located = _locate(self.recipe, ref)
        if isinstance(located, str):
            return located
        if located not in self.found:
            self.found.append(located)
        return ShellText(f'"${located.variable}"')


def export(recipe: Recipe, source: Source, directory: str | Path, *, dialect: Dialect,
           force: bool = False) -> list[Path]:
    """Write `<stage>.sh` for every stage and run_all.sh; refuse to overwrite existing ones unless `force`."""
    folder = Path(directory)
    contents = {f"{s.name}.sh": _stage_script(recipe, s, source, folder, dialect) for s in recipe.stages}
    contents["run_all.sh"] = render_template("run_all.sh.j2", recipe=recipe.name, scripts=list(contents),
                                             self_path=str(folder / "run_all.sh"))
    return write_scripts(folder, contents, force=force)


def write_scripts(folder: Path, contents: dict[str, str], *, force: bool) -> list[Path]:
    """Write each named text as an executable file in `folder`; nothing is written if one exists, unless `force`."""
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


def _stage_script(recipe: Recipe, stage: Stage, source: Source, folder: Path, dialect: Dialect) -> str:
    inputs = ShellInputs(recipe)
    command = build_command(recipe, stage, dialect=dialect, resolve=inputs)
    return render_template("script.sh.j2", recipe=recipe.name, stage=stage.name, dialect=str(dialect),
                           self_path=str(folder / f"{stage.name}.sh"), command=command, inputs=inputs.found,
                           rerun=f"swiftpipe export-scripts {source.path} {folder}")


def _locate(recipe: Recipe, ref: Ref) -> ShellInput | str:
    """How a script finds `ref`: a shell lookup, or a plain path when the producer names it outright."""
    producer = recipe.stage(ref.stage)
    variable = re.sub(r"\W", "_", f"{ref.stage}_{ref.kind}").upper()
    if ref.kind == "merged":
        if producer.flags.get("output_dir") is not None:
            return str(producer.flags["output_dir"])
        merged_from = producer.merge_source
        if isinstance(merged_from, Ref):  # ms-swift writes `<checkpoint>-merged` beside the checkpoint
            found = _locate(recipe, merged_from)
            if isinstance(found, ShellInput):
                return ShellInput(variable, found.function, found.directory, "-merged")
            return f"{found}-merged"
        if isinstance(merged_from, (str, Path)):
            return f"{merged_from}-merged"
        raise UserError(f"{_where(recipe, producer)}: cannot tell where stage {producer.name!r} writes its merged "
                        "model; give it --output_dir")
    return ShellInput(variable, _FUNCTIONS[ref.kind], _output_dir(recipe, producer), "")


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
