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
    path = _registry_file()
    return _table_keys(path, "orms") if path is not None else None


def _registry_file() -> Path | None:
    spec = importlib.util.find_spec("swift")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    return next((package / relative for relative in _REGISTRIES
                 if _table_keys(package / relative, "orms") is not None), None)


# What a reward function's __call__ takes that is not a dataset column: the sampled answers, the requests, **kwargs.
_NOT_COLUMNS = frozenset({"self", "completions", "infer_requests", "prompts", "messages", "kwargs"})


def columns_read(names: Iterable[str], plugins: Iterable[Path] = ()) -> dict[str, tuple[str, ...]]:
    """The dataset columns each named reward function reads, by its `__call__`'s named arguments (ms-swift hands
    a function every column of the batch by name: `solution` for `accuracy`); a name not found reads none known."""
    sources = [path for path in (_registry_file(), *plugins) if path is not None]
    classes: dict[str, tuple[str, ...]] = {}
    table: dict[str, str] = {}
    for path in sources:
        tree = _parse(path)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                call = next((item for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                             and item.name == "__call__"), None)
                if call is not None:
                    arguments = [a.arg for a in (*call.args.posonlyargs, *call.args.args, *call.args.kwonlyargs)]
                    classes[node.name] = tuple(a for a in arguments if a not in _NOT_COLUMNS)
        table.update(_table_values(tree, "orms"))
    return {name: classes.get(table.get(name, ""), ()) for name in names}


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


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError):
        return None


def _table_values(tree: ast.Module, name: str) -> dict[str, str]:
    """name -> class name, from `name = {'x': X, ...}` and `name['x'] = X` in a module."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id == name and isinstance(node.value, ast.Dict):
                found.update({k.value: v.id for k, v in zip(node.value.keys, node.value.values)
                              if isinstance(k, ast.Constant) and isinstance(k.value, str) and isinstance(v, ast.Name)})
            elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == name
                  and isinstance(target.slice, ast.Constant) and isinstance(target.slice.value, str)
                  and isinstance(node.value, ast.Name)):
                found[target.slice.value] = node.value.id
    return found


def _table_keys(path: Path, name: str) -> frozenset[str] | None:
    """The string keys of the module-level dict literal `name = {...}` in `path`."""
    tree = _parse(path)
    if tree is None:
        return None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
                and isinstance(node.value, ast.Dict)):
            keys = node.value.keys
            return frozenset(k.value for k in keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
    return None
