"""The `swiftpipe` command: one thin module per group of subcommands, each parsing options, calling the library,
and turning a UserError into red lines and a non-zero exit (`common.user_errors`)."""
from __future__ import annotations

from typing import Any

import click

from swiftpipe import __version__, console, moments, signals
from swiftpipe.cli import data, download, imports, recipes, runs, slurm
from swiftpipe.errors import Exit


class _Commands(click.Group):
    """swiftpipe's commands: a stop that comes before a command's own handling (user_errors) ends it as Ctrl-C
    does anywhere, with exit code 130, not click's "Aborted!" and 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            console.say("interrupted", err=True)
            ctx.exit(Exit.INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog="""\b
Examples:
  swiftpipe info recipes/medical.py
  swiftpipe render recipes/medical.py --stage pretrain --swift-version 3
  swiftpipe render recipes/medical.py -p sft=lisa --set sft.learning_rate=2e-5
  swiftpipe lint recipes/medical.py
  swiftpipe export-scripts recipes/medical.py script/
  swiftpipe run recipes/demo.py
  swiftpipe run recipes/medical.py --launcher slurm --nodes 2 --gpus-per-node 8 --partition gpu --wait
  swiftpipe data validate datasets/medical_sft_sample.jsonl --kind sft
  swiftpipe download model Qwen/Qwen2.5-1.5B
  swiftpipe import pt.sh sft.sh merge.sh -o recipes/mine.py
""")
@click.version_option(__version__, prog_name="swiftpipe")
def main() -> None:
    """Recipes for ms-swift: the pretrain -> SFT -> merge -> DPO -> infer chain, rendered exactly."""
    # SIGTERM and a hang-up stop any command as Ctrl-C does (exit 130, records final), from its first line on.
    click.get_current_context().with_resource(signals.handled(signals.raise_interrupt, signals.POLITE))
    moments.reached("started")


for command in (*recipes.COMMANDS, *runs.COMMANDS, *slurm.COMMANDS, *imports.COMMANDS, data.data, download.download):
    main.add_command(command)
