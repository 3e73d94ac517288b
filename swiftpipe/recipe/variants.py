"""Variants of a chain: `--vary` turns a parameter or a stage's flag into several values, and several `--vary` make a
grid. Each variant is the chain loaded with a few more `-p`/`--set`, named after what it changes (`sft=lora,lr=5e-5`).

    --vary sft=full,lora,lisa                      a recipe parameter (-p sft=...)
    --vary sft.learning_rate=1e-4,5e-5             a stage's flag (--set sft.learning_rate=...)
    --vary 'sft.lora_rank=8,16; sft.lora_alpha=32,64'    paired, not crossed: (8, 32) and (16, 64)
    --vary 'sft.dataset=["a.jsonl", "b,c.jsonl"]'  the values as a JSON list (commas, lists, numbers)

A recipe declares its own with a module-level `variants` (`declared()`): a list of these texts, or a dict of a
setting's values each (a grid). `--vary` on the command line replaces them; `--vary none` runs the chain alone.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from swiftpipe.errors import UserError
from swiftpipe.recipe.params import require_text

# Short names of the flags people vary most, as a variant's name shows them.
SHORT_FLAGS = {
    "learning_rate": "lr", "num_train_epochs": "epochs", "lora_rank": "rank", "lora_alpha": "alpha",
    "per_device_train_batch_size": "batch", "gradient_accumulation_steps": "accum", "train_type": "tuner",
    "tuner_type": "tuner", "max_length": "len", "lora_dropout": "dropout", "weight_decay": "wd", "beta": "beta",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass(frozen=True)
class Dimension:
    """One thing varied: a recipe parameter (`stage` None) or a stage's flag, with its values as -p/--set take
    them."""

    stage: str | None
    name: str
    values: tuple[str, ...]
    shown: tuple[str, ...]  # each value as a variant's name shows it

    @property
    def target(self) -> str:
        return self.name if self.stage is None else f"{self.stage}.{self.name}"

    def assignment(self, index: int) -> str:
        return f"{self.target}={self.values[index]}"


@dataclass(frozen=True)
class Variant:
    """One setting of the chain: its name (`sft=lora,lr=5e-5`), the folder name its own stages write into, and the
    -p and --set that make it."""

    name: str
    folder: str
    params: tuple[str, ...]
    sets: tuple[str, ...]
    settings: tuple[tuple[str, str], ...] = ()  # (short key, value as shown), as the name lists them


def parse(specs: Sequence[str]) -> list[list[Dimension]]:
    """The `--vary` texts as groups of dimensions: a group's dimensions are paired value by value, groups crossed.
    `--vary none` (the chain alone) has none."""
    groups = []
    for spec in specs:
        if spec == NONE:
            continue
        require_text(spec, "--vary", where="--vary")
        group = [_dimension(part.strip(), spec) for part in _split_pairs(spec)]
        counts = {len(d.values) for d in group}
        if len(counts) > 1:
            listed = ", ".join(f"{d.target} has {len(d.values)}" for d in group)
            raise UserError(f"--vary {spec!r}: paired settings need as many values each ({listed})", where="--vary")
        groups.append(group)
    targets = [d.target for group in groups for d in group]
    twice = next((t for t in targets if targets.count(t) > 1), None)
    if twice is not None:
        raise UserError(f"--vary: {twice} is varied twice; give all its values in one --vary", where="--vary")
    return groups


NONE = "none"  # `--vary none`: the chain alone, without the variants its recipe declares


def declared(value: object, *, where: str) -> tuple[str, ...]:
    """A recipe's `variants` as `--vary` texts: `["sft.learning_rate=1e-4,5e-5", ...]` as they are, and
    `{"sft.learning_rate": [1e-4, 5e-5], "sft": ["full", "lora"]}` a `--vary` per setting (a grid)."""
    if isinstance(value, dict):
        single = next((k for k, v in value.items() if not isinstance(v, (list, tuple))), None)
        if single is not None or not all(isinstance(k, str) for k in value):
            raise UserError(f"variants[{single!r}] must list the setting's values, e.g. [1e-4, 5e-5], not "
                            f"{type(value.get(single)).__name__}", where=where)
        return tuple(f"{name}={json.dumps(list(values), ensure_ascii=False)}" for name, values in value.items())
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise UserError("`variants` must be a list of --vary texts (\"sft.learning_rate=1e-4,5e-5\") or a dict of each "
                    f"setting's values ({{\"sft.learning_rate\": [1e-4, 5e-5]}}), not {type(value).__name__}",
                    where=where)


def expand(specs: Sequence[str]) -> list[Variant]:
    """Every variant the `--vary` texts ask for, in the order the values were given (the first --vary slowest)."""
    groups = parse(specs)
    dimensions = [d for group in groups for d in group]
    keys = _short_keys(dimensions)
    variants = []
    for picks in itertools.product(*(range(len(group[0].values)) for group in groups)):
        chosen = [(d, i) for group, i in zip(groups, picks) for d in group]
        settings = tuple((keys[d.target], d.shown[i]) for d, i in chosen)
        name = named(settings)
        variants.append(Variant(name, folder_of(name),
                                tuple(d.assignment(i) for d, i in chosen if d.stage is None),
                                tuple(d.assignment(i) for d, i in chosen if d.stage is not None), settings))
    return _distinct_folders(variants)


def named(settings: Sequence[tuple[str, str]]) -> str:
    """Settings as a variant's name: `sft=lora,lr=5e-5`."""
    return ",".join(f"{key}={value}" for key, value in settings)


def _split_pairs(spec: str) -> list[str]:
    """`a=1,2; b=3,4` -> its parts; a `;` inside a JSON list's brackets or quotes stays in its part."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(spec):
        if char == '"' and depth > 0 and spec[i - 1] != "\\":  # quotes quote only inside a JSON list
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
        elif char == ";" and depth == 0 and not quoted:
            parts.append(spec[start:i])
            start = i + 1
    return [*parts, spec[start:]]


def _dimension(part: str, spec: str) -> Dimension:
    target, sep, text = part.partition("=")
    target = target.strip()
    stage, dot, flag = target.partition(".")
    if not sep or not target or (dot and (not stage or not flag.lstrip("-"))):
        raise UserError(f"--vary {spec!r}: expected NAME=V1,V2 or STAGE.FLAG=V1,V2, e.g. sft.learning_rate=1e-4,5e-5",
                        where="--vary")
    values = _values(text.strip(), spec)
    if not values:
        raise UserError(f"--vary {spec!r}: {target} has no values", where="--vary")
    if len(set(values)) < len(values):
        raise UserError(f"--vary {spec!r}: {target} lists a value twice", where="--vary")
    return Dimension(stage if dot else None, flag.lstrip("-") if dot else target, tuple(values), _shown(values))


def _values(text: str, spec: str) -> list[str]:
    """`1e-4,5e-5` split at commas; a JSON list item by item, each as -p/--set take a value (a list as JSON)."""
    if not text.startswith("["):
        return [v.strip() for v in text.split(",") if v.strip()]
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--vary {spec!r}: not a JSON list ({exc.msg} at character {exc.pos + 1})",
                        where="--vary") from None
    if not isinstance(items, list) or any(isinstance(i, (dict, type(None))) for i in items):
        raise UserError(f"--vary {spec!r}: a JSON list of values (text, numbers, true/false or lists)", where="--vary")
    return [i if isinstance(i, str) else json.dumps(i, ensure_ascii=False) for i in items]


def _shown(values: list[str]) -> tuple[str, ...]:
    """Values as a name shows them: a path by its last part, where that tells them apart."""
    short = [v.rstrip("/").rsplit("/", 1)[-1] or v for v in values]
    return tuple(short if len(set(short)) == len(short) else values)


def _short_keys(dimensions: list[Dimension]) -> dict[str, str]:
    """Each dimension's name in a variant's name: the flag's short name, with its stage where two would clash."""
    short = {d.target: d.name if d.stage is None else SHORT_FLAGS.get(d.name, d.name) for d in dimensions}
    clashing = {s for s in short.values() if list(short.values()).count(s) > 1}
    return {d.target: (d.target if d.stage is None else f"{d.stage}.{short[d.target]}")
            if short[d.target] in clashing else short[d.target] for d in dimensions}


def folder_of(name: str) -> str:
    """A variant's name as a folder name: `sft=lora,lr=5e-5` -> `sft-lora_lr-5e-5`."""
    return _UNSAFE.sub("-", name.replace(",", "_").replace("=", "-")).strip("-.") or "variant"


def _distinct_folders(variants: list[Variant]) -> list[Variant]:
    """Folder names made distinct where two names became one (`a/b` and `a-b`)."""
    taken: set[str] = set()
    out = []
    for variant in variants:
        folder, n = variant.folder, 1
        while folder in taken:
            n += 1
            folder = f"{variant.folder}-{n}"
        taken.add(folder)
        out.append(dataclasses.replace(variant, folder=folder))
    return out
