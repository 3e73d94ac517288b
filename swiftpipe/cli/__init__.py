"""The `swiftpipe` command: parses options, calls the library, turns a UserError into one red line."""
from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import click

from swiftpipe import __version__
from swiftpipe.cli.common import user_errors as _user_errors
from swiftpipe.errors import UserError

_RECIPE = click.argument("recipe_path", metavar="RECIPE", type=click.Path(dir_okay=False))


def _recipe_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                      help="Set a recipe parameter (repeatable).")(fn)
    fn = click.option("--set", "sets", multiple=True, metavar="STAGE.FLAG=VALUE",
                      help="Override or add a flag of a stage (repeatable). A JSON list gives several values.")(fn)
    return _RECIPE(fn)


def _scale_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--gpus/--nodes/--node-rank/--master-addr/--master-port, handed to the command as one `scale`."""
    return _launch_options(fn, slurm=False)


def _slurm_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The scale options and --launcher slurm with its resources, handed over as `scale` and `slurm` (None for a
    local launch)."""
    return _launch_options(fn, slurm=True)


_SCALE = [
    click.option("--gpus", metavar="0,1,...", help="GPUs to use; training stages get one process each."),
    click.option("--nodes", type=click.IntRange(1), help="Nodes in a multi-node training run (NNODES)."),
    click.option("--node-rank", type=click.IntRange(0), help="This node's rank (NODE_RANK; default 0)."),
    click.option("--master-addr", metavar="HOST", help="Address of the rank-0 node (MASTER_ADDR)."),
    click.option("--master-port", type=click.IntRange(1, 65535), help="Its port (MASTER_PORT)."),
]
_SLURM = [
    click.option("--launcher", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
                 help="Run here, or as one Slurm job per stage (sbatch, chained with afterok)."),
    click.option("--gpus-per-node", type=click.IntRange(0), help="Slurm: GPUs per node, one process each."),
    click.option("--partition", metavar="NAME", help="Slurm: partition (sbatch --partition)."),
    click.option("--account", metavar="NAME", help="Slurm: account to charge (sbatch --account)."),
    click.option("--time", metavar="LIMIT", help="Slurm: time limit per job, e.g. 24:00:00 (sbatch --time)."),
    click.option("--sbatch", "sbatch_args", multiple=True, metavar="--OPTION=VALUE",
                 help="Slurm: any other sbatch option, e.g. --sbatch --qos=high (repeatable)."),
]


def _launch_options(fn: Callable[..., Any], *, slurm: bool) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, gpus: str | None, nodes: int | None, node_rank: int | None, master_addr: str | None,
                master_port: int | None, **kwargs: Any) -> Any:
        from swiftpipe.recipe.scale import Scale

        if not slurm:
            return fn(*args, scale=Scale(gpus, nodes, node_rank, master_addr, master_port), **kwargs)
        launcher = kwargs.pop("launcher")
        resources = {name: kwargs.pop(name) for name in ("gpus_per_node", "partition", "account", "time")}
        sbatch_args = kwargs.pop("sbatch_args")
        if launcher == "local":
            given = [f"--{k.replace('_', '-')}" for k, v in resources.items() if v is not None]
            if given or sbatch_args:
                raise UserError(f"{(given or ['--sbatch'])[0]} is a Slurm option: add --launcher slurm")
            return fn(*args, scale=Scale(gpus, nodes, node_rank, master_addr, master_port), slurm=None, **kwargs)
        from swiftpipe.slurm.options import SlurmOptions

        for option, value in (("--gpus", gpus), ("--node-rank", node_rank), ("--master-addr", master_addr)):
            if value is not None:
                raise UserError(f"{option}: with --launcher slurm, Slurm picks the GPUs and nodes; use "
                                "--gpus-per-node and --nodes")
        return fn(*args, scale=Scale(master_port=master_port),
                  slurm=SlurmOptions(nodes or 1, sbatch_args=tuple(sbatch_args), **resources), **kwargs)

    wrapper = _user_errors(wrapper)  # a bad option is a user error too
    for option in reversed(_SCALE + (_SLURM if slurm else [])):
        wrapper = option(wrapper)
    return wrapper


def _dialect_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--swift-version", metavar="3|4|X.Y.Z", default=None,
                        help="Render for this ms-swift major (default: the installed ms-swift, else 3).")(fn)


def _stage_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--stage", "stages", multiple=True, metavar="NAME",
                        help="Only this stage (repeatable); default: the whole chain.")(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog="""\b
Examples:
  swiftpipe info recipes/medical.py
  swiftpipe render recipes/medical.py --stage pretrain --swift-version 3
  swiftpipe render recipes/medical.py -p sft=lisa --set sft.learning_rate=2e-5
  swiftpipe lint recipes/medical.py
  swiftpipe export-scripts recipes/medical.py script/
  swiftpipe run recipes/demo.py
  swiftpipe run recipes/medical.py --launcher slurm --nodes 2 --gpus-per-node 8 --partition gpu --wait
""")
@click.version_option(__version__, prog_name="swiftpipe")
def main() -> None:
    """Recipes for ms-swift: the pretrain -> SFT -> merge -> DPO -> infer chain, rendered exactly."""


@main.command(epilog="""\b
Examples:
  swiftpipe info recipes/medical.py
  swiftpipe info recipes/medical.py -p sft=full --json
""")
@_recipe_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_user_errors
def info(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], as_json: bool) -> None:
    """Show a recipe's parameters (with defaults) and its stages."""
    from swiftpipe.recipe import describe
    from swiftpipe.recipe import loading as loader

    loaded = loader.load(recipe_path, params=params, sets=sets)
    if as_json:
        click.echo(json.dumps(describe.as_dict(loaded), indent=2, ensure_ascii=False))
    else:
        describe.print_info(loaded)


@main.command(epilog="""\b
Examples:
  swiftpipe render recipes/medical.py
  swiftpipe render recipes/medical.py --stage pretrain --swift-version 3
  swiftpipe render recipes/medical.py -p sft=lisa --stage sft
  swiftpipe render recipes/medical.py --set sft.learning_rate=2e-5 --set sft.max_length=2048
""")
@_recipe_options
@_slurm_options
@_stage_option
@_dialect_option
@_user_errors
def render(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], stages: tuple[str, ...],
           swift_version: str | None, scale: Any, slurm: Any) -> None:
    """Print the chain's ms-swift commands, in the tutorials' layout.

    This is exactly what `swiftpipe run` executes; a reference to what an earlier stage produced shows
    as a placeholder such as '<pretrain.last_checkpoint>' until the chain runs. With --launcher slurm,
    each stage's sbatch script.
    """
    from swiftpipe.render import dialects as dialect
    from swiftpipe.recipe import loading as loader
    from swiftpipe.recipe import overrides
    from swiftpipe.render.commands import render_recipe

    loaded = loader.load(recipe_path, params=params, sets=sets, scale=scale, slurm=slurm)
    chosen = overrides.select(loaded.recipe, stages, where=recipe_path)
    target = dialect.target(swift_version)
    if loaded.slurm is None:
        rendered = render_recipe(loaded.recipe, loaded.source, dialect=target, stages=chosen)
        click.echo("\n".join(r.script for r in rendered), nl=False)
        return
    from swiftpipe.slurm.script import sbatch_script

    texts = []
    for stage in loaded.recipe.stages:
        if chosen and stage.name not in chosen:
            continue
        if stage.interactive:
            click.echo(f"# {stage.name}: an interactive chat has no batch job (swiftpipe chat {recipe_path})", err=True)
            continue
        texts.append(sbatch_script(loaded.recipe, stage, loaded.source, loaded.slurm, dialect=target))
    click.echo("\n".join(texts), nl=False)


@main.command(epilog="""\b
Examples:
  swiftpipe lint recipes/medical.py
  swiftpipe lint recipes/medical.py -p sft=lisa
""")
@_recipe_options
@_scale_options
@_stage_option
@_user_errors
def lint(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], stages: tuple[str, ...], scale: Any) -> None:
    """Check every rendered flag against the installed ms-swift's own argument classes.

    Imports ms-swift (a few seconds): names must match exactly (no argparse abbreviations), and values
    must be of the declared type and among the declared choices.
    """
    from swiftpipe.render import dialects as dialect
    from swiftpipe.render import lint as linter
    from swiftpipe.recipe import loading as loader
    from swiftpipe.recipe import overrides
    from swiftpipe.render.commands import build_command

    loaded = loader.load(recipe_path, params=params, sets=sets, scale=scale)
    chosen = overrides.select(loaded.recipe, stages, where=recipe_path) or loaded.recipe.stage_names
    target = dialect.target()
    commands = [build_command(loaded.recipe, loaded.recipe.stage(n), dialect=target) for n in chosen]
    checked = linter.lint(commands, where=recipe_path)
    click.echo(f"{recipe_path}: {checked} flags in {len(commands)} stages accepted by ms-swift {target}")


@main.command("export-scripts", epilog="""\b
Examples:
  swiftpipe export-scripts recipes/medical.py script/
  bash script/pretrain.sh            # one stage, no swiftpipe needed
  bash script/run_all.sh             # the whole chain
  swiftpipe export-scripts recipes/medical.py slurm/ --launcher slurm --nodes 2 --gpus-per-node 8
  bash slurm/submit_all.sh           # sbatch every stage, each after the previous one succeeds
""")
@_recipe_options
@_slurm_options
@click.argument("directory", type=click.Path(file_okay=False))
@_dialect_option
@click.option("--force", is_flag=True, help="Overwrite scripts that already exist.")
@_user_errors
def export_scripts(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], directory: str,
                   swift_version: str | None, force: bool, scale: Any, slurm: Any) -> None:
    """Write one runnable script per stage, plus run_all.sh, that need no swiftpipe to run.

    A stage that uses an earlier stage's checkpoint finds it in shell from ms-swift's versioned output
    folder, by the numbers in vN-... and checkpoint-N.
    """
    from swiftpipe.render import dialects as dialect
    from swiftpipe.recipe import loading as loader
    from swiftpipe.render import export as scripts

    loaded = loader.load(recipe_path, params=params, sets=sets, scale=scale, slurm=slurm)
    written = scripts.export(loaded.recipe, loaded.source, directory, dialect=dialect.target(swift_version),
                             force=force, slurm=loaded.slurm)
    for path in written:
        click.echo(str(path))


def _work_dir_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--work-dir", type=click.Path(file_okay=False), default=None, envvar="SWIFTPIPE_WORK_DIR",
                        help="Where run records and stage logs go (default: .swiftpipe).")(fn)


def _work_dir(value: str | None):
    from pathlib import Path

    from swiftpipe.run.run_record import DEFAULT_WORK_DIR

    return Path(value or DEFAULT_WORK_DIR)


@main.command(epilog="""\b
Examples:
  swiftpipe run recipes/demo.py                     # the whole chain
  swiftpipe run recipes/medical.py --stage sft --stage merge
  swiftpipe run recipes/medical.py --gpus 0,1,2,3   # one training process per GPU, same global batch
  swiftpipe run recipes/medical.py --dry-run        # commands, env and resolved inputs; nothing launched
  swiftpipe run recipes/demo.py --resume            # finish a failed or interrupted chain
  swiftpipe run recipes/medical.py --launcher slurm --nodes 2 --gpus-per-node 8 --partition gpu --time 24:00:00
  swiftpipe run recipes/medical.py --launcher slurm --wait     # submit, then follow the jobs to the end
  swiftpipe run recipes/medical.py --launcher slurm --resume   # resubmit from the first unfinished stage
""")
@_recipe_options
@_slurm_options
@_stage_option
@_dialect_option
@_work_dir_option
@click.option("--resume", is_flag=True, help="Continue the latest run of this recipe and parameters.")
@click.option("--dry-run", is_flag=True, help="Print what would run, with inputs resolved; launch nothing.")
@click.option("--quiet", is_flag=True, help="Do not echo ms-swift's output (it still goes to the stage logs).")
@click.option("--wait", is_flag=True, help="Slurm: after submitting, follow the jobs until the chain ends.")
@_user_errors
def run(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], stages: tuple[str, ...],
        swift_version: str | None, work_dir: str | None, resume: bool, dry_run: bool, quiet: bool, wait: bool,
        scale: Any, slurm: Any) -> None:
    """Run the chain: each stage gets what the previous one produced; every run is recorded.

    Exit code 0 when every stage finished, 1 when one failed, 2 for bad input (nothing launched),
    130 when interrupted. With --launcher slurm, each stage is an sbatch job that starts when the
    previous one succeeded; the command returns once they are submitted (0), or with --wait when the
    chain ends.
    """
    from swiftpipe.render import dialects as dialect
    from swiftpipe.recipe import loading as loader
    from swiftpipe.recipe import overrides
    from swiftpipe.cli import tables as report
    from swiftpipe.run.chain import Runner, RunOptions

    loaded = loader.load(recipe_path, params=params, sets=sets, scale=scale, slurm=slurm)
    chosen = overrides.select(loaded.recipe, stages, where=recipe_path)
    if loaded.slurm is not None:
        if dry_run:
            raise UserError("--dry-run with --launcher slurm: use swiftpipe render --launcher slurm")
        sys.exit(_run_on_slurm(loaded, dialect.target(swift_version), work_dir=_work_dir(work_dir),
                               stages=chosen, resume=resume, wait=wait, master_port=scale.master_port))
    if wait:
        raise UserError("--wait is for --launcher slurm; a local run always waits")
    options = RunOptions(work_dir=_work_dir(work_dir), stages=chosen, resume=resume, dry_run=dry_run, echo=not quiet,
                         say=lambda text: click.echo(text, err=False))
    runner = Runner(loaded, dialect.target(swift_version), options)
    code = runner.run()
    if runner.record is not None:
        report.print_summary(runner.record)
    sys.exit(code)


def _run_on_slurm(loaded: Any, target: Any, *, work_dir: Any, stages: list[str] | None, resume: bool, wait: bool,
                  master_port: int | None) -> int:
    from swiftpipe.cli import tables as report
    from swiftpipe.console import console
    from swiftpipe.slurm import submit as chain

    record = chain.submit(loaded, target, work_dir=work_dir, stages=stages, resume=resume, master_port=master_port,
                          say=click.echo)
    if not wait:
        console.print(report.stage_table(record))
        click.echo(f"submitted; follow with: swiftpipe status {loaded.path}   stop with: swiftpipe cancel "
                   f"{loaded.path}")
        return 0
    try:
        code = chain.wait(record, click.echo)
    except KeyboardInterrupt:
        click.echo(f"stopped waiting; the jobs go on (swiftpipe status {loaded.path})", err=True)
        return 130
    console.print(report.stage_table(chain.refresh(record)))
    return code


@main.command(epilog="""\b
Examples:
  swiftpipe status recipes/demo.py
  swiftpipe status recipes/medical.py -p sft=full --json
""")
@_recipe_options
@_work_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
@_user_errors
def status(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], work_dir: str | None,
           as_json: bool) -> None:
    """Show the latest run of a recipe: each stage's state, times, output, checkpoint, final loss.

    For a chain submitted to Slurm, each job's id and Slurm state, asked of Slurm now.
    """
    from swiftpipe.cli import tables as report
    from swiftpipe.slurm import submit as chain

    record = _latest(recipe_path, params, sets, work_dir)
    try:
        record = chain.refresh(record)
    except UserError as exc:  # Slurm does not answer here: show what the record knows
        click.secho(f"warning: {exc}; showing the record as it was last written", fg="yellow", err=True)
    if as_json:
        click.echo(json.dumps(record.data, indent=2, ensure_ascii=False))
    else:
        from swiftpipe.console import console

        console.print(report.stage_table(record))


@main.command(epilog="""\b
Examples:
  swiftpipe cancel recipes/medical.py
""")
@_recipe_options
@_work_dir_option
@_user_errors
def cancel(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], work_dir: str | None) -> None:
    """Cancel (scancel) the Slurm jobs of the latest run that are still queued or running.

    `swiftpipe run ... --launcher slurm --resume` later resubmits from the first unfinished stage.
    """
    from swiftpipe.slurm import submit as chain, client

    record = _latest(recipe_path, params, sets, work_dir)
    if record.data.get("launcher", {}).get("name") != "slurm":
        raise UserError(f"{recipe_path}: run {record.id} ran here, not on Slurm; stop a local run with Ctrl-C")
    client.available()
    if not chain.cancel(record, click.echo):
        click.echo(f"run {record.id}: no job queued or running")


def _latest(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], work_dir: str | None) -> Any:
    from swiftpipe.recipe import loading as loader
    from swiftpipe.run import run_record as records

    loaded = loader.load(recipe_path, params=params, sets=sets)
    record = records.latest(_work_dir(work_dir), loaded.key)
    if record is None:
        raise UserError(f"{recipe_path}: no run recorded for this recipe with these parameters")
    return record


@main.command(hidden=True)
@click.argument("record", type=click.Path(file_okay=False, exists=True))
@click.argument("stage")
def job(record: str, stage: str) -> None:
    """Run one stage of a recorded chain inside its Slurm job (what `run --launcher slurm` submits)."""
    from pathlib import Path

    from swiftpipe.slurm.job import run_job

    sys.exit(run_job(Path(record), stage))


@main.command(epilog="""\b
Examples:
  swiftpipe runs
  swiftpipe runs --json
""")
@_work_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_user_errors
def runs(work_dir: str | None, as_json: bool) -> None:
    """List the runs recorded under the work dir."""
    from swiftpipe.run import run_record as records
    from swiftpipe.cli import tables as report

    found = records.load_all(_work_dir(work_dir))
    if as_json:
        click.echo(json.dumps([r.data for r in found], indent=2, ensure_ascii=False))
    elif not found:
        click.echo(f"no runs recorded under {_work_dir(work_dir)}")
    else:
        from swiftpipe.console import console

        console.print(report.runs_table(found))


@main.command(epilog="""\b
Examples:
  swiftpipe resolve recipes/demo.py sft             # the SFT's last checkpoint
  swiftpipe resolve recipes/demo.py sft --which best
  swiftpipe resolve recipes/demo.py merge           # the merged model folder
""")
@_recipe_options
@click.argument("stage_name", metavar="STAGE")
@click.option("--which", type=click.Choice(["last", "best", "merged", "run_dir", "results"]), default=None,
              help="What to print (default: merged for a merge stage, results for infer, else last).")
@_work_dir_option
@_user_errors
def resolve(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], stage_name: str, which: str | None,
            work_dir: str | None) -> None:
    """Print the path a stage produced in the newest run where it finished."""
    from swiftpipe.recipe import loading as loader
    from swiftpipe.recipe import overrides
    from swiftpipe.run import run_record as records

    loaded = loader.load(recipe_path, params=params, sets=sets)
    overrides.select(loaded.recipe, [stage_name], where=recipe_path)
    command = loaded.recipe.stage(stage_name).command
    which = which or {"export": "merged", "infer": "results"}.get(command, "last")
    key_name = {"last": "last_checkpoint", "best": "best_checkpoint"}.get(which, which)
    found = records.produced(_work_dir(work_dir), loaded.key, stage_name, key_name)
    if found:
        click.echo(found)
        return
    raise UserError(f"{recipe_path}: stage {stage_name!r} has no finished run with a {which} output "
                    f"(swiftpipe status {recipe_path})")


@main.command(epilog="""\b
Examples:
  swiftpipe chat recipes/medical.py
""")
@_recipe_options
@_dialect_option
@_work_dir_option
@_user_errors
def chat(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], swift_version: str | None,
         work_dir: str | None) -> None:
    """Chat with the chain's final model (`swift infer --stream true`) in this terminal."""
    from swiftpipe.render import dialects as dialect
    from swiftpipe.recipe import loading as loader
    from swiftpipe.run.chat import chat as open_chat

    loaded = loader.load(recipe_path, params=params, sets=sets)
    sys.exit(open_chat(loaded, dialect=dialect.target(swift_version), work_dir=_work_dir(work_dir)))


def _register() -> None:
    from swiftpipe.cli.data import data
    from swiftpipe.cli.download import download

    main.add_command(data)
    main.add_command(download)


_register()
