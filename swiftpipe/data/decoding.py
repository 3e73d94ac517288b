"""What every reader of JSON data shares: the decoder, and what a reader yields besides plain values (where a
record is, what cannot be read, and a run of records accepted whole)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple, Protocol, final

DEFAULT_MAX_RECORD_BYTES = 64 << 20
BOM = b"\xef\xbb\xbf"


@final  # no subclass: readers test `type(value) is Unreadable`, the fast test, and mypy narrows on it
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


class Accepted(NamedTuple):
    """Records decoded together that the caller's `accept` found good, handed over as one. Readers work out no
    place for them: for a good record that would cost more than checking it."""

    values: list


Accept = Callable[[list], bool]  # True when every record of a run is good: then it comes as one `Accepted`


class Reader(Protocol):
    """An open binary file, or one that counts what is read of it."""

    def read(self, size: int) -> bytes: ...


class Chain:
    """Bytes already read, then the rest of a reader (none: the bytes are all there is)."""

    def __init__(self, head: bytes, rest: Reader | None = None) -> None:
        self.head, self.rest = memoryview(head), rest

    def read(self, size: int) -> bytes:
        if self.head:
            data, self.head = self.head[:size], self.head[size:]
            return bytes(data)
        return self.rest.read(size) if self.rest is not None else b""


def too_long(size: int, limit: int) -> Unreadable:
    return Unreadable(f"record is {size / (1 << 20):.1f} MiB, over the {limit >> 20} MiB limit (--max-record-mb)")


def _fast_loads() -> tuple[Callable[[str | bytes], object], type[Exception]]:
    try:
        import orjson
    except ImportError:  # the standard library alone is correct, only slower
        return json.loads, json.JSONDecodeError
    return orjson.loads, orjson.JSONDecodeError


# orjson, about twice the standard library's speed here. It is stricter (no NaN, no integers past 64 bits, no lone
# surrogates), so what it refuses is decoded again by the standard library, whose values and messages users get.
LOADS, LOAD_ERROR = _fast_loads()
FAST = LOADS is not json.loads
