"""Every `swift rlhf` method past SFT, with the real ms-swift on the tiny model: recipes/reasoning.py run once (one
SFT, then GRPO with the recipe's own reward functions, a reward model merged for PPO, KTO and ORPO), its records
read back, and its report opened in Chromium and read back against ms-swift's logging.jsonl."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from records import latest_record
from report_points import drawn_values

from swiftpipe.msswift import layout
from swiftpipe.report.charts import series_id

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parent.parent
METHODS = ("grpo", "rm", "ppo", "kto", "orpo")


@pytest.fixture(scope="module")
def reasoning(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The recipe run once, as `make reasoning` runs it: the latest run record."""
    folder = tmp_path_factory.mktemp("reasoning")
    work = folder / "work"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "swiftpipe", "run", "recipes/reasoning.py", "-p", f"model={tiny}",
                           "-p", f"output={folder / 'out'}", "--quiet", "--work-dir", str(work)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout + done.stderr
    return latest_record(work) | {"work": str(work)}


def _flag(entry: dict, *names: str) -> str:
    argv = entry["command"]
    return next(argv[argv.index(name) + 1] for name in names if name in argv)


def _logged(entry: dict, series: str) -> list[tuple[int, float]]:
    """(step, value) of each line of the stage's logging.jsonl that logs `series`."""
    return [(int(r["global_step/max_steps"].split("/")[0]), float(r[series]))
            for r in layout.read_log(Path(entry["outputs"]["run_dir"])) if series in r and "global_step/max_steps" in r]


def test_each_method_trains_from_the_sft_model_and_ppo_scores_with_the_merged_reward_model(reasoning: dict) -> None:
    stages = reasoning["stages"]
    assert {name: s["state"] for name, s in stages.items()} == dict.fromkeys(
        ("sft", "grpo", "rm", "merge_rm", "ppo", "kto", "orpo"), "done")
    sft = stages["sft"]["outputs"]["last_checkpoint"]
    assert all(_flag(stages[name], "--model") == sft for name in METHODS)
    assert _flag(stages["merge_rm"], "--ckpt_dir", "--adapters") == stages["rm"]["outputs"]["last_checkpoint"]
    merged = stages["merge_rm"]["outputs"]["merged"]
    assert _flag(stages["ppo"], "--reward_model") == merged and (Path(merged) / "config.json").is_file()
    for name in METHODS:
        assert layout.is_complete(Path(stages[name]["outputs"]["last_checkpoint"])), name


def test_each_method_is_recorded_with_its_headline_number_as_logged(reasoning: dict) -> None:
    """GRPO's is its reward, PPO's its RLHF objective, the others' their loss: each the last value logged."""
    stages = reasoning["stages"]
    for name, series in (("grpo", "reward"), ("ppo", "objective/rlhf_reward"), ("rm", "loss"), ("kto", "loss"),
                         ("orpo", "loss")):
        headline = stages[name]["headline"]
        assert headline["series"] == series, name
        assert headline["value"] == pytest.approx(_logged(stages[name], series)[-1][1]), name


def test_grpo_is_rewarded_by_the_recipes_own_functions_and_the_reward_varies(reasoning: dict) -> None:
    grpo = reasoning["stages"]["grpo"]
    rows = layout.read_log(Path(grpo["outputs"]["run_dir"]))
    stepped = [r for r in rows if "reward" in r]
    assert len(stepped) == 8
    assert {"rewards/Closeness/mean", "rewards/Exact/mean"} <= set(stepped[0])  # the plugin file's classes
    assert any(r["reward_std"] > 0 for r in stepped)  # answers differ in reward: GRPO has an advantage to learn from


def test_the_report_draws_each_methods_rewards_and_objectives_as_logged_in_chromium(reasoning: dict,
                                                                                    chromium: str) -> None:
    page = Path(reasoning["work"]) / "runs" / reasoning["id"] / "report.html"
    dumped = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                             "--v=0", "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0 and "</html>" in dumped.stdout, dumped.stderr
    assert [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line] == []
    drawn = drawn_values(dumped.stdout)
    stages = reasoning["stages"]
    for stage, series in (("grpo", "reward"), ("grpo", "rewards/Closeness/mean"), ("grpo", "kl"),
                          ("ppo", "objective/rlhf_reward"), ("ppo", "loss/value_avg"), ("rm", "loss"),
                          ("kto", "loss"), ("orpo", "loss")):
        logged = _logged(stages[stage], series)
        points = drawn[(stage, series_id(series))]
        assert len(points) == len(logged) > 0, (stage, series)
        for (step, value), (x, y) in zip(logged, points):
            assert abs(x - step) < 0.05 and abs(y - value) < 2e-3 * max(1.0, abs(value)), (stage, series, step)
