"""`swiftpipe data`: the bad-input corpus, streaming at chunk boundaries, convert's guarantees, stats."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from swiftpipe.cli import main
from swiftpipe.data import stream

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO / "datasets"


def _run(*args: str):
    return CliRunner().invoke(main, ["data", *args], catch_exceptions=False)


def _lines(*records: object) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n"
                    for r in records)


GOOD = {"query": "高血压怎么办？", "response": "限盐，规律服药。"}

# (name, kind, file content, the problems expected, in order, as text after "PATH:")
CORPUS = [
    ("truncated last line", "sft", _lines(GOOD)[:-1] + b"\n" + b'{"query": "a", "respo',
     ["2: not valid JSON: Unterminated string starting at (column 16); the line is cut short "
      "(is the file truncated?)"]),
    ("BOM before JSON Lines is fine", "sft", b"\xef\xbb\xbf" + _lines(GOOD, GOOD), []),
    ("BOM before an array", "sft", b"\xef\xbb\xbf" + json.dumps([GOOD]).encode(),
     ["1: a byte-order mark before a JSON array: ms-swift (datasets) cannot read this file; "
      "`swiftpipe data convert` writes it without one"]),
    ("wrong types", "sft", _lines(GOOD, {"query": 12, "response": ["a"]}, {"query": "q", "response": "r", "system": 3}),
     ["2: query: is a number, not a string", "2: response: is a list, not a string",
      "3: system: is a number, not a string"]),
    ("empty strings", "sft", _lines({"query": "", "response": "r"}, {"query": "q", "response": "  \n"}),
     ["1: query: is empty", "2: response: is empty"]),
    ("missing and null fields", "dpo", _lines({"query": "q", "response": "r"}, {"query": "q", "response": "r",
                                                                             "rejected_response": None}),
     ["1: rejected_response: is missing", "2: rejected_response: is null"]),
    ("rejected equals chosen", "dpo", _lines({"query": "q", "response": "r", "rejected_response": "r"}),
     ["1: rejected_response: is the same text as response (ms-swift drops such a record)"]),
    ("nested junk in history", "sft", _lines({**GOOD, "history": [["q", 2]]}, {**GOOD, "history": "[[1]]"},
                                              {**GOOD, "history": [["q"]]}),
     ["1: history[0]: is a list holding non-strings; expected a [query, response] pair of strings",
      "2: history: is a string; expected a list of [query, response] pairs",
      "3: history[0]: is a list of 1; expected a [query, response] pair of strings"]),
    ("nested junk in messages", "sft", _lines({"messages": [{"role": "user", "content": {"x": 1}}]},
                                               {"messages": [{"role": "doctor", "content": "hi"}]},
                                               {"messages": [{"role": "user", "content": "hi"}]},
                                               {"messages": "hello"},
                                               {"messages": [{"role": ["user"], "content": "hi"}]}),
     ["1: messages[0].content: is an object, not a string",
      "2: messages[0].role: is 'doctor'; expected one of ['assistant', 'bot', 'function', 'function_call', 'gpt', "
      "'human', 'observation', 'system', 'tool', 'tool_call', 'tool_response', 'user']",
      "3: messages[0].role: the last turn must be the assistant's",
      "4: messages: is a string, not a list of turns",
      "5: messages[0].role: is ['user']; expected one of ['assistant', 'bot', 'function', 'function_call', 'gpt', "
      "'human', 'observation', 'system', 'tool', 'tool_call', 'tool_response', 'user']"]),
    ("not UTF-8", "sft", _lines(GOOD) + b'{"query": "caf\xe9", "response": "r"}\n' + _lines(GOOD),
     ["2: not UTF-8: byte 0xe9 at byte 15 of the line"]),
    ("a record that is not an object", "sft", _lines(GOOD, ["q", "r"], "text", 3),
     ["2: the record is a list, not an object", "3: the record is a string, not an object",
      "4: the record is a number, not an object"]),
    ("blank lines and CRLF are fine", "sft", _lines(GOOD).replace(b"\n", b"\r\n") + b"\n  \n" + _lines(GOOD), []),
    ("ms-swift's column aliases are fine", "sft", _lines({"prompt": "q", "completion": "r"}), []),
    ("unknown format", "sft", _lines({"title": "q", "body": "r"}),
     ["1: no sft format has keys ['body', 'title']; expected {\"query\", \"response\"}, alpaca "
      "{\"instruction\", \"input\", \"output\"}, {\"messages\"} or sharegpt {\"conversations\"}"]),
    ("mixed formats", "sft", _lines(GOOD, {"instruction": "i", "output": "o"}),
     ["2: a alpaca record in a query/response file (line 1); ms-swift reads a whole file with one format"]),
    ("pretraining text missing", "pt", _lines({"text": "ok"}, {"text": ""}, {"title": "x"}),
     ["2: text: is empty", "3: text: is missing"]),
    ("reward set needs converting", "dpo",
     _lines({"question": "q", "response_chosen": "a", "response_rejected": "b"}),
     ["records are in the reward format, which ms-swift does not read: swiftpipe data convert {path} OUT.jsonl "
      "--to dpo"]),
    ("array: syntax error stops reading", "sft",
     b'[\n  {"query": "q", "response": "r"},\n  {"query": "q" "response": "r"},\n  {"query": "q", "response": "r"}\n]',
     ["3:17: record 2: not valid JSON: Expecting ',' delimiter; reading stops here"]),
    ("array: truncated", "sft", b'[\n  {"query": "q", "response": "r"},\n  {"query": "q", "resp',
     ["3:18: record 2: not valid JSON: Unterminated string starting at; reading stops here"]),
    ("array: never closed", "sft", b'[\n  {"query": "q", "response": "r"}\n',
     ["3:1: not valid JSON: the array is never closed (is the file truncated?); reading stops here"]),
    ("array on one line: each problem names its record and column", "sft",
     json.dumps([GOOD, {"query": "", "response": "r"}, GOOD, {"query": "q"}], ensure_ascii=False).encode(),
     ["1:48: record 2: query: is empty", "1:126: record 4: response: is missing"]),
    ("array on one line: mixed formats name the first record's place", "sft",
     json.dumps([GOOD, {"instruction": "i", "output": "o"}], ensure_ascii=False).encode(),
     ["1:48: record 2: a alpaca record in a query/response file (1:2: record 1); ms-swift reads a whole file "
      "with one format"]),
    ("empty file", "sft", b"", ["holds no records"]),
]


@pytest.mark.parametrize("name, kind, content, expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_input_corpus(tmp_path: Path, name: str, kind: str, content: bytes, expected: list[str]) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    result = _run("validate", str(path), "--kind", kind)
    shown = [line.removeprefix("error: ") for line in result.output.splitlines()]
    if not expected:
        assert result.exit_code == 0 and shown[0].startswith(f"ok: {path}: ")
        return
    wanted = [f"{path}:{e}" if e[0].isdigit() else f"{path}: {e.format(path=path)}" for e in expected]
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # a handled error, not an escaped exception
    assert shown[:-1] == [w for w in wanted], result.output
    noun = "problem" if len(expected) == 1 else "problems"
    assert shown[-1] == f"{path}: {len(expected)} {noun}"


def test_a_100_mb_line_is_reported_without_being_held(tmp_path: Path) -> None:
    """The long record is skipped in chunks: the lines after it are still checked, and memory stays bounded."""
    path = tmp_path / "long.jsonl"
    with open(path, "wb") as f:
        f.write(_lines(GOOD))
        f.write(b'{"query": "q", "response": "')
        for _ in range(100):
            f.write(b"x" * (1 << 20))
        f.write(b'"}\n')
        f.write(_lines({"query": "q", "response": ""}))
    code = ("import re, sys; from swiftpipe.data.validate import validate; "
            "r = validate(sys.argv[1], 'sft', max_record_bytes=8 << 20); print(r.problems); "
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])")  # this process's peak, in kB
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout.splitlines()
    assert out[0] == str([f"{path}:2: record is 100.0 MiB, over the 8 MiB limit (--max-record-mb)",
                          f"{path}:3: response: is empty"])
    assert int(out[1]) < 80 * 1024, f"peak RSS {int(out[1]) // 1024} MB while reading a 100 MB line"


def test_problems_beyond_the_limit_are_counted_not_shown(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_lines(*[{"query": "", "response": "r"}] * 30))
    result = _run("validate", str(path), "--kind", "sft", "--limit", "5")
    lines = result.output.splitlines()
    assert result.exit_code == 2 and len(lines) == 6
    assert lines[-1] == f"error: {path}: 30 problems (25 more not shown)"


def test_validate_reports_every_file_and_fails_if_any_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(_lines({"query": "q"}))
    result = _run("validate", str(DATASETS / "medical_sft_sample.jsonl"), str(bad), str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert f"ok: {DATASETS / 'medical_sft_sample.jsonl'}: 30 sft records (query/response, JSON Lines)" in result.output
    assert f"error: {bad}:1: response: is missing" in result.output
    assert f"error: {tmp_path / 'nope.jsonl'}: no such file" in result.output


SAMPLES = [("medical_pretrain_sample.jsonl", "pt", "text", 40), ("medical_pretrain_response_sample.jsonl", "pt",
                                                                   "response", 40),
           ("medical_book_sample.json", "pt", "text", 40), ("medical_sft_sample.jsonl", "sft", "query/response", 30),
           ("medical_multiturn_sample.jsonl", "sft", "query/response", 30),
           ("qizhen_sft_sample.json", "sft", "alpaca", 30), ("medical_messages_sample.jsonl", "sft", "messages", 30),
           ("medical_sharegpt_sample.json", "sft", "sharegpt", 30), ("medical_dpo_sample.jsonl", "dpo",
                                                                      "query/response", 30),
           ("medical_dpo_messages_sample.jsonl", "dpo", "messages", 30)]


@pytest.mark.parametrize("name, kind, shape, count", SAMPLES)
def test_every_shipped_sample_is_valid_and_its_kind_is_guessed(name: str, kind: str, shape: str, count: int) -> None:
    result = _run("validate", str(DATASETS / name), "--no-cache")
    layout = "JSON array" if name.endswith(".json") else "JSON Lines"
    assert result.exit_code == 0
    assert result.output == f"ok: {DATASETS / name}: {count} {kind} records ({shape}, {layout})\n"


records = st.lists(st.dictionaries(st.sampled_from(["query", "response", "system", "x"]),
                                   st.text(alphabet=st.characters(codec="utf-8"), max_size=40), min_size=1),
                   min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(records=records, chunk=st.integers(1, 64), indent=st.sampled_from([None, 0, 2]), bom=st.booleans())
def test_streaming_reads_back_what_was_written_at_any_chunk_size(tmp_path_factory, records, chunk, indent, bom):
    """JSON Lines and arrays, split into chunks as small as one byte (so that chunk edges fall inside multi-byte
    characters, escapes and newlines): the same records come back, with the line each starts on."""
    folder = tmp_path_factory.mktemp("stream")
    lines = folder / "data.jsonl"
    lines.write_bytes((b"\xef\xbb\xbf" if bom else b"") + _lines(*records))
    array = folder / "data.json"
    array.write_text(json.dumps(records, ensure_ascii=False, indent=indent), encoding="utf-8")
    from_lines = list(stream.records(lines, chunk=chunk))
    from_array = list(stream.records(array, chunk=chunk))
    assert from_lines == [(i, r) for i, r in enumerate(records, 1)]
    assert [r for _, r in from_array] == records
    text = array.read_text(encoding="utf-8").split("\n")  # not splitlines(): JSON keeps U+0085 and U+2028 raw
    for index, (place, record) in enumerate(from_array, 1):  # each element starts where it was reported
        assert place.number == index
        assert text[place.line - 1][place.column - 1:].startswith(json.dumps(record, ensure_ascii=False)[:1])


def test_convert_writes_messages_and_prints_the_mapping(tmp_path: Path) -> None:
    target = tmp_path / "sft.jsonl"
    result = _run("convert", str(DATASETS / "qizhen_sft_sample.json"), str(target), "--to", "sft")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"converted 30 sft records (alpaca) {DATASETS / 'qizhen_sft_sample.json'} -> {target}",
        "  instruction + '\\n' + input               -> messages[user]",
        "  output                                   -> messages[assistant]"]
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    source = json.loads((DATASETS / "qizhen_sft_sample.json").read_text(encoding="utf-8"))
    assert rows[2]["messages"] == [{"role": "user", "content": f"{source[2]['instruction']}\n{source[2]['input']}"},
                                   {"role": "assistant", "content": source[2]["output"]}]
    assert rows[0]["messages"][0] == {"role": "user", "content": source[0]["instruction"]}  # empty input: not joined
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # as any new file, not the temp file's private 0600


def test_convert_refuses_to_overwrite_and_never_touches_its_input(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(_lines(GOOD))
    before = source.read_bytes()
    same = _run("convert", str(source), str(source), "--to", "sft", "--force")
    assert same.exit_code == 2 and "is the input; convert never overwrites its input" in same.output
    target = tmp_path / "out.jsonl"
    target.write_text("keep me")
    refused = _run("convert", str(source), str(target), "--to", "sft")
    assert refused.exit_code == 2 and f"{target}: exists (--force to replace it)" in refused.output
    assert target.read_text() == "keep me" and source.read_bytes() == before
    assert _run("convert", str(source), str(target), "--to", "sft", "--force").exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8"))["messages"][1]["content"] == GOOD["response"]


def test_a_failed_convert_leaves_no_output_and_no_partial_file(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(_lines(GOOD, GOOD, {"query": "q", "response": 5}))
    target = tmp_path / "out.jsonl"
    result = _run("convert", str(source), str(target), "--to", "sft")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"error: {source}:3: response: is a number, not a string"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("entry, kind, count, first", [
    ("medical_pt", "pt", 40, {"messages": [{"role": "assistant"}]}),
    ("medical_sft", "sft", 30, {"messages": [{"role": "user"}, {"role": "assistant"}]}),
    ("medical_sharegpt", "sft", 30, {"messages": [{"role": "system"}, {"role": "user"}, {"role": "assistant"}]}),
    ("medical_dpo", "dpo", 30, {"messages": [{"role": "user"}, {"role": "assistant"}], "rejected_response": True}),
])
def test_convert_reads_a_llamafactory_registry_entry(tmp_path: Path, entry: str, kind: str, count: int,
                                                     first: dict) -> None:
    target = tmp_path / "out.jsonl"
    result = _run("convert", str(DATASETS / "llamafactory" / "dataset_info.json"), str(target), "--entry", entry,
                  "--to", kind)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == count
    assert [m["role"] for m in rows[0]["messages"]] == [m["role"] for m in first["messages"]]
    assert ("rejected_response" in rows[0]) == ("rejected_response" in first)
    assert _run("validate", str(target), "--kind", kind).exit_code == 0


def test_registry_errors_name_the_entry_and_the_way_out(tmp_path: Path) -> None:
    info = str(DATASETS / "llamafactory" / "dataset_info.json")
    hub = _run("convert", info, str(tmp_path / "o.jsonl"), "--entry", "medical_book_hub", "--to", "pt")
    assert hub.exit_code == 2 and hub.output.strip() == (
        f"error: {info}: entry 'medical_book_hub': lives on the hub (hf_hub_url=shibing624/medical); fetch it "
        "first: swiftpipe download dataset shibing624/medical --hub hf")
    missing = _run("convert", info, str(tmp_path / "o.jsonl"), "--to", "sft")
    assert missing.exit_code == 2
    assert "pass --entry NAME (entries: medical_book_hub, medical_dpo, medical_pt" in missing.output


def test_stats_counts_records_lengths_empties_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "dpo.jsonl"
    a = {"query": "q1", "response": "abcd", "rejected_response": "x"}
    b = {"query": "q22", "response": "ab", "rejected_response": "y"}
    path.write_bytes(_lines(a, b, a, {"query": "q", "response": "", "rejected_response": "z"}))
    result = _run("stats", str(path), "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "path": str(path), "kind": "dpo", "format": "query/response", "records": 4, "valid": 3, "empty": 1,
        "duplicates": 1, "problems": 1,
        "chars": {"prompt": {"p0": 2, "p50": 2, "p90": 3, "p99": 3, "p100": 3},
                  "response": {"p0": 2, "p50": 4, "p90": 4, "p99": 4, "p100": 4}}}
    text = _run("stats", str(path)).output
    assert "valid 3, empty 1, duplicates 1, with problems 1 (swiftpipe data validate shows them)" in text


def test_data_commands_have_help_with_examples() -> None:
    for command in ([], ["validate"], ["convert"], ["stats"]):
        result = _run(*command, "--help")
        assert result.exit_code == 0 and "Examples:" in result.output
