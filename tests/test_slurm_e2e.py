"""End to end on a real Slurm: a one-node cluster on 127.0.0.1 (tests/slurm/cluster.sh installs Slurm and munge
from Debian's packages when they are missing, which needs root), the demo chain submitted with
`--launcher slurm` and run by the real ms-swift on the CPU.

Checks the hand-offs and states in the run record, a failed SFT whose dependants end aborted and a --resume
that finishes the chain without re-running pretraining, and `cancel`. Every daemon started is stopped by PID.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from records import latest_record

from swiftpipe.msswift import layout
from swiftpipe.slurm import client

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parent.parent
CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment that reaches the cluster (SLURM_CONF), for the life of this module."""
    state = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "SLURMCTLD_PORT": str(_free_port()), "SLURMD_PORT": str(_free_port())}
    up = subprocess.run(["bash", str(CLUSTER), "up", str(state)], capture_output=True, text=True, env=env,
                        timeout=600)
    try:
        assert up.returncode == 0, f"no local Slurm cluster:\n{up.stdout}\n{up.stderr}"
        yield {**os.environ, "SLURM_CONF": str(state / "slurm.conf"), "SWIFTPIPE_SLURM_POLL": "1",
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    finally:
        subprocess.run(["bash", str(CLUSTER), "down", str(state)], timeout=120)


def _swiftpipe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "swiftpipe", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)


def _record(work: Path) -> dict:
    return latest_record(work)


def _squeue(env: dict[str, str], job_id: str) -> str:
    return subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T|%r"], env=env, capture_output=True,
                          text=True).stdout.strip()


def _flag(entry: dict, *names: str) -> str:
    argv = entry["command"]
    return next(argv[argv.index(n) + 1] for n in names if n in argv)


# The chain up to the merged SFT model, compared with the base model: a job per stage, hand-offs through Slurm, the
# comparisons as jobs that wait on what they compare. The local e2e runs the whole demo (DPO, all four compared).
COMPARED = ["compare_base", "compare_sft"]
TRAINED = ["pretrain", "sft", "merge"]
SHORT = ["--set", "pretrain.num_train_epochs=2", "--set", "sft.num_train_epochs=8"]  # the hand-offs, not the learning


def test_demo_chain_runs_as_one_job_per_stage(slurm: dict[str, str], tiny: Path, tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    chosen = [arg for name in TRAINED + COMPARED for arg in ("--stage", name)]
    done = _swiftpipe(slurm, "run", "recipes/demo.py", "-p", f"model={tiny}", "-p", f"output={out}", "--launcher",
                      "slurm", "--work-dir", str(work), "--wait", *chosen, *SHORT)
    assert done.returncode == 0, done.stdout + done.stderr
    record = _record(work)
    stages = record["stages"]
    assert record["launcher"]["name"] == "slurm" and record["state"] == "done"
    assert {n: (s["state"], s["job"]["state"], s["job"]["exit_code"]) for n, s in stages.items()} == dict.fromkeys(
        TRAINED + COMPARED, ("done", "COMPLETED", "0:0"))
    job_ids = [int(s["job"]["id"]) for s in stages.values()]
    assert job_ids == sorted(set(job_ids))  # one job per stage, submitted in chain order
    names = list(stages)
    for before, after in zip(names, names[1:]):  # afterok: each job started after the previous one ended
        assert stages[before]["ended"] <= stages[after]["started"]

    pretrain_ckpt = stages["pretrain"]["outputs"]["last_checkpoint"]
    assert layout.is_complete(Path(pretrain_ckpt))
    assert _flag(stages["sft"], "--model") == pretrain_ckpt
    assert _flag(stages["merge"], "--ckpt_dir", "--adapters") == stages["sft"]["outputs"]["last_checkpoint"]
    assert _flag(stages["compare_sft"], "--model") == stages["merge"]["outputs"]["merged"]
    assert all(len(stages[name]["answers"]) == 4 and "rouge-l" in stages[name]["scores"] for name in COMPARED)
    sft_script = Path(stages["sft"]["script"]).read_text()  # what ran in the job: srun, the input filled in
    assert "#SBATCH --job-name=demo-sft" in sft_script and f"--model {pretrain_ckpt}" in sft_script
    assert "srun --nodes=1 --ntasks=1" in sft_script

    status = _swiftpipe(slurm, "status", "recipes/demo.py", "-p", f"model={tiny}", "-p", f"output={out}",
                        "--work-dir", str(work), "--json")
    assert json.loads(status.stdout)["stages"]["merge"]["job"]["id"] == stages["merge"]["job"]["id"]


def test_failed_sft_aborts_the_rest_and_resume_finishes(slurm: dict[str, str], tiny: Path, tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    args = ["run", "recipes/demo.py", "-p", f"model={tiny}", "-p", f"output={out}", "--stage", "pretrain", "--stage",
            "sft", "--stage", "merge", "--launcher", "slurm", "--work-dir", str(work), "--wait", *SHORT]
    failed = _swiftpipe(slurm, *args, "--set", "sft.lora_rank=0")  # peft refuses a rank of 0
    assert failed.returncode == 1, failed.stdout + failed.stderr
    stages = _record(work)["stages"]
    assert stages["pretrain"]["state"] == "done"
    assert stages["sft"]["state"] == "failed" and stages["sft"]["job"]["state"] == "FAILED"
    assert stages["sft"]["job"]["exit_code"] == "1:0" and stages["sft"]["exit_code"] != 0
    assert stages["merge"]["state"] == "aborted" and stages["merge"]["job"]["reason"] == "DependencyNeverSatisfied"
    assert "last lines of" in failed.stdout  # --wait shows why the SFT failed
    deadline = time.monotonic() + 60  # the never-startable merge job is cancelled, not left in the queue
    while _squeue(slurm, stages["merge"]["job"]["id"]).split("|")[0] != "CANCELLED" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _squeue(slurm, stages["merge"]["job"]["id"]).startswith("CANCELLED|")

    resumed = _swiftpipe(slurm, *args, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = _record(work)["stages"]
    # the pretraining, unchanged, is reused as a local --resume reuses it (run/plan.py), not resubmitted: it stays
    # done, as it ended in this run
    assert {n: s["state"] for n, s in after.items()} == {"pretrain": "done", "sft": "done", "merge": "done"}
    assert after["pretrain"]["job"]["id"] == stages["pretrain"]["job"]["id"]
    assert len(list((out / "pretrain").glob("v*"))) == 1
    assert int(after["sft"]["job"]["id"]) > int(stages["merge"]["job"]["id"])
    assert _flag(after["sft"], "--model") == stages["pretrain"]["outputs"]["last_checkpoint"]
    assert Path(after["merge"]["outputs"]["merged"]).is_dir()


def test_cancel_stops_the_running_and_the_queued_jobs(slurm: dict[str, str], tiny: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    recipe = ["recipes/demo.py", "-p", f"model={tiny}", "-p", f"output={tmp_path / 'out'}"]
    submitted = _swiftpipe(slurm, "run", *recipe, "--stage", "pretrain", "--stage", "sft", "--launcher", "slurm",
                           "--work-dir", str(work), "--set", "pretrain.num_train_epochs=200")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert "swiftpipe cancel" in submitted.stdout
    deadline = time.monotonic() + 120
    while _record(work)["stages"]["pretrain"]["state"] != "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _record(work)["stages"]["pretrain"]["state"] == "running"
    cancelled = _swiftpipe(slurm, "cancel", *recipe, "--work-dir", str(work))
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    stages = _record(work)["stages"]
    for name in ("pretrain", "sft"):
        assert f"{name}: cancelled job {stages[name]['job']['id']}" in cancelled.stdout
    deadline = time.monotonic() + 120
    while _squeue(slurm, stages["pretrain"]["job"]["id"]).split("|")[0] not in ("CANCELLED",) \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    for name in ("pretrain", "sft"):
        assert _squeue(slurm, stages[name]["job"]["id"]).startswith("CANCELLED|")
    status = _swiftpipe(slurm, "status", *recipe, "--work-dir", str(work), "--json")
    after = json.loads(status.stdout)["stages"]
    assert after["pretrain"]["state"] == "interrupted" and after["sft"]["state"] == "interrupted"
    again = _swiftpipe(slurm, "cancel", *recipe, "--work-dir", str(work))
    assert again.returncode == 0 and "no job queued or running" in again.stdout


def test_a_job_waits_for_the_last_that_must_succeed_and_for_an_observer_only_to_end(
        slurm: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What submission relies on, asked of the real Slurm: a job submitted with client.submit(after=A,
    after_any=B) runs once A has succeeded and B has ended, though B failed; if A failed, it never runs."""
    monkeypatch.setenv("SLURM_CONF", slurm["SLURM_CONF"])
    scripts = {}
    for name, code in (("ok", 0), ("bad", 1)):
        scripts[name] = tmp_path / f"{name}.sh"
        scripts[name].write_text(f"#!/bin/bash\n#SBATCH --output={tmp_path}/%j.out\nexit {code}\n")
    trained = client.submit(scripts["ok"])
    observer = client.submit(scripts["bad"], after=[trained])  # a comparison that fails
    after_observer = client.submit(scripts["ok"], after=[trained], after_any=[observer])
    failed = client.submit(scripts["bad"], after=[after_observer])  # a training stage that fails
    never = client.submit(scripts["ok"], after=[failed], after_any=[observer])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = client.states([trained, observer, after_observer, failed, never])
        if found[never].reason == client.NEVER or found[never].state not in client.ACTIVE:
            break
        time.sleep(0.5)
    assert [found[j].state for j in (trained, observer, after_observer, failed)] == [
        "COMPLETED", "FAILED", "COMPLETED", "FAILED"]
    assert (found[never].state, found[never].reason) in (("PENDING", client.NEVER), ("CANCELLED", client.NEVER))
    client.cancel([never])


def test_a_sweep_runs_its_shared_pretraining_once_and_each_variant_as_a_job_that_waits_only_on_it(
        slurm: dict[str, str], tiny: Path, tmp_path: Path) -> None:
    """Two SFT learning rates on one pretraining: three jobs, each SFT after the pretraining's job alone, so the
    cluster may run them side by side; each writes its own output folder (5e-3, the recipe's own, the chain's)."""
    work, out = tmp_path / "work", tmp_path / "out"
    done = _swiftpipe(slurm, "run", "recipes/demo.py", "-p", f"model={tiny}", "-p", f"output={out}", "--launcher",
                      "slurm", "--work-dir", str(work), "--wait", "--vary", "sft.learning_rate=5e-3,1e-3", "--stage",
                      "pretrain", "--stage", "sft", "--set", "pretrain.num_train_epochs=2", "--set",
                      "sft.num_train_epochs=2")
    assert done.returncode == 0, done.stdout + done.stderr
    stages = _record(work)["stages"]
    assert {n: (s["state"], s["job"]["state"]) for n, s in stages.items()} == dict.fromkeys(
        ["pretrain", "sft@lr-5e-3", "sft@lr-1e-3"], ("done", "COMPLETED"))
    pretrain_job = stages["pretrain"]["job"]["id"]
    for name, folder in (("sft@lr-5e-3", out / "sft"), ("sft@lr-1e-3", out / "sft" / "lr-1e-3")):
        assert f"[swiftpipe] {name}: job {stages[name]['job']['id']} (after job {pretrain_job})" in done.stdout
        assert _flag(stages[name], "--model") == stages["pretrain"]["outputs"]["last_checkpoint"]
        assert Path(stages[name]["outputs"]["run_dir"]).parent == folder
    assert len(list((out / "pretrain").glob("v*"))) == 1  # pretrained once for both
