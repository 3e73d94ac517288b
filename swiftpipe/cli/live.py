"""The live view of a running chain on a terminal: every stage with its state, each running stage's bar (step of
max steps, loss, learning rate, time left, from logging.jsonl), and the last line ms-swift printed beneath (one per
running stage when a sweep runs several side by side).
ms-swift's full output goes to the stage logs; `run --verbose` streams it instead.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from swiftpipe.console import console
from swiftpipe.msswift.layout import Progress
from swiftpipe.records.run_record import RunRecord, State

_MARK = {State.DONE: ("✓", "green"), State.REUSED: ("✓", "green"), State.FAILED: ("✗", "red"),
         State.ABORTED: ("✗", "red"), State.INTERRUPTED: ("■", "yellow"), State.RUNNING: ("▶", "cyan"),
         State.SKIPPED: ("–", "dim"), State.QUEUED: ("…", "cyan"), State.PENDING: ("·", "dim")}


class LiveView:
    """watch.View drawn with rich.Live; `say` prints above it. Use as a context manager around the chain."""

    def __init__(self) -> None:
        self.record: RunRecord | None = None
        self.steps: dict[str, Progress] = {}
        self.last_lines: dict[str, str] = {}  # per stage, the last line ms-swift printed
        self.last_line = ""  # the last of all
        self._lock = threading.Lock()
        self._live = Live(console=console, get_renderable=self._render, refresh_per_second=4, transient=True,
                          redirect_stdout=False, redirect_stderr=False)

    def __enter__(self) -> LiveView:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

    def attach(self, record: RunRecord) -> None:
        self.record = record

    def line(self, stage: str, text: str) -> None:
        with self._lock:
            self.last_lines[stage] = self.last_line = text

    def progress(self, stage: str, progress: Progress) -> None:
        with self._lock:
            self.steps[stage] = progress

    def say(self, text: str) -> None:
        self._live.console.print(Text(text), soft_wrap=True)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Off the screen while a stage owns the terminal (an interactive chat)."""
        self._live.stop()
        try:
            yield
        finally:
            self._live.start()

    def _render(self) -> Group:
        table = Table.grid(padding=(0, 1))
        if self.record is not None:
            for name, entry in self.record.stages.items():
                mark, style = _MARK.get(entry.state, ("·", ""))
                running = entry.state is State.RUNNING
                row: list[RenderableType] = [Text(mark, style=style), Text(name, style="bold" if running else ""),
                                             Text(entry.state.value, style=style)]
                with self._lock:
                    step = self.steps.get(name)
                if running and step is not None:
                    row += [ProgressBar(total=max(step.max_steps, 1), completed=step.step, width=30),
                            Text(_describe(step))]
                elif entry.seconds is not None:
                    row.append(Text(f"{entry.seconds:.0f}s", style="dim"))
                table.add_row(*row)
        return Group(table, *self._tails())

    def _tails(self) -> list[Text]:
        """The last line of each running stage, named when several run; of the last one to print, when none does."""
        running = [name for name, entry in self.record.stages.items() if entry.state is State.RUNNING] \
            if self.record is not None else []
        with self._lock:
            lines = {name: self.last_lines[name] for name in running if name in self.last_lines}
            latest = self.last_line
        shown = [f"{name}: {text}" for name, text in lines.items()] if len(lines) > 1 else \
            list(lines.values()) or [latest]
        width = max(20, console.width - 2)
        return [Text(text[:width], style="dim", no_wrap=True, overflow="ellipsis") for text in shown]


def _describe(step: Progress) -> str:
    parts = [f"{step.step}/{step.max_steps}"]
    if step.headline is not None:
        parts.append(str(step.headline))
    if step.learning_rate is not None:
        parts.append(f"lr {step.learning_rate:.3g}")
    if step.remaining:
        parts.append(f"{step.remaining} left")
    return "  ".join(parts)
