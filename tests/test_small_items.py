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
    assert (from_env.exit_code, from_env.output) == (2,
                                                     "error: SWIFTPIPE_WORK_DIR: notes.txt is a file, not a folder\n")


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


# 4. a model that is neither a folder nor in a hub cache, with the hub unreachable

ASK = '''
def recipe(model: str = "Qwen/Tiny"):
    return make_recipe("ask", [infer("ask", {"model": model, "val_dataset": "q.jsonl"})])
'''


def test_a_missing_model_written_as_a_folder_is_a_missing_folder_and_no_hub_is_asked(
        tmp_path: Path, write_recipe, monkeypatch, stand_in_hub) -> None:
    monkeypatch.chdir(tmp_path)
    asked_before = len(stand_in_hub.requests)  # the hub serves the whole session
    Path("q.jsonl").write_text('{"query": "q"}\n')
    Path("work").mkdir()
    recipe = write_recipe(ASK).name
    for model in ("work/tiny-qwen2", "./tiny", "models/qwen/tiny", "~/nowhere-swiftpipe"):
        result = CliRunner().invoke(main, ["run", recipe, "-p", f"model={model}", "--dry-run"])
        shown = str(Path(model).expanduser())
        assert (result.exit_code, result.output) == (2, f"error: {recipe}: stage 'ask', --model: {shown}: no such "
                                                        "folder\n"), model
    assert stand_in_hub.requests[asked_before:] == []


@pytest.fixture
def offline_run(tmp_path: Path, write_recipe):
    """`swiftpipe run ask.py ...` in its own process (the hubs' libraries read their settings at import), with
    its own caches and the hubs at `hub.url`; returns (exit code, stderr)."""
    import subprocess
    import sys

    from fake_hub import FakeHub

    hub = FakeHub().start()
    hub.add("model", "Qwen/Tiny", {"config.json": b"{}"})
    (tmp_path / "q.jsonl").write_text('{"query": "q"}\n')
    write_recipe(ASK, name="ask.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "MODELSCOPE_", "USE_HF"))}
    env.update(HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"), MODELSCOPE_CACHE=str(tmp_path / "ms"),
               HF_ENDPOINT=hub.url, MODELSCOPE_ENDPOINT=hub.url, HF_HUB_DISABLE_TELEMETRY="1",
               MODELSCOPE_API_MAX_RETRIES="1", MODELSCOPE_DOWNLOAD_MAX_RETRIES="1",
               PATH=f"{Path(__file__).parent / 'fake_swift'}{os.pathsep}{env['PATH']}",
               FAKE_SWIFT_LOG=str(tmp_path / "swift-calls.jsonl"))

    def run(*args: str, **extra: str) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-m", "swiftpipe", *args], env={**env, **extra}, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stderr

    run.hub = hub
    yield run
    hub.stop()


@pytest.mark.parametrize("use_hf", ["0", "1"], ids=["modelscope", "hf"])
def test_a_model_id_in_no_cache_with_the_hub_unreachable_is_one_line(offline_run, use_hf: str,
                                                                     tmp_path: Path) -> None:
    hub, cache = ("the Hugging Face Hub", "Hugging Face") if use_hf == "1" else ("ModelScope", "ModelScope")
    which = "hf" if use_hf == "1" else "modelscope"
    offline_run.hub.stop()  # connection refused from now on
    code, stderr = offline_run("run", "ask.py", "--quiet", USE_HF=use_hf)
    assert code == 2
    [line] = stderr.splitlines()
    assert line.startswith(f"error: ask.py: stage 'ask', --model: Qwen/Tiny: no such folder, and not a model id in "
                           f"the {cache} cache; {hub} cannot be reached (no answer from {offline_run.hub.url}: ")
    assert line.endswith(f"): give a model folder, or run `swiftpipe download model Qwen/Tiny --hub {which}` where "
                         "there is network")
    assert not (tmp_path / "swift-calls.jsonl").exists()  # nothing launched


def test_an_offline_switch_is_taken_at_its_word_and_no_hub_is_asked(offline_run) -> None:
    code, stderr = offline_run("run", "ask.py", "--quiet", USE_HF="1", HF_HUB_OFFLINE="1")
    assert (code, stderr) == (2, "error: ask.py: stage 'ask', --model: Qwen/Tiny: no such folder, and not a model id "
                                 "in the Hugging Face cache; the Hugging Face Hub cannot be reached (offline: "
                                 "HF_HUB_OFFLINE=1): give a model folder, or run `swiftpipe download model Qwen/Tiny "
                                 "--hub hf` where there is network\n")
    assert offline_run.hub.requests == []


def test_a_cached_model_id_with_the_hub_unreachable(offline_run) -> None:
    """The Hugging Face Hub's library reads its cache when the hub is unreachable, so ms-swift gets the model;
    ModelScope's asks the hub even for a cached model, so pre-flight names the cached folder to give instead."""
    for which in ("hf", "modelscope"):
        assert offline_run("download", "model", "Qwen/Tiny", "--hub", which)[0] == 0
    assert offline_run("run", "ask.py", "--dry-run")[0] == 0  # the hub answers: nothing to say
    offline_run.hub.stop()
    assert offline_run("run", "ask.py", "--dry-run", USE_HF="1") == (0, "")
    code, stderr = offline_run("run", "ask.py", "--dry-run")
    assert code == 2
    folder = stderr.rstrip("\n").rsplit("--model ", 1)[1]
    assert stderr.startswith("error: ask.py: stage 'ask', --model: Qwen/Tiny: ModelScope cannot be reached (no "
                             f"answer from {offline_run.hub.url}: ")
    assert "), and ms-swift asks it even for a model in its cache: give the cached folder, --model " in stderr
    assert (Path(folder) / "config.json").is_file()
    assert offline_run("run", "ask.py", "--dry-run", "-p", f"model={folder}")[0] == 0


# 5. the README's commands after `make demo`


def _make_demo_command(repo: Path) -> list[str]:
    """The `swiftpipe run` that `make demo` runs (for ms-swift 3, the default), from the Makefile itself."""
    import re
    import shlex

    makefile = (repo / "Makefile").read_text()
    tiny = re.search(r"^TINY_MODEL := (\S+)$", makefile, re.M).group(1)
    [line] = [line for line in makefile.splitlines() if "/bin/swiftpipe run recipes/demo.py" in line]
    return [w.replace("$(TINY_MODEL)", tiny).replace("$(SWIFT)", "3") for w in shlex.split(line)[1:]]


def _readme_demo_commands(repo: Path) -> list[list[str]]:
    """Every `swiftpipe ...` line of the README's code blocks about recipes/demo.py (and `runs`), each optional
    `[...]` part left out and put in."""
    import re
    import shlex

    readme = (repo / "README.md").read_text()
    commands = []
    for block in re.findall(r"```\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()  # the comment
            ours = "recipes/demo.py" in line or line.startswith("swiftpipe runs")
            if not line.startswith("swiftpipe ") or not ours:
                continue
            commands.append(shlex.split(re.sub(r"\[[^]]*\]", "", line))[1:])
            if "[" in line:
                commands.append(shlex.split(re.sub(r"\[([^]]*)\]", r"\1", line))[1:])
    return commands


def test_every_demo_command_of_the_readme_works_after_make_demo(repo: Path, tmp_path: Path, fake_swift: Path,
                                                                monkeypatch) -> None:
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(repo / "recipes", "recipes")
    shutil.copytree(repo / "datasets", "datasets")
    made = _make_demo_command(repo)
    model = Path(made[made.index("-p") + 1].removeprefix("model="))
    model.mkdir(parents=True)  # what the Makefile's tiny_model step builds
    (model / "config.json").write_text("{}")
    assert CliRunner().invoke(main, [*made, "--quiet"]).exit_code == 0
    commands = _readme_demo_commands(repo)
    assert ["run", "recipes/demo.py"] in commands and ["compare", "recipes/demo.py"] in commands
    for command in commands:
        run_id = sorted(p.name for p in Path(".swiftpipe/runs").iterdir())[-1]
        command = [{"ID": run_id, "FILE": "page.html"}.get(word, word) for word in command]
        result = CliRunner().invoke(main, [*command, *(["--quiet"] if command[0] == "run" else [])])
        assert result.exit_code == 0, (command, result.output)


# 6. the re-render line of exported scripts


def test_exported_scripts_re_render_with_their_parameters_and_overrides(chain: Path, monkeypatch) -> None:
    args = ["-p", "out=elsewhere", "--set", "sft.learning_rate=2e-5", "--set", "sft.hub_token=hf_secret123",
            "--gpus", "0"]
    first = CliRunner().invoke(main, ["export-scripts", str(chain), "my scripts", *args])
    assert first.exit_code == 0, first.output
    expected = (f"# re-render: swiftpipe export-scripts {chain} -p out=elsewhere --set sft.learning_rate=2e-5 --set "
                "sft.hub_token=\"$HUB_TOKEN\" --gpus 0 'my scripts' --force\n")
    scripts = {p.name: p.read_text() for p in Path("my scripts").glob("*.sh")}
    assert set(scripts) == {"pretrain.sh", "sft.sh", "merge.sh", "infer.sh", "run_all.sh"}
    for name, text in scripts.items():
        assert expected in text, name
        assert "hf_secret123" not in text
    # the line, run as printed (with the secret in its variable), writes the same scripts again
    import shlex

    line = expected.removeprefix("# re-render: swiftpipe ").rstrip("\n")
    again = CliRunner().invoke(main, [w.replace("$HUB_TOKEN", "hf_secret123") for w in shlex.split(line)])
    assert again.exit_code == 0, again.output
    assert {p.name: p.read_text() for p in Path("my scripts").glob("*.sh")} == scripts


# 7. a stage the recipe no longer has


def test_status_marks_a_stage_no_longer_in_the_recipe(chain: Path, monkeypatch) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet"]).exit_code == 0
    text = chain.read_text()
    chain.write_text(text.replace('        infer("infer", {"model": merged("merge"), '
                                  '"val_dataset": "data/q.jsonl"}),\n', ""))
    assert chain.read_text() != text
    monkeypatch.setenv("COLUMNS", "200")
    table = CliRunner().invoke(main, ["status", str(chain)])
    assert table.exit_code == 0, table.output
    [row] = [line for line in table.output.splitlines() if "infer" in line]
    assert "infer (no longer in the recipe)" in row and "done" in row
    assert not any("no longer" in line for line in table.output.splitlines() if "infer" not in line)
    as_json = json.loads(CliRunner().invoke(main, ["status", str(chain), "--json"]).output)
    assert as_json["stages_not_in_recipe"] == ["infer"] and as_json["stages"]["infer"]["state"] == "done"
