"""A loaded recipe described as plain data: its parameters (with defaults and values) and its stages."""
from __future__ import annotations

import inspect
from typing import Any

from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import Stage


def _consumes(stage: Stage) -> list[str]:
    return [f"--{flag} <- {ref.stage}.{ref.kind}" for flag, ref in stage.refs()]


def _default(value: Any) -> Any:
    return None if value is inspect.Parameter.empty else value


def as_dict(loaded: LoadedRecipe) -> dict[str, Any]:
    recipe = loaded.recipe
    return {
        "recipe": recipe.name,
        "path": loaded.path,
        "description": recipe.description,
        "parameters": [
            {"name": p.name, "type": p.type_name, "default": _default(p.default),
             "choices": list(p.choices) if p.choices is not None else None, "value": loaded.values[p.name]}
            for p in loaded.parameters
        ],
        "stages": [
            {"name": s.name, "command": f"swift {s.command}", "flags": len(s.flags),
             "launch": dict(recipe.launch_for(s).environment()), "consumes": _consumes(s)}
            for s in recipe.stages
        ],
    }
