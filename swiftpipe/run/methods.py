"""Pre-flight of a `swift rlhf` stage, for what ms-swift finds only once the model is loaded: a reward function it
does not have (a typo: `formatt`), or a package the method imports that ms-swift does not install (GRPO's msgspec,
the `accuracy` reward's math_verify). Each is one line, with the pip command where one is missing."""
from __future__ import annotations

import difflib
from pathlib import Path

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
    if funcs and known is not None:
        plugins = [Path(path) for path in _texts(stage.flags.get("external_plugins"))]
        offered = known | rewards.plugin_names(plugins)
        for name in funcs:
            if name in offered:
                continue
            close = difflib.get_close_matches(name, sorted(offered), n=1)
            where = "the installed ms-swift" + (" or --external_plugins" if plugins else "")
            problems.append(f"--reward_funcs {name}: no such reward function in {where} ({', '.join(sorted(offered))})"
                            + (f"; did you mean {close[0]}?" if close else ""))
    for who, module, package in rewards.missing_modules(method, funcs):
        problems.append(f"{who} imports {module}, which ms-swift does not install: pip install {package}")
    return problems


def _texts(value: object) -> list[str]:
    return [str(item) for item in items_of(value) if item is not None and not isinstance(item, Ref)]  # type: ignore[arg-type]
