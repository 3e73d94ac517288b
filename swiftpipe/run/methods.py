"""Pre-flight of a `swift rlhf` stage, for what ms-swift finds only once the model is loaded: a reward function it
does not have (a typo: `formatt`), a package the method imports that ms-swift does not install (GRPO's msgspec,
the `accuracy` reward's math_verify), a dataset record without a column a reward function reads (`solution`). Each
is one line, with the pip command where one is missing."""
from __future__ import annotations

import difflib
from pathlib import Path

from swiftpipe.data import stream
from swiftpipe.data.formats import parse_columns
from swiftpipe.errors import UserError
from swiftpipe.msswift import rewards
from swiftpipe.recipe.model import Ref, Stage, items_of


def check(stage: Stage) -> list[str]:
    """The problems of an rlhf stage that loading its model would meet; [] for any other stage."""
    if stage.command != "rlhf":
        return []
    method = str(stage.flags.get("rlhf_type") or "")
    funcs = _texts(stage.flags.get("reward_funcs"))
    problems = []
    known = rewards.registered()
    plugins = [Path(path) for path in _texts(stage.flags.get("external_plugins"))]
    problems += [f"--external_plugins {path}: no such file" for path in plugins if not path.is_file()]
    if funcs and known is not None:
        offered = known | rewards.plugin_names(plugins)
        for name in funcs:
            if name in offered:
                continue
            if len(name.split()) > 1:  # one text with spaces is one argument to ms-swift, not several names
                problems.append(f"--reward_funcs {name!r}: one name with spaces; give the names as a list, "
                                f"{name.split()}")
                continue
            close = difflib.get_close_matches(name, sorted(offered), n=1)
            where = "the installed ms-swift" + (" or --external_plugins" if plugins else "")
            problems.append(f"--reward_funcs {name}: no such reward function in {where} ({', '.join(sorted(offered))})"
                            + (f"; did you mean {close[0]}?" if close else ""))
    for who, module, package in rewards.missing_modules(method, funcs):
        problems.append(f"{who} imports {module}, which ms-swift does not install: pip install {package}")
    if funcs:
        needed = {column: name for name, columns in rewards.columns_read(funcs, plugins).items() for column in columns}
        for data in _texts(stage.flags.get("dataset")):
            problems += _missing_columns(Path(data.split("#")[0]), needed, stage.flags.get("columns"))
    return problems


SHOWN = 3  # records named per missing column, then how many there are in all


def _missing_columns(path: Path, needed: dict[str, str], renames: object) -> list[str]:
    """Each record of a local data file without a column a reward function reads (after ms-swift's --columns)."""
    if not needed or not path.is_file() or path.suffix.lower() not in (".json", ".jsonl"):
        return []
    try:
        renamed = parse_columns(renames) or {}
    except UserError:
        return []  # pre-flight reports a bad --columns itself
    missing: dict[str, list[str]] = {}
    for where, record in stream.records(path):
        if type(record) is not dict:
            continue  # (the data check reports it)
        keys = {renamed.get(key, key) for key in record}
        for column in needed:
            if column not in keys:
                missing.setdefault(column, []).append(str(where))
    problems = []
    for column, places in missing.items():
        shown = ", ".join(places[:SHOWN]) + (f" and {len(places) - SHOWN} more" if len(places) > SHOWN else "")
        problems.append(f"--dataset {path}: no {column!r} in record{'s' if len(places) > 1 else ''} {shown}, "
                        f"which the {needed[column]!r} reward reads")
    return problems


def _texts(value: object) -> list[str]:
    return [str(item) for item in items_of(value) if item is not None and not isinstance(item, Ref)]  # type: ignore[arg-type]
