"""`swiftpipe info`: a recipe's parameters and stages, as a table or as JSON."""
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


def print_info(loaded: LoadedRecipe) -> None:
    from rich.table import Table

    from swiftpipe.console import console

    data = as_dict(loaded)
    console.print(f"[bold]{data['recipe']}[/bold]  {data['path']}")
    if data["description"]:
        console.print(data["description"])
    params = Table(title="parameters (-p NAME=VALUE)", title_justify="left")
    for column in ("name", "type", "default", "value"):
        params.add_column(column)
    for p in data["parameters"]:
        params.add_row(p["name"], p["type"], str(p["default"]), str(p["value"]))
    console.print(params if data["parameters"] else "no parameters")
    stages = Table(title="stages", title_justify="left")
    for column in ("#", "stage", "command", "launch", "consumes"):
        stages.add_column(column)
    for i, s in enumerate(data["stages"], 1):
        launch = " ".join(f"{k}={v}" for k, v in s["launch"].items())
        stages.add_row(str(i), s["name"], s["command"], launch, "\n".join(s["consumes"]))
    console.print(stages)
