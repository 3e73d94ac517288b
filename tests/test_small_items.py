"""Small fixes of issue 20, each driven through the CLI: a record's answers without their question, paths of the
wrong kind, output folders below a file, a model that is nowhere, the README's commands, the exported scripts'
re-render line, and a stage the recipe no longer has."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from swiftpipe.cli import main


def _record_path() -> Path:
    return sorted(Path(".swiftpipe").glob("runs/*/record.json"))[-1]


def _drop_questions(stage: str) -> None:
    """What the record writer leaves of an answer whose question ms-swift did not log: no "question" key."""
    path = _record_path()
    data = json.loads(path.read_text())
    for answer in data["stages"][stage]["answers"]:
        answer.pop("question")
    path.write_text(json.dumps(data))


# 1. answers without their question


def test_report_draws_answers_recorded_without_their_question(chain: Path) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet"]).exit_code == 0
    _drop_questions("infer")
    result = CliRunner().invoke(main, ["report", str(chain)])
    assert result.exit_code == 0, result.output
    page = Path(result.output.splitlines()[-1].removeprefix("report: "))
    assert "<td></td><td>answer to what?</td>" in page.read_text()


def test_resume_of_a_finished_chain_with_such_answers_ends_0_with_its_page(chain: Path) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet"]).exit_code == 0
    _drop_questions("infer")
    result = CliRunner().invoke(main, ["run", str(chain), "--resume", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "infer Q: \n      A: answer to what?" in result.output and "None" not in result.output
    assert result.output.splitlines()[-1].startswith("report: ")


def test_a_page_that_cannot_be_drawn_is_one_warning_and_the_run_keeps_its_exit_code(chain: Path,
                                                                                     monkeypatch) -> None:
    from swiftpipe.report import page

    def broken(record, target):
        raise ValueError("a page the report code cannot draw\nsecond line")

    monkeypatch.setattr(page, "write", broken)
    result = CliRunner().invoke(main, ["run", str(chain), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "warning: no report page: ValueError: a page the report code cannot draw"
    assert "Traceback" not in result.stderr + result.stdout
