"""End to end with the real ms-swift on a tiny locally built Qwen2, on the CPU (about a minute per chain).

Checks every hand-off from the run record, and that an interrupted chain resumes without re-running what
finished. Runs against whichever ms-swift major the venv holds (CI runs it for 3 and 4).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from records import latest_record

from swiftpipe.msswift import layout

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parent.parent


def _swiftpipe(*args: str, work: Path, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    env = {**os.environ, **(env or {}), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.Popen([sys.executable, "-m", "swiftpipe", *args, "--work-dir", str(work)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _record(work: Path) -> dict:
    return latest_record(work)


def _flag(entry: dict, *names: str) -> str:
    argv = entry["command"]
    for name in names:
        if name in argv:
            return argv[argv.index(name) + 1]
    raise AssertionError(f"none of {names} in {argv}")


@pytest.fixture(scope="module")
def demo(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo chain, run once for the tests that read it: its work dir and what swiftpipe printed."""
    folder = tmp_path_factory.mktemp("demo")
    work = folder / "work"
    proc = _swiftpipe("run", "recipes/demo.py", "-p", f"model={tiny}", "-p", f"output={folder / 'out'}", "--quiet",
                      work=work)
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output
    return work, output


def test_demo_chain_hands_every_output_to_the_next_stage(tiny: Path, demo: tuple[Path, str]) -> None:
    work, output = demo
    stages = _record(work)["stages"]
    compared = ["compare_base", "compare_pretrain", "compare_sft", "compare_dpo"]
    assert {name: s["state"] for name, s in stages.items()} == dict.fromkeys(
        ["pretrain", "sft", "merge", "dpo", "merge_dpo", *compared], "done")

    pretrain_ckpt = Path(stages["pretrain"]["outputs"]["last_checkpoint"])
    assert layout.is_complete(pretrain_ckpt) and (pretrain_ckpt / "config.json").is_file()
    assert _flag(stages["sft"], "--model") == str(pretrain_ckpt)
    sft_ckpt = stages["sft"]["outputs"]["last_checkpoint"]
    assert _flag(stages["merge"], "--ckpt_dir", "--adapters") == sft_ckpt
    merged = Path(stages["merge"]["outputs"]["merged"])
    assert merged == Path(sft_ckpt + "-merged") and (merged / "config.json").is_file()
    assert _flag(stages["dpo"], "--model") == str(merged)
    dpo_merged = Path(stages["merge_dpo"]["outputs"]["merged"])
    assert _flag(stages["merge_dpo"], "--ckpt_dir", "--adapters") == stages["dpo"]["outputs"]["last_checkpoint"]
    for name, model in zip(compared, (tiny, pretrain_ckpt, merged, dpo_merged)):  # every model, the same questions
        assert _flag(stages[name], "--model") == str(model) and stages[name]["group"] == "compare"
        results = Path(stages[name]["outputs"]["results"])
        assert results.is_file()
    questions = [json.loads(line) for line in (REPO / "datasets/medical_questions_sample.jsonl").open()]
    for name in compared:
        assert [a["question"] for a in stages[name]["answers"]] == [q["query"] for q in questions]
        assert [a["reference"] for a in stages[name]["answers"]] == [q["response"] for q in questions]
        assert all(isinstance(a["answer"], str) and "\ufffd" not in a["answer"] for a in stages[name]["answers"])
    rouge = {name: stages[name]["scores"]["rouge-l"] for name in compared}  # ms-swift's own ROUGE, per model
    # the demo learns its sample answers along the chain: the base model's noise scores nothing, the SFT model
    # gives some references word for word
    assert rouge["compare_base"] < 5 and rouge["compare_sft"] > 30 and rouge["compare_dpo"] > 30, rouge
    answers = stages["compare_sft"]["answers"]
    assert any(a["answer"] == a["reference"] for a in answers), answers
    assert all(a["answer"].strip() for name in compared for a in stages[name]["answers"])  # never an empty answer
    for name in ("pretrain", "sft", "dpo"):
        assert isinstance(stages[name]["final_loss"], float)
    table = output[output.index("compare: the same questions to each model"):]  # the summary ends side by side
    assert all(word in table for word in ("question", "reference", "base", "pretrain", "sft", "dpo", "rouge-l"))
    assert output.splitlines()[-1] == f"report: {work / 'runs' / _record(work)['id'] / 'report.html'}"


def test_the_demo_as_a_sweep_takes_the_demos_run_as_one_variant_and_compares_every_variant(
        tiny: Path, demo: tuple[Path, str]) -> None:
    """Two SFT learning rates after `make demo`, one the demo's own (5e-3): that variant is the demo's run, all of it
    reused (its folders are the chain's), and only the other branch trains, from the demo's pretraining, to its own
    merged DPO model; one table compares them all."""
    demo_work, _ = demo
    work = demo_work.parent / "sweep-work"  # the demo's history, copied: the tests after this one read the demo's
    shutil.copytree(demo_work, work)
    proc = _swiftpipe("run", "recipes/demo.py", "-p", f"model={tiny}", "-p", f"output={work.parent / 'out'}",
                      "--vary", "sft.learning_rate=5e-3,2e-3", "--quiet", work=work,
                      env={"COLUMNS": "220"})  # the table, a column per variant, unwrapped
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output
    demo_stages, stages = _record(demo_work)["stages"], _record(work)["stages"]
    branch = ("sft", "merge", "dpo", "merge_dpo", "compare_sft", "compare_dpo")
    assert {name: stages[name]["state"] for name in ("pretrain", "compare_base", "compare_pretrain")} == dict.fromkeys(
        ("pretrain", "compare_base", "compare_pretrain"), "reused")
    for name in branch:  # the demo's own learning rate: the demo's stages, as they finished
        assert stages[f"{name}@lr-5e-3"]["state"] == "reused"
        assert stages[f"{name}@lr-5e-3"]["outputs"] == demo_stages[name]["outputs"]
    assert {stages[f"{name}@lr-2e-3"]["state"] for name in branch} == {"done"}
    sft_ckpt = stages["sft@lr-2e-3"]["outputs"]["last_checkpoint"]
    assert _flag(stages["sft@lr-2e-3"], "--model") == stages["pretrain"]["outputs"]["last_checkpoint"]
    assert "/out/sft/lr-2e-3/v0-" in sft_ckpt
    assert _flag(stages["merge@lr-2e-3"], "--ckpt_dir", "--adapters") == sft_ckpt
    assert _flag(stages["compare_dpo@lr-2e-3"], "--model") == stages["merge_dpo@lr-2e-3"]["outputs"]["merged"]
    table = output[output.index("compare: the same questions to each model"):]
    assert all(f"{model}@lr={lr}" in table for model in ("sft", "dpo") for lr in ("5e-3", "2e-3")), table
    assert "best variant: " in table


def test_the_report_page_loads_in_chromium_and_draws_the_logged_losses(demo: tuple[Path, str], chromium: str,
                                                                       tmp_path: Path) -> None:
    """Headless Chromium (Debian's) opens the demo run's report: no console message, a screenshot, and the loss
    curves it drew read back to the values in ms-swift's logging.jsonl."""
    work, _ = demo
    record = _record(work)
    page = work / "runs" / record["id"] / "report.html"
    shot = tmp_path / "report.png"
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
              "--v=0", "--hide-scrollbars", "--window-size=1280,3000"]
    dumped = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0 and "</html>" in dumped.stdout, dumped.stderr
    assert [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line] == []
    shown = subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    keep = os.environ.get("SWIFTPIPE_SCREENSHOT")  # to look at it: SWIFTPIPE_SCREENSHOT=/tmp/report.png make test
    if keep:
        Path(keep).write_bytes(shot.read_bytes())

    from report_points import drawn_values

    drawn = drawn_values(dumped.stdout)  # the DOM as Chromium built it
    for stage in ("pretrain", "sft", "dpo"):
        logged = [r for r in layout.read_log(Path(record["stages"][stage]["outputs"]["run_dir"]))
                  if "loss" in r and "global_step/max_steps" in r]
        points = drawn[(stage, "series-loss")]
        assert len(points) == len(logged) > 10
        for r, (x, y) in zip(logged, points):
            step = int(r["global_step/max_steps"].split("/")[0])
            assert abs(x - step) < 0.05 and abs(y - r["loss"]) < 2e-3 * max(1.0, abs(r["loss"])), (stage, step)
    assert "compare" in dumped.stdout and 'data-score="rouge-l"' in dumped.stdout
    for producer, consumer in (("pretrain", "sft"), ("sft", "merge"), ("merge", "dpo"), ("merge_dpo", "compare_dpo")):
        assert f'data-from="{producer}" data-to="{consumer}"' in dumped.stdout  # the chain drawn as a graph


EVALUATED = """
import json
from swiftpipe import evaluate, make_recipe

def recipe(base: str, sft: str, swift: str):
    return make_recipe("evaluated", evaluate("eval", {"base": base, "sft": sft},
                                             ["datasets/medical_questions_sample.jsonl"],
                                             {"model_type": "qwen2", "template": "qwen2_5",
                                              "eval_generation_config": json.dumps({"max_tokens": 24})}, swift=swift))
"""


def test_evaluate_scores_the_base_and_the_sft_model_with_evalscope(tiny: Path, demo: tuple[Path, str],
                                                                  tmp_path: Path) -> None:
    """`swift eval` (EvalScope's Native backend, the local question set as general_qa) for real, offline, from the
    eval venv `make eval-venv` builds beside this one; the scores land in the record per model."""
    swift = Path(f"{sys.prefix}-eval") / "bin" / "swift"
    assert swift.is_file(), f"no {swift}: build it with `make eval-venv` (SWIFT=4 for ms-swift 4)"
    stages = _record(demo[0])["stages"]
    recipe = tmp_path / "evaluated.py"
    recipe.write_text(EVALUATED)
    work = tmp_path / "work"
    proc = _swiftpipe("run", str(recipe), "-p", f"base={tiny}", "-p", f"sft={stages['merge']['outputs']['merged']}",
                      "-p", f"swift={swift}", "--quiet", work=work,
                      env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MODELSCOPE_OFFLINE": "1"})
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output
    evaluated = _record(work)["stages"]
    scores = {}
    for name in ("eval_base", "eval_sft"):
        entry = evaluated[name]
        assert entry["state"] == "done" and entry["command"][:2] == [str(swift), "eval"]
        assert Path(entry["outputs"]["eval"]).is_file()
        scores[name] = entry["scores"]
        assert {"general_qa", "general_qa mean_Rouge-L-R", "general_qa mean_Rouge-L-F"} <= set(scores[name])
    # the demo's SFT model learned the sample answers; the base model knows none
    assert scores["eval_base"]["general_qa"] < scores["eval_sft"]["general_qa"], scores
    table = output[output.index("eval: scores of each model"):]
    assert "general_qa" in table and "base" in table and "sft" in table


def _sft_saved(out: Path, proc: subprocess.Popen, step: int) -> None:
    """Wait until the SFT has saved checkpoint-`step` and goes on training."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if any(layout.is_complete(c) for c in out.glob(f"sft/v*/checkpoint-{step}")):
            return
        time.sleep(0.1)
    raise AssertionError(f"the SFT saved no checkpoint-{step} (exit code {proc.poll()})")


def _stopped(proc: subprocess.Popen, work: Path, stop: str) -> None:
    """Ctrl-C, or swiftpipe killed outright (its supervisor then stops ms-swift); no process of the stage outlives
    swiftpipe."""
    pgid = _record(work)["stages"]["sft"]["pgid"]
    proc.send_signal(signal.SIGINT if stop == "ctrl-c" else signal.SIGKILL)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == (130 if stop == "ctrl-c" else -signal.SIGKILL), output
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise AssertionError(f"the SFT's process group {pgid} outlived swiftpipe")


def test_a_stopped_sft_resumes_from_its_checkpoint_without_rerunning_pretrain(tiny: Path, tmp_path: Path) -> None:
    """Ctrl-C after the SFT saved checkpoint-40, then swiftpipe killed outright after the resumed SFT saved
    checkpoint-80: each --resume continues the SFT from the last checkpoint saved, and never runs pretraining
    again."""
    work, out = tmp_path / "work", tmp_path / "out"
    args = ["run", "recipes/demo.py", "-p", f"model={tiny}", "-p", f"output={out}", "--stage", "pretrain",
            "--stage", "sft", "--quiet", "--set", "pretrain.num_train_epochs=2", "--set", "sft.num_train_epochs=16"]
    proc = _swiftpipe(*args, work=work)
    pretrain_runs: list[Path] = []
    for saved, stop in ((40, "ctrl-c"), (80, "kill-9")):
        _sft_saved(out, proc, saved)
        _stopped(proc, work, stop)
        stages = _record(work)["stages"]
        assert stages["pretrain"]["state"] == "done"
        assert stages["sft"]["state"] == ("interrupted" if stop == "ctrl-c" else "running")
        pretrain_runs = pretrain_runs or list((out / "pretrain").glob("v*"))
        assert len(pretrain_runs) == 1 and list((out / "pretrain").glob("v*")) == pretrain_runs
        proc = _swiftpipe(*args, "--resume", work=work)
        if saved == 40:  # the first resume goes on from checkpoint-40, in the folder of the launch it stopped
            _sft_saved(out, proc, 80)
            entry = _record(work)["stages"]["sft"]
            resumed_from = Path(_flag(entry, "--resume_from_checkpoint"))
            assert resumed_from.name == "checkpoint-40"
            assert resumed_from.parent == Path(entry["attempts"][0]["outputs"]["run_dir"])
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    stages = _record(work)["stages"]
    assert stages["pretrain"]["state"] == stages["sft"]["state"] == "done"  # pretrain: as it ended in this run
    assert list((out / "pretrain").glob("v*")) == pretrain_runs  # pretraining was not re-run
    assert _flag(stages["sft"], "--model") == stages["pretrain"]["outputs"]["last_checkpoint"]
    resumed_from = Path(_flag(stages["sft"], "--resume_from_checkpoint"))
    attempts = stages["sft"]["attempts"]  # the stopped launches, each in its own versioned folder
    assert [a["state"] for a in attempts] == ["interrupted", "interrupted"], attempts
    assert resumed_from.name == "checkpoint-80" and resumed_from.parent == Path(attempts[1]["outputs"]["run_dir"])
    steps = [r["global_step/max_steps"] for r in layout.read_log(Path(stages["sft"]["outputs"]["run_dir"]))
             if "global_step/max_steps" in r]
    total = steps[-1].split("/")[1]  # 96: 24 samples, 4 a step, 16 epochs
    assert steps[0] == f"82/{total}" and steps[-1] == f"{total}/{total}"  # it went on after step 80
    assert Path(stages["sft"]["outputs"]["last_checkpoint"]).name == f"checkpoint-{total}"


def test_two_node_ranks_on_this_machine_train_as_one_job(tiny: Path, tmp_path: Path) -> None:
    """The multi-node rehearsal: NNODES=2 with a rank 0 and a rank 1 on 127.0.0.1, one process each, gloo on the
    CPU. torchrun joins them into one world of 2; each rank trains on half the data."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    out = tmp_path / "out"
    ranks = [_swiftpipe("run", "recipes/demo.py", "-p", f"model={tiny}", "-p", f"output={out}", "--stage", "pretrain",
                        "--nodes", "2", "--node-rank", str(rank), "--master-addr", "127.0.0.1", "--master-port", port,
                        "--set", "pretrain.num_train_epochs=8", "--quiet", work=tmp_path / f"work{rank}")
             for rank in (0, 1)]
    outputs = [proc.communicate(timeout=900)[0] for proc in ranks]
    for rank, (proc, output) in enumerate(zip(ranks, outputs)):
        assert proc.returncode == 0, output
        assert "NNODES=2 with MASTER_ADDR=127.0.0.1" in output  # the loopback warning: a rehearsal only
        entry = _record(tmp_path / f"work{rank}")["stages"]["pretrain"]
        log = Path(entry["log"]).read_text()
        assert f"--nnodes 2 --node_rank {rank} --master_addr 127.0.0.1" in log  # ms-swift started torchrun
        assert f"rank: {rank}, local_rank: 0, world_size: 2, local_world_size: 1" in log
        assert Path(entry["outputs"]["last_checkpoint"]).name == "checkpoint-40"
    # 40 samples, 4 a step, 8 epochs: 80 steps on one process, 40 when two share the data.
    assert len(list((out / "pretrain").glob("v*"))) == 1


def test_an_imported_llamafactory_lora_pretraining_runs_and_merges(tiny: Path, tmp_path: Path) -> None:
    """Seed 001's shape: a LLaMA-Factory `stage: pt` LoRA config and its export config, imported and run as is."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text(json.dumps({"book": {"file_name": "book.jsonl",
                                                                 "columns": {"prompt": "content"}}}))
    lines = [json.loads(line) for line in (REPO / "datasets/medical_pretrain_sample.jsonl").open()]
    (data / "book.jsonl").write_text("".join(json.dumps({"content": r["text"]}, ensure_ascii=False)
                                             + "\n" for r in lines))
    out = tmp_path / "saves" / "tiny" / "lora" / "pretrain"
    (tmp_path / "pt.yaml").write_text(f"""### model
model_name_or_path: {tiny}
trust_remote_code: true
### method
stage: pt
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all
### dataset
dataset: book
cutoff_len: 128
max_samples: 16
overwrite_cache: true
preprocessing_num_workers: 1
dataloader_num_workers: 0
### output
output_dir: {out}
logging_steps: 1
save_steps: 4
plot_loss: true
overwrite_output_dir: true
report_to: none
### train
per_device_train_batch_size: 4
gradient_accumulation_steps: 1
learning_rate: 1.0e-3
num_train_epochs: 2.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
""")
    (tmp_path / "export.yaml").write_text(f"""model_name_or_path: {tiny}
adapter_name_or_path: {out}
template: qwen
finetuning_type: lora
export_dir: {tmp_path / "merged"}
export_size: 1
export_device: cpu
""")
    recipe = tmp_path / "lf.py"
    imported = subprocess.run([sys.executable, "-m", "swiftpipe", "import", str(tmp_path / "pt.yaml"),
                               str(tmp_path / "export.yaml"), "-o", str(recipe)], cwd=tmp_path, capture_output=True,
                              text=True)
    assert imported.returncode == 0, imported.stderr
    assert "hand-off: --adapters" in imported.stderr and "dropped: plot_loss" in imported.stderr
    work = tmp_path / "work"
    tiny_settings = ["--set", "pretrain.model_type=qwen2", "--set", "pretrain.template=qwen2_5",
                     "--set", "pretrain.torch_dtype=float32", "--set", "pretrain.check_model=false"]
    proc = _swiftpipe("run", str(recipe), *tiny_settings, "--quiet", work=work)
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output
    stages = _record(work)["stages"]
    assert {name: s["state"] for name, s in stages.items()} == {"pretrain": "done", "merge": "done"}
    checkpoint = Path(stages["pretrain"]["outputs"]["last_checkpoint"])
    assert checkpoint.parent.parent == out and (checkpoint / "adapter_config.json").is_file()
    assert _flag(stages["pretrain"], "--dataset") == f"{data / 'book.jsonl'}#16"
    assert _flag(stages["merge"], "--adapters") == str(checkpoint)
    assert _flag(stages["merge"], "--max_shard_size") == "1GB"
    assert (tmp_path / "merged" / "config.json").is_file() and stages["merge"]["outputs"]["merged"] == str(
        tmp_path / "merged")
