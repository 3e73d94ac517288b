"""`swiftpipe info|render|lint|export-scripts`: what a recipe holds and the commands it renders to."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from swiftpipe import console
from swiftpipe.cli.common import (
    dialect_option,
    json_option,
    launcher_options,
    print_json,
    recipe_options,
    scale_options,
    stage_option,
    user_errors,
    vary_option,
)

if TYPE_CHECKING:
    from swiftpipe.recipe.scale import Scale
    from swiftpipe.slurm.options import SlurmOptions


@click.command(epilog="""\b
Examples:
  swiftpipe info recipes/medical.py
  swiftpipe info recipes/medical.py -p sft=full --json
""")
@recipe_options
@json_option
@user_errors
def info(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], as_json: bool) -> None:
    """Show a recipe's parameters (with defaults) and its stages."""
    from swiftpipe.cli import tables
    from swiftpipe.recipe import describe, loading

    described = describe.as_dict(loading.load(recipe_path, params=params, sets=sets))
    if as_json:
        print_json(described)
    else:
        tables.print_info(described)


@click.command(epilog="""\b
Examples:
  swiftpipe render recipes/medical.py
  swiftpipe render recipes/medical.py --stage pretrain --swift-version 3
  swiftpipe render recipes/medical.py -p sft=lisa --stage sft
  swiftpipe render recipes/medical.py --set sft.learning_rate=2e-5 --set sft.max_length=2048
  swiftpipe render recipes/medical.py --vary sft=full,lora --vary sft.learning_rate=1e-4,5e-5
  swiftpipe render recipes/medical.py --launcher slurm --nodes 2 --gpus-per-node 8 --partition gpu
""")
@recipe_options
@vary_option
@launcher_options
@stage_option
@dialect_option
@user_errors
def render(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], varies: tuple[str, ...],
           stages: tuple[str, ...],
           swift_version: str | None, scale: Scale, slurm: SlurmOptions | None) -> None:
    """Print the chain's ms-swift commands, in the tutorials' layout.

    This is exactly what `swiftpipe run` executes; a reference to what an earlier stage produced shows
    as a placeholder such as '<pretrain.last_checkpoint>' until the chain runs. With --launcher slurm,
    each stage's sbatch script.
    """
    from swiftpipe.msswift import dialects
    from swiftpipe.recipe import loading, overrides
    from swiftpipe.render.commands import render_recipe

    loaded = loading.load(recipe_path, params=params, sets=sets, varies=varies, scale=scale)
    chosen = overrides.select(loaded.recipe, stages, where=recipe_path)
    target = dialects.target(swift_version)
    if slurm is None:
        texts = [r.script for r in render_recipe(loaded.recipe, loaded.source, dialect=target, stages=chosen)]
    else:
        from swiftpipe.run.chat import chat_note
        from swiftpipe.slurm import options, script

        loaded, plan = options.adapt(loaded, slurm)
        texts = []
        for stage in loaded.recipe.stages:
            if chosen and stage.name not in chosen:
                continue
            if stage.interactive:
                console.say(f"# {stage.name}: skipped: {chat_note(recipe_path, stage)}", err=True)
                continue
            texts.append(script.sbatch_script(loaded.recipe, stage, loaded.source, plan, dialect=target))
    console.write("\n".join(texts))


@click.command(epilog="""\b
Examples:
  swiftpipe lint recipes/medical.py
  swiftpipe lint recipes/medical.py -p sft=lisa
  swiftpipe lint recipes/demo.py --vary sft.learning_rate=5e-3,1e-3   # every variant's stages
""")
@recipe_options
@vary_option
@scale_options
@stage_option
@user_errors
def lint(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], varies: tuple[str, ...],
         stages: tuple[str, ...], scale: Scale) -> None:
    """Check every rendered flag against the installed ms-swift's own argument classes.

    Imports ms-swift (a few seconds): names must match exactly (no argparse abbreviations), and values
    must be of the declared type and among the declared choices.
    """
    from swiftpipe.msswift import dialects
    from swiftpipe.recipe import loading, overrides
    from swiftpipe.render.commands import build_command
    from swiftpipe.render.lint import lint as check_flags

    loaded = loading.load(recipe_path, params=params, sets=sets, varies=varies, scale=scale)
    chosen = overrides.select(loaded.recipe, stages, where=recipe_path) or loaded.recipe.stage_names
    target = dialects.target()
    commands = [build_command(loaded.recipe, loaded.recipe.stage(n), dialect=target) for n in chosen]
    checked = check_flags(commands, where=recipe_path)
    console.say(f"{recipe_path}: {checked} flags in {len(commands)} stages accepted by ms-swift {target}")


@click.command("export-scripts", epilog="""\b
Examples:
  swiftpipe export-scripts recipes/medical.py script/
  bash script/pretrain.sh            # one stage, no swiftpipe needed
  bash script/run_all.sh             # the whole chain
  swiftpipe export-scripts recipes/medical.py slurm/ --launcher slurm --nodes 2 --gpus-per-node 8
  bash slurm/submit_all.sh           # sbatch every stage, each after the previous one succeeds
  swiftpipe export-scripts recipes/medical.py sweep/ --vary sft.learning_rate=1e-4,5e-5   # a sweep's stages
""")
@recipe_options
@vary_option
@launcher_options
@click.argument("directory", type=click.Path(file_okay=False))
@dialect_option
@click.option("--force", is_flag=True, help="Overwrite scripts that already exist.")
@user_errors
def export_scripts(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], varies: tuple[str, ...],
                   directory: str, swift_version: str | None, force: bool, scale: Scale,
                   slurm: SlurmOptions | None) -> None:
    """Write one runnable script per stage, plus run_all.sh, that need no swiftpipe to run.

    A stage that uses an earlier stage's checkpoint finds it in shell from ms-swift's versioned output
    folder, by the numbers in vN-... and checkpoint-N.
    """
    from swiftpipe.msswift import dialects
    from swiftpipe.recipe import loading
    from swiftpipe.run import exported

    loaded = loading.load(recipe_path, params=params, sets=sets, varies=varies, scale=scale)
    target = dialects.target(swift_version)
    if slurm is None:
        written = exported.export(loaded, directory, dialect=target, force=force)
    else:
        from swiftpipe.slurm import options, script

        loaded, resources = options.adapt(loaded, slurm)
        written = script.export(loaded, directory, resources, dialect=target, force=force)
    for path in written:
        console.say(str(path))


COMMANDS = (info, render, lint, export_scripts)
