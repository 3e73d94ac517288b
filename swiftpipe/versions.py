"""What ran: installed versions, read from the packages' `.dist-info` folder names (the one way swiftpipe asks: no
import of swift or torch, nor of importlib.metadata, which alone costs a third of a `render`), and the git commit
of a recipe."""
from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

SWIFTPIPE_VERSION = "0.1.0"  # pyproject.toml's; swiftpipe.__version__
SWIFT_DISTRIBUTION = "ms-swift"
RECORDED = ("swiftpipe", SWIFT_DISTRIBUTION, "transformers", "torch")


def package_version(distribution: str) -> str | None:
    """The version of the first `<name>-<version>.dist-info` on sys.path whose name is `distribution`'s (compared
    as PEP 503 normalises names), as Python's import system finds the package; None where it is not installed."""
    wanted = _normalised(distribution)
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")  # a folder's names, no Path for each: `render` asks this every time
        except OSError:  # not a folder (a zip file), or gone
            continue
        for info in names:
            if info.endswith(".dist-info"):
                name, _, version = info[:-len(".dist-info")].partition("-")
                if _normalised(name) == wanted:
                    return version
    return None


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def swift_version() -> str | None:
    """The installed ms-swift's version, or None where it is not installed."""
    return package_version(SWIFT_DISTRIBUTION)


def recorded() -> dict[str, str | None]:
    """What a run record keeps of the environment it ran in."""
    import platform  # here: only a run asks

    return {"python": platform.python_version(), **{name: package_version(name) for name in RECORDED}}


def git_commit(path: Path) -> dict[str, Any] | None:
    """The commit of the repository holding `path`, and whether `path` differs from it (None outside git)."""
    import subprocess  # here: only a run asks, and `render` need not import it

    folder = path.resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", str(path.resolve())],
                               capture_output=True, text=True, timeout=5)
        return {"commit": commit.stdout.strip(), "recipe_modified": bool(dirty.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return None
