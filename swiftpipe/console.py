"""The one output channel: a rich Console for stdout and one for stderr, and the helpers that print plain text.

Anything printed from a model, a dataset, a path or a recipe goes through `say`, `warn` or `error`: never read as
markup, never wrapped at the terminal's width (a path stays one line a script can parse), never highlighted.
Tables and progress are drawn on the same Consoles.
"""
from __future__ import annotations

from rich.console import Console

console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)


def say(text: str, *, err: bool = False, style: str | None = None) -> None:
    """Print `text` as it is."""
    (err_console if err else console).print(text, markup=False, highlight=False, soft_wrap=True, style=style)


def warn(text: str) -> None:
    say(f"warning: {text}", err=True, style="yellow")


def error(text: str) -> None:
    """Each line of `text` as an `error:` line on stderr."""
    for line in text.splitlines() or [""]:
        say(f"error: {line}", err=True, style="red")


def write(text: str) -> None:
    """`text` to stdout exactly: no newline added, nothing interpreted (rendered scripts)."""
    console.out(text, end="", highlight=False)
