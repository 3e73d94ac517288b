"""The one Jinja environment: strict, and every interpolated value passes a quoting filter.

Filters mark text as safe to place in a shell script: `q` quotes a value as one shell word (`qwords` each of
several), `comment` flattens it onto one comment line. `finalize` refuses anything else, so a template that
forgets to quote fails in the tests instead of rendering a broken or injectable command.
"""
from __future__ import annotations

import functools
import shlex
from collections.abc import Iterable
from pathlib import Path

import jinja2

# The templates are the repository's top-level `templates/`; `swiftpipe/templates` links to it in a checkout and
# is that folder itself inside the wheel (the build follows the link), so one path serves both.
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class ShellText(str):
    """Text that is already safe in a shell script: a quoted word, a comment, or generated shell code."""


def quote(value: object) -> ShellText:
    """One shell word; text swiftpipe generated itself (a ShellText) passes unchanged."""
    if isinstance(value, ShellText):
        return value
    return ShellText(shlex.quote(str(value)))


def quote_words(words: Iterable[object]) -> ShellText:
    """Several shell words, each quoted, separated by spaces."""
    return ShellText(" ".join(quote(word) for word in words))


def comment(value: object) -> ShellText:
    """A value on one comment line: no newline can end the comment early."""
    return ShellText(" ".join(str(value).split()))


def _finalize(value: object) -> object:
    if isinstance(value, ShellText):
        return value
    raise jinja2.TemplateError(f"unquoted value in a template: {value!r} (pipe it through q or comment)")


def templates_dir() -> Path:
    """`swiftpipe/templates`: the installed wheel's copy, or in a checkout the link to `templates/`."""
    return TEMPLATES


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no writable temp folder: compile every time, still correct
        return None


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
        # Compiling the templates costs more than rendering them; Jinja keeps compiled code in a per-user
        # temp folder, checked against each template's source, so an edited template is never stale.
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["q"] = quote
    env.filters["qwords"] = quote_words
    env.filters["comment"] = comment
    return env


def render_template(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)
