"""A bytes-read progress bar for reading long files, on stderr, only where someone is watching."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from swiftpipe.console import err_console

WORTH_A_BAR = 64 << 20


@contextlib.contextmanager
def reading(path: str | Path, label: str) -> Iterator[Callable[[int], object] | None]:
    """A callback taking bytes read so far, or None for small files and when stderr is not a terminal."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0
    if size < WORTH_A_BAR or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(f"{label} {Path(path).name}", total=size)
        yield lambda done: bar.update(task, completed=done)
