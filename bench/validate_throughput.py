"""How fast `swiftpipe data validate` reads a large JSON Lines file, against the least any Python reader does.

Baseline, measured in the same run on the same file: a bare loop that reads the lines and `json.loads` each one
(both in binary and in text mode; the faster one is the baseline). Goal: validation at least 0.8x the baseline's
throughput, with peak memory under 200 MB. Each pass runs in a fresh process, so its peak RSS is its own; passes
alternate and the best of ROUNDS is kept for each. Run: make bench  (or: python bench/validate_throughput.py 256)
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 3

_BARE_BINARY = """
import json, sys
with open(sys.argv[1], "rb") as f:
    for line in f:
        json.loads(line)
"""
_BARE_TEXT = """
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        json.loads(line)
"""
_VALIDATE = """
import sys
from swiftpipe.data.validate import validate
report = validate(sys.argv[1], "sft")
assert report.ok and report.records > 0, report.problems
"""
_MEASURE = """
import re, sys, time
start = time.perf_counter()
exec(compile(sys.argv.pop(1), "pass", "exec"))
peak = re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1]  # this process's own peak, in kB
print(time.perf_counter() - start, peak)
"""


def generate(path: Path, megabytes: int) -> int:
    """SFT records of the tutorials' shape (query/response, some with system and history), mixed Chinese and
    English, about 700 bytes each; returns the record count."""
    rng = random.Random(0)
    words = ["高血压", "糖尿病", "患者", "治疗", "症状", "药物", "检查", "医生", "建议", "blood pressure",
             "insulin", "dose", "symptom", "常见", "饮食", "运动", "复查", "mg", "每日", "两次"]

    def text(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n))

    pool = []
    for i in range(2000):
        record = {"query": text(rng.randint(5, 30)), "response": text(rng.randint(20, 120))}
        if i % 5 == 0:
            record["system"] = "你是一名专业的医生。"
        if i % 7 == 0:
            record["history"] = [[text(8), text(20)]]
        pool.append(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    target, written, count = megabytes << 20, 0, 0
    with open(path, "wb") as f:
        while written < target:
            line = pool[count % len(pool)]
            f.write(line)
            written += len(line)
            count += 1
    return count


def measure(code: str, path: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `code` run on `path` in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, code, str(path)], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sft.jsonl"
        records = generate(path, megabytes)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {size_mb:.0f} MB, {records} records")
        passes = {"bare loop, binary": _BARE_BINARY, "bare loop, text": _BARE_TEXT, "swiftpipe validate": _VALIDATE}
        best: dict[str, tuple[float, float]] = {}
        for _ in range(ROUNDS):
            for name, code in passes.items():
                seconds, rss = measure(code, path)
                if name not in best or seconds < best[name][0]:
                    best[name] = (seconds, max(rss, best.get(name, (0, 0))[1]))
    for name, (seconds, rss) in best.items():
        print(f"{name:20s} {size_mb / seconds:7.1f} MB/s  {seconds:6.2f} s  peak RSS {rss:6.1f} MB")
    baseline = min(best["bare loop, binary"][0], best["bare loop, text"][0])
    ours, rss = best["swiftpipe validate"]
    print(f"ratio validate / fastest bare loop (throughput): {baseline / ours:.2f}  (goal >= 0.8)")
    print(f"validate peak RSS: {rss:.0f} MB  (goal < 200)")


if __name__ == "__main__":
    main()
