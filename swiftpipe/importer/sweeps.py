"""A `for` loop that ran one swift command once per value, as one stage and the recipe's `variants`: decided once
the chain is whole (flags translated, secrets out, hand-offs linked), so that a variant sets the flag the stage
has, never a secret, and never stands in for a hand-off. Any other loop keeps a stage per value."""
from __future__ import annotations

import re

from swiftpipe.importer.calls import Call, Code, Imported, Item
from swiftpipe.recipe.secrets import is_secret


def collapse(imported: Imported) -> None:
    """Each loop in `imported.loops` whose runs differ only in flags' plain values becomes its first run's call,
    with those flags' values in order as its variants (`imported.sweeps`)."""
    for runs, where, shown in imported.loops:
        changed = _changed(runs, imported)
        if changed is None:
            imported.note(where, "translated", f"{shown}: the loop's commands once per value, a stage each")
            continue
        for run in runs[1:]:
            imported.calls.remove(run)
        imported.sweeps.append((runs[0], changed, where))
        imported.note(where, "translated", f"{shown}: one stage, and the loop's values as its variants (swiftpipe "
                      "run runs each; --vary none runs the first alone)", call=runs[0])


def _changed(runs: list[Call], imported: Imported) -> list[tuple[str, list[Item]]] | None:
    first, others = runs[0], [c for c in imported.calls if c not in runs]
    if any(c not in imported.calls for c in runs) or any(
            c.command != first.command or [f.name for f in c.flags] != [f.name for f in first.flags]
            or c.env != first.env for c in runs):
        return None
    if any(re.search(rf"\(\"{re.escape(run.name)}\"", str(v)) for run in runs[1:] for call in others
           for flag in call.flags for v in flag.values if isinstance(v, Code)):
        return None  # a later stage reads one of the runs but the first: each is its own stage
    changed: list[tuple[str, list[Item]]] = []
    for i, flag in enumerate(first.flags):
        values = [c.flags[i].values for c in runs]
        if all(v == values[0] for v in values):
            continue
        if is_secret(flag.name) or any(len(v) != 1 or isinstance(v[0], Code) for v in values) \
                or len({str(v[0]) for v in values}) != len(runs):
            return None  # a secret, a hand-off, a list or a repeated value: not a variant's setting
        changed.append((flag.name, [v[0] for v in values]))
    return changed or None
