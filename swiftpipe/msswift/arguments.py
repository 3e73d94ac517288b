"""ms-swift's own argument parser for each subcommand, as `swift` builds it.

ms-swift parses its command line with transformers' HfArgumentParser over one arguments dataclass per
subcommand; unknown flags end in `ValueError: remaining_argv`, a bad choice or type in an argparse error.
Building the same parser (without instantiating the dataclass, whose `__post_init__` loads models) checks
names, types and choices exactly as `swift` would, minus argparse's prefix matching, which silently maps
stale names such as `--use_liger` onto new ones.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from swiftpipe.errors import LintError
from swiftpipe.msswift.dialects import target
from swiftpipe.versions import swift_version


class ParseError(Exception):
    """What argparse would have exited with."""


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
                built = parser(sub, major, version, where=f"swift {sub}")
                names[sub] = sorted(o[2:] for o in built._option_string_actions if o.startswith("--"))
        with contextlib.suppress(OSError):
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(names))
    return frozenset(names[subcommand]) if subcommand in names else None


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swiftpipe"


def parser(subcommand: str, major: int, version: str, *, where: str) -> argparse.ArgumentParser:
    """`swift <subcommand>`'s parser in the installed ms-swift; its errors raise ParseError."""
    spec = _ARGUMENTS[major].get(subcommand)
    if spec is None:
        raise LintError(f"`swift {subcommand}` has no known arguments class in ms-swift {version}", where=where)
    module_name, class_name = spec.split(":")
    arguments_class = getattr(importlib.import_module(module_name), class_name)
    from transformers import HfArgumentParser

    with _swift_type_hints():
        built: argparse.ArgumentParser = HfArgumentParser([arguments_class])  # a subclass of it
    built.allow_abbrev = False

    def error(message: str) -> Any:
        raise ParseError(message)

    built.error = error  # type: ignore[method-assign]  # argparse would exit; the caller collects the error
    return built


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
