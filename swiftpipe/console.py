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

    # _Stream is no IO[str] subclass: it writes itself and hands the rest (isatty, encoding, fileno) to the stream
    return Console(file=_Stream(err), highlight=False, emoji=False)  # type: ignore[arg-type]


class _Stream:
    """stdout or stderr as rich writes to it: through `write`, so that a reader gone (a closed pipe) is no error
    there either; everything else (isatty, encoding, fileno) is the stream's own."""

    def __init__(self, err: bool) -> None:
        self.err = err

    def write(self, text: str) -> int:
        write(text, err=self.err)
        return len(text)

    def flush(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stderr if self.err else sys.stdout, name)


def __getattr__(name: str) -> Any:
    """`console.console` (stdout) and `console.err_console` (stderr): the rich Consoles."""
    if name in ("console", "err_console"):
        return _rich(name == "err_console")
    raise AttributeError(name)


def say(text: str, *, err: bool = False, style: str | None = None) -> None:
    """Print `text` as it is, as one line (or several); `style` colours it where the stream is a terminal."""
    if style is None:
        write(text + "\n", err=err)
        return
    try:
        _rich(err).print(text, markup=False, highlight=False, soft_wrap=True, style=style)
    except (OSError, ValueError):
        gone(err=err)


def write(text: str, *, err: bool = False) -> None:
    """`text` exactly, no newline added (rendered scripts)."""
    stream = sys.stderr if err else sys.stdout
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):  # a closed pipe (`| head`, a `| tee` stopped by the same Ctrl-C), a lost terminal
        gone(err=err)


def gone(*, err: bool) -> None:
    """Whoever read the stream is gone: what the chain does next (stop a stage, write its record) must not fail for
    it, so the rest of the output goes nowhere: the stream's file descriptor now points at /dev/null, and what the
    stream still buffers (Python flushes it once more at exit) goes there too."""
    import os

    stream = sys.stderr if err else sys.stdout
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
        stream.flush()
    except (OSError, ValueError):  # a stream without a descriptor of its own (a test's capture): drop it
        sink = open(os.devnull, "w")  # noqa: SIM115 (for the rest of the process)
        if err:
            sys.stderr = sink
        else:
            sys.stdout = sink


def warn(text: str) -> None:
    say(f"warning: {text}", err=True, style="yellow")


def error(text: str) -> None:
    """Each line of `text` as an `error:` line on stderr."""
    for line in text.splitlines() or [""]:
        say(f"error: {line}", err=True, style="red")
