"""`swiftpipe export-scripts`: one standalone bash script per stage (run/exported.py adds run_all.sh).

Where a stage uses what an earlier stage produced, its script finds it in shell from that stage's
`--output_dir`, the way ms-swift lays it out (see templates/_find_checkpoint.sh.j2). As the runner does, each
training stage's script records the run folder it made (in `.runs/` beside the scripts), and later scripts take
their inputs from that run, not from whichever is newest in a folder that another recipe may share. The scripts
start in the project they were exported from, wherever they are run from, so relative paths mean what they mean
to `swiftpipe run`. The Slurm form of the same scripts (slurm/script.py) uses what `Layout` and `ShellInputs` say.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from swiftpipe.errors import UserError
from swiftpipe.msswift.dialects import Dialect
from swiftpipe.msswift.layout import Output
from swiftpipe.recipe.model import Recipe, Ref, Stage, is_true
from swiftpipe.render.commands import build_command, source_file
from swiftpipe.render.templating import ShellText, render_template

_FUNCTIONS = {
    Output.LAST_CHECKPOINT: "swiftpipe_last_checkpoint",
    Output.BEST_CHECKPOINT: "swiftpipe_best_checkpoint",
    Output.RUN_DIR: "swiftpipe_run_dir",
}


TRAINING = ("pt", "sft", "rlhf")  # the subcommands that make a `vN-...` run folder under their output_dir


class ShellInput(NamedTuple):
    """A shell variable set from a lookup: `variable="$(function directory stage)"suffix`."""

    variable: str
    function: str
    directory: str  # the producing stage's output_dir
    stage: str  # the producing stage, whose script recorded the run folder it made
    suffix: str  # appended to what the function prints


@dataclass(frozen=True)
class Layout:
    """Where exported scripts sit in relation to the project they were exported from."""

    project: Path  # absolute
    folder: Path  # the scripts' folder, absolute

    @property
    def project_from_scripts(self) -> str | None:
        """The project as a path relative to the scripts, when they sit inside it (so both can move together)."""
        return os.path.relpath(self.project, self.folder) if self.folder.is_relative_to(self.project) else None

    @property
    def runs(self) -> str:
        """Where each training stage's script records the run folder it made, from the project."""
        runs = self.folder / ".runs"
        return os.path.relpath(runs, self.project) if runs.is_relative_to(self.project) else str(runs)

    def made_run(self, recipe: Recipe, stage: Stage, subcommand: str) -> str | None:
        """The output_dir under which this stage makes a run folder for its script to record; None if it makes
        none (not a training stage, `--add_version false`) or its output_dir cannot be told."""
        if subcommand not in TRAINING or not is_true(stage.flags.get("add_version", True)):
            return None
        try:
            return _output_dir(recipe, stage)
        except UserError:
            return None


def layout_of(folder: str | Path, project: str | Path | None = None) -> Layout:
    return Layout(Path(project or Path.cwd()).resolve(), Path(folder).resolve())


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


def stage_script(recipe: Recipe, stage: Stage, folder: Path, dialect: Dialect, layout: Layout, rerun: str) -> str:
    """`<stage>.sh`: the stage's command, with what it takes of earlier stages found in shell."""
    inputs = ShellInputs(recipe)
    command = build_command(recipe, stage, dialect=dialect, resolve=inputs).secrets_from_environment()
    return render_template("script.sh.j2", recipe=recipe.name, stage=stage.name, dialect=str(dialect),
                           self_path=str(folder / f"{stage.name}.sh"), command=command, inputs=inputs.found,
                           rerun=rerun, layout=layout,
                           made_run=layout.made_run(recipe, stage, command.subcommand))


def _locate(recipe: Recipe, ref: Ref) -> ShellInput | str:
    """How a script finds `ref`: a shell lookup, or a plain path when the producer names it outright."""
    producer = recipe.stage(ref.stage)
    variable = re.sub(r"\W", "_", f"{ref.stage}_{ref.output}").upper()
    if ref.output is Output.MERGED:
        if producer.flags.get("output_dir") is not None:
            return str(producer.flags["output_dir"])
        merged_from = producer.merge_source
        if isinstance(merged_from, Ref):  # ms-swift writes `<checkpoint>-merged` beside the checkpoint
            found = _locate(recipe, merged_from)
            if isinstance(found, ShellInput):
                return found._replace(variable=variable, suffix="-merged")
            return f"{found}-merged"
        if isinstance(merged_from, (str, Path)):
            return f"{merged_from}-merged"
        raise UserError(f"{_where(recipe, producer)}: cannot tell where stage {producer.name!r} writes its merged "
                        "model; give it --output_dir")
    return ShellInput(variable, _FUNCTIONS[ref.output], _output_dir(recipe, producer), producer.name, "")


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
