"""The medical recipe, rendered for ms-swift 3, is each tutorial command: same environment, subcommand,
flags, order and values. Where the tutorial writes a placeholder (<...>), the recipe's value stands in."""
from __future__ import annotations

from pathlib import Path

import pytest
from shell_commands import flag_pairs, parse

from swiftpipe.msswift import dialects as dialect
from swiftpipe.recipe import loading as loader
from swiftpipe.render.commands import render_recipe

FIXTURES = Path(__file__).parent / "fixtures" / "tutorial"

CASES = [
    # (fixture, recipe parameters, stage)
    ("seed000_pretrain.sh", [], "pretrain"),
    ("seed004_sft_full.sh", ["sft=full"], "sft"),
    ("seed004_sft_lora.sh", ["sft=lora"], "sft"),
    ("seed004_sft_lisa.sh", ["sft=lisa"], "sft"),
    ("seed004_merge.sh", ["sft=lora"], "merge"),
    ("seed004_infer_merged.sh", [], "infer"),
]


def _is_placeholder(values: tuple[str, ...]) -> bool:
    return len(values) == 1 and values[0].startswith("<") and values[0].endswith(">")


@pytest.mark.parametrize("fixture,params,stage", CASES, ids=[c[0] for c in CASES])
def test_recipe_renders_the_tutorial_command(repo: Path, fixture: str, params: list[str], stage: str) -> None:
    want_env, want_argv = parse((FIXTURES / fixture).read_text())
    loaded = loader.load(repo / "recipes" / "medical.py", params=params)
    [rendered] = render_recipe(loaded.recipe, loaded.source, dialect=dialect.target("3"), stages=[stage])
    got_env, got_argv = parse(rendered.script)

    assert got_env == want_env
    assert got_argv[:2] == want_argv[:2]
    want_flags, got_flags = flag_pairs(want_argv), flag_pairs(got_argv)
    assert [name for name, _ in got_flags] == [name for name, _ in want_flags]
    for (name, want), (_, got) in zip(want_flags, got_flags):
        if not _is_placeholder(want):
            assert got == want, f"{fixture}: {name}"
    # what `run` executes is what the script says
    assert (rendered.command.environment, rendered.command.argv) == (dict(got_env), got_argv)


def test_the_tutorials_placeholders_take_the_recipes_values(repo: Path) -> None:
    loaded = loader.load(repo / "recipes" / "medical.py")
    rendered = {r.command.stage: r.command for r in
                render_recipe(loaded.recipe, loaded.source, dialect=dialect.target("3"))}
    pretrain = dict(flag_pairs(rendered["pretrain"].argv))
    assert pretrain["--model"] == ("Qwen/Qwen2.5-1.5B",)
    assert pretrain["--dataset"] == ("data/pre/medical_book_zh.json",)
    assert pretrain["--output_dir"] == ("output/pretrain",)
    assert dict(flag_pairs(rendered["sft"].argv))["--model"] == ("<pretrain.last_checkpoint>",)
    assert dict(flag_pairs(rendered["merge"].argv))["--ckpt_dir"] == ("<sft.last_checkpoint>",)
    assert dict(flag_pairs(rendered["dpo"].argv))["--model"] == ("<merge.merged>",)
    assert dict(flag_pairs(rendered["infer"].argv))["--model"] == ("<merge_dpo.merged>",)


def test_the_tutorial_fixture_parser_reads_the_slips_as_intended() -> None:
    env, argv = parse((FIXTURES / "seed000_pretrain.sh").read_text())
    assert env == [("NPROC_PER_NODE", "1"), ("MASTER_PORT", "29500"), ("CUDA_VISIBLE_DEVICES", "0")]
    assert dict(flag_pairs(argv))["--gradient_accumulation_steps"] == ("8",)
    _, argv = parse((FIXTURES / "seed004_sft_full.sh").read_text())
    assert argv[-2:] == ["--dataloader_num_workers", "4"]
