"""Loading recipes: parameters, references, overrides, and the one-line errors for bad ones."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from shell_commands import flag_pairs

from swiftpipe import Ref
from swiftpipe.cli import main
from swiftpipe.errors import RecipeError, UserError
from swiftpipe.msswift import dialects as dialect
from swiftpipe.msswift.layout import Output
from swiftpipe.recipe import loading as loader
from swiftpipe.render.commands import build_command

REPO = Path(__file__).resolve().parent.parent

CHAIN = '''
def recipe(epochs: int = 1, lr: float = 1e-4, full: bool = False, kind: Literal["a", "b"] = "a"):
    return make_recipe("chain", [
        pretrain("pt", {"model": "base", "output_dir": "out/pt", "num_train_epochs": epochs}),
        sft("sft", {"model": checkpoint("pt"), "learning_rate": lr, "train_type": "full" if full else "lora",
                    "gradient_accumulation_steps": per_process(8)}, launch=Launch(nproc_per_node=2)),
        merge("merge", {"ckpt_dir": checkpoint("sft")}),
        infer("infer", {"model": merged("merge"), "stream": True}),
    ])
'''


def _command(loaded: loader.LoadedRecipe, stage: str):
    return build_command(loaded.recipe, loaded.recipe.stage(stage), dialect=dialect.target("3"))


def test_parameters_are_converted_by_their_annotations(write_recipe) -> None:
    path = write_recipe("from typing import Literal\n" + CHAIN)
    loaded = loader.load(path, params=["epochs=3", "lr=2e-5", "full=true", "kind=b"])
    assert loaded.values == {"epochs": 3, "lr": 2e-5, "full": True, "kind": "b"}
    assert dict(flag_pairs(_command(loaded, "pt").argv))["--num_train_epochs"] == ("3",)
    sft = dict(flag_pairs(_command(loaded, "sft").argv))
    assert sft["--learning_rate"] == ("2e-5",) and sft["--train_type"] == ("full",)
    assert sft["--gradient_accumulation_steps"] == ("4",)  # 8 across NPROC_PER_NODE=2
    assert loaded.source.params == ("epochs=3", "lr=2e-05", "full=True", "kind=b")


@pytest.mark.parametrize("param,message", [
    ("epoch=3", "unknown parameter 'epoch' (parameters: epochs, lr, full, kind)"),
    ("epochs=three", "parameter epochs: 'three' is not an int"),
    ("lr=fast", "parameter lr: 'fast' is not a number"),
    ("full=maybe", "parameter full: 'maybe' is not true or false"),
    ("kind=c", "parameter kind: 'c' is not one of a, b"),
    ("epochs", "expected NAME=VALUE"),
])
def test_bad_parameters_are_one_line_errors_listing_what_is_valid(write_recipe, param: str, message: str) -> None:
    path = write_recipe("from typing import Literal\n" + CHAIN)
    with pytest.raises(RecipeError) as info:
        loader.load(path, params=[param])
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_set_overrides_in_place_and_appends_new_flags(write_recipe) -> None:
    path = write_recipe("from typing import Literal\n" + CHAIN)
    loaded = loader.load(path, sets=["sft.learning_rate=3e-5", "sft.max_length=2048",
                                     'sft.dataset=["a.json","b c.json"]'])
    names = [n for n, _ in flag_pairs(_command(loaded, "sft").argv)]
    assert names == ["--model", "--learning_rate", "--train_type", "--gradient_accumulation_steps", "--max_length",
                     "--dataset"]
    flags = dict(flag_pairs(_command(loaded, "sft").argv))
    assert flags["--learning_rate"] == ("3e-5",) and flags["--dataset"] == ("a.json", "b c.json")


@pytest.mark.parametrize("text,message", [
    ("nope.lr=1", "no stage 'nope' (stages: pt, sft, merge, infer)"),
    ("sft.lr", "expected STAGE.FLAG=VALUE"),
    ("sft=1", "expected STAGE.FLAG=VALUE"),
])
def test_bad_set_is_a_clear_error(write_recipe, text: str, message: str) -> None:
    path = write_recipe("from typing import Literal\n" + CHAIN)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        loader.load(path, sets=[text])


def _error_for(write_recipe, body: str) -> str:
    path = write_recipe(body)
    with pytest.raises(RecipeError) as info:
        loader.load(path)
    return str(info.value)


def test_reference_to_a_missing_stage_names_file_line_and_stages(write_recipe) -> None:
    message = _error_for(write_recipe, '''recipe = make_recipe("r", [
    sft("sft", {"model": "m", "output_dir": "o"}),
    merge("merge", {"ckpt_dir": checkpoint("sfft")}),
])
''')
    assert message.endswith("scenario.py:4: stage 'merge', --ckpt_dir: refers to stage 'sfft', which is not in the "
                            "chain (stages: sft, merge)")


def test_a_cycle_is_an_error_at_load_time(write_recipe) -> None:
    message = _error_for(write_recipe, '''recipe = make_recipe("r", [
    sft("a", {"model": checkpoint("b")}),
    sft("b", {"model": checkpoint("a")}),
])
''')
    assert "references form a cycle: a -> b -> a" in message
    assert "scenario.py:3" in message


def test_a_self_reference_is_a_cycle(write_recipe) -> None:
    assert "cycle: a -> a" in _error_for(write_recipe,
                                         'recipe = make_recipe("r", [sft("a", {"model": checkpoint("a")})])\n')


def test_a_reference_to_a_later_stage_is_an_error(write_recipe) -> None:
    message = _error_for(write_recipe, '''recipe = make_recipe("r", [
    infer("infer", {"model": merged("merge")}),
    sft("sft", {"model": "m"}),
    merge("merge", {"ckpt_dir": checkpoint("sft")}),
])
''')
    assert "scenario.py:3: stage 'infer', --model: refers to stage 'merge', which runs after it" in message


def test_a_reference_of_the_wrong_kind_is_an_error(write_recipe) -> None:
    message = _error_for(write_recipe, '''recipe = make_recipe("r", [
    sft("sft", {"model": "m"}),
    infer("infer", {"model": merged("sft")}),
])
''')
    assert "stage 'sft' (swift sft) produces no merged" in message


def test_a_reference_written_by_hand_names_its_output(write_recipe) -> None:
    path = write_recipe('''recipe = make_recipe("r", [
    sft("sft", {"model": "m"}),
    merge("merge", {"ckpt_dir": Ref("sft", "last_checkpoint")}),
])
''')
    loaded = loader.load(path)
    assert loaded.recipe.stage("merge").flags["ckpt_dir"] == Ref("sft", Output.LAST_CHECKPOINT)
    assert "<sft.last_checkpoint>" in _command(loaded, "merge").argv
    assert "stage 'sft' (swift sft) produces no merged" in _error_for(write_recipe, '''recipe = make_recipe("r", [
    sft("sft", {"model": "m"}),
    infer("infer", {"model": Ref("sft", "merged")}),
])
''')
    assert "'results' is no output a stage can refer to (last_checkpoint, best_checkpoint, run_dir, merged)" in \
        _error_for(write_recipe, 'recipe = make_recipe("r", [sft("sft", {"model": "m"}), '
                                 'infer("i", {"model": Ref("sft", "results")})])\n')
    assert "scenario.py:2: ValueError: Ref(output=...) is one of run_dir, last_checkpoint, best_checkpoint, merged, " \
        "results, eval, not 'weights'" in _error_for(write_recipe, 'recipe = make_recipe("r", [sft("sft", {"model": '
                                                     'Ref("sft", "weights")})])\n')


def test_all_problems_are_reported_together(write_recipe) -> None:
    message = _error_for(write_recipe, '''recipe = make_recipe("r", [
    sft("sft", {"model": object()}),
    sft("sft", {"model": "m"}),
])
''')
    assert len(message.splitlines()) == 2
    assert "object is not a flag value" in message and "appears twice" in message


@pytest.mark.parametrize("body,message", [
    ("x = 1\n", "defines no `recipe`"),
    ("recipe = 42\n", "`recipe` must be a Recipe or return one, not int"),
    ("def recipe(:\n", "SyntaxError"),
    ("def recipe():\n    return undefined_name\n", "scenario.py:3: NameError: name 'undefined_name' is not defined"),
])
def test_broken_recipe_files_are_one_line_errors(write_recipe, body: str, message: str) -> None:
    assert message in _error_for(write_recipe, body)


def test_missing_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="no such recipe file"):
        loader.load(tmp_path / "absent.py")


def test_per_process_that_does_not_divide_is_an_error(write_recipe) -> None:
    path = write_recipe('''recipe = make_recipe("r", [
    sft("sft", {"gradient_accumulation_steps": per_process(8)}, launch=Launch(nproc_per_node=3)),
])
''')
    loaded = loader.load(path)
    with pytest.raises(UserError, match="--gradient_accumulation_steps: 8 does not divide evenly across 3 processes"):
        _command(loaded, "sft")


def test_per_process_counts_every_node(write_recipe) -> None:
    path = write_recipe('''recipe = make_recipe("r", [
    sft("sft", {"gradient_accumulation_steps": per_process(16)}, launch=Launch(nproc_per_node=2, nnodes=2)),
])
''')
    assert dict(flag_pairs(_command(loader.load(path), "sft").argv))["--gradient_accumulation_steps"] == ("4",)


def test_a_plain_recipe_object_takes_no_parameters(write_recipe) -> None:
    path = write_recipe('recipe = make_recipe("r", [sft("sft", {"model": "m"})])\n')
    assert loader.load(path).recipe.stage_names == ["sft"]
    with pytest.raises(RecipeError, match="takes no parameters"):
        loader.load(path, params=["x=1"])


def test_none_drops_a_flag_and_flags_keep_their_order(write_recipe) -> None:
    path = write_recipe('recipe = make_recipe("r", [sft("sft", {"b": 1, "a": None, "c": [1, 2], "--d": True})])\n')
    assert _command(loader.load(path), "sft").argv == ["swift", "sft", "--b", "1", "--c", "1", "2", "--d", "true"]


@pytest.mark.parametrize("body, message", [
    ("recipe = make_recipe('r', [sft('a', {}), 'merge'])\n", "item 2 of the chain is str 'merge', not a stage"),
    ("recipe = make_recipe('r', [])\n", "recipe 'r' has no stages"),
    ("recipe = make_recipe('r', [sft(3, {})])\n", "a stage's name and command are text, not int and str"),
    ("import sys\nsys.exit(3)\nrecipe = None\n", "calls sys.exit(3) while loading"),
    ("import sys\ndef recipe():\n    sys.exit('no')\n", "calls sys.exit('no'); a recipe function returns a Recipe"),
])
def test_a_recipe_that_is_not_a_chain_is_one_line(write_recipe, body: str, message: str) -> None:
    path = write_recipe(body)
    result = CliRunner().invoke(main, ["render", str(path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    [line] = result.output.splitlines()
    assert line.startswith(f"error: {path}") and message in line


@pytest.mark.parametrize("option", ["-p", "--set"])
def test_bytes_that_are_not_utf8_on_the_command_line_are_refused_before_anything_is_written(
        tmp_path: Path, option: str) -> None:
    value = os.fsdecode(b"sft=\xff") if option == "-p" else os.fsdecode(b"sft.system=\xff")
    result = CliRunner().invoke(main, ["export-scripts", str(REPO / "recipes/medical.py"), str(tmp_path / "s"),
                                       option, value])
    assert result.exit_code == 2
    shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    assert result.output.splitlines() == [f"error: {REPO / 'recipes/medical.py'}: {option} {shown!r}: not UTF-8 text"]
    assert not (tmp_path / "s").exists()


def test_loading_a_recipe_leaves_no_bytecode_beside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python would write __pycache__/ beside a module it imports; a recipe (in the user's recipes/, or the snapshot
    in a run folder) gets none, whatever PYTHONDONTWRITEBYTECODE says."""
    import sys

    from swiftpipe.recipe import loading

    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    recipe = tmp_path / "mine.py"
    recipe.write_text('from swiftpipe import make_recipe, sft\n\ndef recipe():\n'
                      '    return make_recipe("mine", [sft("sft", {"model": "m", "dataset": "d.jsonl"})])\n')
    loading.load(recipe)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.py"]
    assert sys.dont_write_bytecode is False
