"""swiftpipe report: one self-contained HTML page per run, its curves drawn from ms-swift's logging.jsonl."""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from click.testing import CliRunner
from records import latest_record
from report_points import drawn_values

from swiftpipe.cli import main
from swiftpipe.report.curves import thin
from swiftpipe.report.graph import BOX_HEIGHT, BOX_WIDTH, layout


def _record() -> dict:
    return latest_record()


def test_a_run_writes_its_report_with_curves_that_are_the_logged_values(chain: Path, fake_swift: Path,
                                                                      monkeypatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_STEPS", "12")
    Path("data/q.jsonl").write_text('{"query": "<script>alert(1)</script> & [/INST]?"}\n')
    result = CliRunner().invoke(main, ["run", str(chain), "--quiet"])
    assert result.exit_code == 0, result.output
    record = _record()
    page = Path(record["stages"]["infer"]["log"]).parent / "report.html"
    assert result.output.splitlines()[-1] == f"report: {os.path.relpath(page)}"
    html = page.read_text()
    assert "<script" not in html  # the model's text stays text; the page runs no code at all
    assert "answer to &lt;script&gt;alert(1)&lt;/script&gt; &amp; [/INST]?" in html
    assert not re.search(r"""(src=|href=["']https?:|url\((?!#)|@import)""", html)  # nothing to fetch: all inline
    drawn = drawn_values(html)
    for stage in ("pretrain", "sft"):
        logged = [json.loads(line) for line in
                  (Path(record["stages"][stage]["outputs"]["run_dir"]) / "logging.jsonl").read_text().splitlines()]
        expected = [(int(r["global_step/max_steps"].split("/")[0]), r["loss"]) for r in logged if "loss" in r]
        points = drawn[(stage, "series-loss")]
        assert len(points) == len(expected) == 12
        for (step, value), (x, y) in zip(expected, points):
            assert math.isclose(x, step, abs_tol=0.01) and math.isclose(y, value, abs_tol=0.005), (stage, step)
    for name in ("pretrain", "sft", "merge", "infer"):
        assert f'data-stage="{name}"' in html
    assert "sft <code>--model</code></td><td>pretrain's last_checkpoint" in html  # the hand-off
    chain = _chain_graph(html)  # and the chain drawn: one box per stage, one arrow per hand-off, left to right
    assert set(chain["boxes"]) == {"pretrain", "sft", "merge", "infer"}
    merge_flag = "--ckpt_dir" if "--ckpt_dir" in record["stages"]["merge"]["command"] else "--adapters"  # 3.x, 4.x
    assert chain["edges"] == [("pretrain", "sft", "--model"), ("sft", "merge", merge_flag),
                              ("merge", "infer", "--model")]
    lefts = [chain["boxes"][name][0] for name in ("pretrain", "sft", "merge", "infer")]
    assert lefts == sorted(set(lefts))  # each a column to the right of what it took


def test_the_chain_graph_puts_each_stage_right_of_what_it_took_and_parallel_ones_in_a_column() -> None:
    took = {"sft": [("pretrain", "--model", "last_checkpoint", "/o/pt/v0/checkpoint-4")],
            "merge": [("sft", "--adapters", "last_checkpoint", "/o/sft/v0/checkpoint-9")],
            "compare_sft": [("merge", "--model", "merged", "/o/sft/v0/checkpoint-9-merged")],
            "dpo": [("merge", "--model", "merged", "/o/sft/v0/checkpoint-9-merged"),
                    ("pretrain", "--ref_model", "last_checkpoint", "/o/pt/v0/checkpoint-4")]}
    names = ["pretrain", "compare_base", "sft", "merge", "dpo", "compare_sft"]
    graph = layout(names, took)
    place = {node.name: (node.column, node.row) for node in graph.nodes}
    assert place == {"pretrain": (0, 0), "compare_base": (0, 1), "sft": (1, 0), "merge": (2, 0), "dpo": (3, 0),
                     "compare_sft": (3, 1)}
    assert [(e.producer, e.consumer, e.flag) for e in graph.edges] == [
        ("pretrain", "sft", "--model"), ("sft", "merge", "--adapters"), ("merge", "dpo", "--model"),
        ("pretrain", "dpo", "--ref_model"), ("merge", "compare_sft", "--model")]
    boxes = {node.name: node for node in graph.nodes}
    right = max(node.x + BOX_WIDTH for node in graph.nodes)
    bottom = max(node.y + BOX_HEIGHT for node in graph.nodes)
    assert right < graph.width and bottom < graph.height  # everything drawn inside the picture
    start, end = graph.edges[0].d.split()[0], graph.edges[0].d.split()[-1]
    assert start == f"M{boxes['pretrain'].x + BOX_WIDTH},{boxes['pretrain'].y + BOX_HEIGHT // 2}"
    assert int(end.split(",")[0]) < boxes["sft"].x  # the arrow's head ends at the consumer's left side
    assert layout([], {}).nodes == []


def _chain_graph(html: str) -> dict:
    svg = html[html.index('<svg class="chain"'):]
    svg = svg[:svg.index("</svg>")]
    boxes = {m[1]: (int(m[2]), int(m[3])) for m in
             re.finditer(r'<g class="stage \w+" data-stage="([^"]+)" transform="translate\((\d+),(\d+)\)"', svg)}
    edges = re.findall(r'data-from="([^"]+)" data-to="([^"]+)"\s+data-flag="([^"]+)"', svg)
    return {"boxes": boxes, "edges": edges}


def test_report_of_a_named_run_and_a_missing_one(chain: Path, fake_swift: Path, tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet"]).exit_code == 0
    run_id = _record()["id"]
    target = tmp_path / "pages" / "chain.html"
    written = CliRunner().invoke(main, ["report", str(chain), "--run", run_id, "-o", str(target)])
    assert written.exit_code == 0 and written.output == f"report: {target}\n" and target.read_text().startswith(
        "<!DOCTYPE html>")
    missing = CliRunner().invoke(main, ["report", str(chain), "--run", "../etc"])
    assert missing.exit_code == 2
    assert missing.output == "error: --run ../etc: no such run under .swiftpipe/runs (swiftpipe runs lists them)\n"


def test_thinning_keeps_each_stretchs_lowest_and_highest_and_both_ends() -> None:
    steps = list(range(1, 100_001))
    values = [math.sin(s / 500) + (5.0 if s == 77_777 else 0.0) - (3.0 if s == 12_345 else 0.0) for s in steps]
    kept_steps, kept = thin(steps, values, 1000)
    assert len(kept) <= 1000 and kept_steps == sorted(kept_steps)
    assert kept_steps[0] == 1 and kept_steps[-1] == 100_000
    assert max(kept) == max(values) and min(kept) == min(values)  # the spike and the dip survive
    assert 77_777 in kept_steps and 12_345 in kept_steps
    assert thin(steps[:10], values[:10], 1000) == (steps[:10], values[:10])


def test_a_stop_while_the_report_is_written_waits_for_the_page_then_exits_130(chain: Path, fake_swift: Path,
                                                                            monkeypatch) -> None:
    """The record is final before the page is written; a SIGTERM meanwhile leaves a whole page, then ends as
    Ctrl-C does (never a KeyboardInterrupt inside matplotlib's import)."""
    import os
    import signal

    from swiftpipe.report import page

    real = page.write

    def write_and_be_stopped(record, target):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the page is being written
        return real(record, target)

    monkeypatch.setattr(page, "write", write_and_be_stopped)
    result = CliRunner().invoke(main, ["run", str(chain), "--quiet"])
    assert result.exit_code == 130, result.output
    folder = Path(os.path.relpath(_record()["stages"]["infer"]["log"])).parent
    assert result.output.splitlines()[-2:] == [f"report: {folder / 'report.html'}", "interrupted"]
    assert (folder / "report.html").read_text().rstrip().endswith("</html>") and _record()["state"] == "done"


TWO_ADAPTERS = """
recipe = make_recipe("two", [
    sft("sft", {"model": "base", "train_type": "lora", "dataset": "data/sft.jsonl", "output_dir": "out/sft"}),
    sft("sft2", {"model": "base", "train_type": "lora", "dataset": "data/sft.jsonl", "output_dir": "out/sft2"}),
    infer("infer", {"model": "base", "adapters": [checkpoint("sft"), checkpoint("sft2")],
                    "val_dataset": "data/q.jsonl"}),
])
"""


def test_the_report_shows_every_value_a_stage_was_handed(chain: Path, fake_swift: Path, write_recipe) -> None:
    """Both adapters of one flag: the page reads what the stage recorded it was handed, not argv words."""
    recipe = write_recipe(TWO_ADAPTERS, name="two.py")
    result = CliRunner().invoke(main, ["run", str(recipe), "--quiet"])
    assert result.exit_code == 0, result.output
    record = latest_record()
    handed = [(h["flag"], h.get("producer"), h["path"]) for h in record["stages"]["infer"]["inputs"]]
    outputs = {name: record["stages"][name]["outputs"]["last_checkpoint"] for name in ("sft", "sft2")}
    assert handed[:1] == [("model", None, str(Path("base").resolve()))]  # a local folder, by its identity
    assert handed[1:] == [("adapters", "sft", outputs["sft"]), ("adapters", "sft2", outputs["sft2"]),
                          ("val_dataset", None, str(Path("data/q.jsonl").resolve()))]
    html = Path(record["stages"]["infer"]["log"]).with_name("report.html").read_text()
    assert "infer <code>--adapters</code></td><td>sft's last_checkpoint" in html
    assert "infer <code>--adapters</code></td><td>sft2's last_checkpoint" in html


RLHF = '''
def recipe():
    return make_recipe("rlhf", [
        sft("sft", {"model": "base", "dataset": "data/sft.jsonl", "output_dir": "out/sft"}),
        rlhf("grpo", "grpo", {"model": checkpoint("sft"), "dataset": "data/math.jsonl",
                              "reward_funcs": ["format", "accuracy"], "output_dir": "out/grpo"}),
        rlhf("ppo", "ppo", {"model": checkpoint("sft"), "reward_model": "base", "dataset": "data/sft.jsonl",
                            "output_dir": "out/ppo"}),
    ])
'''


def test_the_report_draws_every_series_a_method_logs_grouped_in_a_stable_order(chain: Path, fake_swift: Path,
                                                                               write_recipe) -> None:
    Path("data/math.jsonl").write_text('{"query": "1+1?", "solution": "2"}\n')  # what the accuracy reward reads
    write_recipe(RLHF, name="rl.py")  # the fake swift logs GRPO's and PPO's series as ms-swift names them
    result = CliRunner().invoke(main, ["run", "rl.py", "--quiet"])
    assert result.exit_code == 0, result.output
    html = Path(result.output.strip().splitlines()[-1].removeprefix("report: ")).read_text()
    drawn = drawn_values(html)
    stages = _record()["stages"]
    for stage, series in (("grpo", ["reward", "rewards/format/mean", "rewards/accuracy/mean", "kl",
                                    "completions/mean_length"]),
                          ("ppo", ["loss/policy_avg", "loss/value_avg", "objective/rlhf_reward", "objective/kl",
                                   "lr"])):
        logged = [json.loads(line) for line in
                  (Path(stages[stage]["outputs"]["run_dir"]) / "logging.jsonl").read_text().splitlines()]
        for name in series:
            expected = [(int(r["global_step/max_steps"].split("/")[0]), r[name]) for r in logged if name in r]
            points = drawn[(stage, "series-" + re.sub(r"[^a-z0-9]+", "-", name.lower()))]
            assert len(points) == len(expected) == 4, (stage, name)
            for (step, value), (x, y) in zip(expected, points):
                assert math.isclose(x, step, abs_tol=0.01) and math.isclose(y, value, rel_tol=0.01, abs_tol=1e-4)
    figures = re.findall(r'<figure class="chart" data-stage="grpo" data-series="([^"]*)"', html)
    assert figures == ["loss", "reward reward_std rewards/accuracy/mean rewards/format/mean", "kl",
                       "completions/mean_length", "learning_rate"]  # the charts, grouped, known names first
    summary = html[html.index('<section id="stage-grpo">'):].split('<p class="muted">')[1]
    names = re.findall(r"([\w/()]+): last ", summary)
    assert names == ["loss", "reward", "reward_std", "rewards/accuracy/mean", "rewards/format/mean", "kl",
                     "completions/mean_length", "learning_rate"]  # the one-line summaries, in the charts' order
    # each stage's number is its method's: GRPO's reward (its loss is 0 by design), PPO's objective (it logs no loss)
    assert [stages[name]["headline"] for name in ("sft", "grpo", "ppo")] == [
        {"series": "loss", "value": 0.5}, {"series": "reward", "value": 1.0},
        {"series": "objective/rlhf_reward", "value": 2.0}]
    status = CliRunner().invoke(main, ["status", "rl.py"], env={"COLUMNS": "200"})
    rows = {line.split("│")[1].strip(): line for line in status.output.splitlines() if line.count("│") > 4}
    assert "loss 0.5" in rows["sft"] and "reward 1 " in rows["grpo"] and "objective/rlhf_reward 2 " in rows["ppo"]
    assert '<text x="10" y="50" class="muted">reward 1</text>' in html  # and in the chain's graph


def test_the_progress_line_shows_the_methods_number() -> None:
    from swiftpipe.msswift import layout
    from swiftpipe.run.watch import format_progress

    grpo = layout._progress({"global_step/max_steps": "3/8", "loss": 0.0, "reward": 0.75, "learning_rate": 1e-6})
    ppo = layout._progress({"global_step/max_steps": "3/8", "objective/rlhf_reward": 1.5, "lr": 1e-6})
    assert grpo is not None and ppo is not None
    assert format_progress("grpo", grpo) == "[swiftpipe] grpo: step 3/8 · reward 0.75 · lr 1e-06"
    assert format_progress("ppo", ppo) == "[swiftpipe] ppo: step 3/8 · objective/rlhf_reward 1.5 · lr 1e-06"
