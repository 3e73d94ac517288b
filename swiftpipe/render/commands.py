"""Rendering: a recipe's stages as ms-swift commands. Pure: no files read, no processes started.

A stage renders to a `Command` (environment and argv, what `run` executes) and to its script text (what
`render` prints and `run` saves beside the log); both come from the same values, so they cannot drift.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from swiftpipe.errors import UserError
from swiftpipe.msswift import dialects
from swiftpipe.msswift.layout import Output
from swiftpipe.recipe import secrets
from swiftpipe.recipe.loading import Source
from swiftpipe.recipe.model import FlagValue, PerProcess, Recipe, Ref, Stage, items_of
from swiftpipe.recipe.secrets import REDACTED, is_secret, redact_env
from swiftpipe.render.templating import ShellText, render_template

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")  # argparse's own test

Resolver = Callable[[Ref], "str | ShellText"]


def placeholder(ref: Ref) -> str:
    """The default resolver: a readable placeholder naming the stage and what it produced."""
    return ref.placeholder()


@dataclass(frozen=True)
class Flag:
    """One flag of a command: its name (no dashes) and its words, each one argv item."""

    name: str
    words: tuple[str, ...]

    @property
    def tokens(self) -> tuple[str, ...]:
        """The flag in argv: `--name value ...`, or `--name=value` for one value that starts with '-' (and is not a
        number), which ms-swift's argparse would otherwise read as an option of its own."""
        if len(self.words) == 1 and _dashed(self.words[0]):
            return (f"--{self.name}={self.words[0]}",)
        return (f"--{self.name}", *self.words)


@dataclass(frozen=True)
class Command:
    """One stage's invocation: `env` assignments in front of `swift <subcommand>` and its flags. `program`: the
    ms-swift executable, `swift` on PATH unless the stage names another environment's."""

    stage: str
    subcommand: str
    env: tuple[tuple[str, str], ...]
    flags: tuple[Flag, ...]
    program: str = "swift"

    @property
    def argv(self) -> list[str]:
        words = [self.program, self.subcommand]
        for flag in self.flags:
            words += flag.tokens
        return words

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.env)

    def redacted(self) -> Command:
        """The command as swiftpipe shows and saves it: secret flag values and variables replaced (recipe/secrets)."""
        flags = tuple(Flag(f.name, tuple(REDACTED for _ in f.words)) if is_secret(f.name) else f for f in self.flags)
        return Command(self.stage, self.subcommand, tuple(redact_env(self.env)), flags, self.program)

    def secrets_from_environment(self) -> Command:
        """The command as a script for someone to run writes it: every secret is read from the environment when
        the script runs (`--hub_token "$HUB_TOKEN"`), so no file holds it."""
        def read(name: str) -> ShellText:
            var = secrets.variable(name)
            return ShellText(f'"${{{var}:?set {var}: swiftpipe writes no secrets into scripts}}"')

        flags = tuple(Flag(f.name, tuple(read(f.name) for _ in f.words)) if is_secret(f.name) else f
                      for f in self.flags)
        env = tuple((name, read(name) if is_secret(name) else value) for name, value in self.env)
        return Command(self.stage, self.subcommand, env, flags, self.program)

    @property
    def secrets(self) -> dict[str, str]:
        """The secret values in this command, by the variable `secrets_from_environment` reads each from."""
        found = {secrets.variable(f.name): f.words[0] for f in self.flags if is_secret(f.name) and f.words}
        found.update((secrets.variable(name), value) for name, value in self.env if is_secret(name))
        return {var: value for var, value in found.items() if value != REDACTED}


@dataclass(frozen=True)
class RenderedStage:
    """A stage rendered: the command `run` executes and the script text `render` prints."""

    command: Command
    script: str


def render_recipe(recipe: Recipe, source: Source, *, dialect: dialects.Dialect,
                  stages: Sequence[str] | None = None, resolve: Resolver = placeholder) -> list[RenderedStage]:
    """Every stage (or those named in `stages`, in chain order) rendered for `dialect`."""
    chosen = [s for s in recipe.stages if stages is None or s.name in stages]
    return [render_stage(recipe, s, source, dialect=dialect, resolve=resolve) for s in chosen]


def render_stage(recipe: Recipe, stage: Stage, source: Source, *, dialect: dialects.Dialect,
                 resolve: Resolver = placeholder, rerun: str | None = None) -> RenderedStage:
    """The stage's command and script; the script's re-run comment is `rerun`, by default `swiftpipe run --stage`.
    The script shows secrets as `<redacted>`; the command keeps them, for the process alone."""
    command = build_command(recipe, stage, dialect=dialect, resolve=resolve)
    script = render_template("stage.sh.j2", recipe=recipe.name, stage=stage.name, dialect=str(dialect),
                             rerun=rerun or source.rerun(stage.name), command=command.redacted())
    return RenderedStage(command, script)


def build_command(recipe: Recipe, stage: Stage, *, dialect: dialects.Dialect,
                  resolve: Resolver = placeholder) -> Command:
    where = f"{stage.origin or source_file(recipe)}: stage {stage.name!r}"
    launch = recipe.launch_for(stage)
    env = tuple(launch.environment())
    for name, _ in env:
        if not _ENV_NAME.match(name):
            raise UserError(f"{where}: {name!r} is not an environment variable name")
    merging = stage.merges
    flags = []
    for name, value in stage.flags.items():
        if value is None or value == [] or value == ():
            continue
        flag_where = f"{where}, --{name}"
        ref = _first_ref(value)
        tuner = _tuner_behind(recipe, ref) if ref else None
        name, value = dialects.translate(name, value, command=stage.command, dialect=dialect, where=where,
                                         tuner_of_reference=tuner, merging=merging)
        words = tuple(_words(value, resolve=resolve, processes=launch.processes, where=flag_where))
        dashed = [w for w in words if _dashed(w)]
        if dashed and len(words) > 1:
            raise UserError(f"{flag_where}: {dashed[0]!r} starts with '-', so ms-swift would read it as an option; "
                            "give such a value on its own")
        flags.append(Flag(name, words))
    return Command(stage.name, stage.command, env, tuple(flags), stage.program)


def _dashed(word: str) -> bool:
    """A value argparse would take for an option: it starts with '-' and is not what argparse calls a negative
    number (`-3`, `-0.5`; not `-1e-5`)."""
    return word.startswith("-") and not _NEGATIVE_NUMBER.match(word)


def source_file(recipe: Recipe) -> str:
    return recipe.origin.file if recipe.origin else recipe.name


def _first_ref(value: FlagValue) -> Ref | None:
    for item in items_of(value):
        if isinstance(item, Ref):
            return item
    return None


def _tuner_behind(recipe: Recipe, ref: Ref) -> str:
    """What a reference points at: a merged model is a full model; a checkpoint is its stage's tuner. (The
    recipe's checks have made sure the stage exists.)"""
    return "full" if ref.output is Output.MERGED else recipe.stage(ref.stage).tuner()


def _words(value: FlagValue, *, resolve: Resolver, processes: int, where: str) -> list[str]:
    return [_word(item, resolve=resolve, processes=processes, where=where) for item in items_of(value)]


def _word(value: object, *, resolve: Resolver, processes: int, where: str) -> str:
    if isinstance(value, Ref):
        return resolve(value)
    if isinstance(value, PerProcess):
        try:
            return str(value.over(processes))
        except ValueError as exc:
            raise UserError(f"{where}: {exc}") from None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value, where=where)
    if isinstance(value, (str, int, Path)):
        return str(value)
    raise UserError(f"{where}: {type(value).__name__} is not a flag value")


def format_float(value: float, *, where: str = "") -> str:
    """The shortest spelling that reads back as the same float, as people write them: 1e-5, 1e-4, 0.03, 0.5."""
    if not math.isfinite(value):
        raise UserError(f"{where}: {value} is not a usable number")
    positional = repr(value)
    if value == 0:
        return positional
    if "e" in positional:
        return _scientific(value)
    scientific = _scientific(value)
    return scientific if len(scientific) < len(positional) else positional


def _scientific(value: float) -> str:
    """`value` as <digits>e<exponent>, with the digits of its shortest round-trip repr."""
    text = repr(abs(value))
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    leading_zeros = len(whole + fraction) - len(digits)
    power = len(whole) + int(exponent or 0) - leading_zeros - 1
    digits = digits.rstrip("0") or "0"
    body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if value < 0 else ''}{body}e{power}"
