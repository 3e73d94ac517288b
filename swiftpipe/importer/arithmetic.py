"""Bash's integer arithmetic (`$((...))`, `expr`) over the values a script gives, and the one shape a recipe keeps
symbolic: a total divided by the process counts (`$((16 / NPROC_PER_NODE))`, `$(expr 16 / $nproc / $nnodes)`),
a share per process that follows the launch it is rendered for."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from swiftpipe.importer.bash_syntax import Node

# An operand's variable name ("" for a number) and its value as the script gave it (None where it gives none).
Operand = tuple[str, "str | None"]


@dataclass(frozen=True)
class PerProcessShare:
    """`$(expr TOTAL / $A / $B)`: TOTAL divided by variables' values; the process count when they are the
    NPROC_PER_NODE (and NNODES) the command is launched with."""

    total: int
    divisors: tuple[tuple[str, str | None], ...]  # (variable, its value in the script, when it has one)
    written: str


_OPERATORS: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "**": lambda a, b: a ** b,
    "/": lambda a, b: int(a / b), "%": lambda a, b: a - b * int(a / b), "<<": lambda a, b: a << b,
    ">>": lambda a, b: a >> b}


def arithmetic(node: Node, integer: Callable[[Node], int | None]) -> int | None:
    """The value of an arithmetic expression (mvdan/sh's BinaryArithm, UnaryArithm, ParenArithm, Word), each
    word's number given by `integer`; None where an operand is unknown or the operator is not plain arithmetic."""
    kind = node.get("Type")
    if kind == "Word":
        return integer(node)
    if kind == "ParenArithm":
        return arithmetic(node["X"], integer)
    if kind == "UnaryArithm" and node["Op"] in ("-", "+") and not node.get("Post"):
        value = arithmetic(node["X"], integer)
        return None if value is None else -value if node["Op"] == "-" else value
    if kind == "BinaryArithm" and node["Op"] in _OPERATORS:
        left, right = arithmetic(node["X"], integer), arithmetic(node["Y"], integer)
        if left is None or right is None or right == 0 and node["Op"] in ("/", "%"):
            return None
        return _OPERATORS[node["Op"]](left, right)
    return None


def share(node: Node, operand: Callable[[Node], Operand | None], *, written: str) -> PerProcessShare | None:
    """`N / A / B` with a variable among the divisors, as a share; None for any other expression."""
    divisors: list[Node] = []
    while node.get("Type") == "BinaryArithm" and node["Op"] == "/":
        divisors.insert(0, node["Y"])
        node = node["X"]
    return _share([node, *divisors], operand, written=written) if divisors else None


def expr_share(words: list[Node], texts: list[str | None], operand: Callable[[Node], Operand | None], *,
               written: str) -> PerProcessShare | None:
    """`expr N / $A / $B` (its words, and each word's text) as a share; None for any other expression."""
    if len(words) < 3 or len(words) % 2 == 0 or any(t != "/" for t in texts[1::2]):
        return None
    return _share(words[::2], operand, written=written)


def expr_value(texts: list[str | None]) -> int | None:
    """`expr A OP B ...` over numbers, left to right with * / % before + -, as expr does; None otherwise."""
    if any(t is None for t in texts) or len(texts) % 2 == 0:
        return None
    words = [t.replace("\\*", "*") for t in texts if t is not None]
    numbers, operators = words[::2], words[1::2]
    if not all(n.lstrip("-").isdigit() for n in numbers) or not all(o in ("+", "-", "*", "/", "%") for o in operators):
        return None
    values = [int(n) for n in numbers]
    terms, signs = [values[0]], []
    for op, value in zip(operators, values[1:]):
        if op in ("*", "/", "%"):
            if op != "*" and value == 0:
                return None
            terms[-1] = _OPERATORS[op](terms[-1], value)
        else:
            terms.append(value)
            signs.append(op)
    total = terms[0]
    for sign, term in zip(signs, terms[1:]):
        total = total + term if sign == "+" else total - term
    return total


def _share(operands: list[Node], operand: Callable[[Node], Operand | None], *, written: str) -> PerProcessShare | None:
    described = [operand(o) for o in operands]
    if any(d is None for d in described):
        return None
    (first, total), *divisors = [d for d in described if d is not None]
    if first or total is None or not total.isdigit() or all(name == "" for name, _ in divisors):
        return None
    return PerProcessShare(int(total), tuple(divisors), written)
