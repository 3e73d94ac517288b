"""What `swift rlhf` methods need of the installed ms-swift and Python: the reward functions ms-swift registers (its
`orms` table), those a plugin file adds, and the packages a method or a reward function imports that ms-swift does
not declare (found by trying GRPO on ms-swift 3.12.6: it imports msgspec; the `accuracy` reward, math_verify).

Read from source, never imported: importing ms-swift takes seconds and a GPU check, and pre-flight only asks names.
"""
from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable
from pathlib import Path

# Where ms-swift keeps its reward functions' table (`orms = {...}`), under its package folder.
_REGISTRIES = ("plugin/orm.py", "rewards/orm.py", "plugin/rewards/orm.py")
# Packages imported by a method (rlhf_type) or a reward function, undeclared by ms-swift: (module, pip name).
METHOD_MODULES = {"grpo": (("msgspec", "msgspec"),)}
REWARD_MODULES = {"accuracy": (("math_verify", "math-verify"),)}


def registered() -> frozenset[str] | None:
    """The reward function names the installed ms-swift registers; None when its table is not found (another
    layout: nothing is refused then)."""
    spec = importlib.util.find_spec("swift")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    for relative in _REGISTRIES:
        names = _table_keys(package / relative, "orms")
        if names is not None:
            return names
    return None


def plugin_names(files: Iterable[Path]) -> frozenset[str]:
    """The reward function names plugin files (`--external_plugins`) add: `orms['name'] = MyReward`."""
    found: set[str] = set()
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                        and target.value.id == "orms" and isinstance(target.slice, ast.Constant)
                        and isinstance(target.slice.value, str)):
                    found.add(target.slice.value)
    return frozenset(found)


def missing_modules(method: str | None, rewards: Iterable[str]) -> list[tuple[str, str, str]]:
    """(what needs it, module, pip name) for each undeclared package a method or reward function imports that is
    not installed."""
    needed = [(f"--rlhf_type {method}", *pair) for pair in METHOD_MODULES.get(method or "", ())]
    needed += [(f"the {name!r} reward", *pair) for name in rewards for pair in REWARD_MODULES.get(name, ())]
    return [(who, module, package) for who, module, package in needed if importlib.util.find_spec(module) is None]


def _table_keys(path: Path, name: str) -> frozenset[str] | None:
    """The string keys of the module-level dict literal `name = {...}` in `path`."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
                and isinstance(node.value, ast.Dict)):
            keys = node.value.keys
            return frozenset(k.value for k in keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
    return None
