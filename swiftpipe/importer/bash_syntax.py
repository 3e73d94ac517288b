"""A shell script's syntax tree, as bash reads it: mvdan/sh's parser (the one behind shfmt), through the `shfmt
--to-json` binary the shfmt-py package installs. Every bash construct people write around a swift command parses:
arrays, here-documents, functions, `case`, `[[ ]]`, `$((...))`, nested `$(...)` in quotes; each node keeps its
byte offsets and line, and a script bash would refuse is refused with bash's kind of message and its line.

The tree is the JSON shfmt prints: a node is a dict with a "Type" (CallExpr, ForClause, ParamExp, ...), "Pos" and
"End" ({"Offset", "Line", "Col"}), and its fields by mvdan/sh's names (syntax.CallExpr.Args, ParamExp.Exp.Op, ...).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from swiftpipe.importer.calls import ImportProblem

Node = dict[str, Any]
_ERROR = re.compile(r"^(?:<standard input>:)?(\d+):(\d+): (.*)$")


@dataclass(frozen=True)
class Script:
    """A parsed script: its statements, and its text as bytes (shfmt's offsets count bytes)."""

    statements: list[Node]
    data: bytes
    path: str

    def source(self, node: Node) -> str:
        """The text a node spans, as written."""
        return self.data[node["Pos"]["Offset"]:node["End"]["Offset"]].decode("utf-8", "replace")

    def between(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")

    def where(self, node: Node) -> str:
        return f"{self.path}:{line(node)}"


def line(node: Node) -> int:
    return int(node["Pos"]["Line"])


def start(node: Node) -> int:
    return int(node["Pos"]["Offset"])


def end(node: Node) -> int:
    return int(node["End"]["Offset"])


def parse(text: str, path: str) -> Script:
    """The script's syntax tree; ImportProblem (file and line) where bash could not read it either."""
    data = text.encode("utf-8")
    done = subprocess.run([_shfmt(), "--to-json", "--language-dialect", "bash"], input=data, capture_output=True,
                          timeout=60)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        found = _ERROR.match(message[0]) if message else None
        if found is None:
            raise ImportProblem(f"bash cannot read this: {' '.join(message) or 'shfmt failed'}", where=path)
        raise ImportProblem(f"bash cannot read this: {found.group(3)}", where=f"{path}:{found.group(1)}")
    tree = json.loads(done.stdout)
    return Script(tree.get("Stmts") or [], data, path)


@lru_cache(maxsize=1)
def _shfmt() -> str:
    """shfmt beside this Python (shfmt-py installs it with swiftpipe), else the one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "shfmt"
    if beside.is_file():
        return str(beside)
    found = shutil.which("shfmt")
    if found is None:
        raise ImportProblem("shfmt is not installed (swiftpipe reads shell scripts with it): pip install shfmt-py")
    return found
