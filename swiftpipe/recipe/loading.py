"""Loading a recipe file by path: plain Python that defines `recipe`, a Recipe or a function returning one."""
from __future__ import annotations

import importlib.util
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from swiftpipe.recipe import checks as chain
from swiftpipe.recipe import overrides
from swiftpipe.errors import RecipeError, UserError
from swiftpipe.recipe.params import Parameter, bind, non_default, parameters_of
from swiftpipe.recipe.model import Recipe
from swiftpipe.render.commands import Source
from swiftpipe.recipe.scale import Scale
from swiftpipe.recipe.scale import apply as apply_scale
from swiftpipe.slurm.options import SlurmOptions, SlurmPlan
from swiftpipe.slurm.options import plan as slurm_plan


_loaded = itertools.count()  # a fresh module name per load: the same file may be loaded with other parameters


@dataclass(frozen=True)
class LoadedRecipe:
    path: str
    recipe: Recipe
    parameters: tuple[Parameter, ...]
    values: dict[str, Any]
    source: Source
    slurm: SlurmPlan | None = None  # set when the chain runs as Slurm jobs

    @property
    def key(self) -> str:
        """Identifies this recipe with these parameters: what --resume, status and resolve look up."""
        from swiftpipe.run import run_record as records

        return records.chain_key(self.path, records.jsonable(self.values))


def load(path: str | Path, *, params: Sequence[str] = (), sets: Sequence[str] = (),
         scale: Scale | None = None, slurm: SlurmOptions | None = None) -> LoadedRecipe:
    """Load, parameterise, override and check a recipe; every problem is a RecipeError naming file and line."""
    shown = str(path)
    module = _exec(Path(path), shown)
    if not hasattr(module, "recipe"):
        raise RecipeError("defines no `recipe` (a Recipe, or a function returning one)", where=shown)
    entry = module.recipe
    parameters: list[Parameter] = []
    values: dict[str, Any] = {}
    if callable(entry) and not isinstance(entry, Recipe):
        parameters = parameters_of(entry, where=shown)
        values = bind(parameters, params, where=shown)
        recipe = _call(entry, values, shown)
    else:
        if params:
            raise RecipeError("this recipe takes no parameters (its `recipe` is not a function)", where=shown)
        recipe = entry
    if not isinstance(recipe, Recipe):
        raise RecipeError(f"`recipe` must be a Recipe or return one, not {type(recipe).__name__}", where=shown)
    recipe = overrides.apply_sets(recipe, sets, where=shown)
    if scale is not None:
        recipe = apply_scale(recipe, scale)
    plan = None
    if slurm is not None:
        recipe, plan = slurm_plan(recipe, slurm)
    chain.check(recipe, file=shown)
    options = (scale.options() if scale else ()) + (slurm.options() if slurm else ())
    source = Source(shown, tuple(non_default(parameters, values)), tuple(sets), options)
    return LoadedRecipe(shown, recipe, tuple(parameters), values, source, plan)


def _exec(path: Path, shown: str) -> Any:
    if not path.is_file():
        raise RecipeError("no such recipe file", where=shown)
    name = f"swiftpipe_recipe_{next(_loaded)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RecipeError("cannot be loaded as Python", where=shown)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling in the recipe look their module up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise RecipeError(f"SyntaxError: {exc.msg}", where=f"{shown}:{exc.lineno}") from None
    except UserError:
        sys.modules.pop(name, None)
        raise
    except Exception as exc:  # the recipe's own bug: one line at the recipe's own line, no traceback
        sys.modules.pop(name, None)
        raise RecipeError(f"{type(exc).__name__}: {exc}", where=_line_in(exc, path, shown)) from None
    return module


def _call(entry: Any, values: dict[str, Any], shown: str) -> Any:
    try:
        return entry(**values)
    except UserError:
        raise
    except Exception as exc:  # the recipe's own bug, reported at its line
        raise RecipeError(f"{type(exc).__name__}: {exc}", where=_line_in(exc, Path(shown), shown)) from None


def _line_in(exc: BaseException, path: Path, shown: str) -> str:
    """`file:line` of the deepest traceback frame inside the recipe file."""
    import traceback  # only on the error path

    target = str(path.resolve())
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if str(Path(frame.filename).resolve()) == target:
            line = frame.lineno
    return f"{shown}:{line}" if line else shown
