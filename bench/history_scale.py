"""How `swiftpipe runs` and `swiftpipe status` scale with the work dir: 10,000 recorded runs.

Baseline, measured in the same run: the same command on an empty work dir (start-up and nothing to read). The
first listing builds the index (runs/.index.json); later ones read it and stat each record. Goal: `runs` and
`status` under 0.5 s at 10,000 runs. Run: make bench.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RUNS = 10_000
REPEAT = 5


def _make(work: Path) -> None:
    """RUNS records of recipes/demo.py with 100 parameter sets, written as swiftpipe writes them."""
    from swiftpipe.recipe.loading import chain_key
    from swiftpipe.records import run_record

    template = run_record.create(work, recipe_name="demo", recipe_path="recipes/demo.py", params={}, sets=[],
                                 stages=["pretrain", "sft", "merge", "dpo", "merge_dpo", "infer"])
    data = json.loads((template.folder / run_record.RECORD_FILE).read_text())
    for stage in data["stages"].values():
        stage.update(state="done", outputs={"run_dir": "/nowhere/v0-20260101-000000"})
    for i in range(RUNS):
        params = {"model": f"m{i % 100}", "data": "datasets", "output": "o"}
        run_id = f"demo-20260101-{i:06d}"
        folder = work / "runs" / run_id
        folder.mkdir()
        record = {**data, "id": run_id, "created": f"2026-01-01T00:00:00.{i:06d}+00:00",
                  "recipe": {**data["recipe"], "params": params, "key": chain_key("recipes/demo.py", params)}}
        (folder / run_record.RECORD_FILE).write_text(json.dumps(record, indent=2))
    template_folder = template.folder
    for child in template_folder.iterdir():
        child.unlink()
    template_folder.rmdir()


def _time(argv: list[str], *, check: bool = True) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    swiftpipe = [sys.executable, "-m", "swiftpipe"]
    status = ["status", "recipes/demo.py", "-p", "model=m7", "-p", "output=o"]
    with tempfile.TemporaryDirectory() as tmp:
        empty, full = Path(tmp) / "empty", Path(tmp) / "full"
        started = time.perf_counter()
        _make(full)
        print(f"wrote {RUNS} run records in {time.perf_counter() - started:.1f} s")
        cold = _time([*swiftpipe, "runs", "--work-dir", str(full)])  # builds the index
        rows = []
        for name, args in (("runs", ["runs"]), ("status", status)):
            # an empty work dir: `status` finds no run and says so (exit 2) after the same start-up
            base = statistics.median(_time([*swiftpipe, *args, "--work-dir", str(empty)], check=False)
                                     for _ in range(REPEAT))
            ours = statistics.median(_time([*swiftpipe, *args, "--work-dir", str(full)]) for _ in range(REPEAT))
            rows.append((name, base, ours))
    print(f"runs, first listing (builds the index): {cold * 1000:7.0f} ms")
    for name, base, ours in rows:
        print(f"{name:6s} empty work dir {base * 1000:6.0f} ms   {RUNS} runs {ours * 1000:6.0f} ms   "
              f"ratio {ours / base:.2f}   (goal: under 500 ms)")


if __name__ == "__main__":
    main()
