"""The elements of one top-level JSON array, in constant memory, each with its `Place` (a corpus may be one line).

Two lanes. The careful lane decodes element by element with the standard library, counting lines and columns,
and says exactly where each problem is; a JSON array cannot be re-synchronised after a syntax error, so it stops
at the first. The fast lane, for a caller that can `accept` runs of records, cuts the text at element starts
(found by the first element's opening, such as `{"query"`), decodes a megabyte of elements in one orjson call and
hands them over as one `Accepted` when all are good. A run that does not decode, or is not all good, is read again
by the careful lane, which learns where the run starts by counting the file up to it then (`_Position`).

A run the fast lane decodes is what the careful lane would read: it starts at a true element start, and a JSON
value ends where its grammar says, so the standard library reads the same values, up to the same end.
"""
from __future__ import annotations

import codecs
import json
import re
from collections.abc import Generator, Iterator
from pathlib import Path

from swiftpipe.data.decoding import (
    BOM,
    FAST,
    LOAD_ERROR,
    LOADS,
    Accept,
    Accepted,
    Chain,
    Place,
    Reader,
    Unreadable,
    too_long,
)

_SPACE = re.compile(r"[ \t\r\n]*")
_SEPARATOR = re.compile(r"[ \t\r\n]*,[ \t\r\n]*")
_OPENING = re.compile(rb'\{[ \t\r\n]*"(?:[^"\\\n]|\\.){1,200}"')  # an object up to its first key's closing quote
_WHITE = b" \t\r\n"
_CONTINUATION = bytes(range(0x80, 0xC0))  # the bytes of a UTF-8 character after its first
_NEVER_CLOSED = "not valid JSON: the array is never closed (is the file truncated?)"

Elements = Iterator[tuple[Place, object]]


def read(f: Reader, limit: int, chunk: int, accept: Accept | None = None, path: Path | None = None
         ) -> Iterator[tuple[int | Place | None, object]]:
    """(place, value) for every element, or (None, Accepted) for a run of them; the place is a line number where
    the text is not UTF-8. With `accept` (and the file's `path`, to count up to a run read again), the fast lane
    where the elements are objects."""
    head = f.read(max(chunk, 4096))
    opening = _opening(head) if accept is not None and FAST and path is not None else None
    try:
        if opening is None or accept is None or path is None:
            yield from _careful(_ArrayReader(Chain(head, f), limit, chunk))
        else:
            yield from _fast(f, head, *opening, limit=limit, chunk=chunk, accept=accept, path=path)
    except _Stop as stop:
        yield stop.line, Unreadable(f"{stop.message}; reading stops here", fatal=True)


def _opening(head: bytes) -> tuple[int, bytes] | None:
    """Where the first element starts and its opening bytes, when it is an object."""
    at = len(BOM) if head.startswith(BOM) else 0
    while at < len(head) and head[at] in _WHITE:
        at += 1
    if head[at:at + 1] != b"[":
        return None
    at += 1
    while at < len(head) and head[at] in _WHITE:
        at += 1
    found = _OPENING.match(head, at)
    return (at, found.group()) if found else None


def _fast(f: Reader, head: bytes, start: int, opening: bytes, *, limit: int, chunk: int, accept: Accept,
          path: Path) -> Iterator[tuple[Place | None, object]]:
    position = _Position(path, bom=head.startswith(BOM))
    buf, offset, index, eof = bytearray(head[start:]), start, 1, False  # offset: where buf[0] is in the file
    searched = 0  # buf before this holds no element start still to find
    while not eof:
        data = f.read(chunk)
        eof = not data
        buf += data
        end, next_start = _last_start(buf, opening, searched)
        searched = max(0, len(buf) - len(opening) - 64)
        if next_start < 0:
            if len(buf) > limit + chunk:  # one element over the limit: the careful lane says so
                break
            continue
        values = _decoded(buf, end)
        if values is not None and accept(values):
            yield None, Accepted(values)
            index += len(values)
        else:
            reader = _ArrayReader(Chain(bytes(buf[:next_start])), limit, chunk, at=position.at(offset))
            index = yield from _elements(reader, index, closed=False)
        del buf[:next_start]
        offset += next_start
        searched = max(0, searched - next_start)
    reader = _ArrayReader(Chain(bytes(buf), f), limit, chunk, at=position.at(offset))
    yield from _elements(reader, index, closed=True)
    if reader.skip_space():
        raise _Stop(reader.place(), "not valid JSON: text after the end of the array")


def _last_start(buf: bytearray, opening: bytes, lo: int) -> tuple[int, int]:
    """The last element start after `lo` that the text before it confirms (`}`, a comma, spaces): the end of the
    element before it and where it starts; (-1, -1) if none."""
    hi = len(buf)
    while True:
        at = buf.rfind(opening, max(lo, 1), hi)
        if at < 0:
            return -1, -1
        hi = at + len(opening) - 1
        j = at - 1
        while j > 0 and buf[j] in _WHITE:
            j -= 1
        if buf[j] == 0x2C:  # ','
            j -= 1
            while j > 0 and buf[j] in _WHITE:
                j -= 1
            if buf[j] == 0x7D:  # '}'
                return j + 1, at


def _decoded(buf: bytearray, end: int) -> list | None:
    try:
        return LOADS(b"[" + buf[:end] + b"]")  # type: ignore[return-value]  # a JSON array decodes to a list
    except LOAD_ERROR:
        return None


class _Position:
    """The line, line start and character count at a byte offset of the file, worked out only when asked (a run
    read again by the careful lane) by counting from the last offset asked for: at most one pass over the file."""

    def __init__(self, path: Path, *, bom: bool) -> None:
        self.path, self.offset = path, len(BOM) if bom else 0
        self.line, self.line_start, self.chars = 1, 0, 0

    def at(self, offset: int) -> tuple[int, int, int]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            while self.offset < offset:
                data = f.read(min(offset - self.offset, 1 << 20))
                if not data:
                    break
                self.offset += len(data)
                chars = _chars(data)
                newline = data.rfind(b"\n")
                if newline >= 0:
                    self.line += data.count(b"\n")
                    self.line_start = self.chars + chars - _chars(data[newline + 1:])
                self.chars += chars
        return self.line, self.line_start, self.chars


def _chars(data: bytes) -> int:
    return len(data.translate(None, _CONTINUATION))


class _ArrayReader:
    """The careful lane: elements decoded a chunk at a time. Lines are counted only up to where a place is asked
    for (an element's start, a problem), once per stretch of text; spaces are skipped by a regular expression,
    elements decoded by the standard library's C scanner. `at`: the line, line start and characters before the
    text, for a run read again from inside the file."""

    def __init__(self, f: Reader, limit: int, chunk: int, *, at: tuple[int, int, int] | None = None) -> None:
        self.f, self.limit, self.chunk = f, limit, chunk
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.decode = json.JSONDecoder().raw_decode
        self.buf, self.pos, self.eof = "", 0, False
        # the file offsets (characters) of buf[0] and of the current line
        self.line, self.line_start, self.base = at or (1, 0, 0)
        self.counted = 0  # buf index up to which `line` and `line_start` are counted
        self.bad: _Stop | None = None  # bytes that are not UTF-8 after the end of buf: the text ends there

    def fill(self, at_least: int = 0) -> None:
        """More text. Bytes that are not UTF-8 end it: what comes before them is read first, so the elements
        before the bad byte are the same however the file is cut into chunks."""
        if self.bad is not None:
            raise self.bad
        raw = self.f.read(max(at_least, self.chunk))
        self.eof = not raw
        pending = self.decoder.getstate()[0]
        try:
            self.buf += self.decoder.decode(raw, final=self.eof)
        except UnicodeDecodeError as exc:
            data = pending + raw
            good = data[:exc.start].decode("utf-8")
            self.count_to(len(self.buf))
            self.bad = _Stop(self.line + good.count("\n"), f"not UTF-8: byte 0x{data[exc.start]:02x}")
            self.buf += good
            self.eof = True

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
        """The next non-space character ('' at the end of the text)."""
        while True:
            self.advance(_SPACE.match(self.buf, self.pos).end())  # type: ignore[union-attr]  # `*`: always matches
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.bad is not None:
                raise self.bad
            if self.eof:
                return ""
            self.fill()

    def run(self, index: int) -> Generator[tuple[Place, object], None, int]:
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
                if self.bad is not None:  # the element goes on into the bytes that are not UTF-8
                    raise self.bad from None
                if self.eof:
                    raise _Stop(self.place(index, at=exc.pos), f"not valid JSON: {exc.msg}") from None
                if len(self.buf) - self.pos > self.limit:
                    raise _Stop(self.place(index), too_long(len(self.buf) - self.pos, self.limit).message) from None
                self.fill(len(self.buf) - self.pos)
                continue
            self.advance(end)
            return value


class _Stop(Exception):
    def __init__(self, line: int | Place, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _careful(reader: _ArrayReader) -> Elements:
    """A whole file: the '[' that made it an array, its elements, and nothing after the ']'."""
    reader.fill()
    if reader.buf.startswith("\ufeff"):  # a byte-order mark is not text: columns count from after it
        reader.buf = reader.buf[1:]
    reader.skip_space()
    reader.advance(reader.pos + 1)
    if reader.skip_space() == "]":
        reader.advance(reader.pos + 1)
    else:
        yield from _elements(reader, 1, closed=True)
    if reader.skip_space():
        raise _Stop(reader.place(), "not valid JSON: text after the end of the array")


def _elements(reader: _ArrayReader, index: int, *, closed: bool) -> Generator[tuple[Place, object], None, int]:
    """Elements from the reader's position to the array's `]` (`closed`), or to the end of the reader's text, which
    then ends after a separator (a run read again); returns the next element's index."""
    while True:
        if not reader.skip_space():
            if closed:
                raise _Stop(reader.place(), _NEVER_CLOSED)
            return index
        yield reader.place(index), reader.element(index)
        index = yield from reader.run(index + 1)
        after = reader.skip_space()
        if after == "]":
            reader.advance(reader.pos + 1)
            if closed:
                return index
            reader.skip_space()  # a run read again is followed by more elements: they are after the end
            raise _Stop(reader.place(), "not valid JSON: text after the end of the array")
        if after != ",":
            raise _Stop(reader.place(), "not valid JSON: expected ',' or ']' after an array element"
                        if after else _NEVER_CLOSED)
        reader.advance(reader.pos + 1)
