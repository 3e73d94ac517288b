"""The reward functions of recipes/reasoning.py, for ms-swift's `--external_plugins`: ms-swift loads this file and
calls each function with the sampled answers and every column of the batch by name (`solution` here).

`closeness` is graded, so that a tiny model's answers, rarely right, still differ in reward and GRPO has something
to learn from: 1 for the right number, less the further off it is, 0 for no number. `exact` is 1 or 0.
"""
from __future__ import annotations

import re

try:  # ms-swift 4
    from swift.rewards import ORM, orms
except ImportError:  # ms-swift 3
    from swift.plugin import ORM, orms

NUMBER = re.compile(r"-?\d+")


def _number(text: str) -> int | None:
    found = NUMBER.search(text)
    return int(found.group()) if found else None


class Closeness(ORM):
    def __call__(self, completions: list[str], solution: list[str], **kwargs) -> list[float]:
        rewards = []
        for completion, answer in zip(completions, solution):
            given = _number(completion)
            rewards.append(0.0 if given is None else 1.0 / (1.0 + abs(given - int(answer))))
        return rewards


class Exact(ORM):
    def __call__(self, completions: list[str], solution: list[str], **kwargs) -> list[float]:
        return [float(_number(completion) == int(answer)) for completion, answer in zip(completions, solution)]


orms["closeness"] = Closeness
orms["exact"] = Exact
