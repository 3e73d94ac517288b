"""The one rich Console all human-facing output goes through (imported only by commands that draw)."""
from __future__ import annotations

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
