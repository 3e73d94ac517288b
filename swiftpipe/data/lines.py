"""The records of a JSON Lines file, a chunk at a time, each with its line number; a line that is not JSON becomes
an `Unreadable` in its place, so a caller sees every bad line, not just the first. No line over the record size
limit is ever held whole.

A caller that can `accept` a run of records gets each chunk's lines decoded in one go and handed over as one
`Accepted` when all are good: the common case costs no step per record here. A chunk with anything else in it (a
line that is not JSON, a blank line, a record the caller refuses) is read again a line at a time.
"""
from __future__ import annotations

import json
from collections.abc import Iterator

from swiftpipe.data.decoding import BOM, FAST, LOAD_ERROR, LOADS, Accept, Accepted, Reader, Unreadable, too_long

_BLANK = object()  # a line holding only whitespace: no record


def read(f: Reader, limit: int, chunk_size: int, accept: Accept | None = None
         ) -> Iterator[tuple[int | None, object]]:
    """(line, value) for every record, or (None, Accepted) for a chunk's records at once."""
    bulk = accept is not None and FAST
    number = 0
    for head, body in _pieces(f, limit, chunk_size):
        if head is not None:
            number += 1
            value = _one(head)
            if value is not _BLANK:
                yield number, value
        if body is None:
            continue
        if bulk:
            lines: list = body.split(b"\n")
            try:
                values = [LOADS(line) for line in lines]
            except LOAD_ERROR:
                values = None
            if values is not None and accept is not None and accept(values):
                number += len(lines)
                yield None, Accepted(values)
                continue
        else:
            lines = _split(body)
        for raw in lines:
            number += 1
            value = _one(raw)
            if value is not _BLANK:
                yield number, value


def _split(body: bytes) -> list[str] | list[bytes]:
    """The lines of a chunk: as str when the standard library decodes (its fast path), decoded as a whole; as bytes
    with orjson (which checks UTF-8 itself), or where the chunk is not UTF-8, so that the bad line alone fails."""
    if not FAST:
        try:
            return body.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            pass
    return body.split(b"\n")


def _one(raw: str | bytes | Unreadable) -> object:
    if type(raw) is Unreadable:
        return raw
    try:
        return LOADS(raw)
    except ValueError:  # the decoder's error, or bytes that are not UTF-8 given to the standard library
        return _decoded(raw)


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


def _pieces(f: Reader, limit: int, chunk_size: int) -> Iterator[tuple[bytes | Unreadable | None, bytes | None]]:
    """Each chunk as (the line that ran on from earlier chunks, or an Unreadable when it is over `limit`; the
    complete lines after it, one bytes object without its last newline). Either may be None."""
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
        start, head = 0, None
        if parts or oversize:
            start = chunk.find(b"\n") + 1
            size += start - 1
            head = too_long(size, limit) if oversize or size > limit else b"".join(parts) + chunk[:start - 1]
        yield head, chunk[start:cut] if start <= cut else None
        rest = chunk[cut + 1:]
        size, oversize = len(rest), len(rest) > limit
        parts = [rest] if rest and not oversize else []
        chunk = f.read(chunk_size)
    if parts or oversize:
        yield too_long(size, limit) if oversize else b"".join(parts), None
