"""What the `swiftpipe` commands share: a UserError as red lines and its exit code, and the common options."""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from swiftpipe import console
from swiftpipe.errors import Exit, UserError

if TYPE_CHECKING:
    from swiftpipe.recipe.loading import LoadedRecipe

Command = Callable[..., Any]


def user_errors(fn: Command) -> Command:
    """A UserError becomes `error:` lines on stderr and its exit code, Ctrl-C exit code 130; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            console.error(str(exc))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:  # before anything was launched, or while a command other than run waits
            console.say("interrupted", err=True)
            sys.exit(Exit.INTERRUPTED)

    return wrapper


def recipe_options(fn: Command) -> Command:
    """RECIPE, -p NAME=VALUE and --set STAGE.FLAG=VALUE."""
    fn = click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                      help="Set a recipe parameter (repeatable).")(fn)
    fn = click.option("--set", "sets", multiple=True, metavar="STAGE.FLAG=VALUE",
                      help="Override or add a flag of a stage (repeatable). A JSON list gives several values.")(fn)
    return click.argument("recipe_path", metavar="RECIPE", callback=_recipe_file)(fn)


def vary_option(fn: Command) -> Command:
    """--vary SETTING=V1,V2: a sweep of the chain's variants (recipe/variants.py)."""
    return click.option("--vary", "varies", multiple=True, metavar="SETTING=V1,V2",
                        help="Run a variant of the chain per value, the stages they share once (repeatable: a grid). "
                        "SETTING is a parameter or STAGE.FLAG; 'A=1,2; B=3,4' pairs values instead of crossing "
                        "them; a JSON list gives values that hold commas.")(fn)


def _recipe_file(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """RECIPE, refused in one line when it names a folder or something else that is not a file (a missing one is
    the loader's `no such recipe file`)."""
    path = Path(value)
    if path.is_dir():
        _refuse(ctx, UserError(f"{value} is a directory, not a recipe file", where="RECIPE"))
    if path.exists() and not path.is_file():
        _refuse(ctx, UserError(f"{value} is not a regular file", where="RECIPE"))
    return value


def _refuse(ctx: click.Context, error: UserError) -> NoReturn:
    """A bad value found while click parses the command line: the one `error:` line and exit code that
    `user_errors` gives, not click's usage block."""
    console.error(str(error))
    ctx.exit(error.exit_code)


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


def scale_options(fn: Command) -> Command:
    """--gpus/--nodes/--node-rank/--master-addr/--master-port, handed to the command as one `scale`."""
    return _launch_options(fn, slurm=False)


def launcher_options(fn: Command) -> Command:
    """The scale options and --launcher slurm with its resources, handed over as `scale` and `slurm` (None for a
    local launch)."""
    return _launch_options(fn, slurm=True)


def _launch_options(fn: Command, *, slurm: bool) -> Command:
    @functools.wraps(fn)
    def wrapper(*args: Any, gpus: str | None, nodes: int | None, node_rank: int | None, master_addr: str | None,
                master_port: int | None, **kwargs: Any) -> Any:
        from swiftpipe.recipe.scale import Scale

        if not slurm:
            return fn(*args, scale=Scale(gpus, nodes, node_rank, master_addr, master_port), **kwargs)
        launcher = kwargs.pop("launcher")
        asked = {name: kwargs.pop(name) for name in ("gpus_per_node", "partition", "account", "time", "sbatch_args")}
        if launcher == "local":
            given = [f"--{name.replace('_', '-')}" for name, value in asked.items() if value not in (None, ())]
            if given:
                raise UserError(f"{given[0].replace('--sbatch-args', '--sbatch')} is a Slurm option: add "
                                "--launcher slurm")
            return fn(*args, scale=Scale(gpus, nodes, node_rank, master_addr, master_port), slurm=None, **kwargs)
        from swiftpipe.slurm.options import from_command_line

        options = from_command_line(gpus=gpus, nodes=nodes, node_rank=node_rank, master_addr=master_addr, **asked)
        return fn(*args, scale=Scale(master_port=master_port), slurm=options, **kwargs)

    command = user_errors(wrapper)  # a bad option is a user error too
    for option in reversed(_SCALE + (_SLURM if slurm else [])):
        command = option(command)
    return command


def dialect_option(fn: Command) -> Command:
    return click.option("--swift-version", metavar="3|4|X.Y.Z", default=None,
                        help="Render for this ms-swift major (default: the installed ms-swift, else 3).")(fn)


def stage_option(fn: Command) -> Command:
    return click.option("--stage", "stages", multiple=True, metavar="NAME",
                        help="Only this stage (repeatable); default: the whole chain.")(fn)


def work_dir_option(fn: Command) -> Command:
    """--work-dir, handed to the command as a Path (default: the run records' own, .swiftpipe)."""

    def as_path(ctx: click.Context, param: click.Parameter, value: str | None) -> Path:
        from swiftpipe.records.run_record import DEFAULT_WORK_DIR  # here, not at import: `--help` stays light

        path = Path(value or DEFAULT_WORK_DIR)
        problem = _not_a_folder(path)
        if problem:
            given = ctx.get_parameter_source(param.name or "") is click.core.ParameterSource.ENVIRONMENT
            _refuse(ctx, UserError(problem, where="SWIFTPIPE_WORK_DIR" if given else "--work-dir"))
        return path

    return click.option("--work-dir", metavar="DIR", default=None, envvar="SWIFTPIPE_WORK_DIR", callback=as_path,
                        help="Where run records and stage logs go (default: .swiftpipe).")(fn)


def _not_a_folder(path: Path) -> str | None:
    """Why `path` can be no folder: it, or the nearest of its parents that exists, is a file."""
    probe = path.expanduser()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.exists() or probe.is_dir():
        return None
    return f"{path} is a file, not a folder" if probe == path.expanduser() else \
        f"{path}: {probe} is a file, not a folder"


def json_option(fn: Command) -> Command:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(fn)


def print_json(value: Any) -> None:
    import json

    console.say(json.dumps(value, indent=2, ensure_ascii=False))


def load_recorded(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], work_dir: Path, *,
                  secrets_needed: bool = True, keep_sets: bool = False, **options: Any) -> LoadedRecipe:
    """The recipe for a command about its recorded runs (status, resolve, chat, --resume). Without -p and with no
    run under the defaults, the parameters of its recorded runs, when there is one set (said on stderr); a list
    of the sets to choose from when there are several. A secret parameter, recorded as `<redacted>`, is read
    from its environment variable (`hub_token` from $HUB_TOKEN), as the commands swiftpipe writes read it; a
    command that only reads records (`secrets_needed` False: status, resolve, report) finds the runs without it.
    With `keep_sets` (--resume) and no --set given, the --set of the run it continues: a stage keeps the command
    its checkpoint was written with (changed, it would start over)."""
    from swiftpipe.recipe import loading
    from swiftpipe.records import history

    loaded = loading.load(recipe_path, params=params, sets=sets, **options)
    latest = history.latest(work_dir, loaded.key)
    if not params and latest is None:
        recorded = history.parameter_sets(work_dir, recipe_path)
        if len(recorded) > 1:
            raise UserError(f"{recipe_path}: its runs used several parameter sets; choose one: "
                            + "; ".join(_p(found) for found in recorded))
        if len(recorded) == 1:
            params = tuple(_from_record(recorded[0], where=recipe_path, strict=secrets_needed))
            console.say(f"note: the runs of {recipe_path} used {_p(recorded[0])}", err=True)
            loaded = loading.load(recipe_path, params=params, sets=sets, **options)
            latest = history.latest(work_dir, loaded.key)
    if latest is not None and keep_sets and not sets and latest.recipe.sets:
        kept = _sets_from_record(latest.recipe.sets, where=recipe_path)
        console.say(f"note: resuming with the --set of run {latest.id}: {' '.join(latest.recipe.sets)}", err=True)
        return loading.load(recipe_path, params=params, sets=kept, **options)
    return loaded


def _sets_from_record(recorded: list[str], *, where: str) -> list[str]:
    """A run's --set as given again; a secret one's value from the environment (the record has none)."""
    import os

    from swiftpipe.recipe.secrets import REDACTED, variable

    kept, unset = [], []
    for text in recorded:
        target, _, value = text.partition("=")
        name = variable(target.partition(".")[2])
        if value == REDACTED and name not in os.environ:
            unset.append(name)
        kept.append(f"{target}={os.environ.get(name, '')}" if value == REDACTED else text)
    if unset:
        raise UserError(f"{where}: its last run used --set {' '.join(recorded)}; set {', '.join(unset)} (swiftpipe "
                        "keeps no secrets), or give --set yourself")
    return kept


def _from_record(recorded: dict[str, Any], *, where: str, strict: bool) -> list[str]:
    """`NAME=VALUE` for each recorded parameter; a secret one's value from the environment (the record has none),
    or without `strict` left redacted where the environment lacks it (the chain's key is the same)."""
    import os

    from swiftpipe.recipe.secrets import REDACTED, variable

    secret = [name for name, value in recorded.items() if value == REDACTED]
    unset = [variable(name) for name in secret if variable(name) not in os.environ]
    if unset and not strict:
        return [f"{name}={os.environ.get(variable(name), REDACTED) if name in secret else value}"
                for name, value in recorded.items()]
    if unset:
        raise UserError(f"{where}: its runs used {_p(recorded)}; set {', '.join(unset)} (swiftpipe keeps no secrets)")
    return [f"{name}={os.environ[variable(name)] if name in secret else value}" for name, value in recorded.items()]


def _p(recorded: dict[str, Any]) -> str:
    """The recorded parameters as -p options, a secret one read from the environment: `-p hub_token="$HUB_TOKEN"`."""
    import shlex

    from swiftpipe.recipe.secrets import REDACTED, param_from_environment

    return " ".join(f"-p {param_from_environment(name) if value == REDACTED else shlex.quote(f'{name}={value}')}"
                    for name, value in recorded.items()) or "no -p"
