"""Check a data file against what ms-swift will make of it, streaming, and collect every problem as
`path:line: field: what is wrong`."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from swiftpipe.data import formats, stream
from swiftpipe.errors import UserError

DEFAULT_LIMIT = 20


class DataError(UserError):
    """A data file with problems; the message lists them, one per line."""


@dataclass
class Report:
    path: Path
    purpose: str | None
    framing: stream.Framing
    records: int = 0
    shape: str = "none"
    native: bool = True
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    empty: int = 0
    limit: int = DEFAULT_LIMIT
    entries: list[tuple[int | stream.Place | None, str]] = field(default_factory=list)  # the problems, unformatted

    def add(self, line: int | stream.Place | None, what: str) -> None:
        self.problem_count += 1
        if len(self.problems) < self.limit:
            self.problems.append(f"{self.path}:{line}: {what}" if line else f"{self.path}: {what}")
            self.entries.append((line, what))

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def summary(self) -> str:
        framing = "JSON array" if self.framing.container == "array" else "JSON Lines"
        return f"{self.path}: {self.records} {self.purpose} records ({self.shape}, {framing})"

    def raise_for_problems(self) -> None:
        if self.ok:
            return
        more = self.problem_count - len(self.problems)
        tail = f" ({more} more not shown)" if more else ""
        noun = "problem" if self.problem_count == 1 else "problems"
        raise DataError("\n".join(self.problems + [f"{self.path}: {self.problem_count} {noun}{tail}"]))


def checked_records(path: Path, purpose: str | None, *, report: Report, shape: formats.Shape | None = None,
                    columns: Mapping[str, str] | None = None,
                    max_record_bytes: int = stream.DEFAULT_MAX_RECORD_BYTES,
                    progress: Callable[[int], object] | None = None, first: int | stream.Place | None = None,
                    span: tuple[int, int] | None = None, whole: bool = True, keep: bool = True,
                    chunk: int | None = None) -> Iterator[tuple[formats.Shape, dict]]:
    """The good records of a file with their shape; every problem goes into `report`. The shape is the first
    record's, unless one is given (a registry entry names its columns; a later part of a file split for parallel
    checking gets the file's, with `first`, where that record is). With no purpose, only syntax is checked and nothing
    is yielded. `span`: only the JSON Lines between these byte offsets, numbered from 1; `whole`: the file is all
    there is, so an empty one is a problem; `keep`: yield the good records (False: only check them); `chunk`: the
    reading size, for tests."""
    if purpose is not None and purpose not in formats.PURPOSES:
        raise UserError(f"unknown kind {purpose!r}; expected one of {', '.join(formats.PURPOSES)}")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    state = _State(purpose, report, shape, columns, first)
    fast = purpose is not None and not columns  # the common case inline: a record the file's shape accepts
    known, fine, count = state.shape if fast else None, state.fine, 0  # known: the shape, once checked inline
    for line, value in stream.records(path, framing=report.framing, max_record_bytes=max_record_bytes,
                                      progress=progress, span=span, chunk=chunk,
                                      accept=state.accepts if not columns else None):
        if type(value) is stream.Accepted:  # a run of good records, decoded and checked at once
            count += len(value.values)
            shape = state.shape  # known whenever a run is accepted with a purpose
            if keep and purpose is not None and shape is not None:
                for record in value.values:
                    yield shape, record
            continue
        if known is not None and type(value) is dict and fine(value):
            count += 1
            if keep:
                yield known, value
            continue
        good = state.take(line, value)  # `line` is a stream.Place in an array
        if good is not None and keep:
            yield good
        if known is None and fast and state.shape is not None:  # the file's shape is known from here on
            known, fine = state.shape, state.fine
    state.count += count
    report.records = state.count
    if whole and report.records == 0 and report.problem_count == 0:
        report.add(None, "holds no records")


def first_shape(path: Path, purpose: str | None, framing: stream.Framing, span: tuple[int, int], *,
                columns: Mapping[str, str] | None, max_record_bytes: int
                ) -> tuple[formats.Shape | None, int | stream.Place | None]:
    """The record shape the records in `span` settle on, as `checked_records` settles it, and where the record that
    settles it is; (None, None) when none does or there is no purpose."""
    if purpose is None:
        return None, None
    state = _State(purpose, Report(path, purpose, framing), None, columns, None)
    for line, value in stream.records(path, framing=framing, max_record_bytes=max_record_bytes, span=span):
        state.take(line, value)
        if state.shape is not None:
            return state.shape, state.first
    return None, None


class _State:
    """What checking a file has learned so far: its shape (its first good record's), where that record is, and how
    many records it has seen."""

    def __init__(self, purpose: str | None, report: Report, shape: formats.Shape | None,
                 columns: Mapping[str, str] | None, first: int | stream.Place | None) -> None:
        self.purpose, self.report, self.shape, self.columns, self.first = purpose, report, shape, columns, first
        self.check = None if shape is None else shape.check
        self.fine = self._fine(shape)
        self.count = 0
        if shape is not None:
            report.shape = shape.name

    def _fine(self, shape: formats.Shape | None) -> Callable[[dict], bool]:
        """The shape's quick test of a good record, else one made of its full check."""
        if shape is None or self.purpose is None:
            return lambda record: False
        purpose, check = self.purpose, shape.check
        return shape.quick(purpose) or (lambda record: not check(record, purpose))

    def accepts(self, records: list) -> bool:
        """Whether every record of a run is good, so that none needs its place worked out: objects of the file's
        shape (known from its first good record), or with no purpose any objects."""
        if self.purpose is None:
            return all(type(record) is dict for record in records)
        if self.check is None:
            return False
        fine = self.fine
        for record in records:
            if type(record) is not dict or not fine(record):
                return False
        return True

    def take(self, line: int | stream.Place | None, value: object) -> tuple[formats.Shape, dict] | None:
        """One record checked: its shape and value if it is good; otherwise its problems go into the report."""
        report, purpose = self.report, self.purpose
        if type(value) is dict:
            self.count += 1
            if purpose is None:  # syntax only: every record parses and is an object; nothing about its fields
                return None
            if self.columns:  # ms-swift's --columns renames before it reads
                value = {self.columns.get(key, key): v for key, v in value.items()}
            shape = self.shape
            if shape is None:
                shape = formats.detect(value, purpose)
                if shape is None or purpose not in shape.purposes:
                    report.add(line, f"no {purpose} format has keys {sorted(value)}; "
                                     f"expected {formats.expected(purpose)}")
                    return None
                self.shape, self.check, self.first = shape, shape.check, line
                self.fine = self._fine(shape)
                report.shape, report.native = shape.name, shape.native
            problems = shape.check(value, purpose)
            if not problems:
                return shape, value
            other = formats.detect(value, purpose)
            if self.first and other is not None and other != shape:
                at = f"line {self.first}" if type(self.first) is int else self.first
                name = shape.name
                report.add(line, f"a {other.name} record in a {name} file ({at}); ms-swift reads a whole file with one "
                                 "format")
                return None
            report.empty += any(what == "is empty" for _, what in problems)
            for name, what in problems:
                report.add(line, f"{name}: {what}")
        elif type(value) is stream.Unreadable:
            report.add(line, value.message)
        else:
            self.count += 1
            report.add(line, f"the record is {formats.type_name(value)}, not an object")
        return None


def validate(path: Path, purpose: str | None, *, limit: int = DEFAULT_LIMIT, columns: Mapping[str, str] | None = None,
             max_record_bytes: int = stream.DEFAULT_MAX_RECORD_BYTES,
             progress: Callable[[int], object] | None = None, workers: int | None = None) -> Report:
    """Read the whole file once; the report holds the count, the shapes, and the first `limit` problems. A large
    JSON Lines file is checked in parts on `workers` processes (default: every core), with the same report."""
    from swiftpipe.data import parallel

    path = Path(path)
    framing = stream.read_framing(path) if path.is_file() else stream.Framing("jsonl", False)
    report = Report(path, purpose, framing, limit=limit)
    if report.framing.bom and report.framing.container == "array":
        report.add(1, "a byte-order mark before a JSON array: ms-swift (datasets) cannot read this file; "
                      "`swiftpipe data convert` writes it without one")
    workers = parallel.cores() if workers is None else workers
    if not (path.is_file() and parallel.worth_splitting(path, framing, workers) and parallel.validate_parts(
            path, purpose, report, workers=workers, columns=columns, max_record_bytes=max_record_bytes,
            progress=progress)):
        deque(checked_records(path, purpose, report=report, columns=columns, max_record_bytes=max_record_bytes,
                              progress=progress, keep=False), maxlen=0)
    if not report.native:
        how = f"swiftpipe data convert {path} OUT.jsonl --to {purpose}" if purpose in formats.CONVERTIBLE else \
            f"write them as {formats.expected(purpose or 'sft')}"
        report.add(None, f"records are in the {report.shape} format, which ms-swift does not read: {how}")
    return report


def guess_purpose(path: Path) -> str:
    """What the first record looks like it is for: preference data if it has a rejected answer, pretraining text if it
    is only text, else SFT."""
    for _, value in stream.records(Path(path)):
        if type(value) is dict:
            if value.keys() & {"rejected_response", "response_rejected", "rejected"}:
                return "dpo"
            if "label" in value:
                return "kto"
            if formats.detect(value, "sft") is None and formats.detect(value, "pt") is not None:
                return "pt"
            return "sft"
    return "sft"
