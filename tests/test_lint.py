"""`swiftpipe lint` against the real installed ms-swift (3.12 in .venv, 4.x in .venv-swift4)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from swiftpipe import infer, make_recipe, merge, pretrain, sft
from swiftpipe.cli import main
from swiftpipe.errors import LintError
from swiftpipe.msswift import dialects as dialect
from swiftpipe.msswift.dialects import REMOVED_IN_3_AND_4
from swiftpipe.render.commands import Command, Flag, build_command
from swiftpipe.render.lint import lint
from swiftpipe.versions import swift_version

INSTALLED = dialect.target()
OTHER = "4" if INSTALLED.major == 3 else "3"


@pytest.fixture(scope="module", autouse=True)
def _ms_swift_installed() -> None:
    assert swift_version(), "ms-swift must be installed for these tests: `make install`"


@pytest.mark.parametrize("params", [[], ["sft=full"], ["sft=lisa"], ["dpo=full"]])
def test_medical_recipe_passes_lint_on_the_installed_ms_swift(repo: Path, params: list[str]) -> None:
    args = [arg for p in params for arg in ("-p", p)]
    result = CliRunner().invoke(main, ["lint", str(repo / "recipes" / "medical.py"), *args])
    assert result.exit_code == 0, result.output
    assert f"accepted by ms-swift {INSTALLED.version}" in result.output


def test_lint_checks_every_variant_of_a_sweep_and_finds_a_misspelled_flag(repo: Path) -> None:
    demo = str(repo / "recipes" / "demo.py")
    swept = CliRunner().invoke(main, ["lint", demo, "--vary", "sft.learning_rate=5e-3,1e-3"])
    assert swept.exit_code == 0 and "accepted by ms-swift" in swept.output, swept.output
    typo = CliRunner().invoke(main, ["lint", demo, "--vary", "sft.learning_rat=5e-3,1e-3"])
    assert typo.exit_code == 2
    assert "stage 'sft@learning_rat-5e-3', --learning_rat: ms-swift" in typo.output
    assert "has no such flag (did you mean --learning_rate?)" in typo.output


def test_every_recipe_file_passes_lint(repo: Path) -> None:
    for recipe in sorted((repo / "recipes").glob("*.py")):
        result = CliRunner().invoke(main, ["lint", str(recipe)])
        assert result.exit_code == 0, f"{recipe.name}: {result.output}"


def test_the_other_majors_spelling_is_rejected_by_the_installed_ms_swift() -> None:
    """Proof that rendering for the right major matters: ms-swift itself refuses the other spelling."""
    recipe = make_recipe("r", [pretrain("pt", {"model": "m", "train_type": "full"})])
    wrong = build_command(recipe, recipe.stage("pt"), dialect=dialect.target(OTHER))
    wrong_name = "--tuner_type" if INSTALLED.major == 3 else "--train_type"
    with pytest.raises(LintError,
                       match=f"stage 'pt', {wrong_name}: ms-swift {INSTALLED.version} `swift pt` has no such flag"):
        lint([wrong], where="r.py")
    right = build_command(recipe, recipe.stage("pt"), dialect=INSTALLED)
    assert lint([right], where="r.py") == 2


def test_ckpt_dir_translation_is_accepted_for_merge_and_infer() -> None:
    recipe = make_recipe("r", [
        sft("s", {"model": "m", "train_type": "lora", "output_dir": "o"}),
        merge("merge", {"ckpt_dir": "<s.last_checkpoint>"} if INSTALLED.major == 3 else {"adapters": "x"}),
        infer("infer", {"model": "x", "infer_backend": "pt", "stream": True}),
    ])
    commands = [build_command(recipe, s, dialect=INSTALLED) for s in recipe.stages]
    assert lint(commands, where="r.py") == 8


@pytest.mark.parametrize("flag", sorted(REMOVED_IN_3_AND_4))
def test_every_flag_swiftpipe_calls_removed_is_really_unknown_to_ms_swift(flag: str) -> None:
    """The dialect table's claims, checked against the installed parser (no prefix matching)."""
    command = Command("s", "sft" if not flag.startswith("ref_") else "rlhf", (), (Flag(flag, ("x",)),))
    with pytest.raises(LintError, match="has no such flag"):
        lint([command], where="r.py")


def test_a_bad_choice_and_a_bad_type_are_reported_with_stage_and_flag() -> None:
    commands = [
        Command("a", "sft", (), (Flag("num_train_epochs", ("many",)),)),
        Command("b", "sft", (), (Flag("tuner_backend", ("swift",)),)),
    ]
    with pytest.raises(LintError) as info:
        lint(commands, where="r.py")
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert "stage 'a', --num_train_epochs" in lines[0] and "invalid" in lines[0]
    assert "stage 'b', --tuner_backend" in lines[1] and "invalid choice: 'swift'" in lines[1]


def test_abbreviations_that_argparse_would_accept_are_flagged() -> None:
    # `--use_liger` is the 3.0-3.2 name; argparse's prefix matching silently maps it to --use_liger_kernel.
    command = Command("s", "sft", (), (Flag("use_liger", ("true",)),))
    with pytest.raises(LintError, match=r"--use_liger: .* has no such flag \(did you mean --use_liger_kernel\?\)"):
        lint([command], where="r.py")
