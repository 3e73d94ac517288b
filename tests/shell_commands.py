"""Parse a tutorial-style shell command into (environment, argv), as the author meant it.

Handles what the seed tutorials write: backslash continuations, leading VAR=value assignments (also
on a line of their own, seed 000's missing backslash), `$(expr A / $VAR)`, comments, and a dangling
backslash at the end (seed 004's sft_full.sh).
"""
from __future__ import annotations

import re
import shlex

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_EXPR = re.compile(r"\$\(expr (\d+) / \$(\w+)\)")


def parse(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    env: list[tuple[str, str]] = []
    argv: list[str] = []
    logical = text.replace("\\\n", " ").rstrip().rstrip("\\")
    for line in logical.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        values = dict(env)
        line = _EXPR.sub(lambda m: str(int(m.group(1)) // int(values[m.group(2)])), line)
        words = shlex.split(line)
        while words and _ASSIGNMENT.match(words[0]):
            name, value = _ASSIGNMENT.match(words.pop(0)).groups()
            env.append((name, value))
        if words:
            assert not argv, f"more than one command in {text!r}"
            argv = words
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
