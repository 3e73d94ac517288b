"""Named moments of a command, where the tests stop swiftpipe (tests/test_nothing_lost.py): run with
SWIFTPIPE_PAUSE_AT=<moment> and SWIFTPIPE_PAUSED=<file>, swiftpipe writes <file> when it reaches <moment> and waits
there for a signal, which then finds it exactly at that line. Otherwise reached() compares two strings."""
from __future__ import annotations

import os
import signal
import threading

MOMENTS = (
    "started",  # the command's first line, its signal handlers in place
    "checked",  # a run's pre-flight passed; no record yet
    "recorded",  # its record made and saved; no stage launched
    "launched",  # a stage's processes started, their group recorded
    "between",  # a stage's outcome recorded, the next step not begun
    "summarised",  # every step carried out, the summary printed; the report page not written
)
_PAUSE_AT = os.environ.get("SWIFTPIPE_PAUSE_AT")


def reached(moment: str) -> None:
    """Mark `moment`; under a test that pauses there, wait for its signal (whose handler then runs here)."""
    if moment != _PAUSE_AT or threading.current_thread() is not threading.main_thread():
        return
    with open(os.environ["SWIFTPIPE_PAUSED"], "w", encoding="utf-8") as paused:
        paused.write(moment)
    signal.pause()
