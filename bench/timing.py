"""What the benchmarks share: the wall time of one command, which must succeed."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def seconds(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds `argv` took to run to the end in `cwd`; a failure ends the benchmark with its output."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:6])} ... failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - start
