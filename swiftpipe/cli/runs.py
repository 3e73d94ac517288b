"""`swiftpipe run|status|runs|resolve|chat`: running a chain and what its runs produced."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from swiftpipe import console, moments, signals
from swiftpipe.cli.common import (
    dialect_option,
    json_option,
    launcher_options,
    load_recorded,
    print_json,
    recipe_options,
    stage_option,
    user_errors,
    vary_option,
    work_dir_option,
)
from swiftpipe.errors import UserError
from swiftpipe.msswift.layout import Output

RUNS_SHOWN = 50
# `resolve --which`: the output each choice prints
_WHICH = {"last": Output.LAST_CHECKPOINT, "best": Output.BEST_CHECKPOINT, "merged": Output.MERGED,
          "run_dir": Output.RUN_DIR, "results": Output.RESULTS}

if TYPE_CHECKING:
    from swiftpipe.recipe.loading import LoadedRecipe
    from swiftpipe.recipe.scale import Scale
    from swiftpipe.records.run_record import RunRecord
    from swiftpipe.slurm.options import SlurmOptions


@click.command(epilog="""\b
Examples:
  swiftpipe run recipes/demo.py                     # the whole chain
  swiftpipe run recipes/medical.py --stage sft --stage merge
  swiftpipe run recipes/medical.py --gpus 0,1,2,3   # one training process per GPU, same global batch
  swiftpipe run recipes/medical.py --dry-run        # commands, env and resolved inputs; nothing launched
  swiftpipe run recipes/demo.py --resume            # finish a failed or interrupted chain
  swiftpipe run recipes/demo.py --vary sft.learning_rate=5e-3,1e-3 --dry-run   # two SFTs on one pretraining
  swiftpipe run recipes/medical.py --vary sft.lora_rank=8,16,32,64   # side by side on this machine's GPUs
  swiftpipe run recipes/demo.py --vary sft.learning_rate=5e-3,1e-3 --jobs 2     # two at once on the CPU
  swiftpipe run recipes/demo.py --wait              # after the run of this chain that is going on now
  swiftpipe run recipes/medical.py --launcher slurm --nodes 2 --gpus-per-node 8 --partition gpu --time 24:00:00
  swiftpipe run recipes/medical.py --launcher slurm --wait     # submit, then follow the jobs to the end
  swiftpipe run recipes/medical.py --launcher slurm --resume   # resubmit what did not finish
""")
@recipe_options
@vary_option
@launcher_options
@stage_option
@dialect_option
@work_dir_option
@click.option("--resume", is_flag=True, help="Continue the latest run of this recipe and parameters.")
@click.option("--dry-run", is_flag=True, help="Print what would run, with inputs resolved; launch nothing.")
@click.option("--verbose", is_flag=True, help="Stream ms-swift's whole output, as it prints it.")
@click.option("--quiet", is_flag=True, help="No live view: a line per stage and a progress line every 30 s.")
@click.option("--wait", is_flag=True, help="When another swiftpipe runs this chain or writes into one of its "
              "output_dir folders, wait for it to end instead of refusing. Slurm: after submitting, follow the jobs "
              "until the chain ends.")
@click.option("--recheck", is_flag=True, help="Read every local data file again, even one checked clean before "
              "and unchanged since.")
@click.option("--jobs", type=int, metavar="N", help="At most N stages at once. A sweep runs its variants side by "
              "side on the GPUs (nvidia-smi's, or --gpus), each stage on as many as its NPROC_PER_NODE asks; "
              "without GPUs, one stage at a time unless --jobs N.")
@user_errors
def run(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], varies: tuple[str, ...],
        stages: tuple[str, ...],
        swift_version: str | None, work_dir: Path, resume: bool, dry_run: bool, verbose: bool, quiet: bool,
        wait: bool, recheck: bool, jobs: int | None, scale: Scale, slurm: SlurmOptions | None) -> None:
    """Run the chain: each stage gets what the previous one produced; every run is recorded.

    On a terminal, a live view shows each stage's state and the running one's step, loss, learning rate and time
    left; ms-swift's output goes to the stage logs (--verbose streams it). Elsewhere (CI, nohup, a pipe): a line
    per state change and a progress line every 30 s. It ends with a summary, the answers, and a report page.

    Exit code 0 when every stage finished, 1 when one failed, 2 for bad input (nothing launched),
    130 when interrupted. With --launcher slurm, each stage is an sbatch job that starts when the
    previous one succeeded; the command returns once they are submitted (0), or with --wait when the
    chain ends.
    """
    from swiftpipe.cli import tables
    from swiftpipe.msswift import dialects
    from swiftpipe.recipe import loading, overrides

    loaded = load_recorded(recipe_path, params, sets, work_dir, keep_sets=True, varies=varies, scale=scale) if resume \
        else loading.load(recipe_path, params=params, sets=sets, varies=varies, scale=scale)
    chosen = overrides.select(loaded.recipe, stages, where=recipe_path)
    target = dialects.target(swift_version)
    if slurm is not None:
        if jobs is not None:
            raise UserError("--jobs with --launcher slurm: the cluster runs the variants' jobs side by side")
        if dry_run:
            raise UserError("--dry-run with --launcher slurm: use swiftpipe render --launcher slurm")
        from swiftpipe.cli.slurm import run_on_slurm

        sys.exit(run_on_slurm(loaded, slurm, target, work_dir=work_dir, stages=chosen, resume=resume, wait=wait,
                              master_port=scale.master_port, recheck=recheck))
    from swiftpipe.run.chain import RunOptions, run_chain

    options = RunOptions(work_dir=work_dir, stages=chosen, resume=resume, dry_run=dry_run, echo=verbose,
                         recheck=recheck, wait=wait, gpus=scale.gpus, jobs=jobs)
    if verbose or quiet or dry_run or not sys.stdout.isatty():
        result = run_chain(loaded, target, options)
    else:
        from swiftpipe.cli.live import LiveView

        with LiveView() as view:
            result = run_chain(loaded, target, dataclasses.replace(options, view=view, say=view.say))
    if result.record is not None:
        tables.print_summary(result.record)
        moments.reached("summarised")
        if not dry_run:
            _write_report(result.record)
    sys.exit(result.exit_code)


def _write_report(record: RunRecord) -> None:
    """The run's report page, beside its record; a page that cannot be written or drawn is a one-line warning, never
    a traceback or another exit code: the chain's outcome is the record's, not the page's. The record is final by
    now: a stop asked for meanwhile waits the second or two until the page is whole (never a half-imported
    matplotlib), then ends the command as Ctrl-C does."""
    from swiftpipe.report import page

    stops: list[int] = []
    with signals.handled(lambda sig, _: stops.append(sig)):
        try:
            path = page.write(record, record.folder / "report.html")
        except Exception as exc:  # whatever the page trips on, the run is over and recorded
            console.warn(f"no report page: {_one_line(exc)}")
        else:
            console.say(f"report: {path}")
    if stops:
        raise KeyboardInterrupt


def _one_line(exc: BaseException) -> str:
    """An exception as one line: an OSError's reason and file, else its type and its message's first line."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@click.command(epilog="""\b
Examples:
  swiftpipe status recipes/demo.py
  swiftpipe status recipes/medical.py -p sft=full --json
""")
@recipe_options
@vary_option
@work_dir_option
@json_option
@user_errors
def status(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], varies: tuple[str, ...], work_dir: Path,
           as_json: bool) -> None:
    """Show the latest run of a recipe: each stage's state, times, output, checkpoint, final number, attempts.

    A stage that run did not run (a `--stage` run of others) shows its latest outcome in an earlier run, named.

    A stage left running by a swiftpipe that is gone shows as interrupted. For a chain submitted to Slurm, each
    job's id and Slurm state, asked of Slurm now.
    """
    from swiftpipe.cli import tables
    from swiftpipe.records import history
    from swiftpipe.run.backend import backend_of

    loaded, record = _latest(recipe_path, params, sets, work_dir, varies)
    backend = backend_of(record)
    try:
        record = backend.settle(record)  # a local run whose swiftpipe is gone; Slurm's word on its jobs
    except UserError as exc:  # a stage still runs on its own, or Slurm does not answer: show what the record knows
        console.warn(f"{exc}; showing the record as it was last written")
    for warning in backend.warnings(record):
        console.warn(warning)
    current = loaded.recipe.stage_names
    gone = [name for name in record.stages if name not in current]  # run then, since removed from the recipe
    earlier = history.earlier_outcomes(work_dir, loaded.key, current, record)  # the chain, run stage by stage
    if as_json:
        print_json({**record.to_json(), "stages_not_in_recipe": gone,
                    "earlier_runs": {name: {"run": run_id, "state": entry.state.value}
                                     for name, (run_id, entry) in earlier.items()}})
    else:
        console.console.print(tables.stage_table(record, gone=gone, earlier=earlier, order=current))


@click.command(epilog="""\b
Examples:
  swiftpipe runs                 # the 50 newest
  swiftpipe runs --all
  swiftpipe runs --json          # every record, whole
""")
@work_dir_option
@click.option("--all", "show_all", is_flag=True, help="List every run, not only the newest 50.")
@json_option
@user_errors
def runs(work_dir: Path, show_all: bool, as_json: bool) -> None:
    """List the runs recorded under the work dir, newest last."""
    from swiftpipe.cli import tables
    from swiftpipe.records import history

    if as_json:
        print_json([r.to_json() for r in history.load_all(work_dir)])
        return
    found = history.summaries(work_dir)
    if not found:
        console.say(f"no runs recorded under {work_dir}")
        return
    shown = found if show_all else found[-RUNS_SHOWN:]
    console.console.print(tables.runs_table(shown))
    if len(shown) < len(found):
        console.say(f"{len(found) - len(shown)} earlier runs not shown (swiftpipe runs --all)")


@click.command(epilog="""\b
Examples:
  swiftpipe resolve recipes/demo.py sft             # the SFT's last checkpoint
  swiftpipe resolve recipes/demo.py sft --which best
  swiftpipe resolve recipes/demo.py merge           # the merged model folder
""")
@recipe_options
@vary_option
@click.argument("stage_name", metavar="STAGE")
@click.option("--which", type=click.Choice(list(_WHICH)), default=None,
              help="What to print (default: merged for a merge stage, results for infer, else last).")
@work_dir_option
@user_errors
def resolve(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], varies: tuple[str, ...],
            stage_name: str, which: str | None, work_dir: Path) -> None:
    """Print the path a stage produced in the newest run where it finished."""
    from swiftpipe.recipe import overrides
    from swiftpipe.records import history

    loaded = load_recorded(recipe_path, params, sets, work_dir, secrets_needed=False, varies=varies)
    chosen = overrides.select(loaded.recipe, [stage_name], where=recipe_path) or []
    if len(chosen) != 1:  # a compare group, or a stage that a sweep runs per variant
        raise UserError(f"{stage_name} names {len(chosen)} stages: {', '.join(chosen)}; resolve one of them",
                        where=recipe_path)
    stage_name = chosen[0]  # (a variant's stage may be named as the comparison names it: sft@lr=1e-4)
    command = loaded.recipe.stage(stage_name).command
    which = which or {"export": "merged", "infer": "results"}.get(command, "last")
    found = history.produced(work_dir, loaded.key, stage_name, _WHICH[which])
    if not found:
        raise UserError(f"{recipe_path}: stage {stage_name!r} has no finished run with a {which} output "
                        f"(swiftpipe status {recipe_path})")
    console.say(found)


@click.command(epilog="""\b
Examples:
  swiftpipe chat recipes/medical.py
  swiftpipe chat recipes/medical.py -p sft=full --swift-version 4
""")
@recipe_options
@dialect_option
@work_dir_option
@user_errors
def chat(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], swift_version: str | None,
         work_dir: Path) -> None:
    """Chat with the chain's final model (`swift infer --stream true`) in this terminal."""
    from swiftpipe.msswift import dialects
    from swiftpipe.run.chat import open_chat

    loaded = load_recorded(recipe_path, params, sets, work_dir)
    sys.exit(open_chat(loaded, dialect=dialects.target(swift_version), work_dir=work_dir))


def latest_run(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], work_dir: Path,
               varies: tuple[str, ...] = ()) -> RunRecord:
    """The newest run record of this recipe with these parameters (and sweep), or a UserError."""
    return _latest(recipe_path, params, sets, work_dir, varies)[1]


def _latest(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], work_dir: Path,
            varies: tuple[str, ...] = ()) -> tuple[LoadedRecipe, RunRecord]:
    """The recipe as it is now, and its newest run record with these parameters (or a UserError)."""
    from swiftpipe.records import history

    loaded = load_recorded(recipe_path, params, sets, work_dir, secrets_needed=False, varies=varies)
    record = history.latest(work_dir, loaded.key)
    if record is None:
        raise UserError(f"{recipe_path}: no run recorded for this recipe with these parameters")
    return loaded, record


@click.command(epilog="""\b
Examples:
  swiftpipe compare recipes/demo.py
  swiftpipe compare recipes/medical.py -p sft=full --set compare.max_new_tokens=256
""")
@recipe_options
@dialect_option
@work_dir_option
@click.option("--verbose", is_flag=True, help="Stream ms-swift's whole output, as it prints it.")
@user_errors
def compare(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], swift_version: str | None,
            work_dir: Path, verbose: bool) -> None:
    """Ask the base model and each stage's model the same questions, and show the answers side by side.

    Runs the recipe's compare() stages alone: each model is what the latest run of the recipe produced (nothing is
    trained). The answers and ms-swift's scores against the reference answers go into a new run record.
    """
    from swiftpipe.cli import tables
    from swiftpipe.msswift import dialects
    from swiftpipe.recipe import loading
    from swiftpipe.run.chain import RunOptions, run_chain
    from swiftpipe.run.compare import comparisons

    loaded = loading.load(recipe_path, params=params, sets=sets)
    chosen = [stage.name for group in loaded.recipe.groups.values() for stage in group]
    if not chosen:
        raise UserError(f"{recipe_path}: nothing to compare; add a compare() to the chain, e.g. compare(\"compare\", "
                        "\"questions.jsonl\", {\"base\": BASE_MODEL, \"sft\": merged(\"merge\")})")
    result = run_chain(loaded, dialects.target(swift_version), RunOptions(work_dir=work_dir, stages=chosen,
                                                                          echo=verbose))
    if result.record is not None:
        for comparison in comparisons(result.record):
            console.console.print(tables.comparison_table(comparison))
        _write_report(result.record)
    sys.exit(result.exit_code)


@click.command(epilog="""\b
Examples:
  swiftpipe report recipes/demo.py                  # the latest run: .swiftpipe/runs/<run>/report.html
  swiftpipe report recipes/medical.py -p sft=full -o medical.html
  swiftpipe report recipes/demo.py --run demo-20261123-171427
""")
@recipe_options
@vary_option
@work_dir_option
@click.option("--run", "run_id", metavar="ID", help="A recorded run of the recipe (see `swiftpipe runs`); by default "
              "the latest.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the page; by "
              "default report.html in the run's folder.")
@user_errors
def report(recipe_path: str, params: tuple[str, ...], sets: tuple[str, ...], varies: tuple[str, ...], work_dir: Path,
           run_id: str | None, output: Path | None) -> None:
    """Write one self-contained HTML page for a run: the chain and what each stage handed the next, training
    curves from ms-swift's logging.jsonl, the exact commands, attempts, scores and the answers side by side.

    It needs no network to open: styles and charts (SVG, drawn by matplotlib) are inline.
    """
    from swiftpipe.records import run_record
    from swiftpipe.report import page

    if run_id is None:
        record = latest_run(recipe_path, params, sets, work_dir, varies)
    else:
        folder = work_dir / "runs" / run_id
        if run_id in ("", ".", "..") or "/" in run_id or not (folder / "record.json").is_file():
            raise UserError(f"--run {run_id}: no such run under {work_dir / 'runs'} (swiftpipe runs lists them)")
        record = run_record.read(folder)
    path = page.write(record, output or record.folder / "report.html")
    console.say(f"report: {path}")


COMMANDS = (run, status, runs, resolve, chat, compare, report)
