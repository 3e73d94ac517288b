"""What bash computes from a value inside `${...}`, done here when the script gives the value (`${CKPT%%-*}`,
`${MODEL##*/}`, `${FUNCS//,/ }`, `${NAME^^}`, `${X:0:4}`), and written as the same operation in Python on a recipe
parameter when it does not (`${MODEL##*/}` on `$1` is `os.path.basename(arg1)`). Patterns are bash's: `*`, `?`,
`[...]`; a pattern with none of them is plain text."""
from __future__ import annotations

import re

TRIMS = ("#", "##", "%", "%%")
CASES = ("^", "^^", ",", ",,")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A bash pattern as a regular expression that matches the whole text."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 1
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and "]" in pattern[i + 2:]:
            close = pattern.index("]", i + 2)
            body = pattern[i + 1:close]
            out.append("[" + ("^" + body[1:] if body[:1] in "!^" else body).replace("\\", "\\\\") + "]")
            i = close
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.S)


def trim(value: str, op: str, pattern: str) -> str:
    """`${value#pattern}` (shortest prefix), `##` (longest), `%` (shortest suffix), `%%` (longest)."""
    regex = glob_regex(pattern)
    cuts = range(len(value) + 1)
    if op in ("#", "##"):
        for i in (cuts if op == "#" else reversed(cuts)):
            if regex.fullmatch(value[:i]):
                return value[i:]
    else:
        for i in (reversed(cuts) if op == "%" else cuts):
            if regex.fullmatch(value[i:]):
                return value[:i]
    return value


def replace(value: str, pattern: str, replacement: str, *, every: bool) -> str:
    """`${value/pattern/replacement}` (`//`: every match; a pattern starting `#` or `%` is anchored there)."""
    anchor = pattern[:1] if pattern[:1] in ("#", "%") else ""
    regex = glob_regex(pattern[len(anchor):])
    if anchor == "#":
        for i in reversed(range(len(value) + 1)):
            if regex.fullmatch(value[:i]):
                return replacement + value[i:]
        return value
    if anchor == "%":
        for i in range(len(value) + 1):
            if regex.fullmatch(value[i:]):
                return value[:i] + replacement
        return value
    out, i = [], 0
    while i < len(value):
        stop = next((j for j in range(len(value), i, -1) if regex.fullmatch(value[i:j])), None)  # the longest
        if stop is None:
            out.append(value[i])
            i += 1
            continue
        out.append(replacement)
        i = stop
        if not every:
            break
    return "".join(out) + value[i:]


def case(value: str, op: str) -> str:
    if op == "^^":
        return value.upper()
    if op == ",,":
        return value.lower()
    first = value[:1].upper() if op == "^" else value[:1].lower()
    return first + value[1:]


def sliced(value: str, offset: int, length: int | None) -> str:
    """`${value:offset:length}`, negative numbers counting from the end, as bash does."""
    begin = max(len(value) + offset, 0) if offset < 0 else offset
    if length is None:
        return value[begin:]
    stop = len(value) + length if length < 0 else begin + length
    return value[begin:stop]


def python_of(code: str, op: str, pattern: str, replacement: str | None = None) -> str | None:
    """The Python expression that does `op` to the value of the expression `code` at run time, for the patterns
    people write (a plain text, `*/`, `*TEXT`, `TEXT*`); None for any other."""
    if op in CASES:
        return {"^^": f"{code}.upper()", ",,": f"{code}.lower()", "^": f"{code}[:1].upper() + {code}[1:]",
                ",": f"{code}[:1].lower() + {code}[1:]"}[op]
    plain = not re.search(r"[*?\[\\]", pattern)
    if replacement is not None:
        if not plain or pattern[:1] in ("#", "%"):
            return None
        return f"{code}.replace({pattern!r}, {replacement!r}{'' if op == '//' else ', 1'})"
    if plain:
        return f"{code}.removeprefix({pattern!r})" if op.startswith("#") else f"{code}.removesuffix({pattern!r})"
    if pattern == "*/" and op == "##":
        return f"os.path.basename({code})"
    if pattern == "/*" and op == "%":
        return f"os.path.dirname({code})"
    text = pattern.strip("*")
    if re.search(r"[*?\[\\]", text) or not text:
        return None
    if pattern == "*" + text and op in ("#", "##"):
        return f"{code}.{'split' if op == '#' else 'rsplit'}({text!r}, 1)[-1]"
    if pattern == text + "*" and op in ("%", "%%"):
        return f"{code}.{'rsplit' if op == '%' else 'split'}({text!r}, 1)[0]"
    return None
