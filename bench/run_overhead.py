"""What `swiftpipe run` costs over running the same commands from a plain bash script.

Both run the demo chain (6 stages of the real ms-swift on the tiny model, CPU) in this run: once through
`swiftpipe run`, once through the scripts `swiftpipe export-scripts` writes (which find each checkpoint in
shell). Prints both wall times and the ratio; the goal is 1.05 or less. Run: make bench.
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


def _timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="the tiny model folder (make bench builds it)")
    args = parser.parse_args()
    model = str(Path(args.model).resolve())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    swiftpipe = [sys.executable, "-m", "swiftpipe"]
    with tempfile.TemporaryDirectory() as tmp:
        scripts = Path(tmp) / "script"
        subprocess.run([*swiftpipe, "export-scripts", "recipes/demo.py", "-p", f"model={model}", "-p",
                        f"output={tmp}/bash", str(scripts)], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
        bash = _timed(["bash", str(scripts / "run_all.sh")], env)
        ours = _timed([*swiftpipe, "run", "recipes/demo.py", "-p", f"model={model}", "-p", f"output={tmp}/swiftpipe",
                       "--work-dir", f"{tmp}/work", "--quiet"], env)
    print(f"plain bash (export-scripts/run_all.sh)  {bash:7.1f} s")
    print(f"swiftpipe run recipes/demo.py           {ours:7.1f} s")
    print(f"ratio swiftpipe / bash: {ours / bash:.3f}  (goal <= 1.05)")


if __name__ == "__main__":
    main()
