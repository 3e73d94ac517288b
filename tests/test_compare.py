"""compare(): the same questions to several models of a chain, one batch `swift infer` each, side by side."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from records import latest_record

from swiftpipe.cli import main
from swiftpipe.recipe import loading as loader

COMPARED = '''
def recipe(out: str = "out"):
    return make_recipe("chain", [
        pretrain("pretrain", {"model": "base", "train_type": "full", "dataset": "data/pt.jsonl",
                              "output_dir": f"{out}/pt"}),
        sft("sft", {"model": checkpoint("pretrain"), "train_type": "lora", "dataset": "data/sft.jsonl",
                    "output_dir": f"{out}/sft"}),
        merge("merge", {"ckpt_dir": checkpoint("sft")}),
        compare("compare", "data/qa.jsonl",
                {"base": "base", "pretrain": checkpoint("pretrain"), "sft": merged("merge")}, {"max_new_tokens": 32}),
    ])
'''
QUESTIONS = [{"query": "高血压怎么办？", "response": "限盐，规律服药。"},
             {"query": "What is [/INST]?", "response": "a tag"}]


def _compared(write_recipe, chain: Path) -> Path:
    Path("data/qa.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS))
    return write_recipe(COMPARED, name="compared.py")


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _record() -> dict:
    return latest_record()


def test_compare_is_one_batch_infer_per_model_with_the_same_settings(write_recipe, chain: Path) -> None:
    loaded = loader.load(_compared(write_recipe, chain), sets=["compare.max_new_tokens=8"])
    stages = {s.name: s for s in loaded.recipe.stages if s.group is not None}
    assert list(stages) == ["compare_base", "compare_pretrain", "compare_sft"]
    for label, stage in zip(("base", "pretrain", "sft"), stages.values()):
        assert stage.command == "infer" and stage.group.name == "compare" and stage.group.label == label
        assert {k: v for k, v in stage.flags.items() if k != "model"} == {
            "infer_backend": "pt", "use_chat_template": True, "stream": False, "temperature": 0, "max_new_tokens": 8,
            "max_batch_size": 4,
            "val_dataset": "data/qa.jsonl", "metric": "rouge"}  # --set on the group's name set all three
    rendered = CliRunner().invoke(main, ["render", "compared.py", "--stage", "compare"])
    assert rendered.exit_code == 0, rendered.output
    assert rendered.output.count("\nswift infer \\\n") == 3 and "--model '<merge.merged>'" in rendered.output
    unknown = CliRunner().invoke(main, ["render", "compared.py", "--stage", "comparison"])
    assert unknown.exit_code == 2 and "compare is a group" in unknown.output


def test_a_run_ends_with_every_models_answers_and_scores_side_by_side(write_recipe, chain: Path, fake_swift: Path,
                                                                      monkeypatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_KNOWS", "-merged")  # the merged SFT model answers with the references
    result = CliRunner().invoke(main, ["run", str(_compared(write_recipe, chain))])
    assert result.exit_code == 0, result.output
    infers = [c for c in _calls(fake_swift) if c["argv"][1] == "infer"]
    stages = _record()["stages"]
    assert [c["argv"][c["argv"].index("--model") + 1] for c in infers] == [
        "base", stages["pretrain"]["outputs"]["last_checkpoint"], stages["merge"]["outputs"]["merged"]]
    for name, label, rouge, answers in (
            ("compare_base", "base", 0.0, ["answer to 高血压怎么办？", "answer to What is [/INST]?"]),
            ("compare_sft", "sft", 100.0, ["限盐，规律服药。", "a tag"])):
        entry = stages[name]
        assert (entry["group"], entry["label"], entry["scores"]["rouge-l"]) == ("compare", label, rouge)
        assert [a["answer"] for a in entry["answers"]] == answers
        assert [a["reference"] for a in entry["answers"]] == ["限盐，规律服药。", "a tag"]
    table = result.output[result.output.index("compare: the same questions to each model"):]
    flat = table.replace("│", " ").replace("┃", " ")
    for word in ("question", "reference", "base", "pretrain", "sft", "rouge-l", "100.0", "0.0", "[/INST]"):
        assert word in flat, word


def test_a_metric_without_reference_answers_is_refused_before_anything_runs(write_recipe, chain: Path,
                                                                             fake_swift: Path) -> None:
    path = _compared(write_recipe, chain)
    Path("data/qa.jsonl").write_text('{"query": "高血压怎么办？"}\n')
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2 and _calls(fake_swift) == []
    lines = result.output.splitlines()
    assert len(lines) == 3 and all(line.endswith(
        "--val_dataset: data/qa.jsonl:1: --metric rouge scores answers against reference answers, and this record "
        "has none (no response); add them, or drop the metric (compare(..., metric=None))") for line in lines)


def test_the_compare_command_asks_the_models_of_the_latest_run_and_trains_nothing(write_recipe, chain: Path,
                                                                                   fake_swift: Path,
                                                                                   monkeypatch) -> None:
    path = _compared(write_recipe, chain)
    assert CliRunner().invoke(main, ["run", str(path), "--stage", "pretrain", "--stage", "sft", "--stage",
                                     "merge"]).exit_code == 0
    trained = _record()["stages"]
    monkeypatch.setenv("FAKE_SWIFT_KNOWS", "-merged")
    result = CliRunner().invoke(main, ["compare", str(path)])
    assert result.exit_code == 0, result.output
    calls = _calls(fake_swift)
    assert [c["argv"][1] for c in calls] == ["pt", "sft", "export", "infer", "infer", "infer"]  # nothing trained
    assert [c["argv"][c["argv"].index("--model") + 1] for c in calls[3:]] == [
        "base", trained["pretrain"]["outputs"]["last_checkpoint"], trained["merge"]["outputs"]["merged"]]
    assert "compare: the same questions to each model" in result.output
    assert result.output.splitlines()[-1].startswith("report: ")
    assert list(_record()["stages"]) == ["compare_base", "compare_pretrain", "compare_sft"]
    bare = write_recipe("recipe = make_recipe('r', [sft('a', {'model': 'base', 'dataset': 'data/sft.jsonl'})])\n",
                        name="bare.py")
    refused = CliRunner().invoke(main, ["compare", str(bare)])
    assert refused.exit_code == 2 and "nothing to compare; add a compare() to the chain" in refused.output
