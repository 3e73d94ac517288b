"""A large JSON Lines file checked on every core: cut at line starts into one part per process, each part checked
as `validate` checks a file, and the parts' findings put back in file order with their line numbers made the
file's. The file's record shape is its first good record's, found before the split and given to every later part,
so a part that starts with another format reports it as the whole file would."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, MutableSequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import BinaryIO

from swiftpipe import signals
from swiftpipe.data import formats, stream
from swiftpipe.data.validate import Report, checked_records, first_shape

WORTH_SPLITTING = 64 << 20  # smaller files are read in one process: starting more costs more than it saves
_PART_TARGET = 256 << 20  # parts per process: more than one each, so that one slow part does not hold the rest


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worth_splitting(path: Path, framing: stream.Framing, workers: int) -> bool:
    return framing.container == "jsonl" and workers > 1 and path.stat().st_size >= WORTH_SPLITTING


def validate_parts(path: Path, purpose: str | None, report: Report, *, workers: int,
                   columns: Mapping[str, str] | None, max_record_bytes: int,
                   progress: Callable[[int], object] | None) -> bool:
    """Fill `report` from the file's parts, checked in `workers` processes; False (and nothing filled) when the
    file's first part holds no record that sets its shape, which only a serial read reports as it should."""
    size = path.stat().st_size
    count = max(workers, min(workers * 4, size // _PART_TARGET))
    spans = _spans(path, size, count)
    shape, first = first_shape(path, purpose, report.framing, spans[0], columns=columns,
                               max_record_bytes=max_record_bytes)
    if purpose is not None and shape is None:
        return False
    done = multiprocessing.Array("q", len(spans), lock=False) if progress else None
    # fork: the pool starts every worker at the first submit, from this thread, which outlives the pool (a worker's
    # death signal follows the thread that started it)
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(done, os.getpid())) as pool:
        futures = [pool.submit(_part, str(path), purpose, report.framing, span, index, columns, max_record_bytes,
                               report.limit, None if index == 0 else shape, None if index == 0 else first)
                   for index, span in enumerate(spans)]
        while progress and done is not None and not all(f.done() for f in futures):
            progress(sum(done))
            time.sleep(0.1)
        parts = [f.result() for f in futures]
    lines = _LinesBefore(path, spans)
    for index, part in enumerate(parts):
        for line, what in part.entries:  # a part's lines are counted only when one of its problems needs the offset
            report.add(_moved(line, lines.before(index)), what)
        report.problem_count += part.problem_count - len(part.entries)
        report.records += part.records
        report.empty += part.empty
    report.shape, report.native = parts[0].shape, parts[0].native
    if report.records == 0 and report.problem_count == 0:
        report.add(None, "holds no records")
    if progress:
        progress(size)
    return True


def _spans(path: Path, size: int, count: int) -> list[tuple[int, int]]:
    """`count` byte ranges that start at line starts and cover the file."""
    starts = [0]
    with open(path, "rb") as f:
        for i in range(1, count):
            at = _next_line(f, max(size * i // count, starts[-1]))
            if starts[-1] < at < size:
                starts.append(at)
    return list(zip(starts, starts[1:] + [size]))


def _next_line(f: BinaryIO, offset: int) -> int:
    """The offset of the first line start after `offset`, read a block at a time (a line may be 100 MB long)."""
    f.seek(offset)
    while True:
        block = f.read(1 << 20)
        if not block:
            return f.tell()
        cut = block.find(b"\n")
        if cut >= 0:
            return offset + cut + 1
        offset += len(block)


_done: MutableSequence[int] | None = None  # this worker's share of the progress array


def _start_worker(done: MutableSequence[int] | None, parent: int) -> None:
    """A worker ends with the process that started it, even one killed outright: else it would wait for parts
    forever, on a queue that its sibling workers keep open."""
    global _done
    _done = done
    if not signals.die_with_parent(signal.SIGKILL, parent):
        threading.Thread(target=_end_with, args=(parent,), daemon=True).start()


def _end_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _part(path: str, purpose: str | None, framing: stream.Framing, span: tuple[int, int], index: int,
          columns: Mapping[str, str] | None, max_record_bytes: int, limit: int, shape: formats.Shape | None,
          first: int | stream.Place | None) -> Report:
    report = Report(Path(path), purpose, framing, limit=limit)

    def progress(read: int) -> None:
        if _done is not None:  # it is, where progress is passed
            _done[index] = read

    for _ in checked_records(Path(path), purpose, report=report, shape=shape, columns=columns, first=first,
                             max_record_bytes=max_record_bytes, span=span, whole=False, keep=False,
                             progress=progress if _done is not None else None):
        pass
    return report


class _LinesBefore:
    """How many lines the parts before part N hold: counted once, and only as far as asked."""

    def __init__(self, path: Path, spans: list[tuple[int, int]]) -> None:
        self.path, self.spans, self.counts = path, spans, [0]

    def before(self, index: int) -> int:
        while len(self.counts) <= index:
            start, end = self.spans[len(self.counts) - 1]
            self.counts.append(self.counts[-1] + _newlines(self.path, start, end))
        return self.counts[index]


def _newlines(path: Path, start: int, end: int) -> int:
    """The newlines between two offsets (a part ends at a line start, so its lines)."""
    count = 0
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start
        while left > 0:
            data = f.read(min(left, 8 << 20))
            if not data:
                break
            count += data.count(b"\n")
            left -= len(data)
    return count


def _moved(line: int | stream.Place | None, offset: int) -> int | stream.Place | None:
    return line + offset if type(line) is int else line
