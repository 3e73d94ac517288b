"""Shell words as bash would expand them, with what a recipe cannot know kept symbolic: variables assigned in the
script are substituted, `$1` and unset variables become recipe parameters, `$(expr 8 / $NPROC_PER_NODE)` a share
per process, and any other `$(...)` stays as written for the hand-off finder to recognise (or reject)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from swiftpipe.importer.calls import Code, Imported, ImportProblem, Item, literal

# `${NAME}`, `${NAME:-default}`, `${1:?message}`; group 2 is the operator, group 3 its word.
_PARAMETER = re.compile(r"^(\w+|[@*#?$!])(?:(:?[-=?+])(.*))?$", re.S)
_SIMPLE_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
ARITHMETIC = "__swiftpipe_arithmetic"  # `$((a / b))` is read as `$(__swiftpipe_arithmetic a / b)`


@dataclass(frozen=True)
class PerProcessShare:
    """`$(expr TOTAL / $VAR)`: TOTAL divided by a variable's value (the process count, when VAR is the
    NPROC_PER_NODE in front of the command)."""

    total: int
    variable: str
    value: str | None  # the variable's value in the script, when it has one


@dataclass(frozen=True)
class Substitution:
    """A word built by another program, e.g. `$(ls -td output/sft/v*/checkpoint-* | head -n 1)-merged`, as written
    (with the script's variables substituted); only a hand-off can stand in for it."""

    text: str
    where: str


Piece = Union[str, Code, PerProcessShare, Substitution]


class Expander:
    """The script's variables, and how its words expand under them."""

    def __init__(self, text: str, file: str, imported: Imported) -> None:
        self.text = text
        self.file = file
        self.imported = imported
        self.variables: dict[str, list[Piece]] = {}
        self.exported: list[str] = []

    def line_of(self, position: int) -> int:
        return self.text.count("\n", 0, position) + 1

    def where(self, node) -> str:
        return f"{self.file}:{self.line_of(node.pos[0])}"

    def words(self, node) -> list[list[Piece]]:
        """A word node's expansion: usually one word; an unquoted `$ARGS` holding several words gives each."""
        source = self.text[node.pos[0]:node.pos[1]]
        parts = [p for p in getattr(node, "parts", []) if p.kind in ("parameter", "commandsubstitution", "tilde")]
        if len(parts) == 1 and parts[0].kind == "parameter" and source in (f"${parts[0].value}",
                                                                           f"${{{parts[0].value}}}"):
            pieces = self.parameter(parts[0].value, where=self.where(node))
            if all(isinstance(p, str) for p in pieces) and len("".join(pieces).split()) > 1:
                return [[word] for word in "".join(pieces).split()]  # bash splits an unquoted expansion
            return [pieces]
        return [self.expand(node)]

    def expand(self, node) -> list[Piece]:
        word: str = node.word
        parts = [p for p in getattr(node, "parts", []) if p.kind in ("parameter", "commandsubstitution", "tilde")]
        pieces: list[Piece] = []
        cursor = 0
        for part in parts:
            written = self.text[part.pos[0]:part.pos[1]]
            at = word.find(written, cursor)
            if at < 0:
                raise ImportProblem(f"cannot follow the expansion {written!r} in {word!r}", where=self.where(node))
            if at > cursor:
                pieces.append(word[cursor:at])
            cursor = at + len(written)
            if part.kind == "parameter":
                pieces += self.parameter(part.value, where=self.where(part))
            elif part.kind == "tilde":
                pieces.append(Code("os.path.expanduser('~')"))
            else:
                pieces.append(self.substitution(part, written))
        if cursor < len(word):
            pieces.append(word[cursor:])
        return _merged(pieces)

    def parameter(self, expression: str, *, where: str) -> list[Piece]:
        match = _PARAMETER.match(expression)
        if not match:
            raise ImportProblem(f"${{{expression}}} is an expansion a recipe cannot hold", where=where)
        name, operator, word = match.groups()
        if name in self.variables:
            return list(self.variables[name])
        if not name.isidentifier() and not name.isdigit():
            raise ImportProblem(f"${name} (the script's arguments or shell state) cannot be imported", where=where)
        param = f"arg{name}" if name.isdigit() else name.lower()
        origin = f"${{{expression}}}" if operator else f"${name}"
        if operator in ("-", ":-", "=", ":="):
            default = self._plain(word, where=where)
        else:
            default = f"<{name.upper() if not name.isdigit() else 'ARG' + name}>"
        return [self.imported.param(param, default, where=where, origin=origin)]

    def substitution(self, part, written: str) -> Piece:
        command = part.command
        words = [p.word for p in getattr(command, "parts", []) if p.kind == "word"]
        if command.kind == "command" and len(words) == 4 and words[0] in ("expr", ARITHMETIC) and words[2] == "/":
            total, divisor = words[1], words[3].lstrip("$").strip("{}")
            if total.isdigit() and divisor.isidentifier():
                value = self.variables.get(divisor)
                text = value[0] if value and len(value) == 1 and isinstance(value[0], str) else None
                return PerProcessShare(int(total), divisor, text)
        if command.kind == "command" and words == ["pwd"]:
            return "."
        expanded = _SIMPLE_VARIABLE.sub(lambda m: self._known(m.group(1) or m.group(2), m.group(0)), written)
        return Substitution(expanded.replace(f"$({ARITHMETIC} ", "$(("), self.where(part))

    def assign(self, name: str, pieces: list[Piece], *, export: bool = False) -> None:
        self.variables[name] = pieces
        if export and name not in self.exported:
            self.exported.append(name)

    def _known(self, name: str, written: str) -> str:
        value = self.variables.get(name)
        return value[0] if value and len(value) == 1 and isinstance(value[0], str) else written

    def _plain(self, word: str, *, where: str) -> str:
        """A default written in `${X:-default}`: its own variables substituted where known."""
        return _SIMPLE_VARIABLE.sub(lambda m: self._known(m.group(1) or m.group(2), m.group(0)), word)


def _merged(pieces: list[Piece]) -> list[Piece]:
    """Adjacent text pieces joined."""
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        elif piece != "":
            out.append(piece)
    return out or [""]


def item_of(pieces: list[Piece], *, nproc: str | None, where: str, imported: Imported) -> Item | Substitution:
    """One expanded word as a recipe value: text, a number, a parameter, an f-string, `per_process(N)`, or the
    Substitution the hand-off finder decides on."""
    if any(isinstance(p, Substitution) for p in pieces):
        text = "".join(p.text if isinstance(p, Substitution) else p if isinstance(p, str) else f"<{_code(p)}>"
                       for p in pieces)
        return Substitution(text, next(p.where for p in pieces if isinstance(p, Substitution)))
    pieces = [_share(p, nproc=nproc, where=where, imported=imported) if isinstance(p, PerProcessShare) else p
              for p in pieces]
    if len(pieces) == 1:
        return literal(pieces[0]) if isinstance(pieces[0], str) else pieces[0]  # type: ignore[return-value]
    if all(isinstance(p, str) for p in pieces):
        return literal("".join(pieces))  # type: ignore[arg-type]
    body = "".join(p.replace("{", "{{").replace("}", "}}").replace('"', '\\"') if isinstance(p, str)
                   else f"{{{_code(p)}}}" for p in pieces)
    return Code(f'f"{body}"')


def _code(piece: Piece) -> str:
    return piece.text if isinstance(piece, Code) else str(piece)


def _share(share: PerProcessShare, *, nproc: str | None, where: str, imported: Imported) -> Piece:
    if share.variable == "NPROC_PER_NODE" or (nproc is not None and share.value == nproc):
        return Code(f"per_process({share.total})")
    if share.value is not None and share.value.isdigit() and int(share.value):
        imported.note(where, "translated", f"$(expr {share.total} / ${share.variable}) -> "
                      f"{share.total // int(share.value)} (${share.variable} is {share.value} in the script)")
        return str(share.total // int(share.value))
    raise ImportProblem(f"$(expr {share.total} / ${share.variable}): ${share.variable} has no value in the script "
                        "and is not the NPROC_PER_NODE in front of the command", where=where)
