"""The one output channel: plain text for lines, and a rich Console each for stdout and stderr (tables, progress,
colour), built the first time one is needed so that `render` and `--help` never import rich's console.

Anything printed from a model, a dataset, a path or a recipe goes through `say`, `warn`, `error` or `write`: never
read as markup, never wrapped at the terminal's width (a path stays one line a script can parse).
"""
from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@functools.lru_cache(maxsize=2)
def _rich(err: bool) -> Console:
    from rich.console import Console

    return Console(stderr=err, highlight=False, emoji=False)


def __getattr__(name: str) -> Any:
    """`console.console` (stdout) and `console.err_console` (stderr): the rich Consoles."""
    if name in ("console", "err_console"):
        return _rich(name == "err_console")
    raise AttributeError(name)


def say(text: str, *, err: bool = False, style: str | None = None) -> None:
    """Print `text` as it is, as one line (or several); `style` colours it where the stream is a terminal."""
    if style is None:
        write(text + "\n", err=err)
    else:
        _rich(err).print(text, markup=False, highlight=False, soft_wrap=True, style=style)


def write(text: str, *, err: bool = False) -> None:
    """`text` exactly, no newline added (rendered scripts)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text)
    stream.flush()


def warn(text: str) -> None:
    say(f"warning: {text}", err=True, style="yellow")


def error(text: str) -> None:
    """Each line of `text` as an `error:` line on stderr."""
    for line in text.splitlines() or [""]:
        say(f"error: {line}", err=True, style="red")
