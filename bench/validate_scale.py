"""Pre-flight at corpus scale, as ratios measured in this run (issue: check a 20 GB corpus once, fast).

1. The first check of a large JSON Lines SFT file (default 2 GB): `validate` (orjson, split across every core)
   against the bare standard-library loop (read the lines, `json.loads` each, one process). Goal >= 3x on two
   cores; peak memory (each process's own) under 200 MB.
2. A second `swiftpipe run --dry-run` on the same unchanged file: the pre-flight's data check served from the work
   dir's record of clean checks. Goal: under 0.2 s of pre-flight (the run's whole wall time is printed too).
3. A one-line JSON array (default 300 MB): `validate` against `json.loads` of the whole file. Goal >= 1.5x, in
   constant memory.

Run: make bench  (or: python bench/validate_scale.py [JSONL_MB] [ARRAY_MB])
"""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from validate_throughput import _BARE_BINARY as _BARE_LINES  # noqa: E402 (the same baseline and measurement)
from validate_throughput import _MEASURE  # noqa: E402

_BARE_WHOLE = """
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    json.loads(f.read())
"""
_VALIDATE = """
import sys, resource
from swiftpipe.data.validate import validate
report = validate(sys.argv[1], "sft")
assert report.ok and report.records > 0, report.problems
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest worker's peak, in kB
print("workers-peak", children, file=sys.stderr)
"""
_PREFLIGHT = """
import sys, time
from pathlib import Path
from swiftpipe.data.cache import CheckCache
from swiftpipe.run.preflight import check_data_file
start = time.perf_counter()
problems = check_data_file(Path(sys.argv[1]), "sft", checked=CheckCache(Path(sys.argv[2])))
assert not problems, problems
print("preflight", time.perf_counter() - start, file=sys.stderr)
"""


def _record(rng: random.Random) -> dict:
    record = {"query": "问题：" + "头痛发热怎么办？" * rng.randint(1, 12) + " what should I do" * rng.randint(0, 4),
              "response": "建议多休息，补充水分。" * rng.randint(2, 30) + " See a doctor." * rng.randint(0, 6)}
    if rng.random() < 0.3:
        record["system"] = "你是一名医生。"
    if rng.random() < 0.2:
        record["history"] = [["你好", "你好，请问哪里不舒服？"]]
    return record


def write_jsonl(path: Path, megabytes: int) -> None:
    rng = random.Random(0)
    block = "".join(json.dumps(_record(rng), ensure_ascii=False) + "\n" for _ in range(2000)).encode()
    with open(path, "wb") as f:
        for _ in range(megabytes * (1 << 20) // len(block) + 1):
            f.write(block)


def write_array(path: Path, megabytes: int) -> None:
    rng = random.Random(1)
    block = ",".join(json.dumps(_record(rng), ensure_ascii=False) for _ in range(2000)).encode()
    with open(path, "wb") as f:
        f.write(b"[")
        for i in range(megabytes * (1 << 20) // len(block) + 1):
            f.write((b"," if i else b"") + block)
        f.write(b"]")


def measure(code: str, *args: str, cwd: Path = REPO) -> tuple[float, int, str]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, code, *args], capture_output=True, text=True, check=True,
                         cwd=cwd)
    seconds, peak = out.stdout.split()[-2:]
    return float(seconds), int(peak) // 1024, out.stderr


def main() -> None:
    jsonl_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
    array_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "sft.jsonl"
        write_jsonl(data, jsonl_mb)
        size = data.stat().st_size / (1 << 20)
        bare, bare_peak, _ = measure(_BARE_LINES, str(data))
        ours, our_peak, err = measure(_VALIDATE, str(data))
        workers = int(re.search(r"workers-peak (\d+)", err)[1]) // 1024
        print(f"1. first check of {size:.0f} MB JSON Lines on {len(os.sched_getaffinity(0))} cores: {ours:.1f} s "
              f"({size / ours:.0f} MB/s) vs the bare json.loads loop {bare:.1f} s: {bare / ours:.2f}x (goal >= 3x); "
              f"peak memory {our_peak} MB here, {workers} MB the largest worker (goal < 200 MB)")
        work = folder / "checked"
        cold, _, err = measure(_PREFLIGHT, str(data), str(work))
        warm, _, err = measure(_PREFLIGHT, str(data), str(work))
        seconds = float(re.search(r"preflight ([\d.e-]+)", err)[1])
        recipe = folder / "chain.py"
        recipe.write_text("from swiftpipe import make_recipe, sft\nrecipe = make_recipe('c', [sft('sft', "
                          f"{{'model': 'm', 'dataset': {str(data)!r}, 'output_dir': 'out'}})])\n")
        env = {**os.environ, "PATH": f"{REPO / 'tests' / 'fake_swift'}{os.pathsep}{os.environ['PATH']}"}
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "swiftpipe", "run", str(recipe), "--dry-run", "--work-dir",
                            str(folder / "work")], check=True, capture_output=True, cwd=folder, env=env)
            runs.append(time.perf_counter() - started)
        print(f"2. pre-flight of the unchanged file: {seconds * 1000:.0f} ms from the record of clean checks (the "
              f"first check {cold:.1f} s: {cold / seconds:.0f}x); a whole second `run --dry-run` {runs[1]:.2f} s "
              f"against {runs[0]:.1f} s the first time (goal: pre-flight < 0.2 s)")
        data.unlink()
        array = folder / "array.json"
        write_array(array, array_mb)
        size = array.stat().st_size / (1 << 20)
        whole, whole_peak, _ = measure(_BARE_WHOLE, str(array))
        ours, our_peak, _ = measure(_VALIDATE, str(array))
        print(f"3. one-line JSON array of {size:.0f} MB: {ours:.1f} s vs json.loads of the whole file {whole:.1f} s: "
              f"{whole / ours:.2f}x (goal >= 1.5x); peak memory {our_peak} MB against {whole_peak} MB")


if __name__ == "__main__":
    main()
