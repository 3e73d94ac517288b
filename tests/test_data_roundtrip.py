"""Every format round-trips through the real ms-swift: convert, validate the result, then load it with ms-swift's
own dataset loader and check that the right columns became the right roles.

Two comparisons for each sample: ms-swift's reading of the converted file equals what swiftpipe meant to write,
and, where ms-swift reads the original format itself, its reading of the original equals it too (convert says
the same thing ms-swift would). Runs against whichever ms-swift major the venv holds (CI runs 3 and 4).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from swiftpipe.cli import main

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO / "datasets"
SYSTEM = "你是一名专业、谨慎的医生。"

# (source, kind, registry entry, whether ms-swift reads the source as it is)
CASES = [
    ("medical_pretrain_sample.jsonl", "pt", None, True),
    ("medical_pretrain_response_sample.jsonl", "pt", None, True),
    ("medical_book_sample.json", "pt", None, True),
    ("medical_sft_sample.jsonl", "sft", None, True),
    ("medical_multiturn_sample.jsonl", "sft", None, True),
    ("qizhen_sft_sample.json", "sft", None, True),
    ("medical_messages_sample.jsonl", "sft", None, True),
    ("medical_sharegpt_sample.json", "sft", None, True),
    ("medical_dpo_sample.jsonl", "dpo", None, True),
    ("medical_dpo_messages_sample.jsonl", "dpo", None, True),
    ("medical_reward_sample.jsonl", "dpo", None, False),
    ("llamafactory/dataset_info.json", "pt", "medical_pt", False),
    ("llamafactory/dataset_info.json", "sft", "medical_sft", False),
    ("llamafactory/dataset_info.json", "sft", "medical_sharegpt", False),
    ("llamafactory/dataset_info.json", "dpo", "medical_dpo", False),
]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """Convert every case, validate each output, then load all files with ms-swift in one process."""
    out = tmp_path_factory.mktemp("converted")
    files: list[str] = []
    for source, kind, entry, native in CASES:
        target = out / f"{entry or Path(source).stem}.{kind}.jsonl"
        args = ["data", "convert", str(DATASETS / source), str(target), "--to", kind]
        args += ["--entry", entry] if entry else []
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        check = CliRunner().invoke(main, ["data", "validate", str(target), "--kind", kind], catch_exceptions=False)
        assert check.exit_code == 0, check.output
        files.append(str(target))
        if native:
            files.append(str(DATASETS / source))
    env = {**os.environ, "HF_DATASETS_CACHE": str(out / "hf-datasets"), "HF_DATASETS_OFFLINE": "1"}
    run = subprocess.run([sys.executable, str(REPO / "tests" / "swift_dataset.py"), *files], capture_output=True,
                         text=True, env=env, cwd=out, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return {Path(r["path"]).name if "converted" not in r["path"] else r["path"]: r["rows"]
            for r in map(json.loads, run.stdout.splitlines())} | {"_dir": str(out)}  # type: ignore[dict-item]


@pytest.mark.parametrize("source, kind, entry, native", CASES, ids=[c[2] or c[0] for c in CASES])
def test_converted_file_reads_in_ms_swift_as_written(loaded, source: str, kind: str, entry: str | None,
                                                     native: bool) -> None:
    target = Path(loaded["_dir"]) / f"{entry or Path(source).stem}.{kind}.jsonl"
    written = _jsonl(target)
    assert loaded[str(target)] == written  # nothing dropped, no role or column reinterpreted
    if native:
        assert loaded[Path(source).name] == written  # convert agrees with ms-swift's own reading of the source


def _first(loaded, name: str, kind: str) -> dict:
    return loaded[str(Path(loaded["_dir"]) / f"{name}.{kind}.jsonl")][0]


def test_the_right_columns_became_the_right_roles(loaded) -> None:
    sft = _jsonl(DATASETS / "medical_sft_sample.jsonl")[0]
    dpo = _jsonl(DATASETS / "medical_dpo_sample.jsonl")[0]
    reward = _jsonl(DATASETS / "medical_reward_sample.jsonl")[0]
    qizhen = json.loads((DATASETS / "qizhen_sft_sample.json").read_text(encoding="utf-8"))[2]
    text = _jsonl(DATASETS / "medical_pretrain_sample.jsonl")[0]["text"]
    turn = lambda role, content: {"role": role, "content": content}  # noqa: E731

    assert _first(loaded, "medical_pretrain_sample", "pt") == {"messages": [turn("assistant", text)]}
    assert _first(loaded, "medical_sft_sample", "sft") == {"messages": [turn("user", sft["query"]),
                                                                        turn("assistant", sft["response"])]}
    assert _first(loaded, "medical_dpo_sample", "dpo") == {
        "messages": [turn("user", dpo["query"]), turn("assistant", dpo["response"])],
        "rejected_response": dpo["rejected_response"]}
    assert _first(loaded, "medical_reward_sample", "dpo") == {
        "messages": [turn("user", reward["question"]), turn("assistant", reward["response_chosen"])],
        "rejected_response": reward["response_rejected"]}
    assert loaded[str(Path(loaded["_dir"]) / "qizhen_sft_sample.sft.jsonl")][2]["messages"] == [
        turn("user", f"{qizhen['instruction']}\n{qizhen['input']}"), turn("assistant", qizhen["output"])]
    assert [m["role"] for m in _first(loaded, "medical_sharegpt", "sft")["messages"]] == ["system", "user", "assistant"]
    assert _first(loaded, "medical_sharegpt", "sft")["messages"][0]["content"] == SYSTEM
    multiturn = loaded[str(Path(loaded["_dir"]) / "medical_multiturn_sample.sft.jsonl")][1]["messages"]
    assert [m["role"] for m in multiturn] == ["system", "user", "assistant", "user", "assistant"]
    assert multiturn[1]["content"] == sft["query"]  # the history pair comes first
