"""Recipe parameters: the keyword parameters of a recipe function, set with `-p NAME=VALUE`."""
from __future__ import annotations

import enum
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftpipe.errors import RecipeError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Parameter:
    """One keyword parameter of a recipe function: its name, type annotation and default."""

    name: str
    annotation: Any
    default: Any  # inspect.Parameter.empty when required

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    @property
    def choices(self) -> tuple[Any, ...] | None:
        hint = _unwrap_optional(self.annotation)
        if typing.get_origin(hint) is typing.Literal:
            return typing.get_args(hint)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return tuple(m.value for m in hint)
        return None

    @property
    def type_name(self) -> str:
        if self.choices is not None:
            return " | ".join(str(c) for c in self.choices)
        hint = _unwrap_optional(self.annotation)
        return getattr(hint, "__name__", "str") if hint is not inspect.Parameter.empty else "str"

    def convert(self, text: str, *, where: str) -> Any:
        """`text` as this parameter's type, or a RecipeError naming the parameter and the valid values."""
        hint = _unwrap_optional(self.annotation)
        choices = self.choices
        if choices is not None:
            for choice in choices:
                if str(choice) == text:
                    return hint(choice) if isinstance(hint, type) and issubclass(hint, enum.Enum) else choice
            raise RecipeError(f"parameter {self.name}: {text!r} is not one of {', '.join(map(str, choices))}",
                              where=where)
        if hint is bool:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise RecipeError(f"parameter {self.name}: {text!r} is not true or false", where=where)
        if hint in (int, float):
            try:
                return hint(text)
            except ValueError:
                raise RecipeError(f"parameter {self.name}: {text!r} is not {'an int' if hint is int else 'a number'}",
                                  where=where) from None
        if hint is Path:
            return Path(text)
        return text


def require_text(given: str, option: str, *, where: str) -> None:
    """A command-line value must be UTF-8 text: bytes that are not reach Python as lone surrogates, which no record,
    script or log could be written with."""
    try:
        given.encode("utf-8")
    except UnicodeEncodeError:
        shown = given.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise RecipeError(f"{option} {shown!r}: not UTF-8 text", where=where) from None


def parameters_of(fn: Callable[..., Any], *, where: str) -> list[Parameter]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:  # an annotation that does not evaluate is the recipe's bug: report it, briefly
        raise RecipeError(f"recipe parameters: annotations do not evaluate: {exc}", where=where) from None
    result = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        result.append(Parameter(p.name, hints.get(p.name, inspect.Parameter.empty), p.default))
    return result


def bind(parameters: Sequence[Parameter], assignments: Sequence[str], *, where: str) -> dict[str, Any]:
    """Parameter values from `NAME=VALUE` texts, defaults for the rest."""
    by_name = {p.name: p for p in parameters}
    valid = ", ".join(by_name) or "none"
    values: dict[str, Any] = {}
    for text in assignments:
        require_text(text, "-p", where=where)
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep:
            raise RecipeError(f"-p {text!r}: expected NAME=VALUE (parameters: {valid})", where=where)
        if name not in by_name:
            raise RecipeError(f"unknown parameter {name!r} (parameters: {valid})", where=where)
        values[name] = by_name[name].convert(value, where=where)
    for p in parameters:
        if p.name not in values:
            if p.required:
                raise RecipeError(f"parameter {p.name} has no default: give -p {p.name}=VALUE", where=where)
            values[p.name] = p.default
    return values


def non_default(parameters: Sequence[Parameter], values: Mapping[str, Any]) -> list[str]:
    """`NAME=VALUE` for each parameter whose value differs from its default, in declaration order."""
    out = []
    for p in parameters:
        value = values[p.name]
        if p.required or value != p.default:
            out.append(f"{p.name}={value.value if isinstance(value, enum.Enum) else value}")
    return out


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation
