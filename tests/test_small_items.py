"""Small fixes of issue 20, each driven through the CLI: a record's answers without their question, paths of the
wrong kind, output folders below a file, a model that is nowhere, the README's commands, the exported scripts'
re-render line, and a stage the recipe no longer has."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
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


# 2. RECIPE and --work-dir of the wrong kind


def _commands_taking(param: str) -> list[tuple[str, ...]]:
    """Every command (as its words) that has the parameter `param`, found by walking the CLI."""
    import click

    found = []

    def walk(group: click.Group, words: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, (*words, name))
            elif any(p.name == param for p in command.params):
                found.append((*words, name))

    walk(main, ())
    return found


def _argv(words: tuple[str, ...], recipe: str, *more: str) -> list[str]:
    """The command with its required arguments: RECIPE first, then whatever else it needs."""
    extra = {"resolve": ["sft"], "export-scripts": ["scripts"]}.get(words[-1], [])
    if words == ("data", "validate"):
        return [*words, "data.jsonl", *more]
    if words == ("runs",):
        return [*words, *more]
    return [*words, recipe, *extra, *more]


def test_every_command_refuses_a_folder_as_recipe_in_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("recipes").mkdir()
    commands = _commands_taking("recipe_path")
    assert {"run", "status", "render", "report", "cancel"} <= {c[-1] for c in commands}
    for words in commands:
        result = CliRunner().invoke(main, _argv(words, "recipes/"))
        assert result.exit_code == 2, (words, result.output)
        assert result.output == "error: RECIPE: recipes/ is a directory, not a recipe file\n", words
        missing = CliRunner().invoke(main, _argv(words, "nope.py"))
        assert (missing.exit_code, missing.output) == (2, "error: nope.py: no such recipe file\n"), words


def test_every_command_refuses_a_file_as_work_dir_in_one_line(tmp_path: Path, write_recipe, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = write_recipe('recipe = make_recipe("r", [sft("sft", {"model": "m", "output_dir": "o"})])\n').name
    Path("data.jsonl").write_text('{"query": "q", "response": "r"}\n')
    Path("notes.txt").write_text("")
    commands = _commands_taking("work_dir")
    assert {"run", "status", "runs", "report", "validate"} <= {c[-1] for c in commands}
    for words in commands:
        result = CliRunner().invoke(main, _argv(words, recipe, "--work-dir", "notes.txt"))
        assert (result.exit_code, result.output) == (2, "error: --work-dir: notes.txt is a file, not a folder\n"), \
            words
        below = CliRunner().invoke(main, _argv(words, recipe, "--work-dir", "notes.txt/w"))
        assert below.output == "error: --work-dir: notes.txt/w: notes.txt is a file, not a folder\n", words
    from_env = CliRunner().invoke(main, ["runs"], env={"SWIFTPIPE_WORK_DIR": "notes.txt"})
    assert (from_env.exit_code, from_env.output) == (2, "error: SWIFTPIPE_WORK_DIR: notes.txt is a file, not a folder\n")


# 3. a folder to create below a file


BLOCKED = '''
recipe = make_recipe("blocked", [
    sft("sft", {"model": "base", "dataset": "data/sft.jsonl", "output_dir": "out/x/sft", "logging_dir": "out/x/logs"}),
    merge("merge", {"ckpt_dir": checkpoint("sft"), "output_dir": "out/x"}),
    infer("infer", {"model": merged("merge"), "val_dataset": "data/q.jsonl", "result_path": "out/x/r/answers.jsonl"}),
    infer("ask", {"model": "base", "val_dataset": "data/q.jsonl", "result_path": "out"}),
])
'''


def test_folders_to_create_below_a_file_fail_preflight_one_line_each(chain: Path, write_recipe,
                                                                     fake_swift: Path) -> None:
    Path("out").mkdir()
    Path("out/x").write_text("not a folder")
    recipe = write_recipe(BLOCKED, name="blocked.py").name
    result = CliRunner().invoke(main, ["run", recipe, "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        "error: blocked.py: stage 'sft', --output_dir: out/x/sft: out/x is a file, not a folder",
        "error: blocked.py: stage 'sft', --logging_dir: out/x/logs: out/x is a file, not a folder",
        "error: blocked.py: stage 'merge', --output_dir: out/x is a file, not a folder",
        "error: blocked.py: stage 'infer', --result_path: out/x/r/answers.jsonl: out/x is a file, not a folder",
        "error: blocked.py: stage 'ask', --result_path: out is a folder, not a file"]
    assert not fake_swift.exists()  # nothing launched


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder, as ms-swift would")
def test_an_output_dir_in_a_read_only_folder_fails_preflight(chain: Path, write_recipe, fake_swift: Path) -> None:
    Path("ro").mkdir()
    os.chmod("ro", 0o555)
    recipe = write_recipe(BLOCKED.replace("out/x/sft", "ro/sft"), name="blocked.py").name
    result = CliRunner().invoke(main, ["run", recipe, "--stage", "sft", "--quiet"])
    assert (result.exit_code, result.output) == (2, "error: blocked.py: stage 'sft', --output_dir: ro/sft: ro is not "
                                                    "writable\n")
