"""The CLI in-process: what users see, and the exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from shell_commands import parse

from swiftpipe.cli import main

MEDICAL = str(Path(__file__).resolve().parent.parent / "recipes" / "medical.py")


def _run(*args: str) -> CliRunner.invoke:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("command", [[], ["info"], ["render"], ["lint"], ["export-scripts"]])
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    result = _run(*command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.output


@pytest.mark.parametrize("width", [40, 80, 200])
def test_help_lists_every_command_with_its_own_short_help(width: int) -> None:
    """`swiftpipe --help` takes the list from a table, importing no command: it must read as click would write it
    from the commands themselves (a new command, or a changed first line of help, updates the table)."""
    ctx = click.Context(main, info_name="swiftpipe")
    listed, own = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
    main.format_commands(ctx, listed)
    click.Group.format_commands(main, ctx, own)  # imports every command
    assert listed.getvalue() == own.getvalue()
    assert "  render " in listed.getvalue() and " job " not in listed.getvalue()  # hidden stays hidden


def test_a_mistyped_command_is_still_suggested() -> None:
    result = _run("rnder", MEDICAL)
    assert result.exit_code == 2 and "No such command 'rnder'. Did you mean 'render'?" in result.output


def test_info_lists_parameters_and_stages() -> None:
    result = _run("info", MEDICAL, "-p", "sft=full")
    assert result.exit_code == 0
    for text in ("sft", "full | lora | lisa", "pretrain", "swift pt", "dpo", "infer"):
        assert text in result.output
    assert "merge " not in result.output.replace("merge_dpo", "")  # no LoRA SFT, no merge stage


def test_info_json_is_machine_readable() -> None:
    data = json.loads(_run("info", MEDICAL, "--json").output)
    assert [s["name"] for s in data["stages"]] == ["pretrain", "sft", "merge", "dpo", "merge_dpo", "compare_base",
                                                 "compare_pretrain", "compare_sft", "compare_dpo", "eval_base",
                                                 "eval_sft", "eval_dpo", "eval_cmb_base", "eval_cmb_sft",
                                                 "eval_cmb_dpo", "infer"]
    sft = next(p for p in data["parameters"] if p["name"] == "sft")
    assert sft == {"name": "sft", "type": "full | lora | lisa", "default": "lora", "choices": ["full", "lora", "lisa"],
                   "value": "lora"}
    assert data["stages"][1]["consumes"] == ["--model <- pretrain.last_checkpoint"]


def test_render_one_stage_for_a_major() -> None:
    result = _run("render", MEDICAL, "--stage", "sft", "--swift-version", "4", "-p", "sft=lisa")
    assert result.exit_code == 0
    env, argv = parse(result.output)
    assert env == [("CUDA_VISIBLE_DEVICES", "0,1")]
    assert argv[:6] == ["swift", "sft", "--model", "<pretrain.last_checkpoint>", "--tuner_type", "full"]
    assert "--lisa_activated_layers" in argv
    assert "# re-run: swiftpipe run" in result.output and "-p sft=lisa --stage sft" in result.output


def test_render_whole_chain_in_order() -> None:
    output = _run("render", MEDICAL, "--swift-version", "3").output
    subcommands = [line for line in output.splitlines() if line.startswith("swift ")]
    assert subcommands == ["swift pt \\", "swift sft \\", "swift export \\", "swift rlhf \\", "swift export \\",
                           *["swift infer \\"] * 4, *["swift eval \\"] * 6,  # compared, evaluated
                           "swift infer \\"]  # chat


def test_render_with_set() -> None:
    output = _run("render", MEDICAL, "--stage", "sft", "--set", "sft.learning_rate=2e-5",
                  "--set", "sft.max_length=2048").output
    _, argv = parse(output)
    assert argv[argv.index("--learning_rate") + 1] == "2e-5"
    assert argv[argv.index("--max_length") + 1] == "2048"
    assert "--set sft.learning_rate=2e-5 --set sft.max_length=2048" in output


@pytest.mark.parametrize("args,message", [
    (["render", MEDICAL, "--stage", "merge", "-p", "sft=full"],
     "--stage merge: no such stage in this chain (stages: pretrain, sft, dpo, merge_dpo, compare_base, "
     "compare_pretrain, compare_sft, compare_dpo, eval_base, eval_sft, eval_dpo, eval_cmb_base, eval_cmb_sft, "
     "eval_cmb_dpo, infer; compare is a group; eval is a group; eval_cmb is a group)"),
    (["render", MEDICAL, "-p", "sft=qlora"], "parameter sft: 'qlora' is not one of full, lora, lisa"),
    (["render", MEDICAL, "--swift-version", "2"], "ms-swift 2 is not supported"),
    (["render", MEDICAL, "--set", "sft.sft_type=lora"], "--sft_type does not exist in ms-swift"),
    (["info", "recipes/nope.py"], "recipes/nope.py: no such recipe file"),
])
def test_bad_input_is_one_red_line_exit_2_no_traceback(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert isinstance(result.exception, SystemExit)  # a handled error, not an escaped exception
    assert len([line for line in result.output.splitlines() if line.startswith("error:")]) == 1


def test_python_dash_m_works(repo: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "swiftpipe", "render", "recipes/medical.py", "--stage", "merge"],
                          cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0 and "swift export" in done.stdout


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("path", list(_commands(main)), ids=" ".join)
def test_every_subcommand_has_help_with_examples(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: main {' '.join(path)}")
    assert "Examples:" in result.output or "Example " in result.output
    assert f"swiftpipe {' '.join(path)}" in result.output  # an example of this very command
