"""`swiftpipe run` with a fake `swift` on PATH: hand-offs, records, failure, abort, interrupt, resume."""
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
from click.testing import CliRunner
from records import latest_record

from swiftpipe.cli import main
from swiftpipe.recipe import loading as loader


def _run(*args: str):
    return CliRunner().invoke(main, ["run", *args], catch_exceptions=False)


def _record(work: Path = Path(".swiftpipe")) -> dict:
    return latest_record(work)


def _calls(log: Path) -> list[dict]:
    # the last line may be half written by a fake swift still starting: only whole lines
    return [json.loads(line) for line in log.read_text().split("\n")[:-1]] if log.exists() else []


def _flag(call: dict, *names: str) -> str:
    """The value of the first of `names` present (a flag is spelled per ms-swift major: --ckpt_dir / --adapters)."""
    name = next(n for n in names if n in call["argv"])
    return call["argv"][call["argv"].index(name) + 1]


def test_each_stage_gets_what_the_previous_one_produced(chain: Path, fake_swift: Path) -> None:
    result = _run(str(chain), "--quiet")
    assert result.exit_code == 0, result.output
    record = _record()
    stages = record["stages"]
    assert [s["state"] for s in stages.values()] == ["done"] * 4
    pt, sft, merge, infer = _calls(fake_swift)
    assert _flag(sft, "--model") == stages["pretrain"]["outputs"]["last_checkpoint"]
    stamp = Path(stages["pretrain"]["outputs"]["run_dir"]).name.split("-", 1)[1]
    assert stages["pretrain"]["outputs"]["last_checkpoint"].endswith(f"/out/pt/v0-{stamp}/checkpoint-4")
    assert _flag(merge, "--ckpt_dir", "--adapters") == stages["sft"]["outputs"]["last_checkpoint"]
    assert stages["merge"]["outputs"]["merged"] == stages["sft"]["outputs"]["last_checkpoint"] + "-merged"
    assert _flag(infer, "--model") == stages["merge"]["outputs"]["merged"]
    assert [a["answer"] for a in stages["infer"]["answers"]] == ["answer to what?", "answer to why?"]
    assert stages["pretrain"]["final_loss"] == 0.5
    assert record["versions"]["python"] and "ms-swift" in record["versions"]


def test_the_script_saved_beside_the_log_is_what_ran(chain: Path, fake_swift: Path) -> None:
    assert _run(str(chain), "--quiet").exit_code == 0
    from shell_commands import parse

    for entry, call in zip(_record()["stages"].values(), _calls(fake_swift)):
        env, argv = parse(Path(entry["script"]).read_text())
        assert argv == call["argv"] == entry["command"]
        assert all(call["env"][k] == v for k, v in env)
        assert Path(entry["log"]).read_text().startswith("$ ")


def test_a_failing_stage_stops_the_chain_and_aborts_the_rest(chain: Path, fake_swift: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "sft")
    result = _run(str(chain), "--quiet")
    assert result.exit_code == 1
    stages = _record()["stages"]
    assert stages["pretrain"]["state"] == "done" and stages["sft"]["state"] == "failed"
    assert stages["sft"]["exit_code"] == 1
    assert stages["merge"] == {"state": "aborted", "reason": "prerequisite sft failed"}
    assert stages["infer"]["state"] == "aborted"
    assert "sft failed (exit code 1); last lines of" in result.output
    assert "RuntimeError: CUDA out of memory (fake)" in result.output
    assert len(_calls(fake_swift)) == 2


def test_resume_skips_what_finished_and_reruns_the_rest(chain: Path, fake_swift: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "sft")
    assert _run(str(chain), "--quiet").exit_code == 1
    monkeypatch.delenv("FAKE_SWIFT_FAIL_ON")
    first_pt_run = _record()["stages"]["pretrain"]["outputs"]["run_dir"]
    result = _run(str(chain), "--quiet", "--resume")
    assert result.exit_code == 0, result.output
    record = _record()
    assert [s["state"] for s in record["stages"].values()] == ["done", "done", "done", "done"]
    assert record["stages"]["pretrain"]["outputs"]["run_dir"] == first_pt_run
    subcommands = [c["argv"][1] for c in _calls(fake_swift)]
    assert subcommands == ["pt", "sft", "sft", "export", "infer"]  # pretrain ran once
    # the failed SFT had saved a checkpoint: it continues from the last complete one
    resumed_sft = _calls(fake_swift)[2]
    assert _flag(resumed_sft, "--resume_from_checkpoint").endswith("/checkpoint-2")


def test_a_changed_stage_reruns_with_everything_after_it(chain: Path, fake_swift: Path) -> None:
    assert _run(str(chain), "--quiet").exit_code == 0
    result = _run(str(chain), "--quiet", "--resume")
    assert result.exit_code == 0
    assert [s["state"] for s in _record()["stages"].values()] == ["done"] * 4
    assert len(_calls(fake_swift)) == 4
    result = _run(str(chain), "--quiet", "--resume", "--set", "sft.learning_rate=1e-3")
    assert result.exit_code == 0, result.output
    assert ("[swiftpipe] sft: changed since it finished (--learning_rate added); running it again"
            in result.output.splitlines())
    assert [s["state"] for s in _record()["stages"].values()] == ["done", "done", "done", "done"]
    assert [c["argv"][1] for c in _calls(fake_swift)[4:]] == ["sft", "export", "infer"]
    assert "--learning_rate" in _calls(fake_swift)[4]["argv"]


def test_resume_without_an_earlier_run_starts_the_chain_and_says_so(chain: Path, fake_swift: Path) -> None:
    """A kill before any record existed leaves nothing to resume: --resume is then the first run."""
    result = CliRunner().invoke(main, ["run", str(chain), "--resume", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (f"[swiftpipe] no earlier run of {chain} with these parameters under .swiftpipe: starting the chain"
            in result.output.splitlines())
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft", "export", "infer"]


def test_the_run_folder_is_the_one_this_run_created_not_the_newest(chain: Path, fake_swift: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_RIVAL_RUN", "1")
    assert _run(str(chain), "--quiet", "--stage", "pretrain").exit_code == 0
    outputs = _record()["stages"]["pretrain"]["outputs"]
    assert Path(outputs["run_dir"]).name.startswith("v0-")
    assert sorted(p.name.split("-")[0] for p in Path("out/pt").iterdir()) == ["v0", "v49"]


def test_a_checkpoint_cut_short_is_never_chosen(chain: Path, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_CUT_LAST_SAVE", "1")
    assert _run(str(chain), "--quiet", "--stage", "pretrain").exit_code == 0
    assert _record()["stages"]["pretrain"]["outputs"]["last_checkpoint"].endswith("/checkpoint-2")


def test_stage_selection_takes_inputs_from_earlier_runs(chain: Path, fake_swift: Path) -> None:
    assert _run(str(chain), "--quiet", "--stage", "pretrain").exit_code == 0
    pretrain_ckpt = _record()["stages"]["pretrain"]["outputs"]["last_checkpoint"]
    assert _run(str(chain), "--quiet", "--stage", "sft", "--stage", "merge").exit_code == 0
    sft_call = _calls(fake_swift)[1]
    assert _flag(sft_call, "--model") == pretrain_ckpt
    resolved = CliRunner().invoke(main, ["resolve", str(chain), "merge"])
    assert resolved.output.strip() == _record()["stages"]["merge"]["outputs"]["merged"]


def test_a_stage_whose_input_never_finished_is_refused_before_launch(chain: Path, fake_swift: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(chain), "--stage", "merge"])
    assert result.exit_code == 2
    assert "stage 'merge', --ckpt_dir: needs sft.last_checkpoint" in result.output
    assert not fake_swift.exists()


def test_dry_run_shows_resolved_inputs_and_launches_nothing(chain: Path, fake_swift: Path) -> None:
    assert _run(str(chain), "--quiet", "--stage", "pretrain").exit_code == 0
    calls = len(_calls(fake_swift))
    result = _run(str(chain), "--dry-run")
    assert result.exit_code == 0
    assert f"--model {_record()['stages']['pretrain']['outputs']['last_checkpoint']}" not in result.output  # re-run
    assert "'<pretrain.last_checkpoint>'" in result.output and "nothing was launched" in result.output
    only_sft = _run(str(chain), "--dry-run", "--stage", "sft")
    assert _record()["stages"]["pretrain"]["outputs"]["last_checkpoint"] in only_sft.output
    assert len(_calls(fake_swift)) == calls


@pytest.mark.parametrize("content,message", [
    (None, "data/sft.jsonl: no such file"),
    ('{"query": "q"}\n{"query": \n', "data/sft.jsonl:2: not valid JSON"),
    ('{"query": "q", "response": "r"}\n{"query": "q", "response": ""}\n', "data/sft.jsonl:2: response: is empty"),
    ('{"question": "q", "response_chosen": "a", "response_rejected": "b"}\n',
     "data/sft.jsonl: records are in the reward format, which ms-swift does not read: swiftpipe data convert "
     "data/sft.jsonl OUT.jsonl --to sft"),
])
def test_preflight_stops_bad_data_before_anything_runs(chain: Path, fake_swift: Path, content, message) -> None:
    if content is None:
        Path("data/sft.jsonl").unlink()
    else:
        Path("data/sft.jsonl").write_text(content)
    result = CliRunner().invoke(main, ["run", str(chain)])
    assert result.exit_code == 2
    assert f"stage 'sft', --dataset: {message}" in result.output
    assert isinstance(result.exception, SystemExit)  # a handled error, not an escaped exception
    assert not fake_swift.exists()


def test_preflight_checks_local_models(chain: Path, fake_swift: Path) -> None:
    Path("base/config.json").unlink()
    result = CliRunner().invoke(main, ["run", str(chain)])
    assert result.exit_code == 2 and "base: holds no config.json" in result.output


def test_interactive_infer_without_a_terminal_is_skipped_with_a_note(tmp_path: Path, write_recipe, fake_swift: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m/config.json").write_text("{}")
    path = write_recipe('recipe = make_recipe("r", [infer("infer", {"stream": True, "model": "m"})])\n')
    result = _run(str(path))
    assert result.exit_code == 0
    assert "infer: skipped: interactive chat needs a terminal; `swiftpipe chat" in result.output
    assert not fake_swift.exists()


def test_status_runs_and_json(chain: Path, fake_swift: Path) -> None:
    assert _run(str(chain), "--quiet").exit_code == 0
    status = CliRunner().invoke(main, ["status", str(chain), "--json"])
    assert json.loads(status.output)["stages"]["sft"]["state"] == "done"
    table = CliRunner().invoke(main, ["status", str(chain)])
    assert "pretrain" in table.output and "done" in table.output
    runs = json.loads(CliRunner().invoke(main, ["runs", "--json"]).output)
    assert len(runs) == 1 and runs[0]["recipe"]["name"] == "chain"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_ends_the_stage_group_and_resume_continues_from_its_checkpoint(chain: Path, fake_swift: Path,
                                                                                     sig: signal.Signals) -> None:
    env = {**os.environ, "FAKE_SWIFT_SLEEP_ON": "sft:60"}
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(c["argv"][1] == "sft" for c in _calls(fake_swift)) and list(Path(".").glob("out/sft/v0-*/checkpoint-2")):
            break
        time.sleep(0.1)
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, output
    stages = _record()["stages"]
    assert stages["sft"]["state"] == "interrupted"
    assert stages["merge"] == {"state": "aborted", "reason": "prerequisite sft interrupted"}
    assert "run chain.py --resume` continues the chain" in output
    [sft_call] = [c for c in _calls(fake_swift) if c["argv"][1] == "sft"]
    with pytest.raises(ProcessLookupError):  # nothing of the stage's own process group is left
        os.killpg(sft_call["pgid"], 0)

    result = _run(str(chain), "--quiet", "--resume")
    assert result.exit_code == 0, result.output
    calls = _calls(fake_swift)
    assert [c["argv"][1] for c in calls] == ["pt", "sft", "sft", "export", "infer"]
    assert _flag(calls[2], "--resume_from_checkpoint").endswith("/checkpoint-2")
    assert [s["state"] for s in _record()["stages"].values()] == ["done", "done", "done", "done"]


def test_chat_opens_swift_infer_on_the_final_model_in_a_terminal(chain: Path, fake_swift: Path) -> None:
    import pty

    assert _run(str(chain), "--quiet").exit_code == 0
    merged = _record()["stages"]["merge"]["outputs"]["merged"]
    pid, fd = pty.fork()
    if pid == 0:  # the child has the pty as its terminal, as a user's shell would
        os.execvp(sys.executable, [sys.executable, "-m", "swiftpipe", "chat", str(chain)])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, output.decode()
    call = _calls(fake_swift)[-1]
    assert call["argv"] == ["swift", "infer", "--stream", "true", "--model", merged]
    assert f"# re-run: swiftpipe chat {chain}" in output.decode()  # the comment names a command that exists


def test_chat_without_a_terminal_says_so_in_one_line(chain: Path, fake_swift: Path) -> None:
    assert _run(str(chain), "--quiet").exit_code == 0
    result = CliRunner().invoke(main, ["chat", str(chain)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"error: {chain}: chat needs a terminal (stdin and stdout); for answers "
                                          "in batch, give the infer stage a --val_dataset"]
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft", "export", "infer"]


def test_merging_the_same_checkpoint_twice_is_refused_before_launch(chain: Path, fake_swift: Path) -> None:
    assert _run(str(chain), "--quiet").exit_code == 0
    merged = _record()["stages"]["merge"]["outputs"]["merged"]
    first_run = _record()["id"]
    result = _run(str(chain), "--quiet", "--stage", "merge")
    assert result.exit_code == 1
    assert (f"merge: not launched: {merged} already exists (the merged model of run {first_run}, stage 'merge') and "
            "ms-swift refuses to overwrite") in result.output.replace("\n", "")
    assert "--set merge.output_dir=NEW_FOLDER" in result.output
    assert len(_calls(fake_swift)) == 4  # nothing more launched


def test_a_merge_folder_left_by_the_stages_own_unfinished_launch_is_replaced(chain: Path, fake_swift: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(chain), "--quiet"],
                            env={**os.environ, "FAKE_SWIFT_SLEEP_ON": "export:60"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not list(Path("out/sft").glob("v0-*/checkpoint-4-merged")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # the merge stopped after it created its folder
    assert proc.wait(timeout=30) == 130
    [partial] = Path("out/sft").glob("v0-*/checkpoint-4-merged")
    result = _run(str(chain), "--resume")
    assert result.exit_code == 0, result.output
    assert f"merge: removed {partial.resolve()}, which its own unfinished launch left" in result.output
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft", "export", "export", "infer"]


def test_a_stage_that_exits_0_without_what_the_next_stage_reads_fails_before_it(tmp_path: Path, write_recipe,
                                                                                 fake_swift: Path) -> None:
    (tmp_path / "pt.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "sft.jsonl").write_text('{"query": "q", "response": "r"}\n')
    (tmp_path / "base").mkdir()
    (tmp_path / "base/config.json").write_text("{}")
    path = write_recipe(f"""
recipe = make_recipe("best", [
    pretrain("pretrain", {{"model": "{tmp_path}/base", "dataset": "{tmp_path}/pt.jsonl",
                          "output_dir": "{tmp_path}/o"}}),
    sft("sft", {{"model": checkpoint("pretrain", "best"), "dataset": "{tmp_path}/sft.jsonl"}}),
])
""")
    result = CliRunner().invoke(main, ["run", str(path), "--quiet", "--work-dir", str(tmp_path / "w")],
                                env={"FAKE_SWIFT_NO_BEST": "1"})
    assert result.exit_code == 1, result.output
    stages = _record(tmp_path / "w")["stages"]
    assert stages["pretrain"]["state"] == "failed"
    assert stages["pretrain"]["reason"] == ("ms-swift exited 0 but recorded no best checkpoint (no evaluation ran: "
                                            "give it a --val_dataset or --split_dataset_ratio), which stage 'sft' "
                                            "(--model) needs")
    assert stages["sft"] == {"state": "aborted", "reason": "prerequisite pretrain failed"}


def test_preflight_reads_preference_data_through_the_stage_columns(tmp_path: Path, write_recipe, fake_swift: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 000's reward set is readable by ms-swift only through --columns (the medical recipe's DPO stage):
    pre-flight applies the same renaming, so it passes with it and is refused without it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m/config.json").write_text("{}")
    (tmp_path / "reward.jsonl").write_text('{"question": "q", "response_chosen": "a", "response_rejected": "b"}\n')
    columns = '{"response_chosen": "response", "response_rejected": "rejected_response"}'
    body = 'recipe = make_recipe("r", [dpo("dpo", {{"model": "m", "dataset": "reward.jsonl"{}}})])\n'
    mapped = write_recipe(body.format(f', "columns": {columns!r}'), name="mapped.py")
    bare = write_recipe(body.format(""), name="bare.py")
    refused = CliRunner().invoke(main, ["run", str(bare)])
    assert refused.exit_code == 2 and not fake_swift.exists()
    assert "stage 'dpo', --dataset: reward.jsonl: records are in the reward format, which ms-swift does not read" \
        in refused.output
    assert _run(str(mapped), "--quiet").exit_code == 0
    assert _flag(_calls(fake_swift)[0], "--columns") == columns


STAND_INS = {
    "sbatch": '#!/bin/sh\nn=$(( $(cat "$0.count" 2>/dev/null || echo 100) + 1 ))\necho $n > "$0.count"\n'
              'echo "$*" >> "$0.log"\necho "${HUB_TOKEN:-none}" >> "$0.env"\necho "$n;cluster"\n',
    "srun": '#!/bin/sh\nwhile [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n',  # one node: run the command
    "squeue": "#!/bin/sh\nexit 0\n", "scontrol": "#!/bin/sh\nexit 0\n", "scancel": "#!/bin/sh\nexit 0\n",
}


def _slurm_stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in STAND_INS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_slurm_jobs_run_their_stages_through_the_record(chain: Path, fake_swift: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The submission, then each job as Slurm would start it (`swiftpipe job RECORD STAGE`), with stand-ins for
    sbatch and srun: each job's stage takes its inputs from what the job before it recorded."""
    bin_dir = _slurm_stand_ins(tmp_path, monkeypatch)
    submitted = CliRunner().invoke(main, ["run", str(chain), "--launcher", "slurm"])
    assert submitted.exit_code == 0, submitted.output
    [folder] = [p.parent for p in Path(".swiftpipe/runs").glob("*/record.json")]
    sbatch_calls = (bin_dir / "sbatch.log").read_text().splitlines()
    assert sbatch_calls == [f"--parsable {after}{folder / stage}.sbatch" for after, stage in (
        ("", "pretrain"), ("--dependency afterok:101 ", "sft"), ("--dependency afterok:102 ", "merge"),
        ("--dependency afterok:103 ", "infer"))]
    chain.write_text(chain.read_text().replace('"train_type": "lora"', '"train_type": "full"'))  # edited meanwhile
    status = CliRunner().invoke(main, ["status", str(chain)])
    assert (f"warning: {chain} changed since this chain was submitted; its jobs run the submitted copy "
            f"({folder / 'recipe.py'})") in status.output
    for stage in ("pretrain", "sft", "merge", "infer"):
        ran = CliRunner().invoke(main, ["job", str(folder), stage])
        assert ran.exit_code == 0, (stage, ran.output)
        assert "srun" in (folder / f"{stage}.sh").read_text()  # the sbatch script, with real paths
    stages = _record()["stages"]
    assert [(s["state"], s["job"]["id"]) for s in stages.values()] == [
        ("done", "101"), ("done", "102"), ("done", "103"), ("done", "104")]
    pretrain, sft, merge, infer = _calls(fake_swift)
    assert _flag(sft, "--model") == stages["pretrain"]["outputs"]["last_checkpoint"]
    assert _flag(sft, "--train_type", "--tuner_type") == "lora"  # as submitted (spelled for the installed major)
    assert _flag(merge, "--ckpt_dir", "--adapters") == stages["sft"]["outputs"]["last_checkpoint"]
    assert _flag(infer, "--model") == stages["merge"]["outputs"]["merged"]


def test_a_secret_goes_to_slurm_jobs_in_sbatch_environment_and_into_no_file(
        chain: Path, fake_swift: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _slurm_stand_ins(tmp_path, monkeypatch)
    token = "hf_s3cr3t_value"
    submitted = CliRunner().invoke(main, ["run", str(chain), "--launcher", "slurm", "--set", f"sft.hub_token={token}"])
    assert submitted.exit_code == 0, submitted.output
    assert (bin_dir / "sbatch.env").read_text().splitlines() == ["none", token, "none", "none"]  # sft's job alone
    [folder] = [p.parent for p in Path(".swiftpipe/runs").glob("*/record.json")]
    monkeypatch.setenv("HUB_TOKEN", token)  # what sbatch passes on to the job (its default --export=ALL)
    for stage in ("pretrain", "sft"):
        assert CliRunner().invoke(main, ["job", str(folder), stage]).exit_code == 0
    assert _flag(_calls(fake_swift)[1], "--hub_token") == token
    for path in folder.iterdir():  # record.json, the sbatch scripts, the jobs' scripts and logs
        assert token not in path.read_text(errors="replace"), path
    assert 'swift sft' in (folder / "sft.sh").read_text()
    assert '--hub_token "${HUB_TOKEN:?set HUB_TOKEN: swiftpipe writes no secrets into scripts}"' \
        in (folder / "sft.sh").read_text()
    monkeypatch.delenv("HUB_TOKEN")  # a job that lost it (sbatch --export=NONE) says what is missing
    again = CliRunner().invoke(main, ["job", str(folder), "sft"])
    assert again.exit_code != 0
    assert "HUB_TOKEN: set HUB_TOKEN: swiftpipe writes no secrets into scripts" in (folder / "sft.2.log").read_text()


def test_text_from_data_paths_and_parameters_is_printed_as_text(chain: Path, fake_swift: Path,
                                                                 write_recipe) -> None:
    Path("data/q.jsonl").write_text('{"query": "[/INST] what is [red]this[/red]?"}\n')
    result = _run(str(chain), "--quiet", "-p", "out=o[/]")
    assert result.exit_code == 0, result.output
    assert "Q: [/INST] what is [red]this[/red]?" in result.output
    assert "A: answer to [/INST] what is [red]this[/red]?" in result.output
    status = CliRunner().invoke(main, ["status", str(chain), "-p", "out=o[/]"])
    assert status.exit_code == 0 and "o[/]" in status.output.replace("\n", "").replace("│", "").replace(" ", "")
    runs = CliRunner().invoke(main, ["runs"])
    assert runs.exit_code == 0 and "out=o[/]" in runs.output
    described = write_recipe("recipe = make_recipe('r', [sft('a', {})], description='for [/INST] prompts [red]x')\n",
                             name="described.py")
    info = CliRunner().invoke(main, ["info", str(described)])
    assert info.exit_code == 0 and "for [/INST] prompts [red]x" in info.output


def test_secrets_reach_ms_swift_and_nothing_swiftpipe_writes_or_prints(chain: Path, fake_swift: Path) -> None:
    token = "hf_s3cr3t_value"
    result = _run(str(chain), "--set", f"sft.hub_token={token}", "--set", f"sft.swanlab_token={token}")
    assert result.exit_code == 0, result.output
    [sft] = [c for c in _calls(fake_swift) if c["argv"][1] == "sft"]
    assert _flag(sft, "--hub_token") == token and _flag(sft, "--swanlab_token") == token  # the process has them
    assert token not in result.output
    folder = Path(_record()["stages"]["sft"]["log"]).parent
    for path in folder.iterdir():  # record.json, every stage's script and log
        assert token not in path.read_text(errors="replace"), path
    assert _record()["recipe"]["sets"] == ["sft.hub_token=<redacted>", "sft.swanlab_token=<redacted>"]
    rendered = CliRunner().invoke(main, ["render", str(chain), "--stage", "sft", "--set", f"sft.hub_token={token}"])
    assert token not in rendered.output and "--hub_token '<redacted>'" in rendered.output
    hint = loader.load(chain, sets=[f"sft.hub_token={token}", "sft.lora_rank=4"]).source.continues()
    assert hint == (f'`swiftpipe run {chain} --set sft.hub_token="$HUB_TOKEN" --set sft.lora_rank=4 --resume` '
                    "continues the chain (with HUB_TOKEN set: swiftpipe keeps no secrets)")


def test_commands_about_runs_find_them_without_the_p_they_ran_with(chain: Path, fake_swift: Path) -> None:
    assert _run(str(chain), "--quiet", "-p", "out=elsewhere").exit_code == 0
    status = CliRunner().invoke(main, ["status", str(chain)])
    assert status.exit_code == 0, status.output
    assert f"note: the runs of {chain} used -p out=elsewhere" in status.output
    resolved = CliRunner().invoke(main, ["resolve", str(chain), "merge"])
    assert resolved.output.splitlines()[-1] == _record()["stages"]["merge"]["outputs"]["merged"]
    assert _run(str(chain), "--quiet", "-p", "out=third").exit_code == 0
    ambiguous = CliRunner().invoke(main, ["status", str(chain)])
    assert ambiguous.exit_code == 2
    assert ambiguous.output.splitlines() == [f"error: {chain}: its runs used several parameter sets; choose one: "
                                             "-p out=third; -p out=elsewhere"]


def test_a_downloaded_dataset_folder_passes_preflight(tmp_path: Path, write_recipe, fake_swift: Path) -> None:
    folder = tmp_path / "data" / "qizhen"  # what `swiftpipe download dataset ... --to DIR` writes
    folder.mkdir(parents=True)
    (folder / "qizhen-gpt-sft-20k.json").write_text('[{"instruction": "q", "input": "", "output": "a"}]')
    (tmp_path / "empty").mkdir()
    path = write_recipe(f"""
recipe = make_recipe("folders", [sft("sft", {{"model": "Qwen/Tiny", "dataset": "{folder}"}}),
                                 sft("sft_empty", {{"model": "Qwen/Tiny", "dataset": "{tmp_path / 'empty'}"}})])
""")
    dry = CliRunner().invoke(main, ["run", str(path), "--dry-run", "--stage", "sft"])
    assert dry.exit_code == 0, dry.output
    empty = CliRunner().invoke(main, ["run", str(path), "--dry-run"])
    assert empty.exit_code == 2
    assert empty.output.splitlines() == [f"error: {path}: stage 'sft_empty', --dataset: {tmp_path / 'empty'}: an "
                                         "empty folder"]


def test_a_work_dir_that_cannot_be_written_is_one_line_before_anything_runs(chain: Path, fake_swift: Path,
                                                                           tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the work dir should be")
    result = CliRunner().invoke(main, ["run", str(chain), "--work-dir", str(blocked / "w")])
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"error: --work-dir: {blocked / 'w'}: {blocked} is a file, not a folder"]
    assert _calls(fake_swift) == []


def test_a_work_dir_on_a_full_disk_is_one_line_before_anything_runs(chain: Path, fake_swift: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk's free space as the operating system reports it, set to 3 MiB (a real full disk needs a mount)."""
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=3 << 20))
    result = CliRunner().invoke(main, ["run", str(chain), "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"error: --work-dir {tmp_path / 'w'}: 3 MiB free; run records and logs "
                                          "need more room"]
    assert _calls(fake_swift) == [] and not list((tmp_path / "w" / "runs").glob("*/record.json"))


def test_resume_without_set_keeps_the_set_of_the_run_it_continues(chain: Path, fake_swift: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_ON", "sft")
    assert _run(str(chain), "--quiet", "--set", "sft.learning_rate=2e-5").exit_code == 1
    monkeypatch.delenv("FAKE_SWIFT_FAIL_ON")
    result = _run(str(chain), "--quiet", "--resume")  # as the README shows it, without the --set
    assert result.exit_code == 0, result.output
    assert "starting over" not in result.output
    sft = [c["argv"] for c in _calls(fake_swift) if c["argv"][1] == "sft"][-1]
    assert sft[sft.index("--learning_rate") + 1] == "2e-5" and "--resume_from_checkpoint" in sft


def test_status_shows_the_chain_a_stage_at_a_time_across_the_runs_that_ran_it(chain: Path, fake_swift: Path) -> None:
    first = CliRunner().invoke(main, ["run", str(chain), "--stage", "pretrain", "--quiet"])
    assert first.exit_code == 0, first.output
    pretrained = _record()["id"]
    second = CliRunner().invoke(main, ["run", str(chain), "--stage", "sft", "--quiet"])
    assert second.exit_code == 0, second.output
    assert _record()["id"] != pretrained and list(_record()["stages"]) == ["sft"]  # a run of its own
    shown = CliRunner().invoke(main, ["status", str(chain)], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    rows = [line.split("│")[1:-1] for line in shown.output.splitlines() if line.count("│") > 5]
    assert [(r[0].strip(), r[1].strip(), r[-1].strip()) for r in rows] == [
        ("pretrain", "done", pretrained), ("sft", "done", "this one")]  # in the recipe's order
    assert "and the latest outcome of the stages it did not run" in shown.output
    as_json = json.loads(CliRunner().invoke(main, ["status", str(chain), "--json"]).output)
    assert as_json["earlier_runs"] == {"pretrain": {"run": pretrained, "state": "done"}}
