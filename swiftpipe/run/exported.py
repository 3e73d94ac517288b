"""The chain as standalone bash scripts (`swiftpipe export-scripts`): `<stage>.sh` for each stage, and run_all.sh,
which carries out the plan: each script once the steps it waits for have succeeded. The plan is that of a fresh
run (plan.py): the scripts keep no record to resume from.
"""
from __future__ import annotations

from pathlib import Path

from swiftpipe.msswift.dialects import Dialect
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.render.export import layout_of, stage_script, write_scripts
from swiftpipe.render.templating import render_template
from swiftpipe.run.plan import plan


def export(loaded: LoadedRecipe, directory: str | Path, *, dialect: Dialect, force: bool = False,
           project: str | Path | None = None) -> list[Path]:
    """Write `<stage>.sh` for every stage and run_all.sh; refuse to overwrite existing ones unless `force`. Paths
    in the recipe are the project's (by default the working directory, as for `swiftpipe run`)."""
    folder = Path(directory)
    layout = layout_of(folder, project)
    recipe = loaded.recipe
    rerun = loaded.source.command("export-scripts", str(folder), "--force")  # -p and --set too, secrets as variables
    contents = {f"{s.name}.sh": stage_script(recipe, s, folder, dialect, layout, rerun) for s in recipe.stages}
    steps = plan(loaded, dialect, recipe.stage_names, work_dir=Path(), interactive=True)
    contents["run_all.sh"] = render_template(
        "run_all.sh.j2", recipe=recipe.name, self_path=str(folder / "run_all.sh"), rerun=rerun,
        steps=[(f"{step.stage}.sh", [f"{name}.sh" for name in step.after_ok]) for step in steps.launched])
    return write_scripts(folder, contents, force=force)
