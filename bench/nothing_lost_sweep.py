"""A sweep of what could lose work, against the fake `swift` (tests/fake_swift): swiftpipe killed (-9) or signalled
(INT, TERM, HUP) at many moments of a four-stage chain, then `--resume`; two runs of one chain started together;
a disk that fills during a stage (a small tmpfs, root only). Prints how many tries ended as they must.

    python bench/nothing_lost_sweep.py [--tries 25]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHAIN = '''from swiftpipe import *
def recipe(out: str = "out"):
    return make_recipe("chain", [
        pretrain("pretrain", {"model": "base", "train_type": "full", "dataset": "data/pt.jsonl",
                              "output_dir": f"{out}/pt"}),
        sft("sft", {"model": checkpoint("pretrain"), "train_type": "lora", "dataset": "data/sft.jsonl",
                    "output_dir": f"{out}/sft"}),
        merge("merge", {"ckpt_dir": checkpoint("sft")}),
        infer("infer", {"model": merged("merge"), "val_dataset": "data/q.jsonl"}),
    ])
'''


def _project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir()
    (root / "data/pt.jsonl").write_text('{"text": "a"}\n')
    (root / "data/sft.jsonl").write_text('{"query": "q", "response": "r"}\n')
    (root / "data/q.jsonl").write_text('{"query": "what?"}\n')
    (root / "base").mkdir()
    (root / "base/config.json").write_text("{}")
    (root / "chain.py").write_text(CHAIN)
    return root


def _env(project: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{REPO / 'tests/fake_swift'}{os.pathsep}{os.environ['PATH']}",
            "FAKE_SWIFT_LOG": str(project / "calls.jsonl"), **extra}


def _swiftpipe(project: Path, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", "chain.py", "--quiet", *args], cwd=project,
                            env=_env(project, **extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _record(project: Path) -> dict | None:
    found = sorted((project / ".swiftpipe/runs").glob("*/record.json"))
    return json.loads(found[-1].read_text()) if found else None


def _groups_gone(project: Path, timeout: float = 20.0) -> bool:
    calls = project / "calls.jsonl"
    pgids = {json.loads(line)["pgid"] for line in calls.read_text().splitlines()} if calls.exists() else set()
    deadline = time.monotonic() + timeout
    for pgid in pgids:
        while True:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    return True


def signals_sweep(base: Path, tries: int) -> dict[str, tuple[int, int]]:
    """Per signal: (tries that ended right, tries)."""
    results = {}
    for sig in (signal.SIGKILL, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        good = 0
        for i in range(tries):
            project = _project(base / f"{sig.name}-{i}")
            proc = _swiftpipe(project, FAKE_SWIFT_SLEEP_ON="sft:0.3,pt:0.3")
            time.sleep(0.15 + 3.0 * i / tries)
            proc.send_signal(sig)
            output, _ = proc.communicate(timeout=60)
            ok = "Traceback" not in output and _groups_gone(project)
            record = _record(project)
            if sig is not signal.SIGKILL and record is not None:
                ok = ok and record["state"] in ("done", "interrupted") and proc.returncode in (0, 130, -sig)
            resumed = _swiftpipe(project, "--resume")
            out, _ = resumed.communicate(timeout=60)
            final = _record(project)
            ok = ok and resumed.returncode == 0 and final is not None and \
                {s["state"] for s in final["stages"].values()} <= {"done", "reused"}
            good += ok
            if not ok:
                print(f"  {sig.name} at try {i}: {proc.returncode} / {resumed.returncode}\n{output}\n{out}")
        results[sig.name] = (good, tries)
    return results


def concurrent_sweep(base: Path, tries: int) -> tuple[int, int]:
    good = 0
    for i in range(tries):
        project = _project(base / f"pair-{i}")
        procs = [_swiftpipe(project, FAKE_SWIFT_SLEEP_ON="pt:0.3"), _swiftpipe(project, FAKE_SWIFT_SLEEP_ON="pt:0.3")]
        codes = sorted(p.wait(timeout=60) for p in procs)
        calls = [json.loads(line)["argv"][1] for line in (project / "calls.jsonl").read_text().splitlines()]
        runs = list((project / ".swiftpipe/runs").glob("*/record.json"))
        good += codes == [0, 2] and len(runs) == 1 and calls == ["pt", "sft", "export", "infer"]
    return good, tries


def full_disk_sweep(base: Path, tries: int) -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    good = 0
    for i in range(tries):
        disk = base / f"disk-{i}"
        disk.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], check=True)
        try:
            project = _project(disk / "p")
            proc = _swiftpipe(project, FAKE_SWIFT_FILL_DISK="sft", FAKE_SWIFT_SLEEP_ON=f"sft:{0.2 + i * 0.2:.1f}")
            output, _ = proc.communicate(timeout=60)
            record = _record(project)
            ok = proc.returncode == 1 and "Traceback" not in output and record is not None and \
                record["state"] == "failed" and "run_dir" in record["stages"]["sft"].get("outputs", {})
            for filler in project.glob("out/*/filler"):
                filler.unlink()
            resumed = _swiftpipe(project, "--resume")
            resumed.communicate(timeout=60)
            calls = [json.loads(line)["argv"] for line in (project / "calls.jsonl").read_text().splitlines()]
            continued = [a for a in calls if a[1] == "sft"][-1]
            good += ok and resumed.returncode == 0 and "--resume_from_checkpoint" in continued
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)
    return good, tries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=25)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="swiftpipe-sweep-"))
    try:
        started = time.monotonic()
        for name, (good, total) in signals_sweep(base, args.tries).items():
            print(f"{name} at {total} moments, then --resume: {good}/{total} final and finished")
        good, total = concurrent_sweep(base, args.tries)
        print(f"two runs of one chain started together: one run {good}/{total}")
        disk = full_disk_sweep(base, max(3, args.tries // 5))
        if disk is not None:
            print(f"a disk that fills during sft: final record, resumed from its checkpoint {disk[0]}/{disk[1]}")
        print(f"({time.monotonic() - started:.0f} s)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
