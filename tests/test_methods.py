"""Pre-flight of `swift rlhf` methods: what ms-swift would find only after loading the model (a reward function it
does not have, a package the method imports undeclared, a LoRA checkpoint where a full model is loaded), refused
in one line before anything launches."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from swiftpipe.cli import main
from swiftpipe.msswift import rewards

GRPO = '''
def recipe(funcs: str = "format", plugin: str = "", prompts: str = "data/sft.jsonl"):
    return make_recipe("grpo", [
        sft("sft", {"model": "base", "dataset": "data/sft.jsonl", "output_dir": "out/sft"}),
        grpo("grpo", {"model": checkpoint("sft"), "dataset": prompts, "output_dir": "out/grpo",
                      "reward_funcs": funcs.split(","), **({"external_plugins": plugin} if plugin else {})}),
    ])
'''
PPO = '''
def recipe(rm_type: str = "lora"):
    return make_recipe("ppo", [
        sft("sft", {"model": "base", "dataset": "data/sft.jsonl", "output_dir": "out/sft"}),
        reward_model("rm", {"model": checkpoint("sft"), "train_type": rm_type, "dataset": "data/dpo.jsonl",
                            "output_dir": "out/rm"}),
        ppo("ppo", {"model": checkpoint("sft"), "reward_model": checkpoint("rm"), "dataset": "data/sft.jsonl",
                    "output_dir": "out/ppo"}),
    ])
'''


def test_a_misspelled_reward_function_is_refused_before_anything_launches(chain: Path, write_recipe,
                                                                          fake_swift: Path) -> None:
    write_recipe(GRPO, name="grpo.py")
    refused = CliRunner().invoke(main, ["run", "grpo.py", "-p", "funcs=format,formatt"])
    assert refused.exit_code == 2, refused.output
    assert "stage 'grpo', --reward_funcs formatt: no such reward function in the installed ms-swift (" in refused.output
    assert refused.output.rstrip().endswith("did you mean format?") and not fake_swift.exists()
    assert CliRunner().invoke(main, ["run", "grpo.py", "-p", "funcs=format", "--quiet"]).exit_code == 0


def test_a_reward_function_of_a_plugin_file_is_one_ms_swift_will_find(chain: Path, write_recipe,
                                                                      fake_swift: Path) -> None:
    Path("plugin.py").write_text("from swift.plugin import ORM, orms\n\n\nclass Short(ORM):\n"
                                 "    def __call__(self, completions, **kwargs):\n"
                                 "        return [-len(c) for c in completions]\n\n\norms['short'] = Short\n")
    write_recipe(GRPO, name="grpo.py")
    done = CliRunner().invoke(main, ["run", "grpo.py", "-p", "funcs=short,format", "-p", "plugin=plugin.py", "--quiet"])
    assert done.exit_code == 0, done.output
    refused = CliRunner().invoke(main, ["run", "grpo.py", "-p", "funcs=shortt", "-p", "plugin=plugin.py"])
    assert "no such reward function in the installed ms-swift or --external_plugins" in refused.output
    assert "did you mean short?" in refused.output


def test_a_package_the_method_imports_undeclared_is_named_with_its_pip_command(
        chain: Path, write_recipe, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert rewards.missing_modules("grpo", ["accuracy"]) == []  # make install gives GRPO what ms-swift leaves out
    monkeypatch.setitem(rewards.METHOD_MODULES, "grpo", (("swiftpipe_no_such_module", "no-such-package"),))
    write_recipe(GRPO, name="grpo.py")
    refused = CliRunner().invoke(main, ["run", "grpo.py"])
    assert refused.exit_code == 2 and not fake_swift.exists()
    assert ("--rlhf_type grpo imports swiftpipe_no_such_module, which ms-swift does not install: "
            "pip install no-such-package") in refused.output


def test_a_lora_reward_model_is_refused_with_the_merge_that_makes_it_a_model(chain: Path, write_recipe,
                                                                             fake_swift: Path) -> None:
    Path("data/dpo.jsonl").write_text('{"query": "q", "response": "r", "rejected_response": "x"}\n')
    write_recipe(PPO, name="ppo.py")
    refused = CliRunner().invoke(main, ["run", "ppo.py", "--dry-run"])
    assert refused.exit_code == 2
    assert ("ppo.py:8: stage 'ppo', --reward_model: takes a full model, and stage 'rm' saves adapters "
            "(--train_type lora): merge them first, merge('merge_rm', {'ckpt_dir': checkpoint('rm')}), and give "
            "merged('merge_rm')") in refused.output
    assert CliRunner().invoke(main, ["run", "ppo.py", "-p", "rm_type=full", "--dry-run"]).exit_code == 0


def _lines(path: str, *rows: str) -> str:
    Path(path).write_text("".join(row + "\n" for row in rows))
    return path


def test_kto_data_needs_a_true_or_false_label_on_every_answer(chain: Path, fake_swift: Path, write_recipe) -> None:
    _lines("data/kto.jsonl", '{"query": "q1", "response": "good", "label": true}',
           '{"query": "q2", "response": "bad", "label": "false"}', '{"query": "q3", "response": "so-so"}',
           '{"query": "q4", "response": "bad", "label": 0}')
    checked = CliRunner().invoke(main, ["data", "validate", "data/kto.jsonl", "--kind", "kto"])
    assert checked.exit_code == 2
    assert checked.output.splitlines()[:2] == [
        "error: data/kto.jsonl:2: label: is a string 'false'; expected true or false (ms-swift reads any non-empty "
        "text as true)",
        "error: data/kto.jsonl:3: label: is missing (KTO needs true for a good answer, false for a bad one)"]
    write_recipe('def recipe():\n    return make_recipe("k", [kto("kto", {"model": "base", '
                 '"dataset": "data/kto.jsonl", "output_dir": "out/kto"})])\n', name="k.py")
    refused = CliRunner().invoke(main, ["run", "k.py"])  # pre-flight reads it as KTO reads it
    assert refused.exit_code == 2 and "stage 'kto', --dataset: data/kto.jsonl:2: label: is a string" in refused.output
    assert not fake_swift.exists()


def test_grpo_and_ppo_data_is_prompts_and_a_prompt_alone_is_enough(chain: Path) -> None:
    _lines("data/math.jsonl", '{"query": "1+1?", "solution": "2"}', '{"query": "2+2?"}')
    _lines("data/chat.jsonl", '{"messages": [{"role": "system", "content": "be brief"}, '
                              '{"role": "user", "content": "3+3?"}], "solution": "6"}')
    _lines("data/none.jsonl", '{"messages": [{"role": "system", "content": "be brief"}]}')
    for kind in ("grpo", "ppo", "prompt"):
        ok = CliRunner().invoke(main, ["data", "validate", "data/math.jsonl", "data/chat.jsonl", "--kind", kind,
                                       "--no-cache"])
        assert ok.exit_code == 0, ok.output
    refused = CliRunner().invoke(main, ["data", "validate", "data/none.jsonl", "--kind", "grpo", "--no-cache"])
    assert "data/none.jsonl:1: messages: has no user turn: nothing to answer" in refused.output
    sft = CliRunner().invoke(main, ["data", "validate", "data/math.jsonl", "--kind", "sft", "--no-cache"])
    assert sft.exit_code == 2 and "data/math.jsonl:2: " in sft.output  # an SFT still needs its answers


def test_grpo_data_without_a_column_its_reward_function_reads_is_refused(chain: Path, write_recipe,
                                                                         fake_swift: Path) -> None:
    _lines("data/math.jsonl", '{"query": "1+1?", "solution": "2"}', '{"query": "2+2?"}', '{"query": "3+3?"}',
           '{"query": "4+4?", "solution": "8"}')
    write_recipe(GRPO, name="grpo.py")
    refused = CliRunner().invoke(main, ["run", "grpo.py", "-p", "funcs=accuracy,format", "-p",
                                        "prompts=data/math.jsonl"])
    assert refused.exit_code == 2 and not fake_swift.exists()
    assert refused.output == ("error: grpo.py: stage 'grpo', --dataset data/math.jsonl: no 'solution' in records 2, "
                              "3, which the 'accuracy' reward reads\n")
    Path("plugin.py").write_text("from swift.plugin import ORM, orms\n\n\nclass Near(ORM):\n"
                                 "    def __call__(self, completions, target, **kwargs):\n"
                                 "        return [0.0 for _ in completions]\n\n\norms['near'] = Near\n")
    plugged = CliRunner().invoke(main, ["run", "grpo.py", "-p", "funcs=near", "-p", "plugin=plugin.py", "-p",
                                        "prompts=data/math.jsonl"])
    assert "no 'target' in records 1, 2, 3 and 1 more, which the 'near' reward reads" in plugged.output


def test_a_missing_plugin_file_and_names_in_one_text_are_said_as_they_are(chain: Path, write_recipe,
                                                                          fake_swift: Path) -> None:
    write_recipe(GRPO, name="grpo.py")
    missing = CliRunner().invoke(main, ["run", "grpo.py", "-p", "plugin=nope.py"])
    assert "stage 'grpo', --external_plugins nope.py: no such file" in missing.output
    spaced = CliRunner().invoke(main, ["run", "grpo.py", "-p", "funcs=accuracy format"])
    assert ("--reward_funcs 'accuracy format': one name with spaces; give the names as a list, "
            "['accuracy', 'format']") in spaced.output
    assert not fake_swift.exists()
