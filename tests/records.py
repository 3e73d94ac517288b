"""A run record's JSON as the tests read it: the file's own text, with the paths it keeps relative to the project
made absolute (as swiftpipe reads them), so that a test compares them with what ms-swift was handed."""
from __future__ import annotations

import json
from pathlib import Path

from swiftpipe.records import record_paths


def record_json(path: Path) -> dict:
    data = json.loads(path.read_text())
    record_paths.from_project(data, record_paths.project_of(path.parent, data, data.get("schema", 1)))
    return data


def latest_record(work: Path = Path(".swiftpipe")) -> dict:
    [latest] = sorted(work.glob("runs/*/record.json"))[-1:]
    return record_json(latest)
