"""The fast lanes of the data readers (runs of records decoded at once and accepted whole) give the very report the
careful lanes give, problem for problem, wherever the problems fall against the runs' edges."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from swiftpipe.data import arrays, lines, stream
from swiftpipe.data.validate import Report, checked_records


def _record(i: int) -> dict:
    record = {"query": f"问题 {i}" + " why" * (i % 5), "response": f"回答 {i} " + "好" * (i % 17)}
    if i % 4 == 0:
        record["system"] = "你是医生"
    if i % 7 == 0:
        record["history"] = [["你好", "你好！"]]
    return record


def _array(records: list, *, layout: str) -> bytes:
    """One line, indented as json.dump writes it, or three records a line (Chinese text before a line's later
    records, so that a column counted in bytes would be wrong)."""
    if layout == "indented":
        return json.dumps(records, ensure_ascii=False, indent=2).encode()
    texts = [json.dumps(r, ensure_ascii=False) if type(r) is dict else json.dumps(r) for r in records]
    if layout == "one line":
        return ("[" + ", ".join(texts) + "]").encode()
    return ("[" + "".join(t + (",\n" if i % 3 == 2 else ", ") for i, t in enumerate(texts[:-1])) + texts[-1] + "]"
            ).encode()


def _report(path: Path, chunk: int, kind: str | None = "sft") -> Report:
    report = Report(path, kind, stream.read_framing(path), limit=50)
    for _ in checked_records(path, kind, report=report, chunk=chunk, keep=False):
        pass
    return report


def _careful(path: Path, chunk: int, monkeypatch, kind: str | None = "sft") -> Report:
    with monkeypatch.context() as patch:
        patch.setattr(arrays, "FAST", False)
        patch.setattr(lines, "FAST", False)
        return _report(path, chunk, kind)


def _same(path: Path, monkeypatch, kind: str | None = "sft") -> None:
    """The same report from both lanes, and from each at every chunk size: where a file is cut to be read changes
    nothing, a bad byte included."""
    seen = set()
    for chunk in (64, 150, 1000, 1 << 20):
        for report in (_report(path, chunk, kind), _careful(path, chunk, monkeypatch, kind)):
            seen.add((tuple(report.problems), report.records, report.problem_count, report.empty, report.shape))
    assert len(seen) == 1, "\n".join(map(str, seen))


GOOD = [_record(i) for i in range(60)]
Q33, Q50, R40 = "问题 33".encode(), "问题 50".encode(), "回答 40".encode()
_RECORD_CHANGES = {  # what goes wrong, as a change to one record
    "empty response": (30, {"response": ""}),
    "a number for a record": (17, 5),
    "an integer past 64 bits": (12, {"id": 10 ** 30}),
    "the first key nested in a record": (9, {"meta": {"query": 1}}),
    "an element start inside a string": (25, {"query": 'a}, {"query": "b'}),
    "a record over the chunk": (44, {"response": "长" * 400}),
    "another first key": (5, {"query": "q", "response": "r", "first": 0}),
}
_TEXT_CHANGES = {  # ... or as a change to the file's text (one line, and indented)
    "NaN, which only the standard library reads": lambda t: t.replace(b'"response": "' + R40,
                                                                      b'"nan": NaN, "response": "' + R40),
    "a missing comma": lambda t: re.sub(rb'\},(\s*\{\s*"query": "' + Q33 + b")", rb"}\1", t),
    "cut short": lambda t: t[:len(t) * 2 // 3],
    "text after the end": lambda t: t + b"\n{}",
    "the array closed early": lambda t: re.sub(rb'\},(\s*\{\s*"query": "' + Q50 + b")", rb"}],\1", t),
    "not UTF-8": lambda t: t.replace("回答 21".encode(), b"\xff\xfe 21"),
    "a byte-order mark": lambda t: b"\xef\xbb\xbf" + t,
}


@pytest.mark.parametrize("layout", ["one line", "indented", "three a line"])
@pytest.mark.parametrize("what", list(_RECORD_CHANGES) + list(_TEXT_CHANGES))
def test_an_array_read_by_the_fast_lane_reports_what_the_careful_lane_reports(tmp_path: Path, monkeypatch, what: str,
                                                                            layout: str) -> None:
    records = [dict(r) for r in GOOD]
    if what in _RECORD_CHANGES:
        at, change = _RECORD_CHANGES[what]
        records[at] = {"response": "r", **change} if what == "another first key" else \
            {**records[at], **change} if type(change) is dict else change
    text = _array(records, layout=layout)
    if what in _TEXT_CHANGES:
        text, before = _TEXT_CHANGES[what](text), text
        assert text != before, "the change must apply"
    path = tmp_path / "data.json"
    path.write_bytes(text)
    _same(path, monkeypatch)


def test_a_clean_array_comes_in_accepted_runs_that_hold_every_record(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(_array(GOOD, layout="one line"))
    runs = [value for _, value in stream.records(path, chunk=200, accept=lambda values: True)]
    accepted = [value for value in runs if type(value) is stream.Accepted]
    assert len(accepted) > 5, "the fast lane did not run"
    assert [r for value in runs for r in (value.values if type(value) is stream.Accepted else [value])] == GOOD
    assert _report(path, 200).records == len(GOOD)


def test_a_run_read_again_starts_where_it_is_in_the_file(tmp_path: Path) -> None:
    """The careful lane learns where a run starts by counting the file up to it: lines, and columns in characters
    (not bytes) on a one-line corpus of Chinese text."""
    records = [dict(r) for r in GOOD]
    records[40]["response"] = " "
    for layout in ("one line", "indented", "three a line"):
        path = tmp_path / "data.json"
        path.write_bytes(_array(records, layout=layout))
        text = path.read_text(encoding="utf-8")
        start = text.index('{\n    "query": "问题 40' if layout == "indented" else '{"query": "问题 40')
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        assert _report(path, 150).problems == [f"{path}:{line}:{column}: record 41: response: is empty"]


_BAD_LINES = {
    "a blank line": lambda t: t.replace(b"\n", b"\n\n", 3),
    "a line that is not JSON": lambda t: t.replace("问题 30".encode(), b"\xe9\x97\xae 30\"x"),
    "an empty field": lambda t: t.replace("回答 44".encode(), b'", "x": "'),
    "not UTF-8": lambda t: t.replace("回答 21".encode(), b"\xff 21"),
    "a line with two records": lambda t: t.replace(b'}\n{"query": "\xe9\x97\xae\xe9\xa2\x98 8',
                                                   b'}, {"query": "\xe9\x97\xae\xe9\xa2\x98 8'),
    "NaN": lambda t: t.replace(b'{"query": "\xe9\x97\xae\xe9\xa2\x98 50',
                               b'{"n": NaN, "query": "\xe9\x97\xae\xe9\xa2\x98 50'),
    "no newline at the end": lambda t: t.rstrip(b"\n"),
    "CRLF": lambda t: t.replace(b"\n", b"\r\n"),
}


@pytest.mark.parametrize("what", list(_BAD_LINES))
def test_json_lines_read_in_runs_report_what_line_by_line_reports(tmp_path: Path, monkeypatch, what: str) -> None:
    text = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in GOOD)
    changed = _BAD_LINES[what](text)
    assert changed != text, "the change must apply"
    path = tmp_path / "data.jsonl"
    path.write_bytes(changed)
    _same(path, monkeypatch)
    _same(path, monkeypatch, kind=None)
