"""Scaling from the command line (--gpus, --nodes, --node-rank, --master-addr) and the launch pre-flight."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from shell_commands import flag_pairs, parse

from swiftpipe import Launch, make_recipe, sft
from swiftpipe.cli import main
from swiftpipe.run import preflight

MEDICAL = str(Path(__file__).resolve().parent.parent / "recipes" / "medical.py")


def _render(stage: str, *args: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(environment, flags) of one stage's rendered command."""
    result = CliRunner().invoke(main, ["render", MEDICAL, "--stage", stage, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    env, argv = parse(result.output)
    return dict(env), dict(flag_pairs(argv))


def test_gpus_set_one_process_per_gpu_and_keep_the_global_batch() -> None:
    env, flags = _render("pretrain")
    assert env["NPROC_PER_NODE"] == "1" and flags["--gradient_accumulation_steps"] == ("8",)
    env, flags = _render("pretrain", "--gpus", "0,1,2,3")
    assert env["NPROC_PER_NODE"] == "4" and env["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"
    assert flags["--gradient_accumulation_steps"] == ("2",)  # 8 sequences a step, as on one GPU


def test_non_training_stages_get_the_devices_but_no_launcher() -> None:
    assert _render("merge", "--gpus", "2,3")[0] == {"CUDA_VISIBLE_DEVICES": "2,3"}
    assert "NPROC_PER_NODE" not in _render("infer", "--gpus", "2,3")[0]


def test_the_command_for_one_node_of_two() -> None:
    env, _ = _render("sft", "--nodes", "2", "--master-addr", "10.0.0.5", "--node-rank", "1", "--gpus", "0,1,2,3",
                     "--master-port", "29600")
    assert env == {"NPROC_PER_NODE": "4", "NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "10.0.0.5",
                           "MASTER_PORT": "29600", "CUDA_VISIBLE_DEVICES": "0,1,2,3"}


def test_a_global_batch_that_cannot_be_kept_is_an_error() -> None:
    result = CliRunner().invoke(main, ["render", MEDICAL, "--stage", "pretrain", "--nodes", "2", "--master-addr",
                                       "10.0.0.5", "--gpus", "0,1,2,3,4,5,6,7"])
    assert result.exit_code == 2
    assert "--gradient_accumulation_steps: 8 does not divide evenly across 16 processes" in result.output


@pytest.mark.parametrize("args, message", [
    (["--gpus", "0,0"], "--gpus 0,0: expected distinct GPU indices such as 0,1,2,3"),
    (["--node-rank", "1"], "--node-rank and --master-addr describe a multi-node run: give --nodes too"),
    (["--nodes", "2", "--node-rank", "2"], "--node-rank 2: must be below --nodes 2"),
])
def test_bad_scale_options_are_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["render", MEDICAL, *args])
    assert result.exit_code == 2 and result.output.strip() == f"error: {message}"


def _check(launch: Launch, flags: dict | None = None, gpus: int = 4) -> list[str]:
    recipe = make_recipe("r", [sft("sft", {"model": "m", **(flags or {})}, launch=launch)])
    return preflight.check(recipe, ["sft"], where="r.py", gpus=gpus)


def test_preflight_warns_about_silent_model_parallelism() -> None:
    [warning] = _check(Launch(cuda_visible_devices="0,1"))
    assert warning.startswith("r.py: stage 'sft': 2 GPUs visible but NPROC_PER_NODE is not set")
    assert _check(Launch(nproc_per_node=2, cuda_visible_devices="0,1")) == []


def test_preflight_on_multi_node_settings() -> None:
    with pytest.raises(preflight.PreflightError, match="NNODES=2 needs MASTER_ADDR"):
        _check(Launch(nproc_per_node=1, nnodes=2, node_rank=0))
    [warning] = _check(Launch(nproc_per_node=1, nnodes=2, node_rank=0, master_addr="127.0.0.1"))
    assert "MASTER_ADDR=127.0.0.1: other machines cannot reach a loopback address" in warning
    with pytest.raises(preflight.PreflightError, match="NPROC_PER_NODE=8 but only 4 GPU"):
        _check(Launch(nproc_per_node=8))


def test_preflight_warns_that_deepspeed_model_only_checkpoints_cannot_resume() -> None:
    [warning] = _check(Launch(nproc_per_node=2), {"deepspeed": "zero3", "save_only_model": True})
    assert "DeepSpeed with --save_only_model true" in warning


def test_deepspeed_is_a_pass_through_flag() -> None:
    env, flags = _render("sft", "--set", "sft.deepspeed=zero3", "--gpus", "0,1,2,3")
    assert flags["--deepspeed"] == ("zero3",) and env["NPROC_PER_NODE"] == "4"
