"""What `swiftpipe run --launcher slurm` costs over plain sbatch scripts chained with afterok.

Starts a one-node Slurm cluster on 127.0.0.1 (tests/slurm/cluster.sh; root, Debian's packages), then runs the
demo chain (6 jobs of the real ms-swift on the tiny model, CPU) twice in this run: through the scripts
`swiftpipe export-scripts --launcher slurm` writes (submit_all.sh, which find each checkpoint in shell), and
through `swiftpipe run --launcher slurm --wait`, whose jobs start swiftpipe to read their inputs from the run
record and record their outputs. Both are timed from the first sbatch to the last job's end, polling Slurm every
0.5 s. Prints both and the ratio; the goal is 1.10 or less. Run: make bench-slurm.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POLL = 0.5


def _wait_for(job_id: str, env: dict[str, str]) -> str:
    while True:
        state = subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"], env=env, capture_output=True,
                               text=True).stdout.strip()
        if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"):
            return state
        time.sleep(POLL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="the tiny model folder (make bench builds it)")
    args = parser.parse_args()
    model = str(Path(args.model).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "slurm"
        subprocess.run(["bash", str(REPO / "tests/slurm/cluster.sh"), "up", str(state)], check=True)
        try:
            env = {**os.environ, "SLURM_CONF": str(state / "slurm.conf"), "SWIFTPIPE_SLURM_POLL": str(POLL),
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
            recipe = ["recipes/demo.py", "-p", f"model={model}", "-p", f"data={REPO / 'datasets'}"]
            swiftpipe = [sys.executable, "-m", "swiftpipe"]
            jobs = Path(tmp) / "jobs"
            subprocess.run([*swiftpipe, "export-scripts", *recipe, "-p", f"output={tmp}/bash", str(jobs), "--launcher",
                            "slurm"], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
            start = time.perf_counter()
            submitted = subprocess.run(["bash", str(jobs / "submit_all.sh")], cwd=tmp, env=env, check=True,
                                       capture_output=True, text=True).stdout
            last = submitted.split()[-1]
            outcome = _wait_for(last, env)
            bash = time.perf_counter() - start
            assert outcome == "COMPLETED", f"the plain sbatch chain ended {outcome}"
            start = time.perf_counter()
            subprocess.run([*swiftpipe, "run", *recipe, "-p", f"output={tmp}/swiftpipe", "--launcher", "slurm",
                            "--wait", "--work-dir", f"{tmp}/work"], cwd=REPO, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ours = time.perf_counter() - start
        finally:
            subprocess.run(["bash", str(REPO / "tests/slurm/cluster.sh"), "down", str(state)], check=False)
    print(f"plain sbatch (export-scripts/submit_all.sh)  {bash:7.1f} s")
    print(f"swiftpipe run --launcher slurm --wait        {ours:7.1f} s")
    print(f"ratio swiftpipe / sbatch: {ours / bash:.3f}  (goal <= 1.10)")


if __name__ == "__main__":
    main()
