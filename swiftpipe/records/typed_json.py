"""JSON read back into dataclasses with every field's type checked against its annotation.

A record is a file people can edit, and a disk or a kill can damage it: a field of the wrong type (`"outputs": []`,
`"created": 5`) must be one error naming the field where the record is read, not an AttributeError in whatever
command touches it later. The annotations are the schema, so a new field is checked without a line here.
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class FieldError(ValueError):
    """A value that does not fit its field: `field` names it as a dotted path (stages.sft.outputs)."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def decode(cls: type[T], data: Any, *, where: str = "", given: Mapping[str, Any] | None = None) -> T:
    """`data` (parsed JSON) as a `cls`: nested dataclasses, enums, lists and dicts (keys and values) built and
    checked. Fields in `given` are not read from `data` (they are not in the JSON); a missing field without a
    default, an unknown key or a value of the wrong type is a FieldError."""
    if not isinstance(data, dict):
        raise FieldError(where or "(record)", f"{_shown(data)}, not an object")
    hints = _hints(cls)
    values: dict[str, Any] = dict(given or {})
    known = set()
    for f in dataclasses.fields(cls):
        if not f.init or f.name in values:
            continue
        known.add(f.name)
        path = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            values[f.name] = _value(hints[f.name], data[f.name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise FieldError(path, "missing")
    unknown = sorted(set(data) - known)
    if unknown:
        raise FieldError(f"{where}.{unknown[0]}" if where else unknown[0],
                         "not a field this swiftpipe knows (written by a newer one?)")
    return cls(**values)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _value(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _value(option, value, path)
            except FieldError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else FieldError(path, f"{_shown(value)}, not {_named(hint)}")
    if origin is list:
        if not isinstance(value, list):
            raise FieldError(path, f"{_shown(value)}, not a list")
        (item,) = typing.get_args(hint)
        return [_value(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise FieldError(path, f"{_shown(value)}, not an object")
        key, item = typing.get_args(hint)
        return {_value(key, k, f"{path}.{k}"): _value(item, v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return decode(hint, value, where=path)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            choices = ", ".join(repr(m.value) for m in hint)
            raise FieldError(path, f"{_shown(value)}, not one of {choices}") from None
    if _fits(hint, value):
        return value
    raise FieldError(path, f"{_shown(value)}, not {_named(hint)}")


def _fits(hint: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, (int, float))
    return isinstance(hint, type) and isinstance(value, hint)


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _named(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_named(o) if o is not type(None) else "null" for o in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return "a list"
    if typing.get_origin(hint) is dict or dataclasses.is_dataclass(hint):
        return "an object"
    return _NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _shown(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: f"{value}".lower(), int: "a number",
             float: "a number", type(None): "null"}
    text = repr(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{names.get(type(value), type(value).__name__)}{f' ({text})' if text else ''}"
