"""What is in a data file: record count, text lengths, empty and duplicate records."""
from __future__ import annotations

import json
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swiftpipe.data import stream
from swiftpipe.data.validate import Report, checked_records, guess_purpose

PERCENTILES = (0, 50, 90, 99, 100)


@dataclass
class Stats:
    path: Path
    purpose: str
    shape: str
    records: int
    good: int
    empty: int
    duplicates: int
    problems: int
    lengths: dict[str, dict[int, int]] = field(default_factory=dict)

    def to_json(self) -> dict:
        # "kind", as `--kind` names it
        return {"path": str(self.path), "kind": self.purpose, "format": self.shape, "records": self.records,
                "valid": self.good, "empty": self.empty, "duplicates": self.duplicates, "problems": self.problems,
                "chars": {part: {f"p{p}": v for p, v in dist.items()} for part, dist in self.lengths.items()}}


def stats(path: Path, *, purpose: str | None = None, progress: Callable[[int], object] | None = None) -> Stats:
    """One pass. Lengths are in characters of the prompt (every user turn) and the response (the last assistant
    turn). A duplicate is a record whose converted form equals an earlier one's (compared by a 64-bit hash, so
    memory grows by 8 bytes a record)."""
    path = Path(path)
    purpose = purpose or guess_purpose(path)
    report = Report(path, purpose, stream.read_framing(path), limit=0)
    prompts, responses, hashes = array("L"), array("L"), array("q")
    for shape, record in checked_records(path, purpose, report=report, progress=progress):
        messages = shape.to_messages(record, purpose)
        turns = messages["messages"]
        prompts.append(sum(len(t["content"]) for t in turns if t["role"] == "user"))
        responses.append(len(turns[-1]["content"]) if turns[-1]["role"] == "assistant" else 0)
        hashes.append(hash(json.dumps(messages, ensure_ascii=False, sort_keys=True)))
    ordered = sorted(hashes)
    duplicates = sum(1 for a, b in zip(ordered, ordered[1:]) if a == b)
    lengths = {"prompt": _percentiles(prompts), "response": _percentiles(responses)} if hashes else {}
    if purpose == "pt":
        lengths.pop("prompt", None)
    return Stats(path, purpose, report.shape, report.records, len(hashes), report.empty, duplicates,
                 report.problem_count, lengths)


def _percentiles(values: array) -> dict[int, int]:
    ordered = sorted(values)
    return {p: ordered[min(len(ordered) - 1, p * len(ordered) // 100)] for p in PERCENTILES}
