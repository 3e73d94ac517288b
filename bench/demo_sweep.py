"""A three-variant sweep of the demo against three separate `swiftpipe run`s of the same variants, with the real
ms-swift on the tiny model, on the CPU, measured in the same run. Expect well under 0.8: the sweep pretrains once
and asks the base and pretrained models its questions once, and `--jobs` runs its branches side by side.

Each separate run is what a user does without `--vary`: the chain with `--set sft.learning_rate=...` and an
output folder of its own (they would overwrite each other's otherwise), so each one pretrains again.

    python bench/demo_sweep.py --model work/tiny-qwen2-swift3 [--jobs 2] [--rates 5e-3,2e-3,1e-3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from timing import seconds

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the tiny model (make demo builds it)")
    parser.add_argument("--rates", default="5e-3,2e-3,1e-3", help="the SFT learning rates, one variant each")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="the sweep's stages at once")
    args = parser.parse_args()
    rates = args.rates.split(",")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = [sys.executable, "-m", "swiftpipe", "run", "recipes/demo.py", "-p", f"model={Path(args.model).resolve()}",
           "--quiet"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        separate = sum(seconds([*run, "-p", f"output={folder / f'alone-{rate}'}", "--set",
                                f"sft.learning_rate={rate}", "--work-dir", str(folder / f"work-{rate}")], env, REPO)
                       for rate in rates)
        swept = seconds([*run, "-p", f"output={folder / 'sweep'}", "--vary", f"sft.learning_rate={args.rates}",
                         "--jobs", str(args.jobs), "--work-dir", str(folder / "work-sweep")], env, REPO)
    print(f"{len(rates)} separate runs of the demo, one per learning rate   {separate:7.1f} s")
    print(f"one sweep of the {len(rates)} (--vary, --jobs {args.jobs})                 {swept:7.1f} s")
    print(f"ratio sweep / separate runs: {swept / separate:.2f} (expect well under 0.8)")


if __name__ == "__main__":
    main()
