"""A script's control flow, walked as bash would run it where the script says enough: a `for` loop over values it
gives runs its commands once per value, a function's commands run at each call with its arguments (its `local`s
undone when it returns), a subshell's assignments stay in it, `shift`/`set --` move the arguments, and an `exit`,
`return` or `break` that no condition guards ends what it ends. A condition, a `case` or a `while` loop is not
evaluated: its command is imported once, and said."""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from swiftpipe.importer.bash_syntax import Node, Script
from swiftpipe.importer.calls import Call, ImportProblem
from swiftpipe.importer.words import Piece, Substitution, Variables, plain
from swiftpipe.recipe.secrets import is_secret

if TYPE_CHECKING:
    from swiftpipe.importer.shell import _Walk

# The loop, condition or function a command sits in: its kind ("for loop"), its node and the file it is in.
Context = tuple[str, Node, Script]
_RANGE = re.compile(r"^\{(-?\d+)\.\.(-?\d+)\}$")
_LIST = re.compile(r"^\{([^{}]*,[^{}]*)\}$")
_MAX_DEPTH = 16
_MAX_VALUES = 256  # a longer loop is not run value by value
_STOPS = {"exit", "return", "break", "continue"}


class Stop(Exception):
    """An `exit`, `return`, `break` or `continue` that ends what it ends."""

    def __init__(self, kind: str, where: str | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.where = where  # an `exit` with commands after it in its file: where it is


@dataclass
class _Frame:
    """A function call's own variables: what each `local` name held before it, restored when the call returns."""

    saved: dict[str, tuple[list[Piece] | None, list[list[Piece]] | None, bool]] = field(default_factory=dict)


class Loops:
    def __init__(self, walk: _Walk) -> None:
        self.walk = walk
        self.functions: dict[str, Node] = {}  # name -> its body, as defined so far
        self.frames: list[_Frame] = []
        self.unrolling = 0  # for loops being run once per value, one inside another
        self.guarded = 0  # conditions around the statement being read, which the import does not evaluate
        self.floors: list[int] = [0]  # `guarded` where the innermost function or loop began

    def run(self, statements: list[Node], context: Context | None) -> None:
        for i, statement in enumerate(statements):
            try:
                self.statement(statement, context)
            except Stop as stop:
                if stop.kind == "exit" and stop.where is None and i + 1 < len(statements):
                    stop.where = self.walk.script.where(statement)  # what comes after is left out: said
                raise

    def statement(self, statement: Node, context: Context | None) -> None:
        command = statement.get("Cmd")
        kind = None if command is None else command["Type"]
        if command is None:
            return
        if kind == "CallExpr" and self._builtin(command):
            return
        if kind in ("CallExpr", "DeclClause"):
            self.walk.command(statement, context)
        elif kind == "BinaryCmd":
            self.statement(command["X"], context)
            self._guarded(lambda: self.statement(command["Y"], context), command["Op"] in ("&&", "||"))
        elif kind == "Block":
            self.run(command.get("Stmts") or [], context)
        elif kind == "Subshell":
            self._subshell(command.get("Stmts") or [], context)
        elif kind == "TimeClause" and command.get("Stmt"):
            self.statement(command["Stmt"], context)
        elif kind == "IfClause":
            self._guarded(lambda: self._if(command, context or ("condition", statement, self.walk.script)))
        elif kind == "WhileClause":
            inner = context or ("until loop" if command.get("Until") else "while loop", statement, self.walk.script)
            self._guarded(lambda: self._loop_body(command.get("Cond", []) + (command.get("Do") or []), inner))
        elif kind == "CaseClause":
            inner = context or ("case", statement, self.walk.script)
            for item in command.get("Items") or []:
                self._guarded(lambda: self.run(item.get("Stmts") or [], inner))  # noqa: B023 (run at once)
        elif kind == "ForClause":
            self._for(statement, command, context)
        elif kind == "FuncDecl":
            self.functions[command["Name"]["Value"]] = command["Body"]

    def call(self, name: str, arguments: list[list[Piece]], context: Context | None, *,
             assignments: Sequence[Node] = ()) -> None:
        """A call of a function the script defined: its body, with $1... the call's words and the variables in front
        of the call set (and exported) for its length."""
        words = self.walk.words
        if len(self.frames) >= _MAX_DEPTH:
            raise ImportProblem(f"the function {name} calls itself more than {_MAX_DEPTH} deep",
                                where=self.walk.script.where(self.functions[name]))
        saved, words.arguments = words.arguments, arguments
        self.frames.append(_Frame())
        self.floors.append(self.guarded)
        try:
            for assign in assignments:
                self.local(assign["Name"]["Value"])
                words.assign(assign, export=True)
            self.statement(self.functions[name], context)
        except Stop as stop:
            if stop.kind != "return":
                raise
        finally:
            self.floors.pop()
            self._restore(self.frames.pop())
            words.arguments = saved

    def local(self, name: str) -> None:
        """`local NAME` in a function: NAME as it was is restored when the call returns."""
        if self.frames:
            variables = self.walk.words.vars
            self.frames[-1].saved.setdefault(name, (variables.values.get(name), variables.arrays.get(name),
                                                    name in variables.exported))

    def warn(self, context: Context) -> None:
        kind, node, script = context
        self.walk.imported.note(script.where(node), "warning", f"the swift command inside this {kind} was "
                                f"imported as one stage; the {kind} itself was left out")

    def _builtin(self, command: Node) -> bool:
        """`exit`, `return`, `break`, `continue`, `shift`, `set -- ...`, `unset`: done here; True if it was one."""
        args = command.get("Args") or []
        parts = args[0].get("Parts") or [] if args else []
        name = parts[0].get("Value") if len(parts) == 1 and parts[0]["Type"] == "Lit" else None
        words = self.walk.words
        if name in _STOPS:
            unguarded = self.guarded == (0 if name == "exit" else self.floors[-1])
            if unguarded and not command.get("Assigns"):
                raise Stop(name)
            return True
        if name == "shift":
            count = plain(words.expand(args[1])) if len(args) > 1 else "1"
            step = int(count) if count is not None and count.isdigit() else 1
            if words.arguments is not None:
                words.arguments = words.arguments[step:]
            else:
                words.shifted += step
            return True
        if name == "set" and len(args) > 1 and plain(words.expand(args[1])) == "--":
            words.arguments = [w for node in args[2:] for w in words.words(node)]
            return True
        if name == "unset":
            for node in args[1:]:
                text = plain(words.expand(node)) or ""
                if not text.startswith("-"):
                    words.vars.values.pop(text, None)
                    words.vars.arrays.pop(text, None)
            return True
        return False

    def _guarded(self, run: Callable[[], object], guarded: bool = True) -> None:
        """Run what a condition the import does not evaluate guards (`guarded`): an `exit` in it ends nothing."""
        self.guarded += guarded
        try:
            run()
        finally:
            self.guarded -= guarded

    def _if(self, clause: Node, context: Context) -> None:
        self.run(clause.get("Cond") or [], context)
        self.run(clause.get("Then") or [], context)
        if clause.get("Else"):
            self._if(clause["Else"], context)

    def _loop_body(self, statements: list[Node], context: Context | None) -> bool:
        """A loop's body run once: a `break` or `continue` in it ends that run; True after a `break`."""
        self.floors.append(self.guarded)
        try:
            self.run(statements, context)
        except Stop as stop:
            if stop.kind not in ("break", "continue"):
                raise
            return stop.kind == "break"
        finally:
            self.floors.pop()
        return False

    def _subshell(self, statements: list[Node], context: Context | None) -> None:
        """`( ... )`: what it sets stays in it, and its `exit` ends only it."""
        words = self.walk.words
        variables, arguments = words.vars, words.arguments
        words.vars = Variables(dict(variables.values), list(variables.exported), dict(variables.arrays),
                               variables.uncertain, variables.guessed, variables.argument_names)
        try:
            self.run(statements, context)
        except Stop as stop:
            if stop.kind != "exit":
                raise
        finally:
            words.vars, words.arguments = variables, arguments

    def _restore(self, frame: _Frame) -> None:
        variables = self.walk.words.vars
        for name, (value, array, exported) in frame.saved.items():
            variables.values.pop(name, None)
            variables.arrays.pop(name, None)
            if value is not None:
                variables.values[name] = value
            if array is not None:
                variables.arrays[name] = array
            if not exported and name in variables.exported:
                variables.exported.remove(name)

    def _for(self, statement: Node, command: Node, context: Context | None) -> None:
        loop, body = command["Loop"], command.get("Do") or []
        script = self.walk.script
        inner = context or ("for loop", statement, script)
        if loop.get("Type") != "WordIter":
            self._guarded(lambda: self._loop_body(body, inner))
            return
        name = loop["Name"]["Value"]
        text = script.source(statement)
        relevant = re.search(r"\b(swift|torchrun|deepspeed|xtuner|llamafactory-cli|bash|sh|source)\b|(^|\s)\.\s",
                             text) or any(re.search(rf"\b{re.escape(f)}\b", text) for f in self.functions)
        with self.walk.words.dry():
            known = self._values(loop)
        literal = known is not None and all(plain(v) is not None for v in known)
        values = known if literal else self._values(loop) if relevant and known is not None else None
        where = script.where(statement)
        variables = self.walk.words.vars
        if values is None or len(values) > _MAX_VALUES:
            variables.values.pop(name, None)
            variables.arrays.pop(name, None)
            if relevant:
                self.walk.imported.note(where, "warning", f"the values of ${name} are not known before the loop runs: "
                                        f"its swift command is imported once, ${name} a recipe parameter")
            self._guarded(lambda: self._loop_body(body, inner))
            return
        shown = ", ".join("".join(p if isinstance(p, str) else "<param>" for p in v) for v in values)
        calls = self.walk.imported.calls
        before = len(calls)
        self.unrolling += 1
        try:
            for value in values:
                variables.values[name] = value
                if self._loop_body(body, context):
                    break
        finally:
            self.unrolling -= 1
        runs = calls[before:]
        if _secret_in(runs, [plain(v) or "" for v in values]):
            shown = f"{len(values)} values (a secret: not shown)"
        if self.unrolling == 0 and len(runs) == len(values) > 1 and len({(c.file, c.line) for c in runs}) == 1:
            self.walk.imported.loops.append((runs, where, f"for {name} in {shown}"))  # maybe variants: sweeps.py
        elif runs:
            self.walk.imported.note(where, "translated", f"for {name} in {shown}: the loop's commands once per "
                                    "value, a stage each")

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


def _secret_in(runs: list[Call], values: list[str]) -> bool:
    """Whether a loop's value went into a secret flag or variable of the commands it ran (its values are then never
    written into the recipe, not even in a comment)."""
    secrets = [str(v) for c in runs for f in c.flags if is_secret(f.name) for v in f.values]
    secrets += [str(v) for c in runs for name, v in c.env if is_secret(name)]
    return any(value and value in secret for value in values for secret in secrets)


def _braces(text: str) -> list[str]:
    """`{1..3}`, `{a,b}`: bash's brace expansion of a loop's word."""
    found = _RANGE.match(text)
    if found:
        first, last = int(found.group(1)), int(found.group(2))
        step = 1 if last >= first else -1
        return [str(n) for n in range(first, last + step, step)]
    return text[1:-1].split(",")
