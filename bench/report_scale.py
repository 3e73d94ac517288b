"""How `swiftpipe report` scales with the steps a run logged: three training stages, 100,000 logged steps in all.

Baseline, measured in the same run: a bare Python process that reads the same three logging.jsonl files and
`json.loads` every line (the least any report must do). Goal: the report in under 2 s, its page under 2 MB (curves
thinned to 1,000 drawn points each, keeping each stretch's lowest and highest). Run: make bench.
"""
from __future__ import annotations

import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
STEPS = {"pretrain": 50_000, "sft": 30_000, "dpo": 20_000}
REPEAT = 5
_BARE = """
import json, sys
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            json.loads(line)
"""


def _log(run_dir: Path, steps: int, dpo: bool) -> Path:
    run_dir.mkdir(parents=True)
    rng = random.Random(steps)
    with open(run_dir / "logging.jsonl", "w") as f:
        for step in range(1, steps + 1):
            record = {"loss": 2.0 * math.exp(-step / steps * 3) + rng.random() * 0.1, "grad_norm": rng.random() * 3,
                      "learning_rate": 1e-4 * (1 - step / steps), "epoch": step / steps,
                      "global_step/max_steps": f"{step}/{steps}", "percentage": f"{100 * step / steps:.2f}%",
                      "elapsed_time": "1h", "remaining_time": "1h", "memory(GiB)": 20.5, "train_speed(iter/s)": 1.2}
            if dpo:
                record.update({"rewards/chosen": rng.random(), "rewards/rejected": -rng.random(),
                               "rewards/margins": rng.random() * 2, "rewards/accuracies": rng.random()})
            if step % 500 == 0:
                f.write(json.dumps({"eval_loss": record["loss"] + 0.05, "global_step/max_steps": f"{step}/{steps}"})
                        + "\n")
            f.write(json.dumps(record) + "\n")
        f.write(json.dumps({"last_model_checkpoint": str(run_dir / f"checkpoint-{steps}"), "global_step": steps})
                + "\n")
    return run_dir / "logging.jsonl"


def _make(work: Path, out: Path) -> tuple[str, list[Path]]:
    from swiftpipe.records import run_record
    from swiftpipe.records.run_record import State

    record = run_record.create(work, recipe_name="demo", recipe_path="recipes/demo.py", params={}, sets=[],
                               stages=list(STEPS))
    logs = []
    for name, steps in STEPS.items():
        run_dir = out / name / "v0-20260101-000000"
        logs.append(_log(run_dir, steps, dpo=name == "dpo"))
        entry = record.stage(name)
        entry.end(State.DONE)
        entry.command = ["swift", "sft", "--model", "m", "--output_dir", str(out / name)]
        entry.outputs = {"run_dir": str(run_dir)}
    record.state = State.DONE
    record.save()
    return record.id, logs


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work, out, page = Path(tmp) / "work", Path(tmp) / "out", Path(tmp) / "report.html"
        run_id, logs = _make(work, out)
        print(f"{sum(STEPS.values()):,} logged steps in {len(STEPS)} stages "
              f"({sum(p.stat().st_size for p in logs) / 1e6:.1f} MB of logging.jsonl)")
        report = [sys.executable, "-m", "swiftpipe", "report", "recipes/demo.py", "--run", run_id,
                  "--work-dir", str(work), "-o", str(page)]
        bare = [sys.executable, "-c", _BARE, *map(str, logs)]
        ours, base = [], []
        for _ in range(REPEAT):
            base.append(_time(bare))
            ours.append(_time(report))
        ours_s, base_s = statistics.median(ours), statistics.median(base)
        print(f"bare read of the logs      {base_s:6.2f} s")
        print(f"swiftpipe report           {ours_s:6.2f} s   (goal < 2 s)")
        print(f"ratio report / bare read   {ours_s / base_s:6.2f}")
        print(f"page                       {page.stat().st_size / 1e6:6.2f} MB  (goal < 2 MB)")


if __name__ == "__main__":
    main()
