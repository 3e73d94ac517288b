"""How much `swiftpipe render recipes/medical.py` costs over the imports it cannot avoid.

Baseline, measured in the same run: `python -c "import click, jinja2, rich"`. Goal: a ratio of 1.3 or less.
Each command runs REPEAT times, alternating, and the medians are compared. Run: make bench.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPEAT = 21


def _time(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> None:
    baseline = [sys.executable, "-c", "import click, jinja2, rich"]
    script = Path(sys.executable).with_name("swiftpipe")  # the console script users type
    render = [str(script) if script.exists() else sys.executable, *([] if script.exists() else ["-m", "swiftpipe"]),
              "render", "recipes/medical.py"]
    # Warm the file cache and write the .pyc files, as a user's swiftpipe has them (pip compiles them at install; a
    # checkout writes them on its first run) and the baseline's packages do, even where PYTHONDONTWRITEBYTECODE is
    # set: without them each run would compile swiftpipe's sources and the recipe, and measure that.
    compiling = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    for argv in (baseline, render):
        _time(argv, compiling)
    base_times, render_times = [], []
    for _ in range(REPEAT):
        base_times.append(_time(baseline))
        render_times.append(_time(render))
    base, ours = statistics.median(base_times), statistics.median(render_times)
    print(f"baseline  import click, jinja2, rich   median {base * 1000:7.1f} ms  ({REPEAT} runs)")
    print(f"swiftpipe render recipes/medical.py    median {ours * 1000:7.1f} ms  ({REPEAT} runs)")
    print(f"ratio render / baseline: {ours / base:.2f}  (goal <= 1.3)")


if __name__ == "__main__":
    main()
