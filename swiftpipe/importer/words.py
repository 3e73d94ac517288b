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

from swiftpipe.importer import expansions
from swiftpipe.importer.arithmetic import PerProcessShare, arithmetic, share
from swiftpipe.importer.bash_syntax import Node, Script
from swiftpipe.importer.calls import Code, Imported, ImportProblem

_SIMPLE_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_DEFAULTS = ("-", ":-", "=", ":=")


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


class Expander:
    """How the words of one file expand under the script's variables (and a function's arguments)."""

    def __init__(self, script: Script, imported: Imported, variables: Variables, *, program: str) -> None:
        self.script = script
        self.imported = imported
        self.vars = variables
        self.program = program  # $0: the script run, whatever file this is
        self.arguments: list[list[Piece]] | None = None  # $1... inside a function call
        self.assigning: str | None = None  # the variable whose value is being expanded

    def where(self, node: Node) -> str:
        return self.script.where(node)

    @contextmanager
    def dry(self) -> Iterator[None]:
        """Expansions that record nothing: no parameter, no finding, no variable taken as certain."""
        imported, uncertain, values = self.imported, dict(self.vars.uncertain), dict(self.vars.values)
        self.imported = Imported(sources=[])
        try:
            yield
        finally:
            self.imported = imported
            self.vars.uncertain, self.vars.values = uncertain, values

    def words(self, word: Node) -> list[list[Piece]]:
        """A word's expansion: usually one word; `"${ARGS[@]}"` (and `"$@"`) each element, and an unquoted
        expansion of plain text split at blanks, as bash splits it (none for an empty one)."""
        parts = word["Parts"]
        lone = parts[0] if len(parts) == 1 else None
        if lone is not None and lone["Type"] == "DblQuoted" and len(lone.get("Parts") or []) == 1 \
                and _every_element(lone["Parts"][0]):
            return self._elements(lone["Parts"][0])
        if lone is not None and lone["Type"] in ("ParamExp", "CmdSubst"):
            if _every_element(lone):
                return [[w] if isinstance(w, str) else [w] for e in self._elements(lone) for w in _split(e)]
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
        where, written = self.where(part), self.script.source(part)
        name = part["Param"]["Value"]
        if part.get("Excl") or part.get("Names"):
            raise ImportProblem(f"{written} (an indirect expansion) is a value a recipe cannot hold", where=where)
        self._check_certain(name, where=where)
        value = self._indexed(part, name, where) if part.get("Index") is not None else self.value(name)
        if part.get("Length"):
            text = None if value is None else plain(value)
            if text is None:
                raise ImportProblem(f"{written}: ${name} has no value in the script to count", where=where)
            return [str(len(self.vars.arrays.get(name, [])) if name in self.vars.arrays else len(text))]
        exp, repl, slice_ = part.get("Exp"), part.get("Repl"), part.get("Slice")
        if exp is not None and exp["Op"] in _DEFAULTS + ("?", ":?", "+", ":+"):
            return self._conditional(name, value, exp, written, where)
        if value is None:
            value = [self._param(name, None, where=where, origin=written)]
        if exp is None and repl is None and slice_ is None:
            return value
        return [self._computed(value, part, written, where)]

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
            return _joined(self.arguments)
        if self.arguments is not None and name == "#":
            return [str(len(self.arguments))]
        return None

    def _indexed(self, part: Node, name: str, where: str) -> list[Piece] | None:
        key = self.script.source(part["Index"]).strip()
        if name == "BASH_SOURCE" and key in ("0", "@", "*"):
            return [self.script.path]
        if key in ("@", "*"):
            return _joined(self._elements(part))
        if not key.isdigit():
            raise ImportProblem(f"{self.script.source(part)}: an array index a recipe cannot hold", where=where)
        elements = self.vars.arrays.get(name)
        if elements is None:
            return self.value(name) if key == "0" else None
        return list(elements[int(key)]) if int(key) < len(elements) else [""]

    def _elements(self, part: Node) -> list[list[Piece]]:
        name = part["Param"]["Value"]
        self._check_certain(name, where=self.where(part))
        if name in ("@", "*"):
            return [list(a) for a in self.arguments or []]
        if name in self.vars.arrays:
            return [list(e) for e in self.vars.arrays[name]]
        value = self.value(name)
        return [] if value is None else [value]

    def _conditional(self, name: str, value: list[Piece] | None, exp: Node, written: str,
                     where: str) -> list[Piece]:
        """`${X:-default}`, `${X:=default}`, `${X:?message}`, `${X:+alternate}`: a value the environment may give
        becomes a parameter, with the script's default."""
        op, word = exp["Op"], exp.get("Word")
        empty = value is not None and op.startswith(":") and plain(value) == ""
        if op in ("+", ":+"):
            return [""] if value is None or empty or not word else self.expand(word)
        if value is not None and not empty:
            return value
        if op in _DEFAULTS:
            default: list[Piece] = self.expand(word) if word else [""]
            result: list[Piece] = default  # set but empty, or an argument the call leaves out: the default itself
            if value is None and not (self.arguments is not None and name.isdigit()):
                text = self._default_text(default)
                result = [self._param(name, text if text is not None or not word else self._plain(self.written(word)),
                                      where=where, origin=written)]
            if op in ("=", ":="):
                self.vars.values[name] = result
            return result
        return [self._param(name, None, where=where, origin=written)]

    def _default_text(self, pieces: list[Piece]) -> str | None:
        """A parameter's default from the pieces of `${X:-default}`: text, and another parameter's default
        (`${GEN_BATCH:-$NUM_GENERATIONS}`)."""
        texts = [p if isinstance(p, str) else self.imported.params[p.text].default
                 if isinstance(p, Code) and p.text in self.imported.params else None for p in pieces]
        return None if any(t is None for t in texts) else "".join(t for t in texts if t is not None)

    def _computed(self, value: list[Piece], part: Node, written: str, where: str) -> Piece:
        """`${X#pattern}`, `${X/a/b}`, `${X^^}`, `${X:1:3}` of a known value, or the same in Python on a
        parameter."""
        exp: Node = part.get("Exp") or {}
        repl, slice_ = part.get("Repl"), part.get("Slice")
        text = plain(value)
        pattern = self._pattern(exp.get("Word") if exp else repl.get("Orig") if repl else None)
        replacement = self._pattern(repl.get("With")) if repl else None
        if text is not None:
            if slice_ is not None:
                offset = self._number(slice_.get("Offset"), written, where)
                length = self._number(slice_["Length"], written, where) if slice_.get("Length") else None
                return expansions.sliced(text, offset or 0, length)
            if repl is not None:
                return expansions.replace(text, pattern, replacement or "", every=bool(repl.get("All")))
            if exp.get("Op") in expansions.TRIMS:
                return expansions.trim(text, exp["Op"], pattern)
            if exp.get("Op") in expansions.CASES:
                return expansions.case(text, exp["Op"])
        elif len(value) == 1 and isinstance(value[0], Code) and slice_ is None:
            op = ("//" if repl.get("All") else "/") if repl is not None else exp["Op"]
            python = expansions.python_of(value[0].text, op, pattern, replacement)
            if python is not None:
                self.imported.note(where, "translated", f"{written} -> {python} (computed when the recipe runs)")
                return Code(python)
        raise ImportProblem(f"{written}: bash computes this from a value the script does not give; give the "
                            "variable a value in the script", where=where)

    def _pattern(self, word: Node | None) -> str:
        if word is None:
            return ""
        text = plain(self.expand(word))
        if text is None:
            raise ImportProblem(f"{self.script.source(word)}: a pattern built from values the script does not give",
                                where=self.where(word))
        return text

    def _number(self, node: Node | None, written: str, where: str) -> int | None:
        if node is None:
            return None
        number = arithmetic(node, self._integer)
        if number is None:
            raise ImportProblem(f"{written}: an offset the script does not give", where=where)
        return number

    def _param(self, name: str, default: str | None, *, where: str, origin: str) -> Code:
        param = f"arg{name}" if name.isdigit() else name.lower()
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
        return Substitution(self._plain(self.script.source(part)), self.where(part))

    def clock(self, part: Node, format_: str) -> Code:
        """`$(date +FORMAT)`: the time the script runs, which a recipe takes as a parameter (its default: the time
        of the import)."""
        name = (self.assigning or "date").lower()
        now = time.strftime(format_ or "%a %b %d %H:%M:%S %Z %Y")
        written = self.script.source(part)
        self.imported.note(self.where(part), "warning", f"{written} is the time the script runs: the recipe takes "
                           f"it as the parameter {name} (default {now}, the time of this import)")
        return self.imported.param(name, now, where=self.where(part), origin=written)

    def _arithmetic(self, part: Node) -> Piece:
        written = self.script.source(part)
        found = share(part["X"], self.operand, written=written)
        if found is not None:
            return found
        value = arithmetic(part["X"], self._integer)
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
            if assign.get("Array") is not None:
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

    def _check_certain(self, name: str, *, where: str) -> None:
        """A variable that a condition or a loop may set: the recipe takes its value from before, and says so."""
        if name in self.vars.uncertain:
            known = ("the first value it is given there" if name in self.vars.guessed else "the value set before it"
                     if self.value(name) is not None else "a parameter")
            self.imported.note(where, "warning", f"${name} may be set differently under the condition or loop at "
                               f"{self.vars.uncertain.pop(name)}; the recipe takes {known}")

    def _plain(self, text: str) -> str:
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


def _split(pieces: list[Piece]) -> list[Piece]:
    text = plain(pieces)
    return list(text.split()) if text is not None else list(pieces)


def _joined(elements: list[list[Piece]]) -> list[Piece]:
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
