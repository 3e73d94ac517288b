"""Checks that a recipe describes a chain that can run: names, flag values, and references between stages."""
from __future__ import annotations

import re
from pathlib import Path

from swiftpipe.errors import RecipeError
from swiftpipe.recipe.model import PRODUCED_BY, SEPARATOR, PerProcess, Recipe, Ref, Stage, items_of

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*@[A-Za-z0-9_.+-]+$")  # a stage a sweep runs per variant
_FLAG = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_SCALARS = (str, int, float, bool, Path)


def check(recipe: Recipe, *, file: str) -> None:
    """Raise a RecipeError listing every problem found, each as `file:line: stage 'x': ...`."""
    check_shape(recipe, file=file)
    problems: list[str] = []
    seen: set[str] = set()
    for stage in recipe.stages:
        where = _where(stage, file)
        if not isinstance(stage.name, str) or not isinstance(stage.command, str):
            problems.append(f"{where}: a stage's name and command are text, not {type(stage.name).__name__} and "
                            f"{type(stage.command).__name__}")
            continue
        if not (_VARIANT_NAME if stage.variants and SEPARATOR in stage.name else _NAME).match(stage.name):
            problems.append(f"{where}: stage name {stage.name!r} must be letters, digits, '_', '.' or '-'")
        if stage.name in seen:
            problems.append(f"{where}: stage {stage.name!r} appears twice; stage names must be unique")
        seen.add(stage.name)
        if not _NAME.match(stage.command):
            problems.append(f"{where}: stage {stage.name!r}: {stage.command!r} is not a swift subcommand")
        problems.extend(_flag_problems(stage, where))
    problems.extend(_reference_problems(recipe, file))
    if problems:
        raise RecipeError("\n".join(problems))


def check_shape(recipe: Recipe, *, file: str) -> None:
    """A RecipeError unless the chain is a non-empty sequence of stages (what everything else relies on)."""
    where = str(recipe.origin) if recipe.origin else file
    strangers = [f"{where}: item {i} of the chain is {type(s).__name__} {s!r:.60}, not a stage (use pretrain(), "
                 "sft(), dpo(), merge(), infer() or stage())" for i, s in enumerate(recipe.stages, 1)
                 if not isinstance(s, Stage)]
    if strangers:
        raise RecipeError("\n".join(strangers))
    if not recipe.stages:
        raise RecipeError(f"{where}: recipe {recipe.name!r} has no stages")


def _where(stage: Stage, file: str) -> str:
    return str(stage.origin) if stage.origin else file


def _flag_problems(stage: Stage, where: str) -> list[str]:
    problems = []
    for flag, value in stage.flags.items():
        if not _FLAG.match(flag):
            problems.append(f"{where}: stage {stage.name!r}: {flag!r} is not a flag name")
            continue
        for item in items_of(value):
            if item is None and isinstance(value, (list, tuple)):
                problems.append(f"{where}: stage {stage.name!r}, --{flag}: a list value cannot hold None")
            elif item is not None and not isinstance(item, (*_SCALARS, Ref, PerProcess)):
                problems.append(f"{where}: stage {stage.name!r}, --{flag}: {type(item).__name__} is not a flag "
                                "value (use str, int, float, bool, a path, a list, or a reference)")
    return problems


def _reference_problems(recipe: Recipe, file: str) -> list[str]:
    position = {s.name: i for i, s in enumerate(recipe.stages)}
    problems = []
    cycles = _cycles(recipe)
    for cycle in cycles:
        first = recipe.stage(cycle[0])
        problems.append(f"{_where(first, file)}: stage {first.name!r}: references form a cycle: "
                        + " -> ".join(cycle))
    cyclic = {name for cycle in cycles for name in cycle}
    for stage in recipe.stages:
        for flag, ref in stage.refs():
            where = str(ref.origin) if ref.origin else _where(stage, file)
            at = f"{where}: stage {stage.name!r}, --{flag}"
            if ref.stage not in position:
                problems.append(f"{at}: refers to stage {ref.stage!r}, which is not in the chain "
                                f"(stages: {', '.join(position)})")
                continue
            producer = recipe.stage(ref.stage)
            if ref.output not in PRODUCED_BY:
                problems.append(f"{at}: '{ref.output}' is no output a stage can refer to ({', '.join(PRODUCED_BY)})")
            elif producer.command not in PRODUCED_BY[ref.output]:
                problems.append(f"{at}: stage {producer.name!r} (swift {producer.command}) produces no "
                                f"{ref.output.in_words}")
            if position[ref.stage] >= position[stage.name] and stage.name not in cyclic:
                problems.append(f"{at}: refers to stage {ref.stage!r}, which runs after it; "
                                "a stage can only use what an earlier stage produced")
            if flag in FULL_MODEL_FLAGS and producer.trains and _tuner(producer) != "full":
                problems.append(f"{at}: takes a full model, and stage {producer.name!r} saves adapters "
                                f"(--train_type {_tuner(producer)}): merge them first, merge('merge_{producer.name}', "
                                f"{{'ckpt_dir': checkpoint('{producer.name}')}}), and give "
                                f"merged('merge_{producer.name}')")
    return problems


# The flags of `swift rlhf` that load a whole model by itself: a LoRA checkpoint has no config of its own there.
FULL_MODEL_FLAGS = ("reward_model", "teacher_model")


def _tuner(stage: Stage) -> str:
    """A training stage's train_type (tuner_type in ms-swift 4); ms-swift's default is lora."""
    return str(stage.flags.get("train_type", stage.flags.get("tuner_type", "lora"))).lower()


def _cycles(recipe: Recipe) -> list[list[str]]:
    """Each cycle in the reference graph once, as the names along it ending where it started."""
    edges = {s.name: [ref.stage for _, ref in s.refs()] for s in recipe.stages}
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = path[path.index(name):] + [name]
            if not any(set(cycle) == set(c) for c in found):
                found.append(cycle)
            return
        if name in done or name not in edges:
            return
        for target in edges[name]:
            visit(target, path + [name])
        done.add(name)

    for name in edges:
        visit(name, [])
    return found
