"""Loading a recipe file by path: plain Python that defines `recipe`, a Recipe or a function returning one."""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import itertools
import json
import os
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftpipe.errors import RecipeError, UserError
from swiftpipe.recipe import checks, overrides, sweep, variants
from swiftpipe.recipe.model import Recipe, items_of
from swiftpipe.recipe.params import Parameter, bind, non_default, parameters_of
from swiftpipe.recipe.scale import Scale
from swiftpipe.recipe.scale import apply as apply_scale
from swiftpipe.recipe.secrets import REDACTED, is_secret, param_from_environment, set_from_environment, variable

_loaded = itertools.count()  # a fresh module name per load: the same file may be loaded with other parameters


@dataclass(frozen=True)
class Source:
    """How the user named the recipe, so that a script's header can say how to re-run it."""

    path: str
    params: tuple[str, ...] = ()  # "NAME=VALUE", as given to -p
    sets: tuple[str, ...] = ()  # "STAGE.FLAG=VALUE", as given to --set
    options: tuple[str, ...] = ()  # launch options as given: "--gpus", "0,1", ...
    secret_params: frozenset[str] = frozenset()  # the parameters that hold a secret (LoadedRecipe.secret_params)
    varies: tuple[str, ...] = ()  # "SETTING=V1,V2", as given to --vary: a sweep of the chain's variants

    @property
    def sweeps(self) -> bool:
        """Whether the chain is a sweep of variants (`--vary none` is the chain alone)."""
        return any(v != variants.NONE for v in self.varies)

    def rerun(self, stage: str) -> str:
        return self.command("run", "--stage", stage)

    def command(self, subcommand: str, *extra: str) -> str:
        """`swiftpipe <subcommand>` on this recipe with the same parameters, overrides and launch options."""
        words = [_shell_word(w) for w in ["swiftpipe", subcommand, self.path]]
        for p in self.params:
            name = p.partition("=")[0]
            words += ["-p", param_from_environment(name) if name in self.secret_params else _shell_word(p)]
        for s in self.sets:
            word, secret = set_from_environment(s)
            words += ["--set", word if secret else _shell_word(s)]
        for v in self.varies:
            words += ["--vary", _shell_word(v)]
        return " ".join([*words, *(_shell_word(w) for w in [*self.options, *extra])])

    def continues(self) -> str:
        """What to say after an interrupt: the command that resumes the chain, and the secrets it reads."""
        said = f"`{self.command('run', '--resume')}` continues the chain"
        if self.secret_variables:
            said += f" (with {', '.join(self.secret_variables)} set: swiftpipe keeps no secrets)"
        return said

    @property
    def secret_variables(self) -> list[str]:
        """The environment variables that `command` reads secrets from (`-p hub_token=...`,
        `--set STAGE.hub_token=...`)."""
        found = [variable(name) for name in self._param_names if name in self.secret_params]
        found += [v for v in (set_from_environment(s)[1] for s in self.sets) if v]
        return list(dict.fromkeys(found))

    @property
    def shown_params(self) -> tuple[str, ...]:
        """`params` as swiftpipe records or prints them: a secret one as `NAME=<redacted>`."""
        return tuple(f"{name}={REDACTED}" if name in self.secret_params else p
                     for p, name in zip(self.params, self._param_names))

    @property
    def _param_names(self) -> list[str]:
        return [p.partition("=")[0] for p in self.params]


def _shell_word(word: str) -> str:
    """One shell word that stays on one line: bash's $'...' quoting where the word holds a newline or a tab, so a
    re-run line in a comment can be copied back whole."""
    if not any(c in word for c in "\n\r\t"):
        return shlex.quote(word)
    escaped = word.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return "$'" + escaped.replace("\t", "\\t") + "'"


@dataclass(frozen=True)
class LoadedRecipe:
    """A recipe file loaded: its chain with the parameters bound and --set applied, and how it was named."""

    path: str
    recipe: Recipe
    parameters: tuple[Parameter, ...]
    values: dict[str, Any]
    source: Source
    variant_keys: tuple[str, ...] = ()  # in a sweep, each variant's own key: the chain alone with its settings

    @property
    def key(self) -> str:
        """Identifies this recipe with these parameters: what --resume, status and resolve look up. A secret
        parameter counts as `<redacted>`, as the record keeps it: a run is found again with the token rotated. A
        sweep is known by what it varies, not by the values: given more values, it continues the same sweep."""
        varied = sorted(d.target for group in variants.parse(self.source.varies) for d in group)
        return chain_key(self.path, {**self.recorded_params(), **({"--vary": varied} if varied else {})})

    @property
    def reuse_keys(self) -> list[str]:
        """The chains whose finished stages this one may reuse, where unchanged: its own runs; a sweep's, the runs of
        the chain alone with each variant's settings too (its shared stages are the chain's: `make demo`'s
        pretraining serves a sweep of SFTs)."""
        return list(dict.fromkeys([self.key, *self.variant_keys]))

    @property
    def secret_params(self) -> frozenset[str]:
        """The parameters that hold a secret: by name, as flags are (`hub_token`), or because a stage's secret flag
        or variable takes the value (`{"hub_token": key}`)."""
        return self.source.secret_params

    def recorded_params(self) -> dict[str, Any]:
        """The parameter values as run records keep them (JSON values; a secret one `<redacted>`), from which
        `key` is computed."""
        return {name: REDACTED if name in self.secret_params else value
                for name, value in jsonable(self.values).items()}

    def adapted(self, recipe: Recipe, *options: str) -> LoadedRecipe:
        """The same recipe changed for where it runs (a launcher's plan), with the options that asked for it."""
        checks.check(recipe, file=self.path)
        source = dataclasses.replace(self.source, options=self.source.options + options)
        return dataclasses.replace(self, recipe=recipe, source=source)


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as they read back from JSON (paths and enums as text)."""
    return json.loads(json.dumps(values, default=str))


def chain_key(recipe_path: str, params: dict[str, Any], *, project: str | Path | None = None) -> str:
    """Identifies "this recipe with these parameters": what --resume continues. The recipe is named by its path
    from the project (the folder swiftpipe runs in, where the work dir is), so moving the project keeps its
    history. `--set` overrides are left out on purpose: they change a stage's command, so resume re-runs that
    stage (and what follows it) and reuses the ones before it. `params` are as the record keeps them
    (LoadedRecipe.recorded_params): a secret one is `<redacted>`, so no record holds even a hash of it."""
    where = os.path.relpath(Path(recipe_path).resolve(), Path(project or Path.cwd()).resolve())
    text = json.dumps([where, params], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load(path: str | Path, *, params: Sequence[str] = (), sets: Sequence[str] = (), varies: Sequence[str] = (),
         scale: Scale | None = None, snapshot: Path | None = None, in_sweep: bool = False) -> LoadedRecipe:
    """Load, parameterise, override and check a recipe; every problem is a RecipeError naming file and line.
    With `varies` (--vary), or the `variants` the recipe declares, the sweep of its variants as one chain
    (recipe/sweep.py); `--vary none` loads the chain alone. `in_sweep`: loaded as one variant of a sweep, whose
    stages share the GPUs (scale.apply). With `snapshot`, that copy of the file is what runs (a Slurm job runs the
    recipe as it was submitted), still known by `path`."""
    alone = in_sweep or list(varies) == [variants.NONE]
    if varies and not alone:
        return _sweep(path, params, sets, varies, scale, snapshot)
    shown = str(path)
    module = _exec(snapshot or Path(path), shown)
    if hasattr(module, "variants") and not alone:
        where = _line_of(snapshot or Path(path), "variants", shown)
        declared = variants.declared(module.variants, where=where)
        try:
            return _sweep(path, params, sets, declared, scale, snapshot) if declared else \
                load(path, params=params, sets=sets, varies=[variants.NONE], scale=scale, snapshot=snapshot)
        except UserError as error:
            if error.where == "--vary":  # the recipe's own, not the command line's
                raise RecipeError(error.message.replace("--vary ", "variants: ", 1), where=where) from None
            raise
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
    checks.check_shape(recipe, file=shown)
    secret = _secret_parameters(values, recipe)
    recipe = overrides.apply_sets(recipe, sets, where=shown)
    if scale is not None:
        recipe = apply_scale(recipe, scale, pooled=in_sweep)
    checks.check(recipe, file=shown)
    source = Source(shown, tuple(non_default(parameters, values)), tuple(sets), scale.options() if scale else (),
                    secret, (variants.NONE,) if hasattr(module, "variants") and not in_sweep else ())
    return LoadedRecipe(shown, recipe, tuple(parameters), values, source)


def _sweep(path: str | Path, params: Sequence[str], sets: Sequence[str], varies: Sequence[str], scale: Scale | None,
           snapshot: Path | None) -> LoadedRecipe:
    """Each variant loaded as its own chain (the -p and --set given, then its own), made one chain."""
    dimensions = [d for group in variants.parse(varies) for d in group]
    _check_varied(dimensions, params, sets)
    chains = [(variant, load(path, params=[*params, *variant.params], sets=[*sets, *variant.sets], scale=scale,
                             snapshot=snapshot, in_sweep=True)) for variant in variants.expand(varies)]
    first = chains[0][1]
    recipe = sweep.flatten([(variant, loaded.recipe) for variant, loaded in chains],
                           written=_alone(path, params, sets, scale, snapshot))
    checks.check(recipe, file=str(path))
    varied = {d.name for d in dimensions if d.stage is None}
    values = {name: value for name, value in first.values.items() if name not in varied}
    given = tuple(p for p in first.source.params if p.partition("=")[0] not in varied)
    secret = next((d.target for d in dimensions
                   if is_secret(d.name) or (d.stage is None and d.name in first.secret_params)), None)
    if secret is not None:
        raise UserError(f"--vary {secret}: a secret is not varied (its values would name folders and stages); give "
                        "it with -p or --set", where="--vary")
    source = dataclasses.replace(first.source, params=given, sets=tuple(sets), varies=tuple(varies))
    return LoadedRecipe(first.path, recipe, first.parameters, values, source,
                        tuple(loaded.key for _, loaded in chains))


def _alone(path: str | Path, params: Sequence[str], sets: Sequence[str], scale: Scale | None,
           snapshot: Path | None) -> Recipe | None:
    """The chain without the variants' settings, as `swiftpipe run` without --vary runs it; None when it needs a
    value only the variants give (a parameter with no default)."""
    try:
        return load(path, params=params, sets=sets, scale=scale, snapshot=snapshot, in_sweep=True).recipe
    except UserError:
        return None


def _check_varied(dimensions: Sequence[variants.Dimension], params: Sequence[str], sets: Sequence[str]) -> None:
    """A setting given by -p or --set and by --vary is refused: which one holds would be a guess."""
    given = {p.partition("=")[0].strip() for p in params} | {s.partition("=")[0].strip() for s in sets}
    twice = next((d.target for d in dimensions if d.target in given), None)
    if twice is not None:
        option = "-p" if "." not in twice else "--set"
        raise UserError(f"--vary {twice}: also given with {option}; give its values in --vary alone", where="--vary")


def _secret_parameters(values: dict[str, Any], recipe: Recipe) -> frozenset[str]:
    """The parameters with a value to hide: named like a secret flag, or whose value a stage's secret flag or
    launch variable takes, whatever the parameter is called. An empty or unset one hides nothing."""
    taken: set[str] = set()
    for stage in recipe.stages:
        for flag, value in stage.flags.items():
            if is_secret(flag):
                taken.update(str(item) for item in items_of(value) if isinstance(item, (str, Path)))
        taken.update(value for name, value in recipe.launch_for(stage).environment() if is_secret(name))
    return frozenset(name for name, value in values.items()
                     if value not in (None, "") and not isinstance(value, bool)
                     and (is_secret(name) or (isinstance(value, (str, Path)) and str(value) in taken)))


def _line_of(path: Path, name: str, shown: str) -> str:
    """`file:line` where the recipe assigns `name` at the top level (for an error about its value)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return shown
    line = next((i for i, text in enumerate(lines, 1) if re.match(rf"{name}\s*[:=]", text)), None)
    return f"{shown}:{line}" if line else shown


def _exec(path: Path, shown: str) -> Any:
    if not path.is_file():
        raise RecipeError("no such recipe file", where=shown)
    name = f"swiftpipe_recipe_{next(_loaded)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RecipeError("cannot be loaded as Python", where=shown)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling in the recipe look their module up here
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the user's recipes/ or a run
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise RecipeError(f"SyntaxError: {exc.msg}", where=f"{shown}:{exc.lineno}") from None
    except UserError:
        sys.modules.pop(name, None)
        raise
    except SystemExit as exc:  # a recipe is a module to load, not a program to run
        sys.modules.pop(name, None)
        raise RecipeError(f"calls sys.exit({exc.code!r}) while loading; a recipe defines `recipe` and returns",
                          where=_line_in(exc, path, shown)) from None
    except Exception as exc:  # the recipe's own bug: one line at the recipe's own line, no traceback
        sys.modules.pop(name, None)
        raise RecipeError(f"{type(exc).__name__}: {exc}", where=_line_in(exc, path, shown)) from None
    finally:
        sys.dont_write_bytecode = writes
    return module


def _call(entry: Any, values: dict[str, Any], shown: str) -> Any:
    try:
        return entry(**values)
    except UserError:
        raise
    except SystemExit as exc:
        raise RecipeError(f"calls sys.exit({exc.code!r}); a recipe function returns a Recipe",
                          where=_line_in(exc, Path(shown), shown)) from None
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
