"""evaluate(): EvalScope's benchmarks through `swift eval` for several models of a chain, one stage per model, run by
the ms-swift of the environment EvalScope lives in; the scores land in the record and side by side."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from records import latest_record

from swiftpipe.cli import main
from swiftpipe.errors import UserError
from swiftpipe.recipe import loading as loader
from swiftpipe.recipe.model import evaluate

REPO = Path(__file__).resolve().parent.parent
EVALUATED = '''
def recipe(out: str = "out", swift: str = "swift"):
    return make_recipe("chain", [
        sft("sft", {"model": "base", "train_type": "lora", "dataset": "data/sft.jsonl", "output_dir": f"{out}/sft"}),
        merge("merge", {"ckpt_dir": checkpoint("sft")}),
        evaluate("eval", {"base": "base", "sft": merged("merge")}, ["cmmlu", "data/qa.jsonl"], {"eval_limit": 2},
                 swift=swift),
    ])
'''


def _evaluated(write_recipe) -> Path:
    Path("data/qa.jsonl").write_text('{"query": "高血压怎么办？", "response": "限盐。"}\n'
                                     '{"query": "q2", "response": "r2"}\n')
    return write_recipe(EVALUATED, name="evaluated.py")


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _record() -> dict:
    return latest_record()


def _other_environment(tmp_path: Path) -> Path:
    """A `swift` in another venv's bin/: the fake one, marking the calls it takes."""
    program = tmp_path / "venv-eval" / "bin" / "swift"
    program.parent.mkdir(parents=True)
    program.write_text(f'#!/bin/sh\nFAKE_SWIFT_FROM=venv-eval exec {REPO / "tests/fake_swift/swift"} "$@"\n')
    program.chmod(0o755)
    return program


def test_evaluate_is_one_swift_eval_per_model_with_the_same_settings(write_recipe, chain: Path) -> None:
    loaded = loader.load(_evaluated(write_recipe), params=["swift=/opt/eval/bin/swift"])
    stages = {s.name: s for s in loaded.recipe.stages if s.command == "eval"}
    assert list(stages) == ["eval_base", "eval_sft"]
    for label, stage in zip(("base", "sft"), stages.values()):
        assert (stage.group.name, stage.group.label, stage.program) == ("eval", label, "/opt/eval/bin/swift")
        flags = {k: v for k, v in stage.flags.items() if k not in ("model", "eval_dataset_args")}
        assert flags == {"eval_backend": "Native", "infer_backend": "pt", "temperature": 0,
                         "eval_dataset": ["cmmlu", "general_qa"], "eval_limit": 2}
        assert json.loads(stage.flags["eval_dataset_args"]) == {"general_qa": {
            "local_path": "data", "subset_list": ["qa"], "metric_list": ["Rouge"], "prompt_template": "{question}"}}
    rendered = CliRunner().invoke(main, ["render", "evaluated.py", "-p", "swift=/opt/eval/bin/swift",
                                         "--stage", "eval"])
    assert rendered.exit_code == 0, rendered.output
    assert rendered.output.count("\n/opt/eval/bin/swift eval \\\n") == 2
    assert "--eval_dataset cmmlu general_qa \\\n" in rendered.output
    assert "--model '<merge.merged>'" in rendered.output
    with pytest.raises(UserError, match="one local questions file at most, not 2"):
        evaluate("eval", {"base": "base"}, ["a.jsonl", "b.jsonl"])


def test_a_run_scores_each_model_with_the_other_environments_swift(write_recipe, chain: Path, fake_swift: Path,
                                                                  tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_KNOWS", "-merged")  # the merged model answers with the references
    program = _other_environment(tmp_path)
    result = CliRunner().invoke(main, ["run", str(_evaluated(write_recipe)), "-p", f"swift={program}"])
    assert result.exit_code == 0, result.output
    calls = _calls(fake_swift)
    assert [(c["argv"][1], c["env"].get("FAKE_SWIFT_FROM")) for c in calls] == [
        ("sft", None), ("export", None), ("eval", "venv-eval"), ("eval", "venv-eval")]
    stages = _record()["stages"]
    for name, label, score in (("eval_base", "base", 0.0), ("eval_sft", "sft", 1.0)):
        entry = stages[name]
        assert (entry["state"], entry["group"], entry["label"]) == ("done", "eval", label)
        assert entry["scores"] == {"cmmlu": 0.25, "cmmlu mean_Rouge-L-R": 0.25, "cmmlu mean_Rouge-L-F": 0.25,
                                   "general_qa": score, "general_qa mean_Rouge-L-R": score,
                                   "general_qa mean_Rouge-L-F": score}
        assert Path(entry["outputs"]["eval"]).name == "eval_result.jsonl"
    assert stages["eval_sft"]["command"][0] == str(program)
    table = result.output[result.output.index("eval: scores of each model"):].replace("│", " ").replace("┃", " ")
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines() if line.split()[:1] in (["cmmlu"],
                                                                                                    ["general_qa"])}
    assert rows == {"cmmlu": ["0.250", "0.250"], "general_qa": ["0.0", "1.0"]}  # main scores only, per model
    page = Path(result.output.splitlines()[-1].removeprefix("report: ")).read_text()
    assert 'data-model="sft" data-score="general_qa mean_Rouge-L-F">1.0<' in page  # every metric on the page


@pytest.mark.parametrize("questions, problem", [
    (None, "data/qa.jsonl: no such file (EvalScope reads general_qa's <local_path>/<subset>.jsonl)"),
    ('{"query": "q"}\n', "data/qa.jsonl:1: response: is missing"),
    ('{"query": "q", "response": ""}\n', "data/qa.jsonl:1: response: is empty"),
])
def test_a_bad_questions_file_is_refused_before_anything_runs(write_recipe, chain: Path, fake_swift: Path,
                                                               questions: str | None, problem: str) -> None:
    path = _evaluated(write_recipe)
    if questions is None:
        os.remove("data/qa.jsonl")
    else:
        Path("data/qa.jsonl").write_text(questions)
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2 and _calls(fake_swift) == []
    lines = result.output.splitlines()
    assert len(lines) == 2 and all(f"--eval_dataset_args: {problem}" in line for line in lines), result.output


def test_an_evaluation_that_fails_says_so_in_the_score_table(write_recipe, chain: Path, fake_swift: Path,
                                                            monkeypatch) -> None:
    Path("data/qa.jsonl").write_text('{"query": "q", "response": "r"}\n')
    path = write_recipe('recipe = make_recipe("r", evaluate("eval", {"base": "base"}, ["data/qa.jsonl"]))\n')
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "eval")
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 1, result.output
    assert _record()["stages"]["eval_base"]["state"] == "failed"
    table = result.output[result.output.index("eval: scores of each"):].replace("│", " ").replace("┃", " ")
    row = next(line for line in table.splitlines() if "not scored" in line)
    assert "failed" in row or "exit" in row, table


def test_a_failed_evaluation_stops_no_other_and_resume_runs_it_alone(write_recipe, chain: Path, fake_swift: Path,
                                                                     monkeypatch) -> None:
    """An evaluation that fails (a benchmark out of reach, a model server that does not start) stops none of the
    others: no stage takes what an evaluation produces. The run still ends failed, and --resume runs only it."""
    path = _evaluated(write_recipe)
    monkeypatch.setenv("FAKE_SWIFT_FAIL_MODEL", "base")
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 1, result.output
    assert "eval_base failed; no later stage takes what it produces, so the chain goes on" in result.output
    assert f"failed: eval_base; `swiftpipe run {path} --resume` runs it again and reuses the rest" in result.output
    record = _record()
    assert record["state"] == "failed"
    assert {n: s["state"] for n, s in record["stages"].items()} == {
        "sft": "done", "merge": "done", "eval_base": "failed", "eval_sft": "done"}
    assert record["stages"]["eval_sft"]["scores"]["cmmlu"] == 0.25

    monkeypatch.delenv("FAKE_SWIFT_FAIL_MODEL")
    resumed = CliRunner().invoke(main, ["run", str(path), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    merged = record["stages"]["merge"]["outputs"]["merged"]
    assert [c["argv"][c["argv"].index("--model") + 1] for c in _calls(fake_swift) if c["argv"][1] == "eval"] == [
        "base", merged, "base"]
    after = _record()
    assert after["state"] == "done" and after["stages"]["eval_base"]["scores"]["cmmlu"] == 0.25
    assert {n: s["state"] for n, s in after["stages"].items()} == {
        "sft": "done", "merge": "done", "eval_base": "done", "eval_sft": "done"}
