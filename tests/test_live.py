"""What `run` shows while a chain runs: a live view on a terminal, lines elsewhere, ms-swift's output with --verbose."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

from click.testing import CliRunner

from swiftpipe.cli import main

CHATTER = "x" * 100  # what the fake swift prints FAKE_SWIFT_CHATTER times before it starts


def _on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run argv with a 120x40 pseudo-terminal as stdin, stdout and stderr; its exit code and what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the process has ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=60)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_on_a_terminal_the_chain_shows_each_stage_and_the_running_steps(chain: Path, fake_swift: Path) -> None:
    env = {**os.environ, "FAKE_SWIFT_STEPS": "4", "FAKE_SWIFT_SLEEP_ON": "pt:1.2", "FAKE_SWIFT_CHATTER": "40",
           "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    code, drawn = _on_a_terminal([sys.executable, "-m", "swiftpipe", "run", str(chain)], env)
    assert code == 0, drawn
    assert re.search(r"pretrain\s+running\s+\S*\s*2/4\s+loss 1\b", drawn), drawn  # the bar, from logging.jsonl
    assert re.search(r"sft\s+pending", drawn)  # every stage, with its state
    assert drawn.count(CHATTER[:60]) < 10  # ms-swift's output went to the logs, 40 lines a stage, not the screen
    log = next(Path(".swiftpipe/runs").glob("*/pretrain.log")).read_text()
    assert log.count(CHATTER) == 40
    assert "run chain-" in drawn and "report: " in drawn  # then the summary, as everywhere


def test_elsewhere_a_line_per_stage_and_verbose_streams_ms_swift(chain: Path, fake_swift: Path,
                                                                monkeypatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_CHATTER", "3")
    plain = CliRunner().invoke(main, ["run", str(chain)])
    assert plain.exit_code == 0, plain.output
    assert CHATTER not in plain.output
    assert re.search(r"^\[swiftpipe\] pretrain: swift pt \(log: \S+pretrain\.log\)$", plain.output, re.M)
    verbose = CliRunner().invoke(main, ["run", str(chain), "--verbose"])
    assert verbose.exit_code == 0 and verbose.output.count(CHATTER) == 3 * 4  # every stage's, as printed
