"""Records out of a data file in constant memory: JSON Lines, or one JSON array, decided by the content.

Each record comes with where it starts: its line in JSON Lines, a `Place` (line, column and index) in an array,
whose records may all sit on one line. What cannot be read becomes an `Unreadable` in its place, so a caller
sees every bad line of a JSON Lines file, not just the first. A JSON array cannot be re-synchronised after a
syntax error, so its reading stops at the first one.
"""
from __future__ import annotations

import codecs
import itertools
import json
from pathlib import Path
from typing import IO, Callable, Iterator, NamedTuple, Protocol

CHUNK = 1 << 20
DEFAULT_MAX_RECORD_BYTES = 64 << 20
BOM = b"\xef\xbb\xbf"


class Unreadable(NamedTuple):
    """A line (or array element) that is not a JSON value; `fatal` when nothing after it can be read."""

    message: str
    fatal: bool = False


class Place(NamedTuple):
    """Where an array element starts: line and column (in characters, from 1) and which element it is (from 1).
    Printed as `line:column: record N`, after the file's path as editors read it."""

    line: int
    column: int
    number: int | None = None

    def __str__(self) -> str:
        return f"{self.line}:{self.column}" + (f": record {self.number}" if self.number else "")


class Framing(NamedTuple):
    """How a file holds its records: `jsonl` or `array`, and whether it starts with a UTF-8 byte-order mark."""

    kind: str
    bom: bool


def read_framing(path: Path) -> Framing:
    with open(path, "rb") as f:
        head = f.read(4096)
    bom = head.startswith(BOM)
    first = head[3 if bom else 0:].lstrip(b" \t\r\n")[:1]
    return Framing("array" if first == b"[" else "jsonl", bom)


def records(path: Path, *, framing: Framing | None = None, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
            progress: Callable[[int], object] | None = None,
            chunk: int = CHUNK) -> Iterator[tuple[int | Place, object]]:
    """(where, value) for every record: the line (JSON Lines) or a `Place` (an array); `value` is an `Unreadable`
    where the text is not JSON. `progress` is called with the bytes read so far, once a chunk of `chunk` bytes.
    `framing`, when the caller has it, saves reading it again."""
    kind = (framing or read_framing(path)).kind
    with open(path, "rb") as raw:
        f = _Progress(raw, progress) if progress else raw
        if kind == "array":
            yield from _array(f, max_record_bytes, chunk)
        else:
            yield from _lines(f, max_record_bytes, chunk)


class _Reader(Protocol):
    """An open binary file, or one that counts what is read of it."""

    def read(self, size: int) -> bytes: ...


class _Progress:
    def __init__(self, f: IO[bytes], report: Callable[[int], object]) -> None:
        self.f, self.report, self.done = f, report, 0

    def read(self, size: int) -> bytes:
        data = self.f.read(size)
        self.done += len(data)
        self.report(self.done)
        return data


def _lines(f: _Reader, limit: int, chunk_size: int) -> Iterator[tuple[int, object]]:
    loads = json.loads
    for number, raw in _split(f, limit, chunk_size):
        if type(raw) is Unreadable:
            yield number, raw
            continue
        try:
            yield number, loads(raw)
        except json.JSONDecodeError as exc:
            if not raw or raw.isspace():
                continue
            cut = exc.pos >= len(raw.rstrip()) or exc.msg.startswith("Unterminated")
            yield number, Unreadable(f"not valid JSON: {exc.msg} (column {exc.colno})"
                                     + ("; the line is cut short (is the file truncated?)" if cut else ""))
        except UnicodeDecodeError as exc:
            yield number, Unreadable(f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line")


def _split(f: _Reader, limit: int, chunk_size: int) -> Iterator[tuple[int, str | bytes | Unreadable]]:
    """Lines without their newline. Whole chunks are decoded at once (as str: the fast path); a chunk that is
    not UTF-8 is split as bytes, so that the bad line alone fails. No line over `limit` is ever held whole."""
    number = 0
    parts: list[bytes] = []  # the start of a line that goes on in the next chunk
    size, oversize = 0, False
    chunk = f.read(max(chunk_size, len(BOM)))
    if chunk.startswith(BOM):
        chunk = chunk[len(BOM):] or f.read(chunk_size)
    while chunk:
        cut = chunk.rfind(b"\n")
        if cut < 0:
            size += len(chunk)
            oversize = oversize or size > limit
            parts = [] if oversize else parts + [chunk]
            chunk = f.read(chunk_size)
            continue
        start = 0
        if parts or oversize:
            start = chunk.find(b"\n") + 1
            number += 1
            size += start - 1
            yield number, _too_long(size, limit) if oversize or size > limit else b"".join(parts) + chunk[:start - 1]
        if start <= cut:
            body = chunk[start:cut]
            try:
                lines: list = body.decode("utf-8").split("\n")
            except UnicodeDecodeError:
                lines = body.split(b"\n")
            for line in lines:
                number += 1
                yield number, line
        rest = chunk[cut + 1:]
        size, oversize = len(rest), len(rest) > limit
        parts = [rest] if rest and not oversize else []
        chunk = f.read(chunk_size)
    if parts or oversize:
        yield number + 1, _too_long(size, limit) if oversize else b"".join(parts)


def _too_long(size: int, limit: int) -> Unreadable:
    return Unreadable(f"record is {size / (1 << 20):.1f} MiB, over the {limit >> 20} MiB limit (--max-record-mb)")


class _ArrayReader:
    """Elements of one top-level JSON array, decoded a chunk at a time."""

    def __init__(self, f: _Reader, limit: int, chunk: int) -> None:
        self.f, self.limit, self.chunk = f, limit, chunk
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.base = self.line_start = 0  # the file offsets (characters) of buf[0] and of the current line

    def fill(self, at_least: int = 0) -> None:
        raw = self.f.read(max(at_least, self.chunk))
        self.eof = not raw
        try:
            self.buf += self.decoder.decode(raw, final=self.eof)
        except UnicodeDecodeError as exc:
            line = self.line + self.buf.count("\n", self.pos) + raw[:exc.start].count(b"\n")
            raise _Stop(line, f"not UTF-8: byte 0x{raw[exc.start]:02x}") from None

    def advance(self, to: int) -> None:
        newlines = self.buf.count("\n", self.pos, to)
        if newlines:
            self.line += newlines
            self.line_start = self.base + self.buf.rfind("\n", self.pos, to) + 1
        self.pos = to
        if self.pos > self.chunk:
            self.buf, self.pos, self.base = self.buf[self.pos:], 0, self.base + self.pos

    def place(self, index: int | None = None, at: int | None = None) -> Place:
        """Where buf[at] is (the current position by default)."""
        if at is None:
            return Place(self.line, self.base + self.pos - self.line_start + 1, index)
        line, start = self.line, self.line_start
        newlines = self.buf.count("\n", self.pos, at)
        if newlines:
            line, start = line + newlines, self.base + self.buf.rfind("\n", self.pos, at) + 1
        return Place(line, self.base + at - start + 1, index)

    def skip_space(self) -> str:
        """The next non-space character ('' at the end of the file)."""
        while True:
            end = len(self.buf)
            at = self.pos
            while at < end and self.buf[at] in " \t\r\n":
                at += 1
            self.advance(at)
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos] if self.pos < len(self.buf) else ""
            self.fill()

    def element(self, index: int) -> object:
        decode = json.JSONDecoder().raw_decode
        while True:
            try:
                value, end = decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise _Stop(self.place(index, at=exc.pos), f"not valid JSON: {exc.msg}")
                if len(self.buf) - self.pos > self.limit:
                    raise _Stop(self.place(index), _too_long(len(self.buf) - self.pos, self.limit).message) from None
                self.fill(len(self.buf) - self.pos)
                continue
            self.advance(end)
            return value


class _Stop(Exception):
    def __init__(self, line: int | Place, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _array(f: _Reader, limit: int, chunk: int) -> Iterator[tuple[int | Place, object]]:
    reader = _ArrayReader(f, limit, chunk)
    try:
        reader.fill()
        reader.skip_space()
        reader.advance(reader.pos + 1)  # the '[' that made this an array
        if reader.skip_space() == "]":
            reader.advance(reader.pos + 1)
        else:
            for index in itertools.count(1):
                if not reader.skip_space():
                    raise _Stop(reader.place(), "not valid JSON: the array is never closed (is the file truncated?)")
                place = reader.place(index)
                yield place, reader.element(index)
                after = reader.skip_space()
                if after == "]":
                    reader.advance(reader.pos + 1)
                    break
                if after != ",":
                    raise _Stop(reader.place(), "not valid JSON: expected ',' or ']' after an array element"
                                if after else "not valid JSON: the array is never closed (is the file truncated?)")
                reader.advance(reader.pos + 1)
        if reader.skip_space():
            raise _Stop(reader.place(), "not valid JSON: text after the end of the array")
    except _Stop as stop:
        yield stop.line, Unreadable(f"{stop.message}; reading stops here", fatal=True)
