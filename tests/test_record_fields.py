"""A record.json damaged or edited by hand, field by field: every field of the schema given a value of the wrong type
is one warning naming the file and the field, the record left out for every other recipe, and no command crashes.
The work dir's index and the temporary files a kill leaves are repaired on the next start."""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from records import latest_record
from test_runner import _calls

from swiftpipe.cli import main
from swiftpipe.msswift.layout import Answer, Headline, Output
from swiftpipe.records import history, run_record, safe_write
from swiftpipe.records.run_record import (
    Attempt,
    Handed,
    Job,
    LauncherInfo,
    RecipeInfo,
    RecordError,
    RunRecord,
    StageRecord,
    State,
)

# A stage record with every field set, so that every field is in the JSON to be damaged.
FULL_STAGE = StageRecord(
    state=State.FAILED, reason="exit code 1", started="2026-12-01T10:00:00+00:00",
    ended="2026-12-01T10:01:00+00:00", seconds=60.5, exit_code=1, command=["swift", "sft", "--model", "base"],
    env={"NPROC_PER_NODE": "1"}, script="out/sft.sh", log="out/sft.log", fingerprint="0123456789abcdef",
    inputs=[Handed("model", "out/pt/v0-20261201-090000/checkpoint-2", "fedcba9876543210", "pretrain",
                   Output.LAST_CHECKPOINT)],
    pgid=4242, target="out/merged", target_made="1:2", target_mark="run sft 0a1b",
    outputs={Output.RUN_DIR: "out/sft/v0-20261201-100000"}, final_loss=1.25, headline=Headline("loss", 1.25),
    answers=[Answer("q", "a", "r")], scores={"rouge-l": 50.0}, group="compare",
    label="sft", resume_from="out/sft/v0-20261201-100000/checkpoint-2",
    job=Job("7", "2026-12-01T10:00:00+00:00", "sft.sbatch", "sft.out", "FAILED", "NonZeroExitCode", "1:0"),
    attempts=[Attempt(State.INTERRUPTED, "2026-12-01T09:00:00+00:00", "2026-12-01T09:01:00+00:00", 60.0, 130,
                      "stopped", "out/sft.sh", "out/sft.log", {Output.RUN_DIR: "out/sft/v0-x"}, "0123456789abcdef",
                      ["swift", "sft"],
                      [Handed("model", "out/pt/x", "0011223344556677", "pretrain", Output.LAST_CHECKPOINT)])])


def _full_record(folder: Path) -> dict[str, Any]:
    record = RunRecord(folder, "chain-20261201-100000",
                       RecipeInfo("chain", "chain.py", str(folder / "chain.py"), {"out": "out"}, ["sft.x=1"],
                                  "k" * 16, {"commit": "abc", "dirty": False}),
                       "2026-12-01T10:00:00+00:00", {"sft": FULL_STAGE}, State.FAILED, str(folder),
                       {"ms-swift": "3.12.6", "git": None}, LauncherInfo("slurm", {"path": "chain.py"}),
                       "2026-12-01T10:02:00+00:00")
    return record.to_json()


def _schema_fields(cls: type, prefix: str = "") -> set[str]:
    """Every field of the record's dataclasses, as a dotted path with a stage and an attempt as examples."""
    found = set()
    for f in dataclasses.fields(cls):
        if f.name in ("folder", "owns", "recorded_in"):  # not in the JSON
            continue
        path = f"{prefix}{f.name}"
        found.add(path)
        hint = typing.get_type_hints(cls)[f.name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        options = [a for a in (typing.get_args(hint) if union else (hint,)) if a is not type(None)]
        items = [typing.get_args(a)[0] for a in options if typing.get_origin(a) is list and typing.get_args(a)]
        inner = [a for a in options if dataclasses.is_dataclass(a)]
        if f.name == "stages":
            found |= _schema_fields(StageRecord, "stages.sft.")
        elif [a for a in items if dataclasses.is_dataclass(a)]:  # a list of them: its first item
            found |= _schema_fields(next(a for a in items if dataclasses.is_dataclass(a)), f"{path}[0].")
        elif inner:
            found |= _schema_fields(inner[0], f"{path}.")
    return found


def _wrong(value: Any) -> Any:
    """A JSON value of another type than `value`."""
    if isinstance(value, str):
        return 5
    if isinstance(value, bool) or value is None:
        return [1]
    if isinstance(value, (int, float)):
        return "abc"
    if isinstance(value, list):
        return {"a": 1}
    return []


def _damaged(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field, a copy of `data` with that field's value of the wrong type) for every field, and for one item of
    each typed mapping or list."""
    def walk(node: Any, path: str) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{path}.{key}" if path else key
                yield child
                if key not in ("params", "settings", "git"):  # Any inside: nothing to be wrong
                    yield from walk(value, child)
        elif isinstance(node, list):
            for i, value in enumerate(node[:1]):
                yield f"{path}[{i}]"
                yield from walk(value, f"{path}[{i}]")

    for path in walk(data, ""):
        if path in ("schema", "project"):
            continue
        damaged = copy.deepcopy(data)
        *parents, last = path.replace("[", ".[").split(".")
        node = damaged
        for part in parents:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        if last.startswith("["):
            node[int(last[1:-1])] = _wrong(node[int(last[1:-1])])
        else:
            node[last] = _wrong(node[last])
        yield path, damaged


def test_every_field_of_the_schema_with_a_wrong_type_is_one_line_naming_it(tmp_path: Path) -> None:
    data = _full_record(tmp_path)
    fields = {path for path, _ in _damaged(data)}
    assert _schema_fields(RunRecord) <= fields  # a new field is damaged here too, or this fails
    folder = tmp_path / "runs" / "x"
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps(data))
    assert run_record.read(folder).stages["sft"] == run_record.read(folder).stages["sft"]  # the whole one reads
    for path, damaged in _damaged(data):
        (folder / "record.json").write_text(json.dumps(damaged))
        with pytest.raises(RecordError) as raised:
            run_record.read(folder)
        message = str(raised.value)
        if path == "stages":  # without its stages, it is no record at all
            assert "not a swiftpipe run record" in message
            continue
        assert message.startswith(f"{folder / 'record.json'}: a damaged run record: field "), (path, message)
        named = message.split("field ", 1)[1].split(" is ", 1)[0]
        assert named == path, (path, message)


DAMAGES = [  # the fields the issue found crashing a command, and the values they had
    ("stages.sft.outputs", []), ("created", 5), ("id", None), ("recipe.params", []), ("stages.sft.seconds", "abc"),
    ("stages.sft.final_loss", "x"), ("stages.sft.pgid", "abc"), ("stages.sft.outputs.run_dir", 5),
    ("stages.sft.answers", [{"question": 5}]),
]


def test_a_damaged_record_is_said_and_left_out_by_every_command(chain: Path, fake_swift: Path, write_recipe) -> None:
    """Each is one warning, and the other recipe's runs, status, resolve and --resume go on; its own recipe's
    --resume is told, and starts afresh."""
    other = write_recipe("def recipe():\n    return make_recipe('other', [pretrain('pt', {'model': 'base', "
                         "'dataset': 'data/pt.jsonl', 'output_dir': 'out/other'})])\n", name="other.py")
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet", "--stage", "pretrain"]).exit_code == 0
    assert CliRunner().invoke(main, ["run", other.name, "--quiet"]).exit_code == 0
    damaged = next(p for p in Path(".swiftpipe/runs").glob("chain-*/record.json"))
    good = json.loads(damaged.read_text())
    for i, (field, value) in enumerate(DAMAGES):
        data = copy.deepcopy(good)
        data["stages"]["sft"] = {"state": "pending"}
        *parents, last = field.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        damaged.write_text(json.dumps(data))
        for command in (["runs"], ["runs", "--json"], ["status", other.name], ["resolve", other.name, "pt"],
                        ["status", other.name, "--json"], ["report", other.name]):
            history._told.clear()  # a warning is said once per process; each command here stands for one
            result = CliRunner().invoke(main, command)
            assert result.exit_code == 0, (field, command, result.output)
            warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
            assert len(warnings) == 1 and "Traceback" not in result.output, (field, command, result.output)
            if command == ["runs"]:
                assert len(warnings) == 1, result.output
                assert warnings[0].startswith(f"warning: {damaged}: a damaged run record: field {field}"), warnings
        resumed = CliRunner().invoke(main, ["run", other.name, "--quiet", "--resume"])
        assert resumed.exit_code == 0 and latest_record()["stages"]["pt"]["state"] == "done", resumed.output
        if i < 2:  # the damaged chain's own --resume: told, never resumed past silently; it starts afresh
            history._told.clear()
            again = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"])
            assert again.exit_code == 0, again.output
            assert f"field {field}" in again.output
            assert "no earlier run of" in again.output and "starting the chain" in again.output
            for fresh in Path(".swiftpipe/runs").glob("chain-*/record.json"):
                if fresh != damaged:
                    shutil.rmtree(fresh.parent)


@pytest.mark.parametrize("index", ['{"version": 1, "runs": []}', '{"version": 1, "runs": {"x": [1, 2]}}',
                                   '{"version": 1, "runs": {"x": [1, 2, 3, {"id": 5}]}}', "[]", "{not json"])
def test_a_damaged_index_is_rebuilt(chain: Path, fake_swift: Path, index: str) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet", "--stage", "pretrain"]).exit_code == 0
    (Path(".swiftpipe/runs") / ".index.json").write_text(index)
    listed = CliRunner().invoke(main, ["runs"])
    assert listed.exit_code == 0 and "chain-" in listed.output and "warning" not in listed.output, listed.output
    rebuilt = json.loads((Path(".swiftpipe/runs") / ".index.json").read_text())
    assert list(rebuilt["runs"]) == [p.name for p in Path(".swiftpipe/runs").glob("chain-*")]
    resumed = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"])
    assert resumed.exit_code == 0 and latest_record()["stages"]["pretrain"]["state"] == "done", resumed.output


def test_the_temporary_files_of_a_killed_writer_are_swept_on_the_next_start(chain: Path, fake_swift: Path) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet", "--stage", "pretrain"]).exit_code == 0
    folder = Path(latest_record()["stages"]["pretrain"]["log"]).parent
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = safe_write._HOST
    left = [folder / f".record-{host}-{dead.stdout.strip()}-0a1b2c3d.tmp", folder / ".record-k2j3h4.json",
            folder.parent / f".index-{host}-{dead.stdout.strip()}-1a2b3c4d.tmp"]
    live = folder / f".record-{host}-{os.getpid()}-9f8e7d6c.tmp"  # a writer that is still there (this test)
    other_host = folder / ".record-elsewhere-1-5e6f7a8b.tmp"  # a writer on another host sharing the disk
    for path in (*left, live, other_host):
        path.write_text("{")
    os.utime(left[1], (0, 0))  # swiftpipe 0.1's name, without a pid: swept once it is old
    result = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"])
    assert result.exit_code == 0, result.output
    assert not any(p.exists() for p in left) and live.exists() and other_host.exists()
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft", "export", "infer"]


def test_a_finished_stage_whose_record_lost_its_outputs_runs_again(chain: Path, fake_swift: Path) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet", "--stage", "pretrain"]).exit_code == 0
    [path] = Path(".swiftpipe/runs").glob("chain-*/record.json")
    data = json.loads(path.read_text())
    data["stages"]["pretrain"]["outputs"] = {}  # edited by hand: still "done", nothing to hand the SFT
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["run", str(chain), "--quiet", "--resume"])
    assert result.exit_code == 0, result.output
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "pt", "sft", "export", "infer"]
