"""How long `swiftpipe import` takes over 300 shell scripts, against `bash -n` (bash only parsing them) over the same
files, both measured in this run. Goal: all 300 in under 10 s.

The scripts are generated here (the shapes users write: 3.x and 2.x flags, variables and defaults, `$(expr ...)`,
continuations, comments, chains of pt -> sft -> merge -> infer). The import runs in one fresh process, as a batch
tool would: each file read, translated, linked, checked against ms-swift's flags and written as a recipe. ms-swift's
flag names come from the user's cache after the first import (building them imports ms-swift, seconds); the cold
figure is printed too. Run: make bench  (or: python bench/import_speed.py 300)
"""
from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_IMPORT_ALL = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from swiftpipe.importer.importing import import_files
from swiftpipe.importer.writer import recipe_text
for path in sys.argv[1:]:
    imported = import_files([path])
    Path(path).with_suffix(".py").write_text(recipe_text(imported, name="r", path=path))
print(time.perf_counter() - start)
"""

_TRAIN_FLAGS = [("num_train_epochs", "1"), ("per_device_train_batch_size", "1"), ("per_device_eval_batch_size", "1"),
                ("learning_rate", "1e-4"), ("lora_rank", "8"), ("lora_alpha", "32"), ("target_modules", "all-linear"),
                ("gradient_accumulation_steps", "16"), ("eval_steps", "100"), ("save_steps", "100"),
                ("save_total_limit", "2"), ("logging_steps", "5"), ("max_length", "2048"), ("warmup_ratio", "0.05"),
                ("dataloader_num_workers", "4"), ("torch_dtype", "bfloat16"), ("weight_decay", "0.1"),
                ("gradient_checkpointing", "true"), ("system", "'You are a helpful assistant.'")]
_OLD_NAMES = [("sft_type", "lora"), ("batch_size", "1"), ("lora_target_modules", "ALL"), ("dtype", "bf16"),
              ("custom_train_dataset_path", "data/train.jsonl")]


def script(rng: random.Random, n: int) -> str:
    lines = ["#!/bin/bash", f"# generated script {n}", "set -e", "MODEL=${MODEL:-Qwen/Qwen2.5-7B-Instruct}",
             "export CUDA_VISIBLE_DEVICES=0,1", ""]
    old = rng.random() < 0.3
    flags = rng.sample(_TRAIN_FLAGS, rng.randint(10, len(_TRAIN_FLAGS)))
    if old:
        flags = [f for f in flags if f[0] not in ("torch_dtype", "target_modules")] + rng.sample(_OLD_NAMES, 3)
    body = ["NPROC_PER_NODE=2 \\", "swift sft \\", "    --model $MODEL \\",
            *([] if old else ["    --train_type lora \\", "    --dataset data/train.jsonl 'data/extra.jsonl#500' \\"]),
            *(f"    --{name} {value} \\" for name, value in flags),
            "    --gradient_accumulation_steps $(expr 16 / $NPROC_PER_NODE) \\" if rng.random() < 0.3 else "",
            "    --output_dir output/sft"]
    lines += [line for line in body if line]
    if rng.random() < 0.6:
        lines += ["", "swift export \\", "    --adapters output/sft/vx-xxx/checkpoint-xxx \\", "    --merge_lora true"]
        lines += ["", "swift infer --model output/sft/vx-xxx/checkpoint-xxx-merged --stream true"]
    return "\n".join(lines) + "\n"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n in range(count):
            path = Path(tmp) / f"s{n}.sh"
            path.write_text(script(rng, n))
            paths.append(str(path))
        started = time.perf_counter()
        for path in paths:
            subprocess.run(["bash", "-n", path], check=True)
        bash = time.perf_counter() - started
        runs = []
        for _ in range(2):  # the first may build ms-swift's flag names into the cache
            out = subprocess.run([sys.executable, "-c", _IMPORT_ALL, *paths], check=True, capture_output=True,
                                 text=True, cwd=REPO)
            runs.append(float(out.stdout.split()[-1]))
    print(f"import of {count} scripts: {runs[-1]:.2f} s ({1000 * runs[-1] / count:.1f} ms a script; first run "
          f"{runs[0]:.2f} s); bash -n over the same files: {bash:.2f} s; ratio {runs[-1] / bash:.2f}x bash -n "
          f"(goal: under 10 s in all)")


if __name__ == "__main__":
    main()
