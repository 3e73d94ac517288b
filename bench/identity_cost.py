"""What keying a stage by what it reads costs (run/reads.py), against the data checks' cache identity of the same
file (data/cache.py), measured in the same run: a 20 GB corpus (sparse, so the disk holds none of it) and a model
folder of 40 files. Goal: within a small factor of the cache's, milliseconds either way.

    python bench/identity_cost.py
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from swiftpipe.data.cache import identity as cache_identity
from swiftpipe.run import reads

REPEAT = 51


def _median_ms(call, *args) -> float:
    times = []
    for _ in range(REPEAT):
        reads._ENDS_READ.clear()  # a new command each time: nothing remembered
        start = time.perf_counter()
        call(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        with open(corpus, "wb") as f:
            f.write(b'{"text": "a"}\n' * 5000)
            f.truncate(20 << 30)
        model = Path(tmp) / "model"
        model.mkdir()
        for i in range(40):
            with open(model / f"model-{i:05d}.safetensors", "wb") as f:
                f.write(b"w" * 4096)
                f.truncate(500 << 20)
        baseline = _median_ms(cache_identity, corpus)
        ours = _median_ms(reads.identity, corpus)
        folder = _median_ms(reads.identity, model)
        per_file = statistics.median(_median_ms(cache_identity, p) for p in sorted(model.iterdir())[:5])
        print(f"20 GB file   data/cache.py identity  median {baseline:7.3f} ms  ({REPEAT} runs)")
        print(f"20 GB file   run/reads.py identity   median {ours:7.3f} ms  ratio {ours / baseline:.2f}")
        print(f"40-file model folder (20 GB)         median {folder:7.3f} ms  ratio to 40 cache identities "
              f"{folder / (40 * per_file):.2f}")
        os.sync()


if __name__ == "__main__":
    main()
