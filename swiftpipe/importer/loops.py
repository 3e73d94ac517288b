"""A script's control flow, walked as bash would run it where the script says enough: a `for` loop over values it
gives runs its commands once per value (a stage each), a function's commands run at each call with its arguments;
a condition, a `case` or a `while` loop is not evaluated (its command is imported once, and said)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from swiftpipe.importer.bash_syntax import Node
from swiftpipe.importer.calls import Code, Imported, ImportProblem, Item
from swiftpipe.importer.words import Piece, Substitution

if TYPE_CHECKING:
    from swiftpipe.importer.shell import _Walk

# The loop, condition or function a command sits in: its kind ("for loop"), and its node.
Context = tuple[str, Node]
_RANGE = re.compile(r"^\{(-?\d+)\.\.(-?\d+)\}$")
_LIST = re.compile(r"^\{([^{}]*,[^{}]*)\}$")
_MAX_DEPTH = 16


class Loops:
    def __init__(self, walk: _Walk) -> None:
        self.walk = walk
        self.functions: dict[str, Node] = {}  # name -> its body, as defined so far
        self.depth = 0
        self.unrolling = 0  # for loops being run once per value, one inside another

    def run(self, statements: list[Node], context: Context | None) -> None:
        for statement in statements:
            self.statement(statement, context)

    def statement(self, statement: Node, context: Context | None) -> None:
        command = statement.get("Cmd")
        kind = None if command is None else command["Type"]
        if command is None:
            return
        if kind in ("CallExpr", "DeclClause"):
            self.walk.command(statement, context)
        elif kind == "BinaryCmd":
            self.statement(command["X"], context)
            self.statement(command["Y"], context)
        elif kind in ("Block", "Subshell"):
            self.run(command.get("Stmts") or [], context)
        elif kind == "TimeClause" and command.get("Stmt"):
            self.statement(command["Stmt"], context)
        elif kind == "IfClause":
            self._if(command, context or ("condition", statement))
        elif kind == "WhileClause":
            inner = context or ("until loop" if command.get("Until") else "while loop", statement)
            self.run(command.get("Cond") or [], inner)
            self.run(command.get("Do") or [], inner)
        elif kind == "CaseClause":
            for item in command.get("Items") or []:
                self.run(item.get("Stmts") or [], context or ("case", statement))
        elif kind == "ForClause":
            self._for(statement, command, context)
        elif kind == "FuncDecl":
            self.functions[command["Name"]["Value"]] = command["Body"]

    def call(self, name: str, arguments: list[list[Piece]], context: Context | None) -> None:
        """A call of a function the script defined: its body, with $1... the call's words."""
        words = self.walk.words
        if self.depth >= _MAX_DEPTH:
            raise ImportProblem(f"the function {name} calls itself more than {_MAX_DEPTH} deep", where=self.walk.path)
        saved, words.arguments = words.arguments, arguments
        self.depth += 1
        try:
            self.statement(self.functions[name], context)
        finally:
            self.depth -= 1
            words.arguments = saved

    def warn(self, context: Context) -> None:
        kind, node = context
        self.walk.imported.note(self.walk.script.where(node), "warning", f"the swift command inside this {kind} was "
                                f"imported as one stage; the {kind} itself was left out")

    def _if(self, clause: Node, context: Context) -> None:
        self.run(clause.get("Cond") or [], context)
        self.run(clause.get("Then") or [], context)
        if clause.get("Else"):
            self._if(clause["Else"], context)

    def _for(self, statement: Node, command: Node, context: Context | None) -> None:
        loop, body = command["Loop"], command.get("Do") or []
        script = self.walk.script
        text = script.source(statement)
        runs = re.search(r"\b(swift|torchrun|deepspeed|xtuner|llamafactory-cli)\b", text) or any(
            re.search(rf"\b{re.escape(name)}\b", text) for name in self.functions)
        if loop.get("Type") != "WordIter" or not runs:
            self.run(body, context or ("for loop", statement))
            return
        name = loop["Name"]["Value"]
        values = self._values(loop)
        where = script.where(statement)
        variables = self.walk.words.vars
        if values is None:
            variables.values.pop(name, None)
            variables.arrays.pop(name, None)
            self.walk.imported.note(where, "warning", f"the values of ${name} are not known before the loop runs: "
                                    f"its swift command is imported once, ${name} a recipe parameter")
            self.run(body, context or ("for loop", statement))
            return
        shown = ", ".join("".join(p if isinstance(p, str) else "<param>" for p in v) for v in values)
        calls = self.walk.imported.calls
        before = len(calls)
        self.unrolling += 1
        try:
            for value in values:
                variables.values[name] = value
                self.run(body, context)
        finally:
            self.unrolling -= 1
        if self.unrolling == 0 and _as_variants(self.walk.imported, before, len(values), where):
            self.walk.imported.note(where, "translated", f"for {name} in {shown}: one stage, and the loop's values "
                                    "as its variants (swiftpipe run runs each; --vary none runs the first alone)",
                                    call=calls[before])
            return
        self.walk.imported.note(where, "translated", f"for {name} in {shown}: the loop's commands once per value, "
                                "a stage each")

    def _values(self, loop: Node) -> list[list[Piece]] | None:
        """The loop's values, or None where the script does not give them (a glob, a command's output)."""
        words = self.walk.words
        items = loop.get("Items")
        if items is None:  # `for x; do`: the arguments
            return None if words.arguments is None else [list(a) for a in words.arguments]
        values: list[list[Piece]] = []
        for item in items:
            parts = item.get("Parts") or []
            literal = parts[0]["Value"] if len(parts) == 1 and parts[0]["Type"] == "Lit" else None
            if literal is not None and (_RANGE.match(literal) or _LIST.match(literal)):
                values += [[v] for v in _braces(literal)]
                continue
            if literal is not None and re.search(r"(?<!\\)[*?\[]", literal):
                return None
            try:
                expanded = words.words(item)
            except ImportProblem:
                return None
            if any(isinstance(p, Substitution) for v in expanded for p in v):
                return None
            values += expanded
        return values


def _as_variants(imported: Imported, before: int, count: int, where: str) -> bool:
    """A loop that ran one swift command once per value, the runs differing only in flags' plain values: one call,
    and those flags' values as its variants (Imported.sweeps). False, and nothing changed, for any other loop."""
    calls = imported.calls[before:]
    if len(calls) != count or count < 2 or len({(c.file, c.line, c.command) for c in calls}) != 1:
        return False
    first = calls[0]
    if any([f.name for f in c.flags] != [f.name for f in first.flags] or c.env != first.env for c in calls):
        return False
    changed: list[tuple[str, list[Item]]] = []
    for i, flag in enumerate(first.flags):
        values = [c.flags[i].values for c in calls]
        if all(v == values[0] for v in values):
            continue
        if any(len(v) != 1 or isinstance(v[0], (Code, Substitution)) for v in values) \
                or len({str(v[0]) for v in values}) != count:
            return False
        changed.append((flag.name, [v[0] for v in values]))
    if not changed:
        return False
    del imported.calls[before + 1:]
    imported.sweeps.append((first, changed, where))
    return True


def _braces(text: str) -> list[str]:
    """`{1..3}`, `{a,b}`: bash's brace expansion of a loop's word."""
    found = _RANGE.match(text)
    if found:
        first, last = int(found.group(1)), int(found.group(2))
        step = 1 if last >= first else -1
        return [str(n) for n in range(first, last + step, step)]
    return text[1:-1].split(",")
