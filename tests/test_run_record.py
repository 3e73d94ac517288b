"""The run record: typed, written atomically, reads its predecessor's records, refuses anything else in one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from swiftpipe.cli import main
from swiftpipe.msswift.layout import Output
from swiftpipe.recipe import loading
from swiftpipe.records import run_record
from swiftpipe.records.run_record import Handed, RecordError, State

REPO = Path(__file__).resolve().parent.parent
DEMO = str(REPO / "recipes" / "demo.py")

# What swiftpipe 0.1 wrote (schema 1: no "schema" key, a Slurm job's fields flat in its stage).
V1 = {
    "id": "demo-20261101-120000",
    "recipe": {"name": "demo", "path": DEMO, "abspath": DEMO, "params": {}, "sets": [], "key": "",
               "git": None},
    "created": "2026-11-01T12:00:00+00:00",
    "cwd": "/work",
    "versions": {"python": "3.11.7", "ms-swift": "3.12.6"},
    "launcher": {"name": "slurm", "invocation": {"path": DEMO, "params": [], "sets": []}},
    "state": "failed",
    "stages": {
        "pretrain": {"state": "done", "job_id": "41", "submitted": "2026-11-01T12:00:01+00:00",
                     "sbatch": "pretrain.sbatch", "slurm_out": "pretrain.slurm.out",
                     "slurm": {"state": "COMPLETED", "reason": "None", "exit_code": "0:0"},
                     "started": "2026-11-01T12:00:03+00:00", "seconds": 12.5, "exit_code": 0,
                     "outputs": {"run_dir": "/o/v0-1", "last_checkpoint": "/o/v0-1/checkpoint-4",
                                 "best_checkpoint": None},
                     "final_loss": 1.25},
        "sft": {"state": "failed", "reason": "exit code 1", "job_id": "42", "submitted": "x", "sbatch": "sft.sbatch",
                "slurm_out": "sft.slurm.out", "resume_from": "/o/sft/v0-1/checkpoint-2"},
        "merge": {"state": "aborted", "reason": "prerequisite sft failed"},
    },
}


def _write(folder: Path, data: object) -> Path:
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps(data))
    return folder


def test_a_schema_1_record_is_read_and_saved_as_the_current_schema(tmp_path: Path) -> None:
    folder = _write(tmp_path / "runs" / V1["id"], {**V1, "cwd": str(tmp_path)})
    record = run_record.read(folder)
    pretrain, sft = record.stages["pretrain"], record.stages["sft"]
    assert record.launcher is not None and record.launcher.name == "slurm" and record.state is State.FAILED
    assert pretrain.job == run_record.Job("41", "2026-11-01T12:00:01+00:00", str(tmp_path / "pretrain.sbatch"),
                                               str(tmp_path / "pretrain.slurm.out"), "COMPLETED", "None", "0:0")
    assert pretrain.outputs["last_checkpoint"] == "/o/v0-1/checkpoint-4" and pretrain.final_loss == 1.25
    assert sft.job is not None and sft.job.id == "42" and sft.job.state == "PENDING"
    assert sft.resume_from == "/o/sft/v0-1/checkpoint-2"
    record.save()
    saved = json.loads((folder / "record.json").read_text())
    assert saved["schema"] == run_record.SCHEMA
    assert saved["stages"]["merge"] == {"state": "aborted", "reason": "prerequisite sft failed"}
    assert "job_id" not in saved["stages"]["pretrain"] and saved["stages"]["pretrain"]["job"]["id"] == "41"
    assert saved["project"] == "../.." and saved["stages"]["pretrain"]["job"]["sbatch"] == "pretrain.sbatch"
    assert run_record.read(folder) == record  # what is written reads back the same


def test_outputs_are_typed_when_read_and_written_by_their_names_as_before(tmp_path: Path) -> None:
    record = run_record.create(tmp_path, loading.load(DEMO), stages=["sft"])
    entry = record.stage("sft")
    entry.begin(command=["swift", "sft"], env={}, script=str(record.folder / "sft.sh"),
                log=str(record.folder / "sft.log"), fingerprint="a",
                inputs=[Handed("model", "/m/merged", "0123", "merge", Output.MERGED)])
    entry.outputs = {Output.RUN_DIR: "/o/v0-1", Output.LAST_CHECKPOINT: "/o/v0-1/checkpoint-4"}
    entry.end(State.DONE)
    record.save()
    text = (record.folder / "record.json").read_text()
    assert ('      "inputs": [\n        {\n          "flag": "model",\n          "path": "/m/merged",\n'
            '          "identity": "0123",\n          "producer": "merge",\n          "kind": "merged"\n        }\n'
            '      ],\n      "outputs": {\n        "run_dir": "/o/v0-1",\n'
            '        "last_checkpoint": "/o/v0-1/checkpoint-4"\n      }') in text
    again = run_record.read(record.folder)
    assert again.stages["sft"] == entry
    assert [type(output) for output in again.stages["sft"].outputs] == [Output, Output]
    assert again.stages["sft"].inputs is not None and again.stages["sft"].inputs[0].kind is Output.MERGED
    assert json.dumps(again.to_json(), indent=2, ensure_ascii=False) + "\n" == text  # read and saved: the same


def test_a_relaunch_keeps_the_earlier_attempt(tmp_path: Path) -> None:
    record = run_record.create(tmp_path, loading.load(DEMO), stages=["pt"])
    entry = record.stage("pt")
    entry.begin(command=["swift", "pt"], env={}, script="pt.sh", log="pt.log", fingerprint="a", inputs=[])
    entry.exit_code = 1
    entry.end(State.FAILED, "exit code 1")
    entry.begin(command=["swift", "pt"], env={}, script="pt.sh", log="pt.log", fingerprint="a", inputs=[])
    record.save()
    again = run_record.read(record.folder).stages["pt"]
    assert again.state is State.RUNNING and again.reason is None and again.exit_code is None
    assert [(a.state, a.exit_code, a.reason) for a in again.attempts] == [(State.FAILED, 1, "exit code 1")]


@pytest.mark.parametrize("content, message", [
    ({**V1, "schema": 5}, "written by a newer swiftpipe (record schema 5; this one reads 1 to 4): upgrade "
                          "swiftpipe, or give --work-dir another folder"),
    ({"hello": "world"}, "not a swiftpipe run record; move"),
    ({**V1, "stages": {"sft": {"state": "exploded"}}}, "a damaged run record: field stages.sft.state is a string "
                                                       "('exploded'), not one of 'pending', "),
    ("[1, 2", "cannot read this run record (JSONDecodeError); move"),
    ([], "not a swiftpipe run record; move"),
    (None, "not a swiftpipe run record; move"),
    ({**V1, "stages": []}, "not a swiftpipe run record; move"),
    ({**V1, "stages": {"sft": None}}, "a damaged run record: field stages.sft is null, not an object; move"),
    ({**V1, "stages": {"sft": {"outputs": {"weights": "/o"}}}}, "a damaged run record: field stages.sft.outputs.weights"
                                                                " is a string ('weights'), not one of 'run_dir', "),
    (b'{"id": "\xff"}', "cannot read this run record (UnicodeDecodeError); move"),
])
def test_a_record_this_swiftpipe_cannot_read_is_one_line_saying_what_to_do(tmp_path: Path, content: object,
                                                                           message: str) -> None:
    folder = tmp_path / "runs" / "x"
    folder.mkdir(parents=True)
    if isinstance(content, bytes):
        (folder / "record.json").write_bytes(content)
    else:
        (folder / "record.json").write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(RecordError) as raised:
        run_record.read(folder)
    assert str(raised.value).startswith(f"{folder / 'record.json'}: {message}")
    listed = CliRunner().invoke(main, ["runs", "--work-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output  # other runs are still listed; this one is said and left out
    assert listed.output.splitlines() == [f"warning: {raised.value} (left out)", f"no runs recorded under {tmp_path}"]


def test_the_index_follows_every_change_of_a_record(tmp_path: Path) -> None:
    from swiftpipe.records import history

    first = run_record.create(tmp_path, loading.load(DEMO), stages=["a"])
    second = run_record.create(tmp_path, loading.load(DEMO, params=["output=x"]),
                               stages=["a", "b"])
    assert [(s.id, s.state, s.done, s.total) for s in history.summaries(tmp_path)] == [
        (first.id, "pending", 0, 1), (second.id, "pending", 0, 2)]
    assert (tmp_path / "runs" / ".index.json").is_file()
    second.stage("a").end(State.DONE)
    second.state = State.RUNNING
    second.save()  # same size or not, a new file: the index sees it
    assert [(s.state, s.done) for s in history.summaries(tmp_path)] == [("pending", 0), ("running", 1)]
    (tmp_path / "runs" / ".index.json").write_text("{not json")  # a damaged cache is rebuilt, never trusted
    assert [s.id for s in history.summaries(tmp_path)] == [first.id, second.id]
    assert history.latest(tmp_path, second.key).stages["a"].state is State.DONE
