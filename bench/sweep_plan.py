"""Planning a sweep: `swiftpipe run recipes/medical.py --vary ... --dry-run` for 100 variants (10 learning rates x 10
LoRA ranks of the SFT), against the plan of the chain alone, measured in the same run. Goal: under 2 s for the sweep.

The fake `swift` (tests/fake_swift) stands on PATH and the medical recipe's model and data are small local stand-ins
written here, so that nothing is downloaded: what is measured is swiftpipe's loading, flattening, planning and
printing of 600 stages.

    python bench/sweep_plan.py
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from timing import seconds

REPO = Path(__file__).resolve().parent.parent
REPEAT = 5
RATES = ",".join(f"{i}e-5" for i in range(1, 11))
RANKS = ",".join(str(4 * i) for i in range(1, 11))


def _stand_ins(folder: Path) -> list[str]:
    """A model folder and the three data files the medical recipe reads, as -p options."""
    (folder / "model").mkdir()
    (folder / "model" / "config.json").write_text("{}")
    files = {"pt.jsonl": {"text": "高血压是一种常见病。"}, "sft.jsonl": {"query": "q", "response": "r"},
             "dpo.jsonl": {"query": "q", "response": "r", "rejected_response": "x"}}
    for name, row in files.items():
        (folder / name).write_text(json.dumps(row, ensure_ascii=False) + "\n")
    return ["-p", f"base_model={folder / 'model'}", "-p", f"pretrain_data={folder / 'pt.jsonl'}",
            "-p", f"sft_data={folder / 'sft.jsonl'}", "-p", f"dpo_data={folder / 'dpo.jsonl'}",
            "-p", f"output={folder / 'out'}"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "PATH": f"{REPO / 'tests' / 'fake_swift'}{os.pathsep}{os.environ['PATH']}"}
        base = [sys.executable, "-m", "swiftpipe", "run", str(REPO / "recipes" / "medical.py"), *_stand_ins(folder),
                "--work-dir", str(folder / "work"), "--dry-run"]
        sweep = [*base, "--vary", f"sft.learning_rate={RATES}", "--vary", f"sft.lora_rank={RANKS}"]
        chain_times, sweep_times = [], []
        for _ in range(REPEAT):
            chain_times.append(seconds(base, env, REPO))
            sweep_times.append(seconds(sweep, env, REPO))
    chain, swept = statistics.median(chain_times), statistics.median(sweep_times)
    print(f"plan of the chain alone (--dry-run)             median {chain:6.2f} s  ({REPEAT} runs)")
    print(f"plan of a sweep of 100 variants (--dry-run)     median {swept:6.2f} s  ({REPEAT} runs)")
    print(f"ratio sweep / chain: {swept / chain:.2f}; sweep {swept:.2f} s (goal < 2 s)")


if __name__ == "__main__":
    main()
