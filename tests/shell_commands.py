"""Parse a tutorial-style shell command into (environment, argv), as bash (and the author) would.

Covers what the seed tutorials and swiftpipe's scripts write: single and double quotes, backslash escapes
and continuations, comments, newlines between statements, leading VAR=value assignments (also on a line of
their own: seed 000's missing backslash, read as intended), `$(expr A / $VAR)`, and a dangling backslash at
the end (seed 004's sft_full.sh).
"""
from __future__ import annotations

import re

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_EXPR = re.compile(r"\$\(expr (\d+) / \$(\w+)\)")
_NEWLINE = object()


def parse(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    text = _EXPR.sub(lambda m: str(int(m.group(1)) // int(_assigned(text, m.group(2)))), text)
    env: list[tuple[str, str]] = []
    argv: list[str] = []
    for statement in _statements(_tokens(text)):
        while statement and statement[0][1] and _ASSIGNMENT.match(statement[0][0]):
            name, value = _ASSIGNMENT.match(statement.pop(0)[0]).groups()
            env.append((name, value))
        if statement:
            assert not argv, f"more than one command in {text!r}"
            argv = [word for word, _ in statement]
    return env, argv


def flag_pairs(argv: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """[("--model", ("x",)), ...] from `swift <sub> --model x ...`."""
    pairs: list[tuple[str, list[str]]] = []
    for word in argv[2:]:
        if word.startswith("--"):
            pairs.append((word, []))
        else:
            pairs[-1][1].append(word)
    return [(name, tuple(values)) for name, values in pairs]


def _assigned(text: str, name: str) -> str:
    return re.search(rf"\b{name}=(\d+)", text).group(1)


def _statements(tokens):
    statement = []
    for token in tokens:
        if token is _NEWLINE:
            if statement:
                yield statement
            statement = []
        else:
            statement.append(token)
    if statement:
        yield statement


def _tokens(text: str):
    """(word, assignable) tuples and _NEWLINE markers; `assignable` is False when the `=` came from quotes."""
    word: list[str] = []
    started = False
    plain_prefix = True  # no quote seen yet in this word: VAR=... can still be an assignment
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            following = text[i + 1:i + 2]
            if following not in ("\n", ""):
                word.append(following)
                started = True
            i += 2
        elif c == "'":
            end = text.index("'", i + 1)
            plain_prefix = plain_prefix and "=" in "".join(word)
            word.append(text[i + 1:end])
            started = True
            i = end + 1
        elif c == '"':
            plain_prefix = plain_prefix and "=" in "".join(word)
            i += 1
            while text[i] != '"':
                if text[i] == "\\" and text[i + 1] in '"\\$`\n':
                    word.append("" if text[i + 1] == "\n" else text[i + 1])
                    i += 2
                else:
                    word.append(text[i])
                    i += 1
            started = True
            i += 1
        elif c in " \t\n":
            if started:
                yield "".join(word), plain_prefix
            word, started, plain_prefix = [], False, True
            if c == "\n":
                yield _NEWLINE
            i += 1
        elif c == "#" and not started:
            while i < len(text) and text[i] != "\n":
                i += 1
        else:
            word.append(c)
            started = True
            i += 1
    if started:
        yield "".join(word), plain_prefix
