"""swiftpipe's exit codes, and the errors shown to the user as one line, never as a traceback."""
from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """How a swiftpipe command ends; the one place these numbers are chosen (the README lists them)."""

    DONE = 0  # every stage finished (or was reused, or skipped)
    FAILED = 1  # a stage failed; the run record says which and why
    BAD_INPUT = 2  # a recipe, a parameter, an option or a file is wrong: nothing was launched
    INFRASTRUCTURE = 3  # what swiftpipe relies on failed: Slurm, a hub, a run record that cannot be written
    INTERRUPTED = 130  # Ctrl-C, SIGTERM or a hang-up; `--resume` goes on


class UserError(Exception):
    """Bad input: a recipe, a parameter, a flag or an option. The CLI prints it in one line and exits 2."""

    exit_code = Exit.BAD_INPUT

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class RecipeError(UserError):
    """A recipe file that does not load or describes an impossible chain."""


class DialectError(UserError):
    """A flag the target ms-swift version does not have."""


class InfrastructureError(UserError):
    """Not the user's input: a Slurm command, a hub, a disk that failed. One line, and exit code 3."""

    exit_code = Exit.INFRASTRUCTURE


class LintError(UserError):
    """Rendered flags that the installed ms-swift rejects."""
