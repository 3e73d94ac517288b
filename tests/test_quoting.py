"""Any value survives render -> shell unchanged: spaces, quotes, $(), ;, newlines stay one argument."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from shell_commands import parse

from swiftpipe import Launch, make_recipe, sft
from swiftpipe.msswift import dialects as dialect
from swiftpipe.render.commands import Source, render_recipe

# Shell words cannot hold NUL; everything else is fair game, including the characters bash treats specially.
values = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=0,
                 max_size=40)
nasty = st.sampled_from(["a b", "it's", '"q"', "$(touch pwned)", "`id`", "x; rm -rf /", "line\nbreak", "\\", "$HOME",
                         "*", "~", "-", "--flag", "{a,b}", "!!", "#hash", "\t", "é 医学"])


def _script(value: str, env_value: str) -> tuple[str, list[str]]:
    recipe = make_recipe("q", [sft("s", {"model": value, "dataset": value, "val_dataset": ["x", "y z"]},
                                   launch=Launch(env={"SOME_VAR": env_value}))])
    [rendered] = render_recipe(recipe, Source(f"recipes/{value}.py", (f"p={value}",)), dialect=dialect.target("3"))
    return rendered.script, rendered.command.argv


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(values, nasty), env_value=st.one_of(values, nasty))
def test_render_then_shell_split_gives_back_every_value(value: str, env_value: str) -> None:
    script, argv = _script(value, env_value)
    env, words = parse(script)
    optionlike = value.startswith("-") and not re.match(r"^-\d+$|^-\d*\.\d+$", value)
    flag = (lambda name: [f"--{name}={value}"]) if optionlike \
        else (lambda name: [f"--{name}", value])  # a value argparse would read as an option is joined to its flag
    assert words == argv == ["swift", "sft", *flag("model"), *flag("dataset"), "--val_dataset", "x", "y z"]
    assert env == [("SOME_VAR", env_value)]


@settings(max_examples=40, deadline=None)
@given(value=st.one_of(values, nasty))
def test_bash_runs_the_script_with_the_same_argv(tmp_path_factory, value: str) -> None:
    """Not only shlex: real bash executes the rendered text, and the fake swift sees the exact values."""
    folder = tmp_path_factory.mktemp("q")
    script, argv = _script(value, value)
    fake = Path(__file__).parent / "fake_swift"
    log = folder / "calls.jsonl"
    done = subprocess.run(["bash", "-c", script], cwd=folder, capture_output=True, text=True,
                          env={"PATH": f"{fake}:/usr/bin:/bin", "FAKE_SWIFT_LOG": str(log), "FAKE_SWIFT_STEPS": "1"})
    assert done.returncode == 0, done.stderr
    call = json.loads(log.read_text().splitlines()[0])
    assert call["argv"] == argv
    assert call["env"]["SOME_VAR"] == value
    assert not (folder / "pwned").exists()


def test_header_comments_cannot_be_broken_out_of() -> None:
    script, _ = _script("m", "e")
    script2, _ = _script("x\ntouch pwned", "e")
    for text in (script, script2):
        comment_lines = [line for line in text.splitlines() if line.startswith("#")]
        assert len(comment_lines) == 2
    assert shlex.split(script2, comments=True)[0] == "SOME_VAR=e"


@settings(max_examples=2000)
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_floats_render_as_the_same_number(value: float) -> None:
    from swiftpipe.render.commands import format_float

    text = format_float(value)
    assert float(text) == value and " " not in text


def test_a_value_that_starts_with_a_dash_reaches_ms_swift_as_one_value() -> None:
    from click.testing import CliRunner

    from swiftpipe.cli import main

    result = CliRunner().invoke(main, ["render", "recipes/medical.py", "--stage", "sft", "--set", "sft.system=--x",
                                       "--set", "sft.learning_rate=-1e-5"])
    assert result.exit_code == 0, result.output
    _, argv = parse(result.output)
    assert "--system=--x" in argv and "--learning_rate=-1e-5" in argv
    refused = CliRunner().invoke(main, ["render", "recipes/medical.py", "--stage", "sft",
                                        "--set", 'sft.dataset=["a.jsonl", "--b"]'])
    assert refused.exit_code == 2
    assert "--dataset: '--b' starts with '-', so ms-swift would read it as an option" in refused.output
