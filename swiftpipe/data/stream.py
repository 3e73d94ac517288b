"""Records out of a data file in constant memory: JSON Lines, or one JSON array, decided by the content.

Each record comes with where it starts: its line in JSON Lines, a `Place` (line, column and index) in an array,
whose records may all sit on one line. What cannot be read becomes an `Unreadable` in its place, so a caller
sees every bad line of a JSON Lines file, not just the first. A JSON array cannot be re-synchronised after a
syntax error, so its reading stops at the first one.
"""
from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import IO, Callable, Iterator, NamedTuple, Protocol

CHUNK = 1 << 20
_BLANK = object()  # a line holding only whitespace: no record
_SPACE = re.compile(r"[ \t\r\n]*")
_SEPARATOR = re.compile(r"[ \t\r\n]*,[ \t\r\n]*")
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
            progress: Callable[[int], object] | None = None, chunk: int = CHUNK,
            span: tuple[int, int] | None = None) -> Iterator[tuple[int | Place, object]]:
    """(where, value) for every record: the line (JSON Lines) or a `Place` (an array); `value` is an `Unreadable`
    where the text is not JSON. `progress` is called with the bytes read so far, once a chunk of `chunk` bytes.
    `framing`, when the caller has it, saves reading it again. `span` (JSON Lines): only the bytes from one offset
    to the other, both at line starts, lines numbered from 1 there."""
    kind = (framing or read_framing(path)).kind
    with open(path, "rb") as raw:
        f: _Reader = raw if span is None else _Span(raw, *span)
        f = _Progress(f, progress) if progress else f
        if kind == "array":
            yield from _array(f, max_record_bytes, chunk)
        else:
            yield from _lines(f, max_record_bytes, chunk)


class _Reader(Protocol):
    """An open binary file, or one that counts what is read of it."""

    def read(self, size: int) -> bytes: ...


class _Span:
    """The bytes of a file between two offsets."""

    def __init__(self, f: IO[bytes], start: int, end: int) -> None:
        f.seek(start)
        self.f, self.left = f, end - start

    def read(self, size: int) -> bytes:
        data = self.f.read(min(size, self.left))
        self.left -= len(data)
        return data


class _Progress:
    def __init__(self, f: _Reader, report: Callable[[int], object]) -> None:
        self.f, self.report, self.done = f, report, 0

    def read(self, size: int) -> bytes:
        data = self.f.read(size)
        self.done += len(data)
        self.report(self.done)
        return data


def _lines(f: _Reader, limit: int, chunk_size: int) -> Iterator[tuple[int, object]]:
    """Each line decoded by orjson (about twice the standard library's speed here); a line orjson refuses is decoded
    again by the standard library, which gives the message (or accepts what orjson is stricter about: NaN, integers
    past 64 bits), so the values and the messages are the standard library's."""
    for number, batch in _batches(f, limit, chunk_size, text=_LOADS is json.loads):
        for raw in batch:
            number += 1
            if type(raw) is Unreadable:
                yield number, raw
                continue
            try:
                value = _LOADS(raw)
            except _LOAD_ERROR:
                value = _decoded(raw)
                if value is _BLANK:
                    continue
            yield number, value


def _fast_loads() -> tuple[Callable[[str | bytes], object], type[Exception]]:
    try:
        import orjson
    except ImportError:  # the standard library alone is correct, only slower
        return json.loads, json.JSONDecodeError
    return orjson.loads, orjson.JSONDecodeError


_LOADS, _LOAD_ERROR = _fast_loads()


def _decoded(raw: str | bytes) -> object:
    """A line decoded by the standard library: its value, an Unreadable with the library's message, or _BLANK."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        if not raw or raw.isspace():
            return _BLANK
        cut = exc.pos >= len(raw.rstrip()) or exc.msg.startswith("Unterminated")
        return Unreadable(f"not valid JSON: {exc.msg} (column {exc.colno})"
                          + ("; the line is cut short (is the file truncated?)" if cut else ""))
    except UnicodeDecodeError as exc:
        return Unreadable(f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line")


def _batches(f: _Reader, limit: int, chunk_size: int, *, text: bool = True
             ) -> Iterator[tuple[int, list[str | bytes | Unreadable]]]:
    """The lines of each chunk, without their newlines, after the number of the line before them. With `text`,
    whole chunks are decoded at once (as str: the standard library's fast path) and a chunk that is not UTF-8 is
    split as bytes, so that the bad line alone fails; without, lines stay bytes (orjson checks UTF-8 itself). No
    line over `limit` is ever held whole."""
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
        lines: list = []
        if parts or oversize:
            start = chunk.find(b"\n") + 1
            size += start - 1
            lines.append(_too_long(size, limit) if oversize or size > limit else b"".join(parts) + chunk[:start - 1])
        if start <= cut:
            body = chunk[start:cut]
            try:
                lines += body.decode("utf-8").split("\n") if text else body.split(b"\n")
            except UnicodeDecodeError:
                lines += body.split(b"\n")
        yield number, lines
        number += len(lines)
        rest = chunk[cut + 1:]
        size, oversize = len(rest), len(rest) > limit
        parts = [rest] if rest and not oversize else []
        chunk = f.read(chunk_size)
    if parts or oversize:
        yield number, [_too_long(size, limit) if oversize else b"".join(parts)]


def _too_long(size: int, limit: int) -> Unreadable:
    return Unreadable(f"record is {size / (1 << 20):.1f} MiB, over the {limit >> 20} MiB limit (--max-record-mb)")


class _ArrayReader:
    """Elements of one top-level JSON array, decoded a chunk at a time. Lines are counted only up to where a place
    is asked for (an element's start, a problem), once per stretch of text; spaces are skipped by a regular
    expression, elements decoded by the standard library's C scanner."""

    def __init__(self, f: _Reader, limit: int, chunk: int) -> None:
        self.f, self.limit, self.chunk = f, limit, chunk
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.decode = json.JSONDecoder().raw_decode
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.base = self.line_start = 0  # the file offsets (characters) of buf[0] and of the current line
        self.counted = 0  # buf index up to which `line` and `line_start` are counted

    def fill(self, at_least: int = 0) -> None:
        raw = self.f.read(max(at_least, self.chunk))
        self.eof = not raw
        try:
            self.buf += self.decoder.decode(raw, final=self.eof)
        except UnicodeDecodeError as exc:
            self.count_to(len(self.buf))
            line = self.line + raw[:exc.start].count(b"\n")
            raise _Stop(line, f"not UTF-8: byte 0x{raw[exc.start]:02x}") from None

    def count_to(self, at: int) -> None:
        """Lines counted up to buf[at]."""
        newlines = self.buf.count("\n", self.counted, at)
        if newlines:
            self.line += newlines
            self.line_start = self.base + self.buf.rfind("\n", self.counted, at) + 1
        self.counted = at

    def advance(self, to: int) -> None:
        self.pos = to
        if self.pos > self.chunk:  # drop what has been read, its lines counted first
            self.count_to(self.pos)
            self.buf, self.base = self.buf[self.pos:], self.base + self.pos
            self.pos = self.counted = 0

    def place(self, index: int | None = None, at: int | None = None) -> Place:
        """Where buf[at] is (the current position by default)."""
        at = self.pos if at is None else at
        if at >= self.counted:
            self.count_to(at)
            return Place(self.line, self.base + at - self.line_start + 1, index)
        newlines = self.buf.count("\n", self.pos, at)  # behind the count: an error inside the element just read
        start = self.base + self.buf.rfind("\n", self.pos, at) + 1 if newlines else self.line_start
        return Place(self.line + newlines, self.base + at - start + 1, index)

    def skip_space(self) -> str:
        """The next non-space character ('' at the end of the file)."""
        while True:
            self.advance(_SPACE.match(self.buf, self.pos).end())
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return ""
            self.fill()

    def run(self, index: int) -> Iterator[tuple[Place, object]]:
        """The elements after the current one while each is `, <value>` wholly in the buffer: the common case, in
        one tight loop. Stops before anything else (the end, a value cut by the buffer's end, a problem), for the
        careful path to handle; returns the next element's index."""
        buf, pos, decode, separator = self.buf, self.pos, self.decode, _SEPARATOR.match
        line, line_start, counted, base, size = self.line, self.line_start, self.counted, self.base, len(buf)
        while pos < self.chunk:
            m = separator(buf, pos)
            if m is None or m.end() >= size:
                break
            start = m.end()
            try:
                value, end = decode(buf, start)
            except json.JSONDecodeError:
                break
            if end >= size:  # a number may go on in the next chunk
                break
            newlines = buf.count("\n", counted, start)
            if newlines:
                line += newlines
                line_start = base + buf.rfind("\n", counted, start) + 1
            counted = start
            yield Place(line, base + start - line_start + 1, index), value
            index += 1
            pos = end
        self.line, self.line_start, self.counted = line, line_start, counted
        self.advance(pos)
        return index

    def element(self, index: int) -> object:
        while True:
            try:
                value, end = self.decode(self.buf, self.pos)
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
            index = 1
            while True:
                if not reader.skip_space():
                    raise _Stop(reader.place(), "not valid JSON: the array is never closed (is the file truncated?)")
                place = reader.place(index)
                yield place, reader.element(index)
                index = yield from reader.run(index + 1)
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
