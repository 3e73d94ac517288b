"""Loads data files with ms-swift's own dataset loader and prints what ms-swift made of each record, one JSON
object a file: {"path": ..., "rows": [{"messages": [{"role", "content"}...], "rejected_response": ...}]}.
Run by the tests in a subprocess (importing ms-swift takes seconds and must not leak into the test process)."""
from __future__ import annotations

import json
import sys

try:
    from swift.llm import load_dataset  # ms-swift 3
except ImportError:
    from swift.dataset import load_dataset  # ms-swift 4


def _row(row: dict) -> dict:
    out = {"messages": [{"role": m["role"], "content": m["content"]} for m in row["messages"]]}
    if row.get("rejected_response") is not None:
        out["rejected_response"] = row["rejected_response"]
    return out


for path in sys.argv[1:]:
    dataset, _ = load_dataset([path], split_dataset_ratio=0.0, num_proc=1)
    print(json.dumps({"path": path, "rows": [_row(r) for r in dataset]}, ensure_ascii=False), flush=True)
