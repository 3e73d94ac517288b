"""Errors shown to the user as one line, never as a traceback."""
from __future__ import annotations


class UserError(Exception):
    """Bad input: a recipe, a parameter, a flag or an option. The CLI prints it in one line and exits 2."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class RecipeError(UserError):
    """A recipe file that does not load or describes an impossible chain."""


class DialectError(UserError):
    """A flag the target ms-swift version does not have."""


class LintError(UserError):
    """Rendered flags that the installed ms-swift rejects."""
