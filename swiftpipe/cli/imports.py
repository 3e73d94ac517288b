"""`swiftpipe import`: users' own scripts and configs become a recipe."""
from __future__ import annotations

from pathlib import Path

import click

from swiftpipe import console
from swiftpipe.cli.common import user_errors
from swiftpipe.errors import UserError


@click.command("import", epilog="""\b
Examples:
  swiftpipe import pt.sh sft.sh merge.sh -o recipes/mine.py   # shell scripts, any ms-swift major, in chain order
  swiftpipe import train.py                                   # ms-swift 2.x/3.x/4.x Python API; prints the recipe
  swiftpipe import old.sh -o recipes/old.py --force           # replace an earlier import
  swiftpipe import sweep.sh -o recipes/sweep.py               # a `for lr in ...` loop: one stage, its variants
  swiftpipe import train_config.yaml                          # ms-swift's own config (swift sft --config FILE)
  swiftpipe import sft.yaml --dataset-info ~/LLaMA-Factory/data/dataset_info.json   # its registered dataset names
  swiftpipe render recipes/mine.py --swift-version 4          # then: the same commands, for ms-swift 4
""")
@click.argument("paths", metavar="FILE...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the recipe here (default: print it).")
@click.option("--force", is_flag=True, help="Overwrite the -o file if it exists.")
@click.option("--name", help="The recipe's name (default: the -o file's, else the first input's).")
@click.option("--dataset-info", metavar="FILE", help="LLaMA-Factory's dataset_info.json, for the dataset names a "
              "config's own dataset_dir has no entry for (default: each becomes a recipe parameter).")
@user_errors
def import_(paths: tuple[str, ...], output: str | None, force: bool, name: str | None,
            dataset_info: str | None) -> None:
    """Turn shell scripts, Python files and ms-swift, LLaMA-Factory or xtuner configs into one recipe, in order.

    Flags are rewritten so the recipe renders for ms-swift 3 and 4 (2.x names translated); a path into an earlier
    command's output_dir becomes a hand-off; secrets are read from the environment, never copied. What was
    translated, repaired or dropped is listed on stderr and as comments in the recipe."""
    from swiftpipe.importer.importing import import_files
    from swiftpipe.importer.writer import recipe_text

    if output and Path(output).exists() and not force:
        raise UserError(f"{output} exists; add --force to replace it")
    imported = import_files(paths, dataset_info=dataset_info)
    recipe_name = name or Path(output or paths[0]).stem.replace("-", "_")
    text = recipe_text(imported, name=recipe_name, path=output or f"{recipe_name}.py")
    compile(text, output or "<recipe>", "exec")  # a recipe that does not parse is swiftpipe's bug, never written
    for finding in imported.findings:
        console.say(str(finding), err=True, style="yellow" if finding.category in ("warning", "secret") else None)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        console.say(f"wrote {output}: {len(imported.calls)} stages ("
                    f"{' -> '.join(c.name for c in imported.calls)}); next: swiftpipe render {output}", err=True)
    else:
        console.write(text)


COMMANDS = (import_,)
