"""ms-swift 3 and 4 spellings: one recipe, rendered for either major."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from shell_commands import flag_pairs

from swiftpipe import Launch, checkpoint, infer, make_recipe, merge, merged, sft
from swiftpipe.errors import DialectError
from swiftpipe.msswift import dialects as dialect
from swiftpipe.render.commands import Source, build_command

SOURCE = Source("scenario.py")


def _argv(stage_flags: dict, major: str, command=sft, extra=()) -> list[str]:
    recipe = make_recipe("t", [*extra, command("s", stage_flags)])
    return build_command(recipe, recipe.stage("s"), dialect=dialect.target(major)).argv


@pytest.mark.parametrize("written", ["train_type", "tuner_type"])
def test_tuner_flag_is_spelled_for_the_target_major(written: str) -> None:
    assert _argv({written: "lora"}, "3")[2:4] == ["--train_type", "lora"]
    assert _argv({written: "lora"}, "4")[2:4] == ["--tuner_type", "lora"]


def test_infer_backend_value_follows_the_major() -> None:
    assert _argv({"infer_backend": "pt"}, "4", command=infer)[2:] == ["--infer_backend", "transformers"]
    assert _argv({"infer_backend": "transformers"}, "3", command=infer)[2:] == ["--infer_backend", "pt"]
    assert _argv({"infer_backend": "vllm"}, "4", command=infer)[2:] == ["--infer_backend", "vllm"]


def test_ckpt_dir_becomes_adapters_or_model_in_4() -> None:
    train = sft("lora_sft", {"train_type": "lora", "output_dir": "o"})
    full = sft("full_sft", {"train_type": "full", "output_dir": "o"})
    assert _argv({"ckpt_dir": checkpoint("lora_sft")}, "4", command=merge, extra=[train])[2] == "--adapters"
    assert _argv({"ckpt_dir": checkpoint("lora_sft")}, "3", command=merge, extra=[train])[2] == "--ckpt_dir"
    assert _argv({"ckpt_dir": checkpoint("full_sft")}, "4", command=infer, extra=[full])[2] == "--model"
    assert _argv({"ckpt_dir": checkpoint("lora_sft")}, "4", command=infer, extra=[train])[2] == "--adapters"
    merger = merge("m", {"ckpt_dir": checkpoint("lora_sft")})
    assert _argv({"ckpt_dir": merged("m")}, "4", command=infer, extra=[train, merger])[2] == "--model"


def test_ckpt_dir_with_a_literal_path_in_4_is_an_error_naming_the_choice() -> None:
    with pytest.raises(DialectError, match=r"stage 's'.*--ckpt_dir does not exist in ms-swift 4.*--adapters.*--model"):
        _argv({"ckpt_dir": "some/checkpoint-10"}, "4", command=infer)


@pytest.mark.parametrize("flag,replacement", [
    ("sft_type", "--train_type"), ("model_id_or_path", "--model"), ("lora_target_modules", "--target_modules"),
    ("batch_size", "--per_device_train_batch_size"), ("dtype", "--torch_dtype"),
    ("custom_train_dataset_path", "--dataset"),
])
@pytest.mark.parametrize("major", ["3", "4"])
def test_a_flag_the_major_lacks_is_an_error_with_stage_version_and_replacement(flag: str, replacement: str,
                                                                               major: str) -> None:
    with pytest.raises(DialectError) as info:
        _argv({flag: "x"}, major)
    message = str(info.value)
    assert "stage 's'" in message and f"--{flag} does not exist in ms-swift {major}" in message
    assert replacement in message
    assert Path(__file__).name in message  # names the line that wrote the stage


@pytest.mark.parametrize("spec,major,version", [("3", 3, None), ("4", 4, None), ("3.12.6", 3, "3.12.6"),
                                                ("4.0.4", 4, "4.0.4")])
def test_swift_version_option(spec: str, major: int, version: str | None) -> None:
    assert dialect.target(spec) == dialect.Dialect(major, version)


@pytest.mark.parametrize("spec", ["2", "2.6.1", "5", "latest", ""])
def test_unsupported_swift_versions_are_clear_errors(spec: str) -> None:
    with pytest.raises(DialectError, match="--swift-version"):
        dialect.target(spec)


def test_installed_version_is_read_without_importing_swift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ms_swift-4.6.0.dist-info").mkdir()
    (tmp_path / "ms_swift-4.6.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ms-swift\nVersion: 4.6.0\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert dialect.target() == dialect.Dialect(4, "4.6.0")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "nothing-here")])
    assert dialect.target() == dialect.Dialect(3)  # nothing installed: the tutorials' major


def test_launch_settings_render_in_the_tutorials_order_and_only_when_set() -> None:
    recipe = make_recipe("t", [sft("s", {"model": "m"}, launch=Launch(cuda_visible_devices=[0, 1], master_port=29500))],
                         launch=Launch(nproc_per_node=2, env={"USE_HF": "1"}))
    command = build_command(recipe, recipe.stage("s"), dialect=dialect.target("3"))
    assert command.env == (("NPROC_PER_NODE", "2"), ("MASTER_PORT", "29500"), ("CUDA_VISIBLE_DEVICES", "0,1"),
                           ("USE_HF", "1"))
    assert dict(flag_pairs(command.argv)) == {"--model": ("m",)}
