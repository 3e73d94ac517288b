"""Training curves out of ms-swift's logging.jsonl, thinned for drawing.

A long run logs hundreds of thousands of steps; a chart a few hundred pixels wide shows at most one point per
pixel column. `thin` keeps, for each of `limit / 2` equal runs of points, the lowest and the highest (in their
order), so a spike or a dip survives thinning, and the first and last point stay.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from swiftpipe.msswift import layout

# What a step's line holds besides its series: where the run is, not how it goes (each method logs its own series:
# DPO its rewards, GRPO its rewards per function, KL and lengths, PPO its policy and value losses and objective).
BOOKKEEPING = frozenset({"global_step/max_steps", "epoch", "global_step", "step", "percentage", "elapsed_time",
                         "remaining_time"})
_TIMING = ("_runtime", "_per_second")  # an evaluation's own timing (eval_runtime, eval_samples_per_second)
DRAWN = 1000  # points per curve at most


@dataclass
class Curve:
    name: str
    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    logged: int = 0  # points in the log, before thinning

    @property
    def lowest(self) -> tuple[int, float]:
        i = min(range(len(self.values)), key=self.values.__getitem__)
        return self.steps[i], self.values[i]

    @property
    def last(self) -> tuple[int, float]:
        return self.steps[-1], self.values[-1]


def read_curves(run_dir: Path, *, limit: int = DRAWN) -> dict[str, Curve]:
    """Every numeric series the run logged, by the step it was logged at, in the order first logged; thinned to
    `limit` points."""
    curves: dict[str, Curve] = {}
    path = run_dir / layout.LOGGING
    if not path.is_file():
        return curves
    loads = json.loads
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if '"global_step/max_steps"' not in line:  # the run's summary line, or one cut short
                continue
            try:
                record = loads(line)
                step = int(record["global_step/max_steps"].partition("/")[0])
            except (ValueError, KeyError, AttributeError, TypeError):
                continue
            for name, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in BOOKKEEPING \
                        and not name.endswith(_TIMING):
                    curve = curves.get(name) or curves.setdefault(name, Curve(name))
                    curve.steps.append(step)
                    curve.values.append(float(value))
    for curve in curves.values():
        curve.logged = len(curve.values)
        curve.steps, curve.values = thin(curve.steps, curve.values, limit)
    return curves


def thin(steps: list[int], values: list[float], limit: int) -> tuple[list[int], list[float]]:
    """At most `limit` points: each bucket's lowest and highest, in step order."""
    if len(values) <= limit:
        return steps, values
    buckets = max(1, (limit - 2) // 2)  # two points each, and the first and the last
    size = len(values) / buckets
    kept: list[int] = []
    for b in range(buckets):
        lo, hi = int(b * size), min(len(values), int((b + 1) * size))
        if lo >= hi:
            continue
        chunk = range(lo, hi)
        low = min(chunk, key=values.__getitem__)
        high = max(chunk, key=values.__getitem__)
        kept += sorted({low, high})
    kept = sorted({0, *kept, len(values) - 1})
    return [steps[i] for i in kept], [values[i] for i in kept]
