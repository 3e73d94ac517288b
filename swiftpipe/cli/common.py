"""What every `swiftpipe` command shares: a UserError becomes red lines on stderr and its exit code."""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import click

from swiftpipe.errors import UserError


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            for line in str(exc).splitlines():
                click.secho(f"error: {line}", fg="red", err=True)
            sys.exit(exc.exit_code)

    return wrapper
