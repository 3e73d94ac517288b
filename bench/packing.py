"""Packing a sweep on a box's GPUs: eight GPUs (a stand-in `nvidia-smi` lists them), four variants of an SFT on two
GPUs each, every SFT of the same length (the fake `swift` sleeps). The sweep's wall time against one variant's,
both measured here, in the same run. Goal: at most 1.15 (all four at once, swiftpipe's own cost on top).

Both chains are the same small recipe: a shared one-GPU pretraining, then the SFT (NPROC_PER_NODE=2). The pretraining
runs in each measurement, so the ratio compares what a user waits for: one variant, or four side by side.

    python bench/packing.py [--seconds 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from timing import seconds

REPO = Path(__file__).resolve().parent.parent
REPEAT = 3
RECIPE = '''
from swiftpipe import *


def recipe():
    return make_recipe("packed", [
        pretrain("pretrain", {"model": "base", "train_type": "full", "dataset": "data/pt.jsonl",
                              "output_dir": "out/pt"}, launch=Launch(nproc_per_node=1)),
        sft("sft", {"model": checkpoint("pretrain"), "train_type": "lora", "dataset": "data/sft.jsonl",
                    "output_dir": "out/sft"}, launch=Launch(nproc_per_node=2)),
    ])
'''


def _project(folder: Path) -> None:
    (folder / "data").mkdir()
    (folder / "data" / "pt.jsonl").write_text('{"text": "a"}\n')
    (folder / "data" / "sft.jsonl").write_text('{"query": "q", "response": "r"}\n')
    (folder / "base").mkdir()
    (folder / "base" / "config.json").write_text("{}")
    (folder / "packed.py").write_text(RECIPE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="how long each SFT takes (the fake swift sleeps)")
    args = parser.parse_args()
    tests = REPO / "tests"
    env = {**os.environ, "PATH": f"{tests / 'fake_gpus'}{os.pathsep}{tests / 'fake_swift'}{os.pathsep}"
           f"{os.environ['PATH']}", "FAKE_GPUS": "8", "FAKE_SWIFT_STEPS": "2", "FAKE_SWIFT_SAVE_STEPS": "2",
           "FAKE_SWIFT_SLEEP_ON": f"sft:{args.seconds}", "PYTHONPATH": str(REPO)}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    one_times, sweep_times = [], []
    for _ in range(REPEAT):
        with tempfile.TemporaryDirectory() as one_dir, tempfile.TemporaryDirectory() as sweep_dir:
            for folder in (Path(one_dir), Path(sweep_dir)):
                _project(folder)
            run = [sys.executable, "-m", "swiftpipe", "run", "packed.py", "--quiet"]
            one_times.append(seconds([*run, "--vary", "sft.lora_rank=8"], env, Path(one_dir)))
            sweep_times.append(seconds([*run, "--vary", "sft.lora_rank=8,16,32,64"], env, Path(sweep_dir)))
    one, swept = statistics.median(one_times), statistics.median(sweep_times)
    print(f"one variant: pretraining, then one 2-GPU SFT of {args.seconds:g} s   median {one:6.2f} s ({REPEAT} runs)")
    print(f"four variants on 8 GPUs, side by side              median {swept:6.2f} s ({REPEAT} runs)")
    print(f"ratio sweep / one variant: {swept / one:.2f} (goal <= 1.15)")


if __name__ == "__main__":
    main()
