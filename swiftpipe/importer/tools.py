"""The command lines of the tools people come from, as ms-swift stages: `torchrun`/`deepspeed ... swift/cli/sft.py`
(ms-swift's own launch variables), `llamafactory-cli train|export|chat|webchat CONFIG` and `xtuner train|convert|chat`
(their configs, read by importer/llamafactory and importer/xtuner)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from swiftpipe.importer import bash_syntax, llamafactory
from swiftpipe.importer.bash_syntax import Node
from swiftpipe.importer.calls import Code, ImportProblem, Item
from swiftpipe.importer.words import Piece, plain

if TYPE_CHECKING:
    from swiftpipe.importer.shell import Assignments, Word, _Walk

# Launchers that start ms-swift's swift/cli/<sub>.py themselves: their options -> the variables ms-swift's own launcher
# reads.
TORCHRUN = {"nproc_per_node": "NPROC_PER_NODE", "nnodes": "NNODES", "node_rank": "NODE_RANK",
             "master_addr": "MASTER_ADDR", "master_port": "MASTER_PORT"}
LAUNCHERS = {"torchrun": TORCHRUN, "deepspeed": {"num_gpus": "NPROC_PER_NODE", "num_nodes": "NNODES",
                                                   "master_addr": "MASTER_ADDR", "master_port": "MASTER_PORT"}}

def launched(walk: _Walk, words: list[Word], texts: list[str | None],
              line: int) -> tuple[str, Assignments, list[Word]] | None:
    """`torchrun --nproc_per_node 4 ... swift/cli/sft.py FLAGS` (or deepspeed's launcher) as `swift sft FLAGS` with
    the launch variables ms-swift's own launcher reads; None when it launches something other than ms-swift."""
    launcher = texts[0] or ""
    at = next((i for i, t in enumerate(texts) if re.search(r"(^|/)swift/cli/[\w-]+\.py$", t or "")), None)
    if at is None:
        return None
    pairs: Assignments = []
    i = 1
    while i < at:
        name, equals, value = (texts[i] or "").lstrip("-").partition("=")
        variable = LAUNCHERS[launcher].get(name.replace("-", "_"))
        pieces: list[Piece] | None = None
        if equals:
            pieces = _after_equals(words[i][0])
        elif i + 1 < at and not (texts[i + 1] or "").startswith("-"):
            pieces = words[i + 1][0]
            i += 1
        if variable and pieces is not None:
            pairs.append((variable, pieces))
        elif not variable:
            walk.imported.note(f"{walk.path}:{line}", "dropped", f"{launcher} {texts[i]} (ms-swift's own "
                               "launcher has no such setting)")
        i += 1
    script = texts[at] or ""
    subcommand = Path(script).stem.replace("_", "-")
    walk.imported.note(f"{walk.path}:{line}", "translated", f"{launcher} ... {script} -> "
                       f"{' '.join(f'{n}=...' for n, _ in pairs)} swift {subcommand}")
    return subcommand, pairs, [words[at], words[at], *words[at + 1:]]

def llamafactory_cli(walk: _Walk, statement: Node, texts: list[str | None], pairs: Assignments, line: int) -> None:
    """`llamafactory-cli train|export|chat|webchat CONFIG.yaml [key=value ...]`: the config, with the command
    line's overrides, as its stage (webchat: `swift app`)."""
    words = [t or "" for t in texts]
    if len(words) < 3 or words[1] not in ("train", "export", "chat", "webchat", "eval"):
        walk.imported.note(f"{walk.path}:{line}", "dropped", f"llamafactory-cli {' '.join(words[1:2])} (no "
                           "ms-swift stage)")
        return
    config = next((p for p in (Path(walk.path).parent / words[2], Path(words[2])) if p.is_file()), None)
    if config is None:
        raise ImportProblem(f"llamafactory-cli {words[1]} {words[2]}: the config is not here (give it beside the "
                            "script, or import the config file itself)", where=f"{walk.path}:{line}")
    overrides = dict(t.split("=", 1) for t in words[3:] if "=" in t)
    before = len(walk.imported.calls)
    llamafactory.read(str(config), config.read_text(encoding="utf-8"), walk.imported, overrides=overrides)
    for call in walk.imported.calls[before:]:
        if words[1] == "webchat":
            call.command = "app"
        call.env = exported_literals(walk)
        call.env += [(name, "".join(str(p) for p in pieces)) for name, pieces in pairs]
        walk.imported.note(f"{walk.path}:{line}", "translated", f"llamafactory-cli {words[1]} {words[2]} -> swift "
                           f"{call.command}", call=call)
        walk.last_call, walk.last_end = call, bash_syntax.end(statement)

def xtuner_cli(walk: _Walk, statement: Node, texts: list[str | None], line: int) -> None:
    call = walk.xtuner.call([t or "" for t in texts], line=line)
    if call is not None:
        call.env = exported_literals(walk)
        walk.imported.calls.append(call)
        walk.last_call, walk.last_end = call, bash_syntax.end(statement)

def exported_literals(walk: _Walk) -> list[tuple[str, Item]]:
    """The exported variables whose values are plain text, for a tool's command line turned into a stage."""
    literals: list[tuple[str, Item]] = []
    for name in walk.words.vars.exported:
        text = plain(walk.words.vars.values.get(name, [Code("")]))
        if text is not None:
            literals.append((name, text))
    return literals


def _after_equals(pieces: list[Piece]) -> list[Piece]:
    """The value of an option written `--name=value`, expanded."""
    first = pieces[0]
    if isinstance(first, str) and "=" in first:
        value = first.partition("=")[2]
        return [value, *pieces[1:]] if value or len(pieces) == 1 else pieces[1:]
    return pieces
