"""Watching a running stage: ms-swift's output passes through untouched, what it reports (its run folder,
merged folder, results file) is picked out of it, and a progress line from logging.jsonl is printed
between its lines, never inside one.
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import BinaryIO

from swiftpipe.run import layout


class StageWatcher:
    def __init__(self, stage: str, *, echo: bool = True, stream: BinaryIO | None = None,
                 every: float | None = None) -> None:
        self.stage = stage
        self.echo = echo
        self.stream = stream or sys.stdout.buffer
        tty = getattr(self.stream, "isatty", lambda: False)()
        self.every = every if every is not None else (10.0 if tty else 30.0)
        self.found: dict[str, str] = {}  # "run_dir" | "merged" | "results" | "scores" -> as ms-swift printed it
        self._partial = b""
        self._at_line_start = True
        self._last_progress = (None, 0.0)

    def output(self, chunk: bytes) -> None:
        if self.echo:
            self.stream.write(chunk)
            self.stream.flush()
        self._at_line_start = chunk.endswith((b"\n", b"\r"))
        lines = re.split(rb"[\r\n]", self._partial + chunk)
        self._partial = lines.pop()
        for raw in lines:
            self._scan(raw.decode("utf-8", errors="replace"))

    def _scan(self, line: str) -> None:
        for key, pattern in (("run_dir", layout.OUTPUT_DIR_LINE), ("merged", layout.MERGED_LINE),
                             ("results", layout.RESULT_PATH_LINE), ("scores", layout.METRIC_LINE)):
            match = pattern.search(line)
            if match:
                self.found[key] = match.group(1)

    def tick(self) -> None:
        """Print a progress line when training advanced, at most every `every` seconds, between lines."""
        run_dir = self.found.get("run_dir")
        if not (self.echo and run_dir and self._at_line_start):
            return
        progress = layout.read_progress(Path(run_dir))
        last_step, last_time = self._last_progress
        if progress is None or progress.step == last_step or time.monotonic() - last_time < self.every:
            return
        self._last_progress = (progress.step, time.monotonic())
        self.stream.write(format_progress(self.stage, progress).encode() + b"\n")
        self.stream.flush()


def format_progress(stage: str, progress: layout.Progress) -> str:
    parts = [f"[swiftpipe] {stage}: step {progress.step}/{progress.max_steps}"]
    if progress.loss is not None:
        parts.append(f"loss {progress.loss:.4g}")
    if progress.remaining:
        parts.append(f"{progress.remaining} left")
    return " · ".join(parts)
