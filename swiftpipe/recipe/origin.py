"""Where in a recipe file something was written, so that errors can name the file and line."""
from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)  # swiftpipe/, not swiftpipe/recipe/


@dataclass(frozen=True)
class Origin:
    """A file and line in it, shown as `file:line`."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def caller_origin() -> Origin | None:
    """The first frame outside swiftpipe: the recipe line that called a swiftpipe helper."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR):
            return Origin(_display_path(filename, os.getcwd()), frame.f_lineno)
        frame = frame.f_back
    return None


@functools.lru_cache(maxsize=64)  # a recipe calls a helper per stage and reference, all from one file and folder
def _display_path(filename: str, cwd: str) -> str:
    """Relative to the working directory `cwd` when below it, as users typed it."""
    try:
        return str(Path(filename).resolve().relative_to(Path(cwd).resolve()))
    except ValueError:
        return filename
