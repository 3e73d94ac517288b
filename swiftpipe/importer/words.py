"""Shell words as bash would expand them, with what a recipe cannot know kept symbolic: variables assigned in the
script are substituted, `$1` and unset variables become recipe parameters, what bash computes from known values
(`${X##*/}`, `$((16 / N))`, `$(basename $M)`, `$(cd "$(dirname "$0")" && pwd)`) is computed, the clock
(`$(date +%Y%m%d)`) becomes a parameter, `$(expr 8 / $NPROC_PER_NODE)` a share per process, and any other `$(...)`
stays as written for the hand-off finder to recognise (or reject). Words are mvdan/sh's (importer/bash_syntax)."""
from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Union

from swiftpipe.importer.arithmetic import PerProcessShare, arithmetic, share
from swiftpipe.importer.bash_syntax import Node, Script
from swiftpipe.importer.calls import Code, Imported, ImportProblem

_SIMPLE_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Substitution:
    """A word built by another program, e.g. `$(ls -td output/sft/v*/checkpoint-* | head -n 1)-merged`, as written
    (with the script's variables substituted); only a hand-off can stand in for it."""

    text: str
    where: str


Piece = Union[str, Code, PerProcessShare, Substitution]


@dataclass
class Variables:
    """What the script has set so far, shared by the script and the files it sources."""

    values: dict[str, list[Piece]] = field(default_factory=dict)
    exported: list[str] = field(default_factory=list)
    arrays: dict[str, list[list[Piece]]] = field(default_factory=dict)  # NAME -> its elements, each expanded
    uncertain: dict[str, str] = field(default_factory=dict)  # set under a condition or in a loop -> where
    guessed: set[str] = field(default_factory=set)  # of those, the ones with the first value the script gives
    argument_names: dict[str, str] = field(default_factory=dict)  # "1" -> the parameter the script's $1 is


class Expander:
    """How the words of one file expand under the script's variables (and a function's arguments)."""

    def __init__(self, script: Script, imported: Imported, variables: Variables, *, program: str) -> None:
        self.script = script
        self.imported = imported
        self.vars = variables
        self.program = program  # $0: the script run, whatever file this is
        self.arguments: list[list[Piece]] | None = None  # $1... inside a function call
        self.shifted = 0  # `shift`s of the script's own arguments, which it does not know
        self.assigning: str | None = None  # the variable whose value is being expanded

    def where(self, node: Node) -> str:
        return self.script.where(node)

    @contextmanager
    def dry(self) -> Iterator[None]:
        """Expansions that record nothing: no parameter, no finding, no variable taken as certain."""
        imported, variables = self.imported, self.vars
        self.imported = Imported(sources=[])
        self.vars = Variables(dict(variables.values), list(variables.exported), dict(variables.arrays),
                              dict(variables.uncertain), set(variables.guessed), dict(variables.argument_names))
        try:
            yield
        finally:
            self.imported, self.vars = imported, variables

    def words(self, word: Node) -> list[list[Piece]]:
        """A word's expansion: usually one word; `"${ARGS[@]}"` (and `"$@"`) each element, and an unquoted
        expansion of plain text split at blanks, as bash splits it (none for an empty one)."""
        parts = word["Parts"]
        lone = parts[0] if len(parts) == 1 else None
        from swiftpipe.importer import parameters

        if lone is not None and lone["Type"] == "DblQuoted" and len(lone.get("Parts") or []) == 1 \
                and _every_element(lone["Parts"][0]):
            inner = lone["Parts"][0]
            elements = parameters.elements(self, inner)
            return [joined(elements)] if _star(inner) else elements  # "$*", "${A[*]}": one word
        if lone is not None and lone["Type"] in ("ParamExp", "CmdSubst"):
            if _every_element(lone):
                return [[w] for e in parameters.elements(self, lone) for w in _split(e)]
            pieces = self.expand(word)
            text = plain(pieces)
            if text is not None:
                return [[w] for w in text.split()]
            return [pieces]
        return [self.expand(word)]

    def expand(self, word: Node, *, quoted: bool = False) -> list[Piece]:
        """One word's expansion (an assignment's value, a flag's value): no splitting."""
        pieces: list[Piece] = []
        for i, part in enumerate(word.get("Parts") or []):
            pieces += self._part(part, quoted=quoted, first=i == 0)
        return _merged(pieces)

    def written(self, word: Node) -> str:
        """The word as written, quotes removed and expansions left in place (`output/${RUN}`)."""
        return "".join(self._written(part, quoted=False) for part in word.get("Parts") or [])

    def _written(self, part: Node, *, quoted: bool) -> str:
        kind = part["Type"]
        if kind == "Lit":
            return _unescaped(part["Value"], quoted=quoted)
        if kind == "SglQuoted":
            return part["Value"]
        if kind == "DblQuoted":
            return "".join(self._written(p, quoted=True) for p in part.get("Parts") or [])
        return self.script.source(part)

    def _part(self, part: Node, *, quoted: bool, first: bool) -> list[Piece]:
        kind = part["Type"]
        if kind == "Lit":
            value = part["Value"]
            if first and not quoted and (value == "~" or value.startswith("~/")):
                return [Code("os.path.expanduser('~')"), _unescaped(value[1:], quoted=False)]
            return [_unescaped(value, quoted=quoted)]
        if kind == "SglQuoted":
            return [_ansi_c(part["Value"]) if part.get("Dollar") else part["Value"]]
        if kind == "DblQuoted":
            return [p for inner in part.get("Parts") or [] for p in self._part(inner, quoted=True, first=False)] or [""]
        if kind == "ParamExp":
            return self.parameter(part)
        if kind == "CmdSubst":
            return [self.substitution(part)]
        if kind == "ArithmExp":
            return [self._arithmetic(part)]
        return [Substitution(self.script.source(part), self.where(part))]  # <(...), an extended glob

    # -- $NAME, ${NAME...} --------------------------------------------------------------------------------------

    def parameter(self, part: Node) -> list[Piece]:
        """`$NAME`, `${NAME...}` (importer/parameters)."""
        from swiftpipe.importer import parameters

        return parameters.expand(self, part)

    def value(self, name: str) -> list[Piece] | None:
        """A variable's value as the script set it, None where the script does not know it."""
        if name in self.vars.values:
            return list(self.vars.values[name])
        if name in self.vars.arrays:
            elements = self.vars.arrays[name]
            return list(elements[0]) if elements else [""]
        if name == "0":
            return [self.program]
        if self.arguments is not None and name.isdigit():
            index = int(name) - 1
            return list(self.arguments[index]) if index < len(self.arguments) else None
        if self.arguments is not None and name in ("@", "*"):
            return joined(self.arguments)
        if self.arguments is not None and name == "#":
            return [str(len(self.arguments))]
        return None

    def number(self, node: Node | None, written: str, where: str) -> int | None:
        if node is None:
            return None
        number = arithmetic(node, self._integer)
        if number is None:
            raise ImportProblem(f"{written}: an offset the script does not give", where=where)
        return number

    def param(self, name: str, default: str | None, *, where: str, origin: str) -> Code:
        name = str(int(name) + self.shifted) if name.isdigit() and name != "0" else name
        if name.isdigit() and name not in self.vars.argument_names and self.assigning is not None:
            self.vars.argument_names[name] = self.assigning.lower()  # MODEL=$1: the parameter `model`
        param = self.vars.argument_names.get(name, f"arg{name}") if name.isdigit() else name.lower()
        if not name.isidentifier() and not name.isdigit():
            raise ImportProblem(f"${name} (the script's arguments or shell state) cannot be imported", where=where)
        visible = f"<{name.upper() if not name.isdigit() else 'ARG' + name}>"
        return self.imported.param(param, visible if default is None else default, where=where, origin=origin)

    # -- $(...), $((...)) ---------------------------------------------------------------------------------------

    def substitution(self, part: Node) -> Piece:
        from swiftpipe.importer import commands

        found = commands.computed(self, part)
        if found is not None:
            return found
        return Substitution(self.plain_text(self.script.source(part)), self.where(part))

    def clock(self, part: Node, format_: str) -> Code:
        """`$(date +FORMAT)`: the time the script runs, which a recipe takes as a parameter (its default: the time
        of the import)."""
        name = (self.assigning or "date").lower()
        now = time.strftime(format_ or "%a %b %d %H:%M:%S %Z %Y")
        written = self.script.source(part)
        taken = [p for p in self.imported.params.values() if p.name == name or p.name.startswith(name + "_")]
        same = next((p for p in taken if p.origin == written), None)
        name = same.name if same else name if not taken else f"{name}_{len(taken) + 1}"  # a clock per format
        self.imported.note(self.where(part), "warning", f"{written} is the time the script runs: the recipe takes "
                           f"it as the parameter {name} (default {now}, the time of this import)")
        return self.imported.param(name, now, where=self.where(part), origin=written)

    def _arithmetic(self, part: Node) -> Piece:
        written = self.script.source(part)
        found = share(part["X"], self.operand, written=written)
        if found is not None:
            return found
        value = arithmetic(part["X"], self._integer)
        if value is None and self.assigning is not None and re.search(r"\bRANDOM\b", written):
            default = arithmetic(part["X"], lambda w: 0 if self.script.source(w).lstrip("$") == "RANDOM"
                                 else self._integer(w))
            self.imported.note(self.where(part), "warning", f"{written} draws from $RANDOM: the recipe takes it as "
                               f"the parameter {self.assigning.lower()} (default {default}, $RANDOM taken as 0)")
            return self.imported.param(self.assigning.lower(), str(default), where=self.where(part), origin=written)
        if value is None:
            raise ImportProblem(f"{written}: arithmetic on values the script does not give", where=self.where(part))
        self.imported.note(self.where(part), "translated", f"{written} -> {value} (the script's values)")
        return str(value)

    def operand(self, word: Node) -> tuple[str, str | None] | None:
        """An arithmetic operand as (its variable's name, or "" for a number; its value as text, where known)."""
        parts = word.get("Parts") or []
        part: Node = parts[0] if len(parts) == 1 else {"Type": ""}
        if part["Type"] == "Lit" and part["Value"].isdigit():
            return "", part["Value"]
        if part["Type"] == "Lit" and re.fullmatch(r"[A-Za-z_]\w*", part["Value"]):
            name = part["Value"]
        elif part["Type"] == "ParamExp" and not any(part.get(k) for k in ("Exp", "Repl", "Slice", "Index", "Length")):
            name = part["Param"]["Value"]
        else:
            return None
        value = self.value(name)
        return name, None if value is None else plain(value)

    def _integer(self, word: Node) -> int | None:
        """An arithmetic operand: a number, a variable's number (`$N`, or `N` bare, as $((...)) allows)."""
        with self.dry():  # an operand the script does not give is no parameter: the expression says what it is
            text = plain(self.expand(word))
        if text is not None and re.fullmatch(r"[A-Za-z_]\w*", text):
            value = self.value(text)
            text = None if value is None else plain(value)
        return int(text) if text is not None and re.fullmatch(r"-?\d+", text.strip()) else None

    # -- assignments --------------------------------------------------------------------------------------------

    def assign(self, assign: Node, *, export: bool = False) -> str | None:
        """`NAME=value`, `NAME+=value`, `NAME=(a b)`, `NAME+=(c)`, `export NAME`: the name set, or None."""
        if assign.get("Name") is None:
            return None  # `declare -a`'s option
        name = assign["Name"]["Value"]
        self.assigning = name
        try:
            if assign.get("Index") is not None and assign.get("Value") is not None:  # A[1]=x: one element
                index = self.number(assign["Index"], self.script.source(assign), self.where(assign))
                scalar = self.vars.values.pop(name, None)  # A=x; A[1]=y: x is its element 0
                elements = self.vars.arrays.setdefault(name, [scalar] if scalar is not None else [])
                elements += [[""] for _ in range(max(0, (index or 0) + 1 - len(elements)))]
                elements[index or 0] = self.expand(assign["Value"])
            elif assign.get("Array") is not None:
                elements = [p for e in assign["Array"].get("Elems") or [] for p in self.words(e["Value"])]
                self.vars.arrays[name] = (self.vars.arrays.get(name, []) if assign.get("Append") else []) + elements
                self.vars.values.pop(name, None)
            elif assign.get("Value") is not None or not assign.get("Naked"):
                pieces: list[Piece] = self.expand(assign["Value"]) if assign.get("Value") is not None else [""]
                if assign.get("Append"):
                    pieces = _merged((self.value(name) or []) + pieces)
                self.vars.values[name] = pieces
                self.vars.arrays.pop(name, None)
        finally:
            self.assigning = None
        if export and name not in self.vars.exported and (name in self.vars.values or name in self.vars.arrays):
            self.vars.exported.append(name)
        return name

    def check_certain(self, name: str, *, where: str) -> None:
        """A variable that a condition or a loop may set: the recipe takes its value from before, and says so."""
        if name in self.vars.uncertain:
            known = ("the first value it is given there" if name in self.vars.guessed else "the value set before it"
                     if self.value(name) is not None else "a parameter")
            self.imported.note(where, "warning", f"${name} may be set differently under the condition or loop at "
                               f"{self.vars.uncertain.pop(name)}; the recipe takes {known}")

    def plain_text(self, text: str) -> str:
        """Text (a `${X:-default}` default, a `$(...)` as written) with the variables the script gave plain values
        substituted; the others left as written."""
        def known(match: re.Match[str]) -> str:
            value = self.value(match.group(1) or match.group(2))
            found = None if value is None else plain(value)
            return match.group(0) if found is None else found

        return _SIMPLE_VARIABLE.sub(known, text)


def plain(pieces: list[Piece]) -> str | None:
    """The text of pieces that are all text, else None."""
    return "".join(pieces) if all(isinstance(p, str) for p in pieces) else None  # type: ignore[arg-type]


def _every_element(part: Node) -> bool:
    """`${A[@]}`, `${A[*]}`, `$@`, `$*`: every element."""
    if part["Type"] != "ParamExp" or part.get("Exp") or part.get("Repl") or part.get("Length"):
        return False
    index = part.get("Index")
    if index is not None:
        return index.get("Type") == "Word" and [p.get("Value") for p in index.get("Parts") or []] in (["@"], ["*"])
    return part["Param"]["Value"] in ("@", "*")


def _star(part: Node) -> bool:
    """`$*`, `${A[*]}`: quoted, the elements joined into one word."""
    index = part.get("Index")
    if index is not None:
        return [p.get("Value") for p in index.get("Parts") or []] == ["*"]
    return bool(part["Param"]["Value"] == "*")


def _split(pieces: list[Piece]) -> list[Piece]:
    text = plain(pieces)
    return list(text.split()) if text is not None else list(pieces)


def joined(elements: list[list[Piece]]) -> list[Piece]:
    joined: list[Piece] = []
    for element in elements:
        joined += ([" "] if joined else []) + element
    return _merged(joined)


def _unescaped(value: str, *, quoted: bool) -> str:
    """A literal's text after bash's quote removal: unquoted, a backslash escapes any character; inside double
    quotes, only $ ` " \\ and a newline."""
    escaped = r"\\([$`\"\\\n])" if quoted else r"\\(.)"
    return re.sub(escaped, lambda m: "" if m.group(1) == "\n" else m.group(1), value, flags=re.S)


_ANSI_C = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "e": "\x1b",
           "f": "\f", "v": "\v"}


def _ansi_c(value: str) -> str:
    """`$'...'`'s escapes."""
    return re.sub(r"\\(x[0-9a-fA-F]{1,2}|[ntr\\'\"abefv])",
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "x" else _ANSI_C[m.group(1)], value)


def _merged(pieces: list[Piece]) -> list[Piece]:
    """Adjacent text pieces joined."""
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        elif piece != "":
            out.append(piece)
    return out or [""]


def normal_path(text: str) -> str:
    """A folder as `cd DIR && pwd` prints it, kept relative where it was written relative."""
    return os.path.normpath(text) if text else "."

