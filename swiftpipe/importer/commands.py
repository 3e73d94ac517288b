"""The `$(...)` a script computes from values it knows, computed at import: `expr`, `pwd`, `basename`, `dirname`,
`echo`, `seq`, `cd DIR && pwd`; `date` (the clock) as a parameter. Any other command is left for the hand-off
finder (importer/handoffs.py)."""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from swiftpipe.importer.arithmetic import expr_share, expr_value
from swiftpipe.importer.bash_syntax import Node
from swiftpipe.importer.calls import Code

if TYPE_CHECKING:
    from swiftpipe.importer.words import Expander, Piece


def computed(words: Expander, part: Node) -> Piece | None:
    """The value of the command substitution `part`, or None where it is not one computed here."""
    from swiftpipe.importer.words import normal_path, plain

    statements = part.get("Stmts") or []
    calls = [_call(s) for s in _sequence(statements)]
    if not calls or any(c is None for c in calls):
        return None
    argv = [c for c in calls if c is not None]
    if len(argv) == 2 and _name(words, argv[0][0]) == "cd" and _name(words, argv[1][0]) == "pwd" and len(argv[1]) == 1:
        folder = [text for text in (plain(words.expand(w)) for w in argv[0][1:]) if text != "--"]
        return normal_path(folder[0]) if len(folder) == 1 and folder[0] is not None else None
    if len(argv) != 1:
        return None
    args = argv[0]
    name = _name(words, args[0])
    written = words.script.source(part)
    if name == "expr":
        texts = [plain(words.expand(w)) for w in args[1:]]
        found = expr_share(args[1:], texts, words.operand, written=written)
        if found is not None:
            return found
        value = expr_value(texts)
        if value is not None:
            words.imported.note(words.where(part), "translated", f"{written} -> {value} (the script's values)")
            return str(value)
        return None
    if name == "date":
        formats = [t[1:] for t in (plain(words.expand(w)) for w in args[1:]) if t is not None and t.startswith("+")]
        return words.clock(part, formats[0] if formats else "")
    expanded = [words.expand(w) for w in args[1:]]
    if name in ("basename", "dirname") and expanded and expanded[0] == ["--"]:
        expanded = expanded[1:]
    if name in ("basename", "dirname") and len(expanded) == 1 and len(expanded[0]) == 1 \
            and isinstance(expanded[0][0], Code):  # of a parameter: the same, when the recipe runs
        return Code(f"os.path.{name}({expanded[0][0].text})")
    texts = [plain(e) for e in expanded]
    if any(t is None for t in texts):
        return None
    values = [t for t in texts if t is not None]
    if name == "pwd" and not values:
        return "."
    if name == "echo":
        return " ".join(v for v in values if v not in ("-n", "-e"))
    if name == "basename" and values:
        base = os.path.basename(values[0].rstrip("/")) or "/"
        return base[:-len(values[1])] if len(values) > 1 and base.endswith(values[1]) and base != values[1] else base
    if name == "dirname" and len(values) == 1:
        if re.fullmatch(r"\.(/\.\.)*|\.\.(/\.\.)*", os.path.normpath(values[0])):
            return os.path.normpath(values[0] + "/..")  # `.` is the folder `cd DIR && pwd` printed: its parent
        return os.path.dirname(values[0].rstrip("/")) or "."
    if name == "seq" and 1 <= len(values) <= 3 and all(v.lstrip("-").isdigit() for v in values):
        numbers = [int(v) for v in values]
        first, step, last = (1, 1, numbers[0]) if len(numbers) == 1 else (
            (numbers[0], 1, numbers[1]) if len(numbers) == 2 else tuple(numbers))
        return " ".join(str(n) for n in range(first, last + (1 if step > 0 else -1), step)) if step else None
    return None


def _sequence(statements: list[Node]) -> list[Node]:
    """`a && b`, `a; b`: the statements run one after another."""
    out: list[Node] = []
    for statement in statements:
        command = statement.get("Cmd") or {}
        if command.get("Type") == "BinaryCmd" and command["Op"] in ("&&", ";"):
            out += _sequence([command["X"], command["Y"]])
        else:
            out.append(statement)
    return out


def _call(statement: Node) -> list[Node] | None:
    """A plain command's words, or None (a pipe, a redirect, variables in front, a compound command)."""
    command = statement.get("Cmd") or {}
    if command.get("Type") != "CallExpr" or command.get("Assigns") or statement.get("Redirs"):
        return None
    return list(command.get("Args") or []) or None


def _name(words: Expander, word: Node) -> str | None:
    from swiftpipe.importer.words import plain

    return plain(words.expand(word))
