"""What bash accepts and bashlex does not parse, rewritten before bashlex reads the script, each line kept where it
was: `$((a / b))` (read as `$(__swiftpipe_arithmetic a / b)`), arrays (`ARGS=(...)`, kept aside and read by the
expander), `[[ ... ]]` conditions and `case` blocks (never evaluated here; one that holds a swift command stays,
for bashlex to refuse by name)."""
from __future__ import annotations

import re

from swiftpipe.importer.words import ARITHMETIC, ARRAY_MARK

_CASE = re.compile(r"\bcase\b.*?\besac\b", re.S)
_TEST = re.compile(r"\[\[[^\n]*?\]\]")
_ARRAY = re.compile(r"(?m)(^[ \t]*(?:local[ \t]+|declare[ \t]+-a[ \t]+)?[A-Za-z_]\w*\+?=)\(")
_ARITHMETIC = re.compile(r"\$\(\(([^()]*)\)\)")


def for_bashlex(text: str) -> tuple[str, dict[str, str]]:
    """The script as bashlex can parse it, and the text of each array by the word that stands for it."""
    text = _ARITHMETIC.sub(lambda m: f"$({ARITHMETIC} {m.group(1)})", text)
    text, arrays = _arrays(text)
    text = _CASE.sub(_without_case, text)
    return _TEST.sub("true", text), arrays


def _arrays(text: str) -> tuple[str, dict[str, str]]:
    """Bash arrays (`ARGS=(--a 1 "b c")`, `ARGS+=(...)`), which bashlex cannot parse: each becomes a plain word
    (`ARGS=__swiftpipe_array_N`, the text's lines kept) and its elements' text is returned by that word."""
    arrays: dict[str, str] = {}
    out, at = [], 0
    for match in _ARRAY.finditer(text):
        if match.start() < at:
            continue
        end = _closing_parenthesis(text, match.end() - 1)
        if end is None:
            continue
        marker = f"{ARRAY_MARK}{len(arrays)}"
        arrays[marker] = text[match.end():end]
        out += [text[at:match.start()], match.group(1), marker, "\n" * text.count("\n", match.end(), end)]
        at = end + 1
    out.append(text[at:])
    return "".join(out), arrays


def _without_case(match: re.Match[str]) -> str:
    """A `case ... esac` with no swift command in it (bashlex cannot parse case) as a no-op, its lines kept; one
    that holds a swift command stays, for bashlex to refuse by name."""
    block = match.group(0)
    return block if re.search(r"\bswift\b", block) else ":" + "\n" * block.count("\n")


def _closing_parenthesis(text: str, start: int) -> int | None:
    """The `)` closing the `(` at `start`, outside quotes."""
    quote = ""
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"':
                i += 1
        elif c in "'\"":
            quote = c
        elif c == "\\":
            i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None
