"""An expanded shell word as the value a recipe holds: text, a number, a parameter, an f-string, `per_process(N)`,
or the Substitution only a hand-off can stand in for."""
from __future__ import annotations

from swiftpipe.importer.arithmetic import PerProcessShare
from swiftpipe.importer.calls import Code, Imported, ImportProblem, Item, literal
from swiftpipe.importer.words import Piece, Substitution


def item_of(pieces: list[Piece], *, launch: dict[str, str], where: str, imported: Imported) -> Item | Substitution:
    """One expanded word as a recipe value (`launch`: the variables the command is launched with, for a share per
    process)."""
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
