"""A sweep: the variants of a chain made into one chain, in which the stages that are the same in several variants
appear once and every variant's own stages write into their own folders.

A stage is the same in two variants when it would run the same: the same subcommand, flags, launch settings and
program, reading the same stages' outputs (each compared the same way, up the chain). Such a stage keeps its name
and runs once; the variants take its outputs. A stage that differs becomes one stage per variant, named
`sft@lr-5e-5` (the variant's folder name), with its `output_dir` one folder deeper (`out/sft/lr-5e-5`), and each
other folder or file it names to write (logging_dir, result_path), and what reads it in that variant reads it under
that name. Each stage records the variants it serves (`Stage.variants`), from
which the plan gates it (run/plan.py): a variant's failure stops no stage that another variant needs.

A variant's stage that runs as the chain alone runs it (a value varied that is the recipe's own) keeps the chain's
folders: it is the stage that `swiftpipe run` without --vary ran, and the plan reuses that run's outputs, so that a
chain already run is one of the variants and only the others train.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from swiftpipe.msswift import layout
from swiftpipe.recipe.model import SEPARATOR, FlagValue, Group, PerProcess, Recipe, Ref, Stage, items_of
from swiftpipe.recipe.variants import Variant, folder_of, named

__all__ = ["SEPARATOR", "flatten", "summary"]
SHOWN = 8  # the variants a plan names; the rest it counts


@dataclass
class _Node:
    """One stage of the sweep: the stage as the first variant that has it wrote it, and the variants that share it."""

    identity: str
    stage: Stage
    recipe: Recipe
    variants: list[Variant]
    position: int  # its earliest place in a variant's chain
    name: str = ""
    folder: str = ""  # where its outputs go below the chain's output_dir, when it is one of several
    as_written: bool = False  # the chain alone (no variant's settings) runs this very stage: it keeps its folders


def flatten(chains: Sequence[tuple[Variant, Recipe]], *, written: Recipe | None = None) -> Recipe:
    """One chain holding every variant's stages, each distinct stage once. `written`: the chain alone, with none of
    the variants' settings (None when it does not load without them)."""
    alone: set[str] = set()
    if written is not None:
        of_written: dict[str, str] = {}
        for stage in written.stages:
            of_written[stage.name] = _identity(stage, written, of_written)
        alone = set(of_written.values())
    nodes: dict[str, _Node] = {}
    of_variant: list[dict[str, _Node]] = []  # per variant: stage name -> its node
    for variant, recipe in chains:
        mine: dict[str, _Node] = {}
        identities: dict[str, str] = {}
        for position, stage in enumerate(recipe.stages):
            identity = _identity(stage, recipe, identities)
            identities[stage.name] = identity
            node = nodes.get(identity)
            if node is None:
                node = nodes[identity] = _Node(identity, stage, recipe, [], position, as_written=identity in alone)
            node.variants.append(variant)
            node.position = min(node.position, position)
            mine[stage.name] = node
        of_variant.append(mine)
    every = [variant for variant, _ in chains]
    _name(list(nodes.values()))
    ordered = sorted(nodes.values(), key=lambda n: (n.position, len(n.variants) < len(every)))
    stages = []
    for node in ordered:
        variant = node.variants[0]
        renamed = of_variant[every.index(variant)]
        stages.append(_placed(node, {name: n.name for name, n in renamed.items()}, every))
    first = chains[0][1]
    return dataclasses.replace(first, stages=tuple(stages))


def _identity(stage: Stage, recipe: Recipe, identities: dict[str, str]) -> str:
    """What the stage runs, with each reference standing for its producer's identity: equal in two variants when
    the stage would run the same in both."""
    def plain(value: FlagValue | Ref | PerProcess | None) -> object:
        if isinstance(value, Ref):
            return ["ref", identities[value.stage], value.output.value]
        if isinstance(value, (Path, PerProcess)):
            return repr(value)
        return value

    flags = [[flag, [plain(item) for item in items_of(value)], isinstance(value, (list, tuple))]
             for flag, value in stage.flags.items()]
    described = [stage.name, stage.command, stage.program, flags, repr(recipe.launch_for(stage)),
                 list(stage.also_reads), repr(stage.group)]
    return hashlib.sha256(json.dumps(described, default=repr).encode()).hexdigest()


def _name(nodes: list[_Node]) -> None:
    """A stage that is one node keeps its name; a stage split between variants is named after what its variants
    have in common (`pretrain@pretrain.lr-1` for the variants that pretrain at 1), so that a value added to another
    setting renames nothing."""
    by_name: dict[str, list[_Node]] = {}
    for node in nodes:
        by_name.setdefault(node.stage.name, []).append(node)
    for name, split in by_name.items():
        shared = [folder_of(named(common)) if (common := _common(node.variants)) else None for node in split]
        for node, folder in zip(split, shared):
            if folder is None or shared.count(folder) > 1:  # what they share tells no two copies apart
                folder = _joined(node)
            node.folder = folder
            node.name = name if len(split) == 1 else f"{name}{SEPARATOR}{folder}"


def _joined(node: _Node) -> str:
    return "+".join(v.folder for v in node.variants)


def _own(target: str, node: _Node, every: list[Variant]) -> bool:
    """Whether the variants of `node` set `target` (`sft.output_dir`) to a value no other variant sets, as an
    imported loop's `--output_dir out/lr_$lr` does: that folder is theirs alone, and stays as they name it."""
    values = {dict(s.partition("=")[::2] for s in v.sets).get(target) for v in node.variants}
    if len(values) != 1 or None in values:
        return False
    value = values.pop()
    return all(dict(s.partition("=")[::2] for s in v.sets).get(target) != value
               for v in every if v not in node.variants)


def _common(served: list[Variant]) -> list[tuple[str, str]]:
    """The settings every one of these variants has."""
    return [s for s in served[0].settings if all(s in v.settings for v in served[1:])]


def _placed(node: _Node, renamed: dict[str, str], every: list[Variant]) -> Stage:
    """The node's stage as the sweep runs it: its name, its references to the sweep's names, its own output_dir
    when it is one of several, its effective launch settings and its compare label."""
    stage = node.stage
    flags: dict[str, FlagValue] = {}
    for flag, value in stage.flags.items():
        items = [dataclasses.replace(i, stage=renamed[i.stage]) if isinstance(i, Ref) else i for i in items_of(value)]
        flags[flag] = items if isinstance(value, (list, tuple)) else items[0]  # type: ignore[assignment]
    split = node.name != stage.name
    if split and not node.as_written:  # what it writes, one folder deeper: no two variants write the same folder
        for flag in layout.CREATED_FOLDERS:
            if isinstance(flags.get(flag), (str, Path)) and not _own(f"{stage.name}.{flag}", node, every):
                flags[flag] = f"{str(flags[flag]).rstrip('/')}/{node.folder}"
        for flag in layout.CREATED_FILES:
            if isinstance(flags.get(flag), (str, Path)) and not _own(f"{stage.name}.{flag}", node, every):
                written = Path(str(flags[flag]))
                flags[flag] = str(written.parent / node.folder / written.name)
    group = stage.group
    if split and group is not None:
        common = _common(node.variants)
        label = named(common) if common else "+".join(v.name for v in node.variants)
        group = Group(group.name, f"{group.label}{SEPARATOR}{label}")
    serves = tuple(v.name for v in node.variants) if len(node.variants) < len(every) else ()
    return dataclasses.replace(stage, name=node.name, flags=flags, launch=node.recipe.launch_for(stage), group=group,
                               variants=serves)


def summary(recipe: Recipe, variants: Sequence[Variant]) -> list[str]:
    """The sweep in a few lines, for the plan: its variants, and the stages they share."""
    shared = [s.name for s in recipe.stages if not s.variants]
    shown = "; ".join(v.name for v in variants[:SHOWN])
    more = f"; and {len(variants) - SHOWN} more" if len(variants) > SHOWN else ""
    return [f"sweep: {len(variants)} variant{'s' if len(variants) != 1 else ''}: {shown}{more}",
            f"  shared by every variant: {', '.join(shared) or 'no stage'}"]
