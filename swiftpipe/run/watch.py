"""Watching a running stage: what ms-swift reports (its run folder, merged folder, results file, scores) is picked
out of its output, and its progress is read from the lines appended to logging.jsonl. Three ways to show it:

- verbose (`echo`): ms-swift's output passes through untouched, with a progress line between its lines;
- a `View` (the live view on a terminal): each line and each step go to the view, which draws them;
- neither (not a terminal, or --quiet): a progress line every `every` seconds, nothing of ms-swift's output.
"""
from __future__ import annotations

import os
import re
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from swiftpipe import console
from swiftpipe.msswift import layout

if TYPE_CHECKING:
    from swiftpipe.records.run_record import RunRecord


class View(Protocol):
    """What a live display of a chain is told (cli/live.py draws it)."""

    def attach(self, record: RunRecord) -> None: ...  # the run's record, whose stage states it shows

    def line(self, stage: str, text: str) -> None: ...  # the latest line ms-swift printed

    def progress(self, stage: str, progress: layout.Progress) -> None: ...  # the newest logged step

    def held(self) -> AbstractContextManager[None]: ...  # the display stands aside while a stage owns the terminal


class StageWatcher:
    def __init__(self, stage: str, *, echo: bool = True, view: View | None = None, stream: BinaryIO | None = None,
                 every: float | None = None) -> None:
        self.stage = stage
        self.echo = echo
        self.view = view
        self.stream = stream or sys.stdout.buffer
        tty = getattr(self.stream, "isatty", lambda: False)()
        self.every = every if every is not None else (10.0 if tty else 30.0)
        self.found: dict[layout.Output, str] = {}  # each output ms-swift named, as printed
        self.scores: str | None = None  # the mean scores it logged, as printed
        self._partial = b""
        self._at_line_start = True
        self._last_progress: tuple[int | None, float] = (None, 0.0)
        self._follower: layout.LogFollower | None = None

    def output(self, chunk: bytes) -> None:
        if self.echo:
            self._emit(chunk)
        self._at_line_start = chunk.endswith((b"\n", b"\r"))
        lines = re.split(rb"[\r\n]", self._partial + chunk)
        self._partial = lines.pop()
        for raw in lines:
            text = raw.decode("utf-8", errors="replace")
            self._scan(text)
            if self.view is not None and text.strip():
                self.view.line(self.stage, text.strip())

    def _emit(self, data: bytes) -> None:
        """To the terminal or pipe; one that went away (`| head`) takes nothing more and stops nothing."""
        try:
            self.stream.write(data)
            self.stream.flush()
        except (OSError, ValueError):
            if self.stream is sys.stdout.buffer:
                console.gone(err=False)
            self.stream = open(os.devnull, "wb")  # noqa: SIM115 (for the rest of the stage)

    def _scan(self, line: str) -> None:
        for output, pattern in layout.OUTPUT_LINES.items():
            match = pattern.search(line)
            if match:
                self.found[output] = match.group(1)
        scores = layout.METRIC_LINE.search(line)
        if scores:
            self.scores = scores.group(1)

    def tick(self) -> None:
        """Read the steps logged since the last tick; show them (a view), or print a progress line at most every
        `every` seconds (between ms-swift's lines when they are echoed)."""
        run_dir = self.found.get(layout.Output.RUN_DIR)
        if not run_dir:
            return
        if self._follower is None:
            self._follower = layout.LogFollower(Path(run_dir))
        progress = self._follower.poll()
        if progress is None:
            return
        if self.view is not None:
            self.view.progress(self.stage, progress)
            return
        last_step, last_time = self._last_progress
        if progress.step == last_step or time.monotonic() - last_time < self.every:
            return
        if self.echo and not self._at_line_start:
            return
        self._last_progress = (progress.step, time.monotonic())
        self._emit(format_progress(self.stage, progress).encode() + b"\n")


def format_progress(stage: str, progress: layout.Progress) -> str:
    parts = [f"[swiftpipe] {stage}: step {progress.step}/{progress.max_steps}"]
    if progress.headline is not None:
        parts.append(str(progress.headline))
    if progress.learning_rate is not None:
        parts.append(f"lr {progress.learning_rate:.3g}")
    if progress.remaining:
        parts.append(f"{progress.remaining} left")
    return " · ".join(parts)
