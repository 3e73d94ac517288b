"""A loaded recipe described as plain data: its parameters (with defaults and values) and its stages. Secrets show
as `<redacted>`, as `render` shows them."""
from __future__ import annotations

import inspect
from typing import Any

from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import Stage
from swiftpipe.recipe.params import Parameter
from swiftpipe.recipe.secrets import REDACTED, is_secret, redact_env


def _consumes(stage: Stage) -> list[str]:
    return [f"--{flag} <- {ref.stage}.{ref.output}" for flag, ref in stage.refs()]


def _parameter(loaded: LoadedRecipe, p: Parameter) -> dict[str, Any]:
    secret = p.name in loaded.secret_params
    default = None if p.default is inspect.Parameter.empty else p.default
    # A secret parameter's default may be a token too (`hub_token: str = os.environ["HUB_TOKEN"]`).
    if (secret or is_secret(p.name)) and default not in (None, "") and not isinstance(default, bool):
        default = REDACTED
    return {"name": p.name, "type": p.type_name, "default": default,
            "choices": list(p.choices) if p.choices is not None else None,
            "value": REDACTED if secret else loaded.values[p.name]}


def as_dict(loaded: LoadedRecipe) -> dict[str, Any]:
    recipe = loaded.recipe
    return {
        "recipe": recipe.name,
        "path": loaded.path,
        "description": recipe.description,
        "parameters": [_parameter(loaded, p) for p in loaded.parameters],
        "stages": [
            {"name": s.name, "command": f"swift {s.command}", "flags": len(s.flags),
             "launch": dict(redact_env(recipe.launch_for(s).environment())), "consumes": _consumes(s)}
            for s in recipe.stages
        ],
    }
