"""Shell words as bash would expand them, with what a recipe cannot know kept symbolic: variables assigned in the
script are substituted, `$1` and unset variables become recipe parameters, `$(expr 8 / $NPROC_PER_NODE)` a share
per process, and any other `$(...)` stays as written for the hand-off finder to recognise (or reject)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Union

from swiftpipe.importer.calls import Code, Imported, ImportProblem, Item, literal

# `${NAME}`, `${NAME:-default}`, `${1:?message}`; group 2 is the operator, group 3 its word.
_PARAMETER = re.compile(r"^(\w+|[@*#?$!])(?:(:?[-=?+])(.*))?$", re.S)
_SIMPLE_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
ARITHMETIC = "__swiftpipe_arithmetic"  # `$((a / b))` is read as `$(__swiftpipe_arithmetic a / b)`
ARRAY_MARK = "__swiftpipe_array_"  # `ARGS=(...)` is read as `ARGS=__swiftpipe_array_N` (shell.py)
Node = Any  # a node of bashlex's parse tree (bashlex.ast.node): bashlex ships no type hints


@dataclass(frozen=True)
class PerProcessShare:
    """`$(expr TOTAL / $A / $B)`: TOTAL divided by variables' values; the process count when they are the
    NPROC_PER_NODE (and NNODES) the command is launched with."""

    total: int
    divisors: tuple[tuple[str, str | None], ...]  # (variable, its value in the script, when it has one)
    written: str


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
        self.arrays: dict[str, list[list[Piece]]] = {}  # NAME -> its elements, each expanded
        self.array_texts: dict[str, str] = {}  # the marker of an `ARGS=(...)` -> the text between the parentheses
        self.uncertain: dict[str, str] = {}  # a variable set under a condition or in a loop -> where

    def line_of(self, position: int) -> int:
        return self.text.count("\n", 0, position) + 1

    def where(self, node: Node) -> str:
        return f"{self.file}:{self.line_of(node.pos[0])}"

    def words(self, node: Node) -> list[list[Piece]]:
        """A word node's expansion: usually one word; an unquoted `$ARGS` holding several words gives each, and
        `"${ARGS[@]}"` each element of the array (none for an empty one)."""
        source = self.text[node.pos[0]:node.pos[1]]
        parts = [p for p in getattr(node, "parts", []) if p.kind in ("parameter", "commandsubstitution", "tilde")]
        whole = re.fullmatch(r'"?\$\{(\w+)\[[@*]\]\}"?', source)
        if whole:
            name = whole.group(1)
            self._check_certain(name, where=self.where(node))
            return [list(element) for element in self.arrays.get(name, [])]
        if len(parts) == 1 and parts[0].kind == "parameter" and source in (f"${parts[0].value}",
                                                                           f"${{{parts[0].value}}}"):
            pieces = self.parameter(parts[0].value, where=self.where(node))
            texts = [p for p in pieces if isinstance(p, str)]
            if len(texts) == len(pieces) and len("".join(texts).split()) > 1:
                return [[word] for word in "".join(texts).split()]  # bash splits an unquoted expansion
            return [pieces]
        return [self.expand(node)]

    def expand(self, node: Node) -> list[Piece]:
        word = unquoted(self.text[node.pos[0]:node.pos[1]], fallback=node.word)
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
        array = re.fullmatch(r"(\w+)\[[@*]\]", expression)
        if array:  # "--x=${ARGS[*]}": the elements joined
            self._check_certain(array.group(1), where=where)
            joined: list[Piece] = []
            for element in self.arrays.get(array.group(1), []):
                joined += ([" "] if joined else []) + element
            return _merged(joined)
        match = _PARAMETER.match(expression)
        if not match:
            raise ImportProblem(f"${{{expression}}} is an expansion a recipe cannot hold", where=where)
        name, operator, word = match.groups()
        self._check_certain(name, where=where)
        if name in self.variables:
            return list(self.variables[name])
        if not name.isidentifier() and not name.isdigit():
            raise ImportProblem(f"${name} (the script's arguments or shell state) cannot be imported", where=where)
        param = f"arg{name}" if name.isdigit() else name.lower()
        origin = f"${{{expression}}}" if operator else f"${name}"
        if operator in ("-", ":-", "=", ":="):
            default = self._plain(word)
        else:
            default = f"<{name.upper() if not name.isdigit() else 'ARG' + name}>"
        return [self.imported.param(param, default, where=where, origin=origin)]

    def substitution(self, part: Node, written: str) -> Piece:
        command = part.command
        words = [p.word for p in getattr(command, "parts", []) if p.kind == "word"]
        if command.kind == "command" and words and words[0] in ("expr", ARITHMETIC):
            share = self._share(words[1:], written)
            if share is not None:
                return share
            value = self._arithmetic(words[1:])
            if value is not None:
                self.imported.note(self.where(part), "translated", f"{written.replace(f'$({ARITHMETIC} ', '$((')} -> "
                                   f"{value} (the script's values)")
                return str(value)
        if command.kind == "command" and words == ["pwd"]:
            return "."
        expanded = self._plain(written)
        return Substitution(expanded.replace(f"$({ARITHMETIC} ", "$(("), self.where(part))

    def _elements(self, marker: str) -> list[list[Piece]]:
        """An array's elements, each word expanded as the script's variables stand now."""
        import bashlex

        inner = self.array_texts[marker]
        if not inner.strip():
            return []
        source = "true " + inner.replace("\n", " ")
        try:
            [node] = bashlex.parse(source)
        except (bashlex.errors.ParsingError, NotImplementedError, ValueError):
            raise ImportProblem(f"the array ({inner.strip()[:60]}) cannot be read", where=self.file) from None
        child = Expander(source, self.file, self.imported)
        child.variables, child.arrays, child.uncertain = self.variables, self.arrays, self.uncertain
        return [pieces for word in node.parts[1:] if word.kind == "word" for pieces in child.words(word)]

    def _share(self, words: list[str], written: str) -> PerProcessShare | None:
        """`N / $A / $B` (expr's words, or an arithmetic expansion's) as a share, else None."""
        words = [w for word in words for w in re.split(r"\s+|(?=/)|(?<=/)", word) if w]
        if len(words) < 3 or not words[0].isdigit() or words[1::2] != ["/"] * (len(words) // 2) or len(words) % 2 == 0:
            return None
        divisors: list[tuple[str, str | None]] = []
        for word in words[2::2]:
            name = word.lstrip("$").strip("{}")
            if word.isdigit():
                divisors.append(("", word))
            elif name.isidentifier():
                value = self.variables.get(name)
                divisors.append((name, value[0] if value and len(value) == 1 and isinstance(value[0], str) else None))
            else:
                return None
        return PerProcessShare(int(words[0]), tuple(divisors), written.replace(f"$({ARITHMETIC} ", "$(("))

    def _arithmetic(self, words: list[str]) -> int | None:
        """Integer arithmetic over numbers and variables the script gave numbers, as expr and $((...)) do it."""
        text = " ".join(words).replace("\\*", "*")
        text = _SIMPLE_VARIABLE.sub(lambda m: self._known(m.group(1) or m.group(2), "x"), text)
        text = re.sub(r"\b[A-Za-z_]\w*\b", lambda m: self._known(m.group(0), "x"), text)  # $(( a + b )): bare names
        if not re.fullmatch(r"[\d\s()+\-*/%]+", text):
            return None
        try:
            return int(eval(text.replace("/", "//"), {"__builtins__": {}}))  # digits and operators only
        except (SyntaxError, ZeroDivisionError):
            return None

    def _check_certain(self, name: str, *, where: str) -> None:
        """A variable that a condition or a loop may set: the recipe takes its value from before, and says so."""
        if name in self.uncertain:
            known = "the value set before it" if name in self.variables or name in self.arrays else "a parameter"
            self.imported.note(where, "warning", f"${name} may be set differently under the condition or loop at "
                               f"{self.uncertain.pop(name)}; the recipe takes {known}")

    def assign(self, name: str, pieces: list[Piece], *, export: bool = False) -> None:
        if name.endswith("+"):  # ARGS+=(...)
            name = name[:-1]
            if len(pieces) == 1 and isinstance(pieces[0], str) and pieces[0] in self.array_texts:
                self.arrays.setdefault(name, []).extend(self._elements(pieces[0]))
                return
            pieces = self.variables.get(name, []) + pieces
        if len(pieces) == 1 and isinstance(pieces[0], str) and pieces[0] in self.array_texts:
            self.arrays[name] = self._elements(pieces[0])
            return
        self.variables[name] = pieces
        if export and name not in self.exported:
            self.exported.append(name)

    def _known(self, name: str, written: str) -> str:
        value = self.variables.get(name)
        return value[0] if value and len(value) == 1 and isinstance(value[0], str) else written

    def _plain(self, word: str) -> str:
        """Text (a `${X:-default}` default, a `$(...)` as written) with the variables the script gave plain values
        substituted; the others left as written."""
        return _SIMPLE_VARIABLE.sub(lambda m: self._known(m.group(1) or m.group(2), m.group(0)), word)


def unquoted(source: str, *, fallback: str) -> str:
    """A word's text after bash's quote removal, `$...` left in place for expansion. bashlex drops the backslash of
    `"\\n"`, which bash keeps inside double quotes (only $ ` " \\ and a newline are escaped there)."""
    if "$'" in source:
        return fallback  # ANSI-C quoting: bashlex's reading
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(source):
        c = source[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                out.append(c)
        elif c == "\\" and i + 1 < len(source):
            following = source[i + 1]
            if following == "\n":
                pass
            elif quote == '"' and following not in '$`"\\':
                out.append(c + following)
            else:
                out.append(following)
            i += 1
        elif c in "'\"" and quote in ("", c) and not (c == "'" and quote == '"'):
            quote = "" if quote == c else c
        elif c == "`" and quote != "'":
            end = source.find("`", i + 1)
            end = len(source) - 1 if end < 0 else end
            out.append(source[i:end + 1])
            i = end
        elif c == "$" and source[i + 1:i + 2] == "(" and quote != "'":
            end = _closing(source, i + 1)  # a command substitution is copied as written, quotes and all
            out.append(source[i:end + 1])
            i = end
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """The index of the parenthesis that closes the one at `start`."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(text) - 1


def _merged(pieces: list[Piece]) -> list[Piece]:
    """Adjacent text pieces joined."""
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        elif piece != "":
            out.append(piece)
    return out or [""]


def item_of(pieces: list[Piece], *, launch: dict[str, str], where: str, imported: Imported) -> Item | Substitution:
    """One expanded word as a recipe value: text, a number, a parameter, an f-string, `per_process(N)`, or the
    Substitution the hand-off finder decides on."""
    if any(isinstance(p, Substitution) for p in pieces):
        text = "".join(p.text if isinstance(p, Substitution) else p if isinstance(p, str) else f"<{_code(p)}>"
                       for p in pieces)
        return Substitution(text, next(p.where for p in pieces if isinstance(p, Substitution)))
    known = [_share(p, launch=launch, where=where, imported=imported) if isinstance(p, PerProcessShare) else p
             for p in pieces if not isinstance(p, Substitution)]
    if len(known) == 1:
        return literal(known[0]) if isinstance(known[0], str) else known[0]
    texts = [p for p in known if isinstance(p, str)]
    if len(texts) == len(known):
        return literal("".join(texts))
    body = "".join(p.replace("{", "{{").replace("}", "}}").replace('"', '\\"') if isinstance(p, str)
                   else f"{{{_code(p)}}}" for p in known)
    return Code(f'f"{body}"')


def _code(piece: Piece) -> str:
    return piece.text if isinstance(piece, Code) else str(piece)


def _share(share: PerProcessShare, *, launch: dict[str, str], where: str, imported: Imported) -> str | Code:
    """per_process(TOTAL) when the divisors are the command's process counts (by name, or by the value the script
    gave them), else the number, when every divisor has one."""
    counts = {name: value for name, value in launch.items() if name in ("NPROC_PER_NODE", "NNODES")}
    unmatched = dict(counts)
    for name, value in share.divisors:
        match = name if name in unmatched else next((k for k, v in unmatched.items() if v == value and name), None)
        if match is None:
            break
        del unmatched[match]
    else:
        if "NPROC_PER_NODE" not in unmatched and "NNODES" not in unmatched:
            return Code(f"per_process({share.total})")
    numbers = [int(value) for _, value in share.divisors if value is not None and value.isdigit()]
    if len(numbers) == len(share.divisors) and all(numbers):
        result = share.total
        for number in numbers:
            result //= number
        imported.note(where, "translated", f"{share.written} -> {result}")
        return str(result)
    missing = next(name for name, value in share.divisors if value is None)
    raise ImportProblem(f"{share.written}: ${missing} has no value in the script and is not a process count the "
                        "command is launched with", where=where)
