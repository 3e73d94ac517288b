"""Pre-flight at corpus scale: a file checked clean is not read again while it is unchanged, and a large JSON Lines
file is checked in parts on every core with the same report, line for line, as one reader gives."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from swiftpipe.cli import main
from swiftpipe.data import cache, parallel
from swiftpipe.data import validate as validate_module
from swiftpipe.data.cache import CheckCache, validate_once
from swiftpipe.data.validate import validate


def _good(i: int) -> str:
    return json.dumps({"query": f"问题 {i}", "response": f"回答 {i} " + "x" * (60 + i % 50)}, ensure_ascii=False)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def no_reading(monkeypatch):
    """Make any read of a file's records fail the test: what is served from the cache must not be read."""
    def refuse(*args, **kwargs):
        raise AssertionError("the file was read again")
        yield  # pragma: no cover

    def forbid() -> None:
        monkeypatch.setattr(validate_module, "checked_records", refuse)
    return forbid


def test_a_clean_file_is_checked_once_and_served_from_the_cache_while_unchanged(tmp_path: Path, no_reading) -> None:
    data = _write(tmp_path / "sft.jsonl", [_good(i) for i in range(200)])
    checked = CheckCache(tmp_path / "work" / "checked")
    first, cached = validate_once(data, "sft", cache=checked, limit=5)
    assert first.ok and first.records == 200 and not cached
    no_reading()
    again, cached = validate_once(data, "sft", cache=checked, limit=5)
    assert cached and again.ok and (again.records, again.shape) == (200, first.shape)


@pytest.mark.parametrize("change", ["appended", "touched", "replaced", "same size, same times", "other settings"])
def test_any_change_to_the_file_or_the_check_reads_it_again(tmp_path: Path, change: str) -> None:
    data = _write(tmp_path / "sft.jsonl", [_good(i) for i in range(100)])
    checked = CheckCache(tmp_path / "checked")
    validate_once(data, "sft", cache=checked, limit=5)
    kind, columns = "sft", None
    if change == "appended":
        with open(data, "a") as f:
            f.write(_good(100) + "\n")
    elif change == "touched":
        os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 1))
    elif change == "replaced":  # a new file (another inode) with the same content and times
        copy = tmp_path / "copy.jsonl"
        shutil.copy2(data, copy)
        copy.replace(data)
    elif change == "same size, same times":  # edited in place within the same second, the times put back
        before = data.stat()
        text = data.read_text(encoding="utf-8")
        data.write_text(text.replace("问题 50", "问题 51", 1), encoding="utf-8")
        os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert data.stat().st_size == before.st_size and data.stat().st_mtime_ns == before.st_mtime_ns
    else:
        columns = {"query": "query"}
    _, cached = validate_once(data, kind, cache=checked, limit=5, columns=columns)
    assert not cached


def test_a_file_with_problems_is_never_cached_and_a_stale_entry_never_lets_a_bad_file_through(tmp_path: Path) -> None:
    data = _write(tmp_path / "sft.jsonl", [_good(i) for i in range(100)])
    checked = CheckCache(tmp_path / "checked")
    assert validate_once(data, "sft", cache=checked, limit=5)[0].ok
    before = data.stat()
    lines = data.read_text(encoding="utf-8").splitlines()
    bad = json.dumps({"query": "问题 40", "response": ""}, ensure_ascii=False)
    lines[40] = bad + " " * (len(lines[40].encode()) - len(bad.encode()))  # the same size: an in-place edit
    _write(data, lines)
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert data.stat().st_size == before.st_size
    for _ in range(2):  # the problem is found, and found again: a file with problems is not remembered
        report, cached = validate_once(data, "sft", cache=checked, limit=5)
        assert not cached and report.problems == [f"{data}:41: response: is empty"]


def test_a_file_changed_while_it_is_checked_is_not_remembered(tmp_path: Path, monkeypatch) -> None:
    data = _write(tmp_path / "sft.jsonl", [_good(i) for i in range(50)])
    checked = CheckCache(tmp_path / "checked")
    real = cache.validate

    def validate_then_append(*args, **kwargs):
        report = real(*args, **kwargs)
        with open(data, "a") as f:
            f.write("{not json\n")
        return report

    monkeypatch.setattr(cache, "validate", validate_then_append)
    assert validate_once(data, "sft", cache=checked, limit=5)[0].ok
    monkeypatch.setattr(cache, "validate", real)
    report, cached = validate_once(data, "sft", cache=checked, limit=5)
    assert not cached and not report.ok


def _corpus(path: Path, lines: int, bad: dict[int, str]) -> Path:
    """`lines` good SFT lines, with the line numbers in `bad` (from 1) replaced by lines padded to the same length,
    so that the file's parts start where they did."""
    def padded(i: int) -> str:
        good = _good(i)
        line = bad.get(i + 1, good)
        return line + " " * (len(good.encode()) - len(line.encode()))
    return _write(path, [padded(i) for i in range(lines)])


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_parts_checked_in_parallel_report_every_problem_at_its_line_even_on_part_boundaries(
        tmp_path: Path, monkeypatch, workers: int) -> None:
    monkeypatch.setattr(parallel, "WORTH_SPLITTING", 0)
    path = _corpus(tmp_path / "sft.jsonl", 3000, {})
    spans = parallel._spans(path, path.stat().st_size, workers)
    assert len(spans) == workers
    text = path.read_bytes()
    starts = [text.count(b"\n", 0, start) + 1 for start, _ in spans[1:]]  # the first line of each later part
    empty = json.dumps({"query": "q", "response": ""})
    other = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    bad = {1: empty, 2: "{not json"}
    for start in starts:  # the last line of one part, the first and second of the next
        bad.update({start - 1: "{\"query\": 1, \"response\": \"a\"}", start: other, start + 1: "[1, 2]"})
    bad[3000] = '{"query": "q", "response": "cut sh'
    _corpus(path, 3000, bad)
    assert parallel._spans(path, path.stat().st_size, workers) == spans
    serial = validate(path, "sft", workers=1, limit=100)
    split = validate(path, "sft", workers=workers, limit=100)
    assert split.problems == serial.problems and split.problem_count == serial.problem_count
    assert (split.records, split.shape, split.empty) == (serial.records, serial.shape, serial.empty)
    assert f"{path}:{starts[0]}: a messages record in a query/response file (line 1)" in " ".join(split.problems)
    assert split.problems[-1].startswith(f"{path}:3000: not valid JSON: Unterminated string")
    few = validate(path, "sft", workers=workers, limit=3)
    assert few.problems == serial.problems[:3] and few.problem_count == serial.problem_count


def test_a_large_file_split_across_processes_reports_what_one_reader_does(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(parallel, "WORTH_SPLITTING", 0)
    path = _corpus(tmp_path / "sft.jsonl", 20000, {7: '{"query": "", "response": "a"}', 15001: "null"})
    seen = []
    report = validate(path, "sft", workers=2, limit=10, progress=seen.append)
    assert report.problems == [f"{path}:7: query: is empty", f"{path}:15001: the record is null, not an object"]
    assert report.records == 20000 and seen[-1] == path.stat().st_size


def test_run_dry_run_checks_a_dataset_once_and_recheck_reads_it_again(tmp_path: Path, monkeypatch, fake_swift,
                                                                       no_reading) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "train.jsonl", [_good(i) for i in range(100)])
    (tmp_path / "chain.py").write_text(
        "from swiftpipe import make_recipe, sft\n"
        "recipe = make_recipe('c', [sft('sft', {'model': 'm', 'dataset': 'train.jsonl', 'output_dir': 'out'})])\n")
    runner = CliRunner()
    assert runner.invoke(main, ["run", "chain.py", "--dry-run"]).exit_code == 0
    assert list((tmp_path / ".swiftpipe" / "checked").glob("*.json"))
    no_reading()
    again = runner.invoke(main, ["run", "chain.py", "--dry-run"])
    assert again.exit_code == 0, again.output
    recheck = runner.invoke(main, ["run", "chain.py", "--dry-run", "--recheck"])
    assert recheck.exit_code != 0 and "the file was read again" in repr(recheck.exception)


def test_data_validate_says_when_a_file_was_checked_before(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "train.jsonl", [_good(i) for i in range(10)])
    runner = CliRunner()
    first = runner.invoke(main, ["data", "validate", "train.jsonl"])
    second = runner.invoke(main, ["data", "validate", "train.jsonl"])
    forced = runner.invoke(main, ["data", "validate", "train.jsonl", "--no-cache"])
    assert [r.exit_code for r in (first, second, forced)] == [0, 0, 0]
    assert "checked before" not in first.output and "checked before, unchanged since" in second.output
    assert "checked before" not in forced.output
