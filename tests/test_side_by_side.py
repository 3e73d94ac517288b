"""Side by side on one machine: a sweep's branches packed on the GPUs (a stand-in `nvidia-smi` lists them), or
`--jobs N` at once on the CPU. The fake `swift` writes when each call ran and on which devices, port and threads
($FAKE_SWIFT_SPANS), so these tests check what each concurrent stage received."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import pytest
from click.testing import CliRunner
from process_groups import group_gone
from records import latest_record
from terminal import on_a_terminal

from swiftpipe.cli import main
from swiftpipe.run import devices

REPO = Path(__file__).resolve().parent.parent
RANKS = "sft.lora_rank=8,16,32,64"

# The test chain, its SFT on two GPUs (torchrun: NPROC_PER_NODE=2) from port 29600; merge and infer on one.
PACKED = '''
def recipe(out: str = "out"):
    return make_recipe("packed", [
        pretrain("pretrain", {"model": "base", "train_type": "full", "dataset": "data/pt.jsonl",
                              "output_dir": f"{out}/pt"}, launch=Launch(nproc_per_node=1, cuda_visible_devices="0")),
        sft("sft", {"model": checkpoint("pretrain"), "train_type": "lora", "dataset": "data/sft.jsonl",
                    "output_dir": f"{out}/sft"}, launch=Launch(nproc_per_node=2, master_port=29600)),
        merge("merge", {"ckpt_dir": checkpoint("sft")}, launch=Launch(cuda_visible_devices="0")),
        infer("infer", {"model": merged("merge"), "val_dataset": "data/q.jsonl"},
              launch=Launch(cuda_visible_devices="0")),
    ])
'''


@pytest.fixture
def spans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "spans.jsonl"
    monkeypatch.setenv("FAKE_SWIFT_SPANS", str(log))
    return log


@pytest.fixture
def gpus(monkeypatch: pytest.MonkeyPatch):
    """A machine with `n` GPUs, as `nvidia-smi` lists them."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", f"{REPO / 'tests' / 'fake_gpus'}{os.pathsep}{os.environ['PATH']}")

    def machine(n: int) -> None:
        monkeypatch.setenv("FAKE_GPUS", str(n))

    return machine


@pytest.fixture(autouse=True)
def free_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every port free, whatever listens on this machine: the ports asserted are those swiftpipe chose."""
    monkeypatch.setattr(devices, "_free", lambda port: True)


@pytest.fixture
def meet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The fake SFTs wait for each other until `n` of them have started (30 s at most): they ran at once, or the
    test that expects them together finds them 30 s apart."""

    def together(n: int) -> None:
        monkeypatch.setenv("FAKE_SWIFT_MEET", f"sft:{n}:{tmp_path / 'met'}")

    return together


@pytest.fixture
def packed(chain: Path, write_recipe) -> Path:
    return Path(write_recipe(PACKED, name="packed.py").name)


def _spans(log: Path, sub: str | None = None) -> list[dict]:
    found = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [span for span in found if sub is None or span["argv"][1] == sub]


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def _states() -> dict[str, str]:
    return {name: s["state"] for name, s in latest_record(Path(".swiftpipe"))["stages"].items()}


def test_four_two_gpu_variants_run_at_once_on_eight_gpus_on_devices_and_ports_of_their_own(
        packed: Path, gpus, meet, spans: Path) -> None:
    gpus(8)
    meet(4)
    done = CliRunner().invoke(main, ["run", str(packed), "--vary", RANKS, "--quiet"])
    assert done.exit_code == 0, done.output
    assert "side by side on GPUs 0,1,2,3,4,5,6,7 (nvidia-smi)" in done.output
    assert len(_spans(spans, "pt")) == 1  # the shared pretraining, once
    sfts = _spans(spans, "sft")
    assert len(sfts) == 4 and all(len(s["devices"].split(",")) == 2 for s in sfts)
    assert all(_overlap(a, b) for a, b in combinations(sfts, 2))  # all four at once
    assert sorted(d for s in sfts for d in s["devices"].split(",")) == [str(g) for g in range(8)]
    assert sorted(s["port"] for s in sfts) == ["29600", "29601", "29602", "29603"]
    assert _spans(spans, "pt")[0]["devices"] == "0"  # a one-GPU stage gets one
    assert set(_states().values()) == {"done"}


def test_concurrent_stages_never_share_a_gpu_or_a_port(packed: Path, gpus, meet, spans: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    gpus(5)  # two 2-GPU SFTs fit at once, with a one-GPU merge or infer beside them
    meet(2)
    monkeypatch.setenv("FAKE_SWIFT_SLEEP_ON", "sft:0.3")
    done = CliRunner().invoke(main, ["run", str(packed), "--vary", RANKS, "--quiet"])
    assert done.exit_code == 0, done.output
    every = _spans(spans)
    assert len(every) == 1 + 4 * 3
    for a, b in combinations(every, 2):
        if _overlap(a, b):
            assert not set(a["devices"].split(",")) & set(b["devices"].split(",")), (a, b)
            assert a["port"] is None or a["port"] != b["port"], (a, b)
    assert max(sum(_overlap(a, b) for b in _spans(spans, "sft")) for a in _spans(spans, "sft")) == 2


def test_gpus_names_the_pool_and_each_stage_keeps_its_size(packed: Path, gpus, spans: Path) -> None:
    gpus(8)
    done = CliRunner().invoke(main, ["run", str(packed), "--vary", RANKS, "--gpus", "4,5,6,7", "--quiet"])
    assert done.exit_code == 0, done.output
    assert sorted(s["devices"] for s in _spans(spans, "sft")) == ["4,5", "4,5", "6,7", "6,7"]
    assert {s["devices"] for s in _spans(spans) if s["argv"][1] != "sft"} <= {"4", "5", "6", "7"}
    assert len(_spans(spans)) == 1 + 4 * 3


def test_a_variant_that_ran_on_other_gpus_is_reused_where_it_is_placed_is_not_what_it_is(
        packed: Path, gpus, spans: Path) -> None:
    gpus(8)
    assert CliRunner().invoke(main, ["run", str(packed), "--vary", RANKS, "--gpus", "0,1,2,3"]).exit_code == 0
    merge = CliRunner().invoke(main, ["run", str(packed), "--vary", RANKS, "--gpus", "4,5,6,7", "--quiet"])
    assert merge.exit_code == 0, merge.output
    assert len(_spans(spans)) == 1 + 4 * 3  # the second sweep launched nothing
    assert set(_states().values()) == {"reused"}


def test_a_stage_larger_than_the_machine_is_refused_before_anything_starts(packed: Path, gpus,
                                                                          fake_swift: Path) -> None:
    gpus(1)
    refused = CliRunner().invoke(main, ["run", str(packed), "--vary", RANKS, "--gpus", "0"])
    assert refused.exit_code == 2
    said = "stage 'sft@rank-8' asks for 2 GPUs (NPROC_PER_NODE=2), and this run has 1: GPUs 0 (--gpus)"
    assert said in refused.output
    assert "nothing was launched" in refused.output and not fake_swift.exists()
    assert not Path(".swiftpipe/runs").exists() or not any(Path(".swiftpipe/runs").iterdir())


def test_the_dry_run_says_what_starts_together_and_where(packed: Path, gpus) -> None:
    gpus(4)
    shown = CliRunner().invoke(main, ["run", str(packed), "--vary", "sft.lora_rank=8,16,32", "--dry-run"])
    assert shown.exit_code == 0, shown.output
    order = shown.output.split("they would start in this order:\n")[1].split("\n\n")[0].splitlines()
    assert order[:3] == [
        "  1. pretrain (GPU 0, port 29500)",
        "  2. sft@rank-8 (GPUs 0,1, port 29600) · sft@rank-16 (GPUs 2,3, port 29601)",
        "  3. sft@rank-32 (GPUs 0,1, port 29600) · merge@rank-8 (GPU 2) · merge@rank-16 (GPU 3)"]


def test_a_failed_variant_side_by_side_leaves_the_others_finished(packed: Path, gpus, meet, spans: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    gpus(8)
    meet(4)
    monkeypatch.setenv("FAKE_SWIFT_FAIL_WITH", "lora_rank=16")
    failed = CliRunner().invoke(main, ["run", str(packed), "--vary", RANKS, "--quiet"])
    assert failed.exit_code == 1, failed.output
    states = _states()
    assert states.pop("sft@rank-16") == "failed"
    assert states.pop("merge@rank-16") == states.pop("infer@rank-16") == "aborted"
    assert set(states.values()) == {"done"}
    assert latest_record(Path(".swiftpipe"))["stages"]["infer@rank-16"]["reason"] == "prerequisite sft@rank-16 failed"
    assert all(_overlap(a, b) for a, b in combinations(_spans(spans, "sft"), 2))  # side by side, the failed one too


def test_jobs_runs_stages_at_once_on_the_cpu_with_a_share_of_the_cores_each(chain: Path, gpus, meet, spans: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    gpus(0)  # nvidia-smi finds none
    meet(2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    done = CliRunner().invoke(main, ["run", str(chain), "--vary", "sft.learning_rate=1e-4,5e-5", "--jobs", "2",
                                     "--quiet"])
    assert done.exit_code == 0, done.output
    a, b = _spans(spans, "sft")
    assert _overlap(a, b) and a["devices"] is None
    assert a["threads"] == b["threads"] == str(max(1, len(os.sched_getaffinity(0)) // 2))


def test_a_sweep_on_the_cpu_runs_one_stage_at_a_time(chain: Path, spans: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU to share, whatever this machine has
    done = CliRunner().invoke(main, ["run", str(chain), "--vary", "sft.learning_rate=1e-4,5e-5", "--quiet"])
    assert done.exit_code == 0, done.output
    every = _spans(spans)
    assert not any(_overlap(a, b) for a, b in combinations(every, 2))
    assert all(span["threads"] == os.environ.get("OMP_NUM_THREADS") for span in every)  # as it was given


def test_ctrl_c_stops_every_running_variant_and_resume_finishes_only_what_did_not(
        packed: Path, gpus, spans: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gpus(8)
    monkeypatch.setenv("FAKE_SWIFT_SLEEP_ON", "sft:30")
    command = [sys.executable, "-m", "swiftpipe", "run", str(packed), "--vary", RANKS, "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while len([line for line in _lines(Path("out/sft"))]) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)  # every SFT has its run folder: all four run
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    states = _states()
    assert states["pretrain"] == "done"
    assert {states[f"sft@rank-{r}"] for r in (8, 16, 32, 64)} == {"interrupted"}
    assert {states[f"merge@rank-{r}"] for r in (8, 16, 32, 64)} == {"aborted"}
    assert latest_record(Path(".swiftpipe"))["state"] == "interrupted"
    monkeypatch.delenv("FAKE_SWIFT_SLEEP_ON")
    before = len(_spans(spans))
    resumed = CliRunner().invoke(main, ["run", str(packed), "--vary", RANKS, "--resume", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    again = [span["argv"][1] for span in _spans(spans)[before:]]
    assert sorted(again) == sorted(["sft", "export", "infer"] * 4)  # the pretraining is reused
    assert all("--resume_from_checkpoint" in span["argv"] for span in _spans(spans, "sft")[-4:])


def _lines(folder: Path) -> list[Path]:
    return list(folder.glob("*/v*-*/checkpoint-*")) if folder.exists() else []


def test_kill_9_of_swiftpipe_stops_every_running_variant_and_status_settles_each(
        packed: Path, gpus, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gpus(8)
    monkeypatch.setenv("FAKE_SWIFT_SLEEP_ON", "sft:60")
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(packed), "--vary", RANKS, "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(_lines(Path("out/sft"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.kill()  # SIGKILL: swiftpipe records nothing more
    proc.wait(timeout=10)
    sfts = [json.loads(line) for line in fake_swift.read_text().splitlines() if json.loads(line)["argv"][1] == "sft"]
    assert len(sfts) == 4
    deadline = time.monotonic() + 30
    while not all(group_gone(call["pgid"]) for call in sfts) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(group_gone(call["pgid"]) for call in sfts)  # each stage's supervisor stopped its whole group
    status = CliRunner().invoke(main, ["status", str(packed), "--vary", RANKS])
    assert status.exit_code == 0, status.output
    states = _states()
    assert {states[f"sft@rank-{r}"] for r in (8, 16, 32, 64)} == {"interrupted"}
    assert latest_record(Path(".swiftpipe"))["state"] == "interrupted"


def test_the_live_view_shows_every_running_stage_with_its_bar_and_its_last_line(packed: Path, gpus, meet,
                                                                                fake_swift: Path) -> None:
    gpus(4)
    meet(2)
    env = {**os.environ, "FAKE_SWIFT_STEPS": "4", "FAKE_SWIFT_SLEEP_ON": "sft:1.5", "COLUMNS": "150", "LINES": "40",
           "TERM": "xterm-256color"}
    code, drawn = on_a_terminal([sys.executable, "-m", "swiftpipe", "run", str(packed), "--vary",
                                  "sft.lora_rank=8,16"], env)
    assert code == 0, drawn
    for rank in (8, 16):
        assert re.search(rf"sft@rank-{rank}\s+running\s+\S*\s*2/4\s+loss 1\b", drawn), drawn
        assert f"sft@rank-{rank}: [INFO:swift] training... (sleeping to be interrupted)" in drawn


@pytest.mark.parametrize("args", [
    ["--vary", "none"],  # the chain alone
    ["--vary", RANKS, "--nodes", "2", "--master-addr", "10.0.0.5"],  # each node must start the same stage together
])
def test_the_chain_alone_and_a_multi_node_sweep_run_one_stage_at_a_time_as_the_recipe_launches_them(
        packed: Path, gpus, args: list[str]) -> None:
    gpus(8)
    shown = CliRunner().invoke(main, ["run", str(packed), *args, "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "side by side" not in shown.output and "would start in this order" not in shown.output
