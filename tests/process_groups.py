"""What the tests of stopped runs ask of a process group."""
from __future__ import annotations

import os


def group_gone(pgid: int) -> bool:
    """Whether no process of group `pgid` is left (zombies included: this asks the kernel, not /proc)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False
