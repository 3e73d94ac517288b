"""`swiftpipe lint`: rendered flags checked by the installed ms-swift's own argument parser.

ms-swift parses its command line with transformers' HfArgumentParser over one arguments dataclass per
subcommand; unknown flags end in `ValueError: remaining_argv`, a bad choice or type in an argparse error.
Building the same parser (without instantiating the dataclass, whose `__post_init__` loads models) checks
names, types and choices exactly as `swift` would, minus argparse's prefix matching, which silently maps
stale names such as `--use_liger` onto new ones.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import importlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from swiftpipe.errors import LintError
from swiftpipe.render.commands import Command
from swiftpipe.render.dialects import target
from swiftpipe.versions import swift_version

# subcommand -> "module:ArgumentsClass" per major; the pipelines' `args_class` in swift/llm (3.x) and
# swift/pipelines (4.x). `swift pt` uses TrainArguments in 3.x and PretrainArguments in 4.x.
_ARGUMENTS = {
    3: {"pt": "swift.llm:TrainArguments", "sft": "swift.llm:TrainArguments", "rlhf": "swift.llm:RLHFArguments",
        "export": "swift.llm:ExportArguments", "infer": "swift.llm:InferArguments",
        "eval": "swift.llm:EvalArguments", "deploy": "swift.llm:DeployArguments", "app": "swift.llm:AppArguments",
        "sample": "swift.llm:SamplingArguments", "web-ui": "swift.llm:WebUIArguments",
        "rollout": "swift.llm:RolloutArguments"},
    4: {"pt": "swift.arguments:PretrainArguments", "sft": "swift.arguments:SftArguments",
        "rlhf": "swift.arguments:RLHFArguments", "export": "swift.arguments:ExportArguments",
        "infer": "swift.arguments:InferArguments", "eval": "swift.arguments:EvalArguments",
        "deploy": "swift.arguments:DeployArguments", "app": "swift.arguments:AppArguments",
        "sample": "swift.arguments:SamplingArguments", "web-ui": "swift.arguments:WebUIArguments",
        "rollout": "swift.arguments:RolloutArguments"},
}


def known_flags(subcommand: str) -> frozenset[str] | None:
    """The flag names (without `--`) that the installed ms-swift's `swift <subcommand>` takes; None where ms-swift is
    not installed or has no such subcommand. Building the parser imports ms-swift (seconds), so the names are kept in
    the user's cache, one file per ms-swift version and Python."""
    version = swift_version()
    if version is None or subcommand not in _ARGUMENTS[target(version).major]:
        return None
    cache = _cache_dir() / f"swift-flags-{version}-{hashlib.sha1(sys.executable.encode()).hexdigest()[:8]}.json"
    try:
        names = json.loads(cache.read_text())
    except (OSError, ValueError):
        names = {}
    if subcommand not in names:
        major = target(version).major
        for sub in _ARGUMENTS[major]:
            with contextlib.suppress(ImportError, AttributeError, LintError):
                parser = _parser(sub, major, version, where=f"swift {sub}")
                names[sub] = sorted(o[2:] for o in parser._option_string_actions if o.startswith("--"))
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(names))
    return frozenset(names[subcommand]) if subcommand in names else None


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swiftpipe"


class _ParseError(Exception):
    pass


def lint(commands: Sequence[Command], *, where: str) -> int:
    """Check every flag of every command; return how many were checked, or raise LintError listing all problems."""
    version = swift_version()
    if version is None:
        raise LintError("ms-swift is not installed in this environment; `make install` installs it", where=where)
    major = target(version).major
    problems: list[str] = []
    checked = 0
    for command in commands:
        parser = _parser(command.subcommand, major, version, where=where)
        known = set(parser._option_string_actions)
        for flag in command.flags:
            checked += 1
            at = f"{where}: stage {command.stage!r}, --{flag.name}"
            option = f"--{flag.name}"
            if option not in known:
                close = difflib.get_close_matches(option, sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(f"{at}: ms-swift {version} `swift {command.subcommand}` has no such flag{hint}")
                continue
            try:
                parser.parse_known_args(list(flag.tokens))
            except _ParseError as exc:
                message = str(exc)
                if not message.startswith("the following arguments are required"):
                    problems.append(f"{at}: ms-swift {version} rejects it: {message}")
    if problems:
        raise LintError("\n".join(problems))
    return checked


def _parser(subcommand: str, major: int, version: str, *, where: str) -> argparse.ArgumentParser:
    spec = _ARGUMENTS[major].get(subcommand)
    if spec is None:
        raise LintError(f"`swift {subcommand}` has no known arguments class in ms-swift {version}", where=where)
    module_name, class_name = spec.split(":")
    arguments_class = getattr(importlib.import_module(module_name), class_name)
    from transformers import HfArgumentParser

    with _swift_type_hints():
        parser = HfArgumentParser([arguments_class])
    parser.allow_abbrev = False

    def error(message: str) -> Any:
        raise _ParseError(message)

    parser.error = error  # type: ignore[method-assign]  # argparse would exit; the caller collects the error
    return parser


@contextlib.contextmanager
def _swift_type_hints() -> Iterator[None]:
    """ms-swift patches HfArgumentParser's type hints while building its parser; do as it does when it can."""
    try:
        from swift.utils.utils import _patch_get_type_hints
    except ImportError:
        yield
        return
    with _patch_get_type_hints():
        yield
