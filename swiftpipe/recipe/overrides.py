"""What the user changes on the command line: `--set STAGE.FLAG=VALUE` and `--stage NAME`; a compare group's name
stands for all of its stages in both."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from swiftpipe.errors import UserError
from swiftpipe.recipe.model import FlagValue, Recipe
from swiftpipe.recipe.params import require_text


def parse_value(text: str) -> FlagValue:
    """A `--set` value: a JSON list (`["a.json","b.json"]`) becomes several words; anything else is one word."""
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(items, list):
            return [str(i) if not isinstance(i, str) else i for i in items]
    return text


def _as_written(value: FlagValue, before: object) -> FlagValue:
    """A number given as text where the recipe holds a number is that number, so that `--set sft.learning_rate=5e-3`
    (or a variant of it) on a recipe's 5e-3 is the same stage: the same command and fingerprint, not `5e-3` against
    the recipe's `0.005`. Any other text stays as given."""
    if not isinstance(value, str) or isinstance(before, bool) or not isinstance(before, (int, float)):
        return value
    for kind in (int, float) if isinstance(before, int) else (float,):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def apply_sets(recipe: Recipe, sets: Sequence[str], *, where: str) -> Recipe:
    """The recipe with each `STAGE.FLAG=VALUE` applied: an existing flag keeps its place, a new one is appended."""
    stages = list(recipe.stages)
    names = [s.name for s in stages]
    for text in sets:
        require_text(text, "--set", where=where)
        target, sep, value = text.partition("=")
        stage_name, dot, flag = target.partition(".")
        flag = flag.lstrip("-")
        if not sep or not dot or not stage_name or not flag:
            raise UserError(f"--set {text!r}: expected STAGE.FLAG=VALUE, e.g. sft.learning_rate=2e-5", where=where)
        chosen = [s.name for s in recipe.named(stage_name)]  # a compare group's name sets all of its stages
        if not chosen:
            raise UserError(f"--set {text!r}: no stage {stage_name!r} (stages: {', '.join(names)})", where=where)
        for name in chosen:
            i = names.index(name)
            stages[i] = stages[i].with_flag(flag, _as_written(parse_value(value), stages[i].flags.get(flag)))
    return dataclasses.replace(recipe, stages=tuple(stages)) if sets else recipe


def select(recipe: Recipe, names: Sequence[str], *, where: str) -> list[str] | None:
    """The chosen stage names in chain order (None: all), or an error listing the stages there are."""
    if not names:
        return None
    known = recipe.stage_names
    unknown = [n for n in names if not recipe.named(n)]
    if unknown:
        groups = "".join(f"; {g} is a group" for g in recipe.groups)
        raise UserError(f"--stage {unknown[0]}: no such stage in this chain (stages: {', '.join(known)}{groups})",
                        where=where)
    chosen = {s.name for n in names for s in recipe.named(n)}  # a compare group's name chooses all of its stages
    return [n for n in known if n in chosen]
