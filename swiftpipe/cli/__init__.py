"""The `swiftpipe` command: one thin module per group of subcommands, each parsing options, calling the library,
and turning a UserError into red lines and a non-zero exit (`common.user_errors`)."""
from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from gettext import gettext as _
from typing import Any

import click

from swiftpipe import __version__, console, moments, signals
from swiftpipe.errors import Exit

# Every command: its module under swiftpipe.cli, the object there, and the first paragraph of its help (None for a
# hidden one), which `swiftpipe --help` lists, so that a command imports its own module alone (`render` stays light)
# and --help imports none. tests/test_cli.py checks each text against the command's own.
_COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "info": ("recipes", "info", "Show a recipe's parameters (with defaults) and its stages."),
    "render": ("recipes", "render", "Print the chain's ms-swift commands, in the tutorials' layout."),
    "lint": ("recipes", "lint", "Check every rendered flag against the installed ms-swift's own argument classes."),
    "export-scripts": ("recipes", "export_scripts",
                       "Write one runnable script per stage, plus run_all.sh, that need no swiftpipe to run."),
    "run": ("runs", "run", "Run the chain: each stage gets what the previous one produced; every run is recorded."),
    "status": ("runs", "status", "Show the latest run of a recipe: each stage's state, times, output, checkpoint, "
               "final number, attempts."),
    "runs": ("runs", "runs", "List the runs recorded under the work dir, newest last."),
    "resolve": ("runs", "resolve", "Print the path a stage produced in the newest run where it finished."),
    "chat": ("runs", "chat", "Chat with the chain's final model (`swift infer --stream true`) in this terminal."),
    "compare": ("runs", "compare", "Ask the base model and each stage's model the same questions, and show the "
                "answers side by side."),
    "report": ("runs", "report", "Write one self-contained HTML page for a run: the chain and what each stage "
               "handed the next, training curves from ms-swift's logging.jsonl, the exact commands, attempts, "
               "scores and the answers side by side."),
    "cancel": ("slurm", "cancel", "Cancel (scancel) the Slurm jobs of the latest run that are still queued or "
               "running."),
    "job": ("slurm", "job", None),
    "import": ("imports", "import_", "Turn shell scripts, Python files and ms-swift, LLaMA-Factory or xtuner configs "
               "into one recipe, in order."),
    "data": ("data", "data", "Check, convert and describe datasets (JSON Lines or one JSON array, any size)."),
    "download": ("download", "download", "Fetch models and datasets with the hubs' own libraries and caches."),
}


class _LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands, by name: each imported the first time it is looked up, so that click's own lookups,
    listings and "Did you mean" suggestions know them all and a command still imports its own module alone."""

    def __init__(self) -> None:
        self._names = dict.fromkeys(_COMMANDS)  # ordered, as a set
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._loaded:
            module, attribute = _COMMANDS[name][:2]
            self._loaded[name] = getattr(importlib.import_module(f"swiftpipe.cli.{module}"), attribute)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._names[name] = None
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._names[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class _Commands(click.Group):
    """swiftpipe's commands: a stop that comes before a command's own handling (user_errors) ends it as Ctrl-C
    does anywhere, with exit code 130, not click's "Aborted!" and 1. Each is imported when it runs (_LazyCommands)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """--help's list of commands, as click writes it, with _COMMANDS' texts: no command module imported."""
        listed = {}
        for name in self.list_commands(ctx):
            if name in _COMMANDS:
                help_text = _COMMANDS[name][2]
                command = None if help_text is None else click.Command(name, help=help_text)
            else:
                command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                listed[name] = command
        if listed:
            limit = formatter.width - 6 - max(len(name) for name in listed)
            with formatter.section(_("Commands")):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in listed.items()])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            console.say("interrupted", err=True)
            ctx.exit(Exit.INTERRUPTED)


@click.group(cls=_Commands, commands=_LazyCommands(), context_settings={"help_option_names": ["-h", "--help"]},
             epilog="""\b
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
    # Ctrl-C too: a swiftpipe started in the background inherits SIGINT ignored from its shell, and Python then
    # installs no KeyboardInterrupt for it; `kill -INT` must stop it as it stops one in the foreground.
    click.get_current_context().with_resource(signals.handled(signals.raise_interrupt, signals.STOP_SIGNALS))
    moments.reached("started")

