"""What `run` shows while a chain runs: a live view on a terminal, lines elsewhere, ms-swift's output with --verbose."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from click.testing import CliRunner
from terminal import on_a_terminal

from swiftpipe.cli import main

CHATTER = "x" * 100  # what the fake swift prints FAKE_SWIFT_CHATTER times before it starts


def test_on_a_terminal_the_chain_shows_each_stage_and_the_running_steps(chain: Path, fake_swift: Path) -> None:
    env = {**os.environ, "FAKE_SWIFT_STEPS": "4", "FAKE_SWIFT_SLEEP_ON": "pt:1.2", "FAKE_SWIFT_CHATTER": "40",
           "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    code, drawn = on_a_terminal([sys.executable, "-m", "swiftpipe", "run", str(chain)], env)
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
