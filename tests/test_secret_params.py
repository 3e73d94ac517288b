"""A recipe parameter that carries a secret (`-p hub_token=...`, or any parameter whose value a stage's secret flag
or variable takes) reaches ms-swift and nothing else: no record, index, script, report, export, hint or output of
swiftpipe holds it; commands for people to run read it from the environment."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from swiftpipe.cli import main
from swiftpipe.recipe import loading

TOKEN = "hf_topsecret123"
KEY = "hf_keysecret456"
WANDB = "wb_trackersecret789"
SECRETS = (TOKEN, KEY, WANDB)

# hub_token is secret by its name; key_value and tracker by what takes their values (--hub_token, WANDB_API_KEY).
# `ask` asks the base model, so FAKE_SWIFT_FAIL_MODEL=base fails it: an observer, after which the chain ends failed
# with the command that runs it again.
SECRET_CHAIN = '''
def recipe(hub_token: str = "", key_value: str = "", tracker: str = "", out: str = "out"):
    return make_recipe("chain", [
        pretrain("pretrain", {"model": "base", "train_type": "full", "dataset": "data/pt.jsonl",
                              "output_dir": f"{out}/pt"}),
        sft("sft", {"model": checkpoint("pretrain"), "train_type": "lora", "dataset": "data/sft.jsonl",
                    "output_dir": f"{out}/sft", "hub_token": hub_token or None}),
        merge("merge", {"ckpt_dir": checkpoint("sft"), "hub_token": key_value or None},
              launch=Launch(env={"WANDB_API_KEY": tracker} if tracker else {})),
        infer("infer", {"model": merged("merge"), "val_dataset": "data/q.jsonl"}),
        infer("ask", {"model": "base", "val_dataset": "data/q.jsonl"}),
    ])
'''
GIVEN = ("-p", f"hub_token={TOKEN}", "-p", f"key_value={KEY}", "-p", f"tracker={WANDB}")
IN_ENVIRONMENT = {"HUB_TOKEN": TOKEN, "KEY_VALUE": KEY, "TRACKER": WANDB}
FROM_ENVIRONMENT = '-p hub_token="$HUB_TOKEN" -p key_value="$KEY_VALUE" -p tracker="$TRACKER"'
WORK = Path(".swiftpipe")


@pytest.fixture
def secret_chain(chain: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "1000")  # tables on one line each: a secret folded over two would go unseen
    chain.write_text("from swiftpipe import *\n" + SECRET_CHAIN)
    return chain


def _cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def _record() -> dict:
    [path] = WORK.glob("runs/*/record.json")
    return json.loads(path.read_text())


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _flag(call: dict, name: str) -> str:
    return call["argv"][call["argv"].index(name) + 1]


def _assert_kept_nowhere(*outputs: str, under: Path = WORK) -> None:
    files = [p for p in under.rglob("*") if p.is_file()]
    assert files, under
    for secret in SECRETS:
        for output in outputs:
            assert secret not in output, output
        for path in files:
            assert secret not in path.read_text(errors="replace"), path


def _assert_swift_got_them(fake_swift: Path) -> None:
    """The last launch of each stage that takes a secret had it, in its argv or environment."""
    calls = {c["argv"][1]: c for c in _calls(fake_swift)}
    assert _flag(calls["sft"], "--hub_token") == TOKEN
    assert _flag(calls["export"], "--hub_token") == KEY
    assert calls["export"]["env"]["WANDB_API_KEY"] == WANDB


def test_a_secret_parameter_reaches_swift_and_no_record_index_script_report_or_output(
        secret_chain: Path, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_MODEL", "base")
    result = _cli("run", str(secret_chain), *GIVEN)
    assert result.exit_code == 1, result.output
    _assert_swift_got_them(fake_swift)
    assert f"[swiftpipe] failed: ask; `swiftpipe run {secret_chain} {FROM_ENVIRONMENT} --resume` runs it again" \
        in result.output.replace("\n", "")
    record = _record()
    assert record["recipe"]["params"] == {"hub_token": "<redacted>", "key_value": "<redacted>",
                                          "tracker": "<redacted>", "out": "out"}
    [script] = WORK.glob("runs/*/sft.sh")
    assert f"# re-run: swiftpipe run {secret_chain} {FROM_ENVIRONMENT} --stage sft\n" in script.read_text()

    status = _cli("status", str(secret_chain), *GIVEN)  # the run is found by the real values
    assert status.exit_code == 0 and "done" in status.output, status.output
    status_json = _cli("status", str(secret_chain), *GIVEN, "--json")
    assert json.loads(status_json.output)["recipe"]["params"]["hub_token"] == "<redacted>"
    runs_json = _cli("runs", "--json")
    runs = _cli("runs")
    assert runs.exit_code == 0 and "hub_token=<redacted> key_value=<redacted>" in runs.output, runs.output
    report = _cli("report", str(secret_chain), *GIVEN)
    assert report.exit_code == 0, report.output
    [page] = WORK.glob("runs/*/report.html")
    assert "hub_token=&lt;redacted&gt;" in page.read_text()
    assert (WORK / "runs" / ".index.json").is_file()
    _assert_kept_nowhere(result.output, status.output, status_json.output, runs_json.output, runs.output,
                         report.output)


def _wait_for_sft_checkpoint(fake_swift: Path) -> None:
    """Until the SFT sleeps after its first checkpoint and the record knows its run folder."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = list(WORK.glob("runs/*/record.json"))
        if records and any(c["argv"][1] == "sft" for c in _calls(fake_swift)):
            try:
                run_dir = json.loads(records[0].read_text())["stages"]["sft"].get("outputs", {}).get("run_dir")
            except ValueError:  # written meanwhile
                run_dir = None
            if run_dir and (Path(run_dir) / "checkpoint-2").is_dir():
                return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_an_interrupt_says_how_to_resume_without_the_secrets_and_resume_reads_them_from_the_environment(
        secret_chain: Path, fake_swift: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", str(secret_chain), "--quiet", *GIVEN],
                            env={**os.environ, "FAKE_SWIFT_SLEEP_ON": "sft:60"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_sft_checkpoint(fake_swift)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, output
    assert (f"`swiftpipe run {secret_chain} {FROM_ENVIRONMENT} --resume` continues the chain (with HUB_TOKEN, "
            "KEY_VALUE, TRACKER set: swiftpipe keeps no secrets)") in output.replace("\n", "")
    _assert_kept_nowhere(output)

    resumed = _cli("run", str(secret_chain), "--quiet", "--resume", env=IN_ENVIRONMENT)
    assert resumed.exit_code == 0, resumed.output
    assert f"note: the runs of {secret_chain} used {FROM_ENVIRONMENT} -p out=out" in resumed.output
    assert [s["state"] for s in _record()["stages"].values()] == ["done", "done", "done", "done", "done"]
    _assert_swift_got_them(fake_swift)
    _assert_kept_nowhere(resumed.output)


def test_commands_about_runs_without_p_read_secret_parameters_from_the_environment_or_say_which_to_set(
        secret_chain: Path, fake_swift: Path) -> None:
    assert _cli("run", str(secret_chain), "--quiet", *GIVEN).exit_code == 0
    missing = _cli("run", str(secret_chain), "--resume", "--quiet", env={"HUB_TOKEN": TOKEN})  # it needs them
    assert missing.exit_code == 2
    assert missing.output.splitlines() == [(
        f"error: {secret_chain}: its runs used {FROM_ENVIRONMENT} -p out=out; set KEY_VALUE, TRACKER (swiftpipe "
        "keeps no secrets)")]
    rotated = {"HUB_TOKEN": "hf_rotated", "KEY_VALUE": "k", "TRACKER": "t"}  # a token rotated since: the same run
    status = _cli("status", str(secret_chain), "--json", env=rotated)
    assert status.exit_code == 0, status.output
    assert json.loads(status.output[status.output.index("{"):])["state"] == "done"
    unset = _cli("status", str(secret_chain), "--json")  # reading records needs no secret
    assert unset.exit_code == 0 and json.loads(unset.output[unset.output.index("{"):])["state"] == "done", \
        unset.output
    resolved = _cli("resolve", str(secret_chain), "merge", env=IN_ENVIRONMENT)
    assert resolved.exit_code == 0, resolved.output
    merged = Path(_record()["stages"]["merge"]["outputs"]["merged"])
    assert Path(resolved.output.splitlines()[-1]).resolve() == merged.resolve()
    _assert_kept_nowhere(missing.output, status.output, resolved.output)


def test_info_and_render_show_secret_parameters_redacted(secret_chain: Path) -> None:
    info = _cli("info", str(secret_chain), *GIVEN, "--json")
    assert info.exit_code == 0, info.output
    described = json.loads(info.output)
    assert {p["name"]: p["value"] for p in described["parameters"]} == {
        "hub_token": "<redacted>", "key_value": "<redacted>", "tracker": "<redacted>", "out": "out"}
    assert described["stages"][2]["launch"] == {"WANDB_API_KEY": "<redacted>"}
    table = _cli("info", str(secret_chain), *GIVEN)
    assert table.exit_code == 0 and "<redacted>" in table.output, table.output
    rendered = _cli("render", str(secret_chain), *GIVEN)
    assert rendered.exit_code == 0, rendered.output
    assert f"# re-run: swiftpipe run {secret_chain} {FROM_ENVIRONMENT} --stage merge\n" in rendered.output
    _assert_kept_nowhere(info.output, table.output, rendered.output, under=Path("data"))


def test_info_hides_a_secret_default(write_recipe) -> None:
    path = write_recipe('def recipe(hub_token: str = "hf_topsecret123", lazy_token: bool = True):\n'
                        '    return make_recipe("r", [sft("a", {"hub_token": hub_token})])\n')
    info = _cli("info", str(path), "--json")
    assert info.exit_code == 0, info.output
    assert [(p["default"], p["value"]) for p in json.loads(info.output)["parameters"]] == [
        ("<redacted>", "<redacted>"), (True, True)]


def test_exported_scripts_read_secret_parameters_from_the_environment(secret_chain: Path) -> None:
    local = _cli("export-scripts", str(secret_chain), "scripts", *GIVEN)
    assert local.exit_code == 0, local.output
    assert '--hub_token "${HUB_TOKEN:?' in Path("scripts/merge.sh").read_text()
    assert 'WANDB_API_KEY="${WANDB_API_KEY:?' in Path("scripts/merge.sh").read_text()
    slurm = _cli("export-scripts", str(secret_chain), "jobs", *GIVEN, "--launcher", "slurm", "--gpus-per-node", "1")
    assert slurm.exit_code == 0, slurm.output
    assert f"# re-render: swiftpipe render {secret_chain} {FROM_ENVIRONMENT} --launcher slurm" \
        in Path("jobs/sft.sbatch").read_text()
    _assert_kept_nowhere(local.output, under=Path("scripts"))
    _assert_kept_nowhere(slurm.output, under=Path("jobs"))


def test_which_parameters_are_secret_and_the_key_of_a_chain_with_them(write_recipe) -> None:
    path = write_recipe(SECRET_CHAIN)
    loaded = loading.load(path, params=["hub_token=t", "key_value=k", "out=o"])
    assert loaded.secret_params == {"hub_token", "key_value"}  # tracker is empty: nothing to hide
    assert loaded.recorded_params() == {"hub_token": "<redacted>", "key_value": "<redacted>", "tracker": "",
                                        "out": "o"}
    assert loaded.source.shown_params == ("hub_token=<redacted>", "key_value=<redacted>", "out=o")
    assert loaded.key == loading.load(path, params=["hub_token=t2", "key_value=k2", "out=o"]).key
    assert loaded.key != loading.load(path, params=["key_value=k", "out=o"]).key  # given or not: another chain
    assert loaded.key != loading.load(path, params=["hub_token=t", "key_value=k", "out=p"]).key
