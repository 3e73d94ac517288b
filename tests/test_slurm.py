"""Slurm without a cluster: the sbatch scripts (golden files), the options, the chain script that
export-scripts writes (run against a stand-in sbatch), Slurm's answers read into run records, and the record
writes that a job and the login node share. The real cluster is in test_slurm_e2e.py."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from shell_commands import flag_pairs, parse

from swiftpipe.cli import main
from swiftpipe.recipe import loading
from swiftpipe.records import run_record
from swiftpipe.records.run_record import ENDED, State
from swiftpipe.slurm import client, submit
from swiftpipe.slurm.client import JobState

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "medical"
STAGES = ["pretrain", "sft", "merge", "dpo", "merge_dpo"]  # the training chain; infer chats in a terminal: no batch job
COMPARED = ["compare_base", "compare_pretrain", "compare_sft", "compare_dpo",  # then evaluated (batch jobs too)
            "eval_base", "eval_sft", "eval_dpo", "eval_cmb_base", "eval_cmb_sft", "eval_cmb_dpo"]

# The medical recipe at scale: golden name -> render options. 8 sequences per step cannot be split over 16
# processes, so the two-node cases say how many each one takes.
LAUNCHES = {
    "slurm-2x8": ["--launcher", "slurm", "--nodes", "2", "--gpus-per-node", "8", "--partition", "gpu", "--account",
                  "med", "--time", "24:00:00", "--set", "pretrain.gradient_accumulation_steps=1"],
    "slurm-1x4": ["--launcher", "slurm", "--gpus-per-node", "4", "--partition", "gpu"],
    "slurm-zero3": ["--launcher", "slurm", "--gpus-per-node", "8", "--sbatch", "--cpus-per-task=32",
                    "--set", "pretrain.deepspeed=zero3", "--set", "sft.deepspeed=zero3",
                    "--set", "dpo.deepspeed=zero3"],
    "nodes2-rank1": ["--nodes", "2", "--node-rank", "1", "--master-addr", "10.0.0.5", "--gpus", "0,1,2,3,4,5,6,7",
                     "--set", "pretrain.gradient_accumulation_steps=1"],
}


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("variant", list(LAUNCHES))
def test_rendered_launches_match_golden_files(monkeypatch: pytest.MonkeyPatch, variant: str,
                                              update_golden: bool) -> None:
    monkeypatch.chdir(REPO)
    suffix = ".sbatch" if "slurm" in LAUNCHES[variant] else ".sh"
    expected = {}
    for stage in STAGES:
        code, text = _cli("render", "recipes/medical.py", "--stage", stage, "--swift-version", "3", *LAUNCHES[variant])
        assert code == 0, text
        expected[stage + suffix] = text
    folder = GOLDEN / f"launch-{variant}"
    if update_golden:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in expected.items():
            (folder / name).write_text(text)
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    for name, text in expected.items():
        assert text == (folder / name).read_text(), f"{folder / name} differs: run `make golden` if intended"


def _sbatch(variant: str, stage: str) -> tuple[list[str], dict[str, str], dict[str, tuple[str, ...]]]:
    """(#SBATCH options, exported variables, ms-swift flags) of a golden sbatch script."""
    text = (GOLDEN / f"launch-{variant}" / f"{stage}.sbatch").read_text()
    lines = text.splitlines()
    directives = [line.split(" ", 1)[1] for line in lines if line.startswith("#SBATCH ")]
    exported = dict(line[len("export "):].split("=", 1) for line in lines if line.startswith("export ") and "=" in line)
    swift = text[re.search(r"^ +swift ", text, re.M).end() - len("swift "):]  # srun's command: ms-swift
    return directives, exported, dict(flag_pairs(parse(swift)[1]))


def test_two_nodes_of_eight_gpus_start_torchrun_on_every_node() -> None:
    directives, exported, flags = _sbatch("slurm-2x8", "sft")
    assert directives[:4] == ["--job-name=medical-sft", "--nodes=2", "--ntasks-per-node=1", "--gpus-per-node=8"]
    assert {"--partition=gpu", "--account=med", "--time=24:00:00"} <= set(directives)
    assert exported == {"NPROC_PER_NODE": "8", "NNODES": '"$SLURM_JOB_NUM_NODES"'}
    text = (GOLDEN / "launch-slurm-2x8" / "sft.sbatch").read_text()
    assert 'MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)"' in text
    assert "bash -c 'NODE_RANK=\"$SLURM_NODEID\" exec \"$@\"'" in text  # each node's rank, from Slurm
    assert "CUDA_VISIBLE_DEVICES" not in text  # Slurm binds the GPUs it allocates
    assert flags["--model"] == ("<pretrain.last_checkpoint>",)
    merge_directives, merge_env, _ = _sbatch("slurm-2x8", "merge")  # merging needs one GPU on one node
    assert merge_directives[1:4] == ["--nodes=1", "--ntasks-per-node=1", "--gpus-per-node=1"] and merge_env == {}


def test_one_node_keeps_the_global_batch_and_passes_sbatch_options() -> None:
    _, exported, flags = _sbatch("slurm-1x4", "pretrain")
    assert exported == {"NPROC_PER_NODE": "4", "MASTER_PORT": "29500"}
    assert flags["--gradient_accumulation_steps"] == ("2",)  # 8 sequences per step, as on one GPU
    directives, _, flags = _sbatch("slurm-zero3", "sft")
    assert "--cpus-per-task=32" in directives and flags["--deepspeed"] == ("zero3",)


def test_sixteen_processes_cannot_keep_the_pretraining_batch() -> None:
    code, output = _cli("render", str(REPO / "recipes/medical.py"), "--launcher", "slurm", "--nodes", "2",
                        "--gpus-per-node", "8")
    assert code == 2 and "8 does not divide evenly across 16 processes" in output


@pytest.mark.parametrize("args, message", [
    (["--launcher", "slurm", "--gpus", "0,1"], "--gpus: with --launcher slurm, Slurm picks the GPUs and nodes"),
    (["--partition", "gpu"], "--partition is a Slurm option: add --launcher slurm"),
    (["--launcher", "slurm", "--time", "1 day"], "--time 1 day: not a Slurm time limit"),
    (["--launcher", "slurm", "--sbatch", "qos=high"], "--sbatch 'qos=high': give one long sbatch option"),
])
def test_bad_slurm_options_are_one_line(args: list[str], message: str) -> None:
    code, output = _cli("render", str(REPO / "recipes/medical.py"), *args)
    assert code == 2 and output.startswith(f"error: {message}") and len(output.strip().splitlines()) == 1


def test_run_without_slurm_commands_submits_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    code, output = _cli("run", str(REPO / "recipes/demo.py"), "--launcher", "slurm", "--work-dir", str(tmp_path / "w"))
    assert code == 3 and "sbatch, squeue, scontrol, scancel not found on PATH" in output
    assert not (tmp_path / "w").exists()


FAKE_SBATCH = """#!/usr/bin/env bash
# Records its arguments and answers with the next job id, as `sbatch --parsable` does.
n=$(( $(wc -l < "$SBATCH_LOG" 2>/dev/null || echo 0) + 101 ))
echo "$*" >> "$SBATCH_LOG"
echo "$n;cluster"
"""


def test_exported_chain_submits_each_stage_after_the_previous_one(tmp_path: Path) -> None:
    code, output = _cli("export-scripts", str(REPO / "recipes/medical.py"), str(tmp_path / "jobs"), "--launcher",
                        "slurm", "--gpus-per-node", "4")
    assert code == 0, output
    names = sorted(p.name for p in (tmp_path / "jobs").iterdir())
    assert names == sorted([f"{s}.sbatch" for s in STAGES + COMPARED] + ["submit_all.sh"])
    for name in names:
        subprocess.run(["bash", "-n", str(tmp_path / "jobs" / name)], check=True)
    sft = (tmp_path / "jobs" / "sft.sbatch").read_text()
    assert 'PRETRAIN_LAST_CHECKPOINT="$(swiftpipe_last_checkpoint output/pretrain pretrain)"' in sft
    assert '--model "$PRETRAIN_LAST_CHECKPOINT"' in sft

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    log = tmp_path / "sbatch.log"
    done = subprocess.run(["bash", str(tmp_path / "jobs" / "submit_all.sh")], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SBATCH_LOG": str(log)})
    assert done.returncode == 0, done.stderr
    jobs = tmp_path / "jobs"
    trained = 100 + len(STAGES)  # merge_dpo's job: each comparison and evaluation needs it to have succeeded
    assert log.read_text().splitlines() == [f"--parsable {jobs}/pretrain.sbatch"] + [
        f"--parsable --dependency=afterok:{job} {jobs}/{stage}.sbatch" for job, stage in enumerate(STAGES[1:], 101)
    ] + [f"--parsable --dependency=afterok:{trained} {jobs}/{COMPARED[0]}.sbatch"] + [  # then one after another,
        f"--parsable --dependency=afterok:{trained},afterany:{job} {jobs}/{stage}.sbatch"  # whether or not it failed
        for job, stage in enumerate(COMPARED[1:], trained + 1)]
    assert "compare_dpo.sbatch: job 109" in done.stdout


def test_squeue_and_scontrol_lines_are_read() -> None:
    assert client.parse_squeue("12|FAILED|NonZeroExitCode\n13|PENDING|DependencyNeverSatisfied\n") == {
        "12": JobState("12", "FAILED", "NonZeroExitCode"), "13": JobState("13", "PENDING", "DependencyNeverSatisfied")}
    line = "JobId=12 JobName=medical-sft UserId=root(0) JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 Dep"
    assert client.parse_scontrol(line)["ExitCode"] == "3:0"
    assert not JobState("13", "PENDING", client.NEVER).active and JobState("14", "PENDING", "Dependency").active


@pytest.mark.parametrize("recorded, job, state, reason", [
    ("queued", JobState("7", "PENDING", "Priority"), "queued", None),
    ("queued", JobState("7", "RUNNING", "None"), "running", None),
    ("queued", JobState("7", "PENDING", client.NEVER), "aborted", "job 7 would never start, as a job it depends on"),
    ("queued", JobState("7", "CANCELLED", "None"), "interrupted", "job 7 was cancelled"),
    ("running", JobState("7", "TIMEOUT", "TimeLimit", "0:15"), "interrupted", "Slurm stopped job 7: TIMEOUT"),
    ("running", JobState("7", "PREEMPTED", "None", "0:15"), "interrupted", "Slurm stopped job 7: PREEMPTED"),
    ("running", JobState("7", "NODE_FAIL", "None", "0:9"), "failed", "Slurm ended job 7 NODE_FAIL"),
    ("running", None, "failed", "Slurm no longer knows job 7"),
    ("done", JobState("7", "COMPLETED", "None", "0:0"), "done", None),  # the job's own word stands
    ("failed", JobState("7", "FAILED", "NonZeroExitCode", "1:0"), "failed", None),
])
def test_slurm_states_map_to_stage_states(recorded: str, job: JobState | None, state: str, reason: str | None) -> None:
    entry = run_record.StageRecord(State(recorded), job=run_record.Job("7", "", "x.sbatch", "x.out"))
    submit.apply_slurm_state(entry, job)
    assert entry.state is State(state)
    assert entry.reason is None if reason is None else entry.reason.startswith(reason)
    assert entry.job.state == (job.state if job is not None else "FORGOTTEN")


def test_a_jobs_write_keeps_what_others_wrote_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the project: the record keeps paths relative to it
    record = run_record.create(tmp_path, loading.load(REPO / "recipes/demo.py"), stages=["pretrain", "sft"])
    job = dataclasses.replace(run_record.read(record.folder), owns="pretrain")
    entry = job.stage("pretrain")
    with run_record.locked(record.folder) as other:  # the login node marks sft while the job runs
        other.stage("sft").job = run_record.Job("8", "", "sft.sbatch", "sft.out")
        other.stage("sft").waits_or_runs(State.QUEUED)
        other.save()
    entry.waits_or_runs(State.RUNNING)
    job.save()
    entry = job.stage("pretrain")  # the job keeps writing through its own stage record
    entry.end(State.DONE)
    job.save()
    on_disk = json.loads((record.folder / "record.json").read_text())["stages"]
    assert on_disk["pretrain"] == {"state": "done"}
    assert on_disk["sft"] == {"state": "queued", "job": {"id": "8", "submitted": "", "sbatch": "sft.sbatch",
                                                          "output": "sft.out", "state": "PENDING"}}


def test_chain_state_follows_its_stages(tmp_path: Path) -> None:
    record = run_record.create(tmp_path, loading.load(REPO / "recipes/demo.py"), stages=["a", "b", "c"])
    for states, expected in [(("done", "running", "queued"), State.RUNNING), (("done", "failed", "aborted"),
                             State.FAILED), (("done", "done", "skipped"), State.DONE)]:
        for name, value in zip("abc", states):
            state = State(value)
            record.stage(name).end(state) if state in ENDED else record.stage(name).waits_or_runs(state)
        assert submit.chain_state(record) is expected


FAKE_SQUEUE = """#!/usr/bin/env bash
# Answers `squeue -h -t all -j IDS -o %i|%T|%r` from $SQUEUE_STATES (lines of id|STATE|Reason).
while [ $# -gt 0 ]; do [ "$1" = -j ] && ids=$2; shift; done
for id in ${ids//,/ }; do grep "^$id|" "$SQUEUE_STATES" || true; done
"""


def _slurm_stand_ins(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """sbatch, squeue, scontrol, scancel and srun stand-ins first on PATH; returns sbatch's log."""
    scancel = "#!/usr/bin/env bash\necho \"$*\" >> \"$SBATCH_LOG.scancel\"\n"
    scontrol = '#!/usr/bin/env bash\necho "JobId=$4 ExitCode=0:9"\n'
    folder.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("squeue", FAKE_SQUEUE), ("scontrol", scontrol),
                       ("scancel", scancel), ("srun", FAKE_SRUN)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_LOG", str(folder / "sbatch.log"))
    monkeypatch.setenv("SQUEUE_STATES", str(folder / "squeue.txt"))
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "1")
    return folder / "sbatch.log"


@pytest.mark.parametrize("final_saved", [True, False], ids=["after-final-save", "before-final-save"])
def test_a_job_stopped_at_its_time_limit_is_resubmitted_only_if_it_had_steps_left(
        chain: Path, fake_swift: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, final_saved: bool) -> None:
    """Slurm kills the pretraining job at its time limit (every process, the job's swiftpipe too, so the record
    still says running). If the final checkpoint was saved, a resubmitted job would train no step and save none:
    --resume records pretraining done and submits the SFT at once, on that checkpoint. Otherwise pretraining is
    resubmitted, continuing from its last checkpoint."""
    sbatch_log = _slurm_stand_ins(tmp_path / "slurm", monkeypatch)
    code, output = _cli("run", str(chain), "--launcher", "slurm", "--quiet")
    assert code == 0, output
    folder = next(Path(".swiftpipe/runs").iterdir())
    steps = {"FAKE_SWIFT_STEPS": "4", "FAKE_SWIFT_SAVE_STEPS": "4" if final_saved else "2"}
    job = subprocess.Popen([sys.executable, "-m", "swiftpipe", "job", str(folder), "pretrain"],
                           env={**os.environ, "FAKE_SWIFT_SLEEP_ON": "pt:60", **steps}, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    saved = "checkpoint-4" if final_saved else "checkpoint-2"
    deadline = time.monotonic() + 30
    while True:
        entry = run_record.read(folder).stage("pretrain")
        run_dir = entry.outputs.get("run_dir")
        if run_dir and (Path(run_dir) / saved / "trainer_state.json").is_file() and entry.pgid:
            break
        assert time.monotonic() < deadline and job.poll() is None, "the job never saved"
        time.sleep(0.05)
    for group in (entry.pgid, job.pid):  # Slurm kills every process of the job
        os.killpg(group, signal.SIGKILL)
    job.wait(timeout=10)
    assert run_record.read(folder).stage("pretrain").state is State.RUNNING
    (tmp_path / "slurm" / "squeue.txt").write_text(
        "101|TIMEOUT|TimeLimit\n" + "".join(f"{j}|PENDING|DependencyNeverSatisfied\n" for j in (102, 103, 104)))

    code, output = _cli("run", str(chain), "--launcher", "slurm", "--resume", "--quiet")
    assert code == 0, output
    record = run_record.read(folder)
    pretrain, sft = record.stage("pretrain"), record.stage("sft")
    submitted = sbatch_log.read_text().splitlines()
    assert Path(f"{sbatch_log}.scancel").read_text() == "102 103 104\n"  # dependants that would never start
    if final_saved:
        assert "pretrain: it saved its final checkpoint before it was stopped; done" in output
        assert pretrain.state is State.DONE and pretrain.job.id == "101"
        assert pretrain.outputs["last_checkpoint"] == str(Path(run_dir) / "checkpoint-4")
        assert re.fullmatch(r"--parsable \S+/sft\.sbatch", submitted[4])  # no dependency: nothing to wait for
        assert sft.job.id == "105" and sft.state is State.QUEUED
        assert [line.split()[-1].rsplit("/", 1)[-1] for line in submitted[4:]] == [
            "sft.sbatch", "merge.sbatch", "infer.sbatch"]
    else:
        assert pretrain.state is State.QUEUED and pretrain.job.id == "105"
        assert pretrain.resume_from == str(Path(run_dir) / "checkpoint-2")
        assert "pretrain: job 105, continuing from" in output
        assert re.fullmatch(r"--parsable --dependency afterok:105 \S+/sft\.sbatch", submitted[5])
        resumed = subprocess.run([sys.executable, "-m", "swiftpipe", "job", str(folder), "pretrain"],
                                 env={**os.environ, **steps}, capture_output=True, text=True, timeout=60)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        again = run_record.read(folder).stage("pretrain")
        assert again.state is State.DONE and again.command[again.command.index("--resume_from_checkpoint") + 1] \
            == pretrain.resume_from
        assert again.fingerprint == entry.fingerprint  # the stage as written, so a later run can reuse it


OBSERVED = """
recipe = make_recipe("observed", [
    sft("sft", {"model": "base", "train_type": "lora", "dataset": "data/sft.jsonl", "output_dir": "out/sft"}),
    compare("compare", "data/sft.jsonl", {"base": "base", "sft": checkpoint("sft")}),
    merge("merge", {"ckpt_dir": checkpoint("sft")}),
])
"""


def test_a_failed_comparison_job_stops_no_other_and_resume_resubmits_only_it(
        chain: Path, fake_swift: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_recipe) -> None:
    """A job after one that only observes waits for it to end, not to succeed (afterok on the last job that
    must succeed, afterany on the comparison); --resume then resubmits the failed comparison alone."""
    sbatch_log = _slurm_stand_ins(tmp_path / "slurm", monkeypatch)
    recipe = str(write_recipe(OBSERVED, name="observed.py"))
    code, output = _cli("run", recipe, "--launcher", "slurm", "--quiet")
    assert code == 0, output
    assert [line.rsplit(" ", 1)[0] for line in sbatch_log.read_text().splitlines()] == [
        "--parsable", "--parsable --dependency afterok:101", "--parsable --dependency afterok:101,afterany:102",
        "--parsable --dependency afterok:101,afterany:103"]
    folder = next(Path(".swiftpipe/runs").iterdir())
    for name in ("sft", "compare_base", "compare_sft", "merge"):  # what Slurm would run, one job after another
        subprocess.run([sys.executable, "-m", "swiftpipe", "job", str(folder), name], capture_output=True,
                       env={**os.environ, "FAKE_SWIFT_FAIL_MODEL": "base"}, timeout=60)
    record = run_record.read(folder)
    assert {n: e.state.value for n, e in record.stages.items()} == {
        "sft": "done", "compare_base": "failed", "compare_sft": "done", "merge": "done"}
    (tmp_path / "slurm" / "squeue.txt").write_text("101|COMPLETED|None\n102|FAILED|NonZeroExitCode\n"
                                                   "103|COMPLETED|None\n104|COMPLETED|None\n")

    code, output = _cli("run", recipe, "--launcher", "slurm", "--resume", "--quiet")
    assert code == 0, output
    assert re.fullmatch(r"--parsable \S+/compare_base\.sbatch", sbatch_log.read_text().splitlines()[-1])
    record = run_record.read(folder)
    assert {n: e.state.value for n, e in record.stages.items()} == {  # as a local --resume decides (test_plan.py)
        "sft": "done", "compare_base": "queued", "compare_sft": "done", "merge": "done"}
    assert "merge: unchanged since it finished; reusing its outputs" in output
    assert record.stage("compare_base").job.id == "105" and record.stage("merge").job.id == "104"


FAKE_SRUN = """#!/usr/bin/env bash
# Starts the command once per node of a pretend allocation, with that node's SLURM_NODEID, as srun does.
while [ "${1#--}" != "$1" ]; do shift; done
for ((i = 0; i < SLURM_JOB_NUM_NODES; i++)); do SLURM_NODEID=$i "$@"; done
"""
FAKE_SCONTROL = """#!/usr/bin/env bash
[ "$*" = "show hostnames gpu-[07-08]" ] && printf 'gpu-07\\ngpu-08\\n'
"""
FAKE_SWIFT_ENV = """#!/usr/bin/env bash
echo "rank=$NODE_RANK of $NNODES master=$MASTER_ADDR:${MASTER_PORT:-29500} nproc=$NPROC_PER_NODE $1 $3"
"""


def test_the_sbatch_script_starts_every_node_with_its_rank(tmp_path: Path) -> None:
    """The 2 x 8 pretraining script run by bash against a pretend two-node allocation: srun, scontrol and
    swift stand-ins show what each node's ms-swift would be started with."""
    for name, text in (("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL), ("swift", FAKE_SWIFT_ENV)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "SLURM_JOB_NUM_NODES": "2", "SLURM_JOB_NODELIST": "gpu-[07-08]"}
    done = subprocess.run(["bash", str(GOLDEN / "launch-slurm-2x8" / "pretrain.sbatch")], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "rank=0 of 2 master=gpu-07:29500 nproc=8 pt Qwen/Qwen2.5-1.5B",
        "rank=1 of 2 master=gpu-07:29500 nproc=8 pt Qwen/Qwen2.5-1.5B",
    ]
