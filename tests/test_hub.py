"""`swiftpipe download` against a stand-in hub on 127.0.0.1 (tests/fake_hub.py), through the real
`huggingface_hub` and `modelscope` libraries: first download, cached re-use, offline with and without a cache,
404s, and a transfer cut half-way. Each command runs in its own process, as users run it: both libraries read
their endpoint and cache settings from the environment when they are imported."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from fake_hub import FakeHub

REPO = Path(__file__).resolve().parent.parent
WEIGHTS = bytes(range(256)) * 2048  # 512 KiB, so a cut lands mid-body
CONFIG = b'{"architectures": ["Qwen2ForCausalLM"]}'
BOOK = '{"text": "肌钙蛋白是诊断心肌梗死的首选指标。"}\n'.encode()
HUBS = ["hf", "modelscope"]
NO_BACKOFF = Path(__file__).resolve().parent / "no_backoff"  # huggingface_hub's retries, without their sleeps


@pytest.fixture
def hub(request):
    server = _on_a_port(getattr(request, "param", None)).start()
    server.add("model", "Qwen/Tiny", {"config.json": CONFIG, "model.safetensors": WEIGHTS})
    server.add("dataset", "shibing624/medical", {"pretrain/medical_book_zh.json": BOOK, "reward/train.json": b"{}\n"})
    yield server
    server.stop()


def _on_a_port(digits: str | None) -> FakeHub:
    """A fake hub on a free port, one whose number holds `digits` when asked (an error text carries the port)."""
    if digits is None:
        return FakeHub()
    ports = [port for port in range(1024, 65536) if digits in str(port)]
    random.shuffle(ports)  # not the first free one: another test run's hub would take it as soon as this one stops
    for port in ports:
        try:
            return FakeHub(port)
        except OSError:
            continue
    raise AssertionError(f"no free port with {digits} in it")


@pytest.fixture
def download(tmp_path: Path, hub: FakeHub):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "MODELSCOPE_", "USE_HF"))}
    env.update(HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"), MODELSCOPE_CACHE=str(tmp_path / "ms"),
               HF_ENDPOINT=hub.url, MODELSCOPE_ENDPOINT=hub.url, HF_HUB_DISABLE_TELEMETRY="1",
               MODELSCOPE_API_MAX_RETRIES="1", MODELSCOPE_DOWNLOAD_MAX_RETRIES="1",
               MODELSCOPE_REPO_TREE_PAGE_RETRY_MAX_DELAY_SECONDS="1", MODELSCOPE_REPO_TREE_PAGE_MAX_ATTEMPTS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(NO_BACKOFF), os.environ.get("PYTHONPATH")])))

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "swiftpipe", "download", *args], env={**env, **extra},
                              capture_output=True, text=True, cwd=tmp_path, timeout=300)

    return run


def _errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def _path(result: subprocess.CompletedProcess) -> Path:
    return Path(result.stdout.splitlines()[-1].split(": ", 1)[1].split("  (cache: ")[0])


@pytest.mark.parametrize("which", HUBS)
def test_first_download_then_the_cache_is_reused(download, hub: FakeHub, which: str) -> None:
    first = download("model", "Qwen/Tiny", "--hub", which)
    assert first.returncode == 0, first.stderr
    folder = _path(first)
    assert (folder / "config.json").read_bytes() == CONFIG and (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert hub.downloads("model.safetensors") == 1
    again = download("model", "Qwen/Tiny", "--hub", which)
    assert again.returncode == 0 and _path(again) == folder
    assert hub.downloads("model.safetensors") == 1  # asked about, never fetched twice


@pytest.mark.parametrize("which", HUBS)
def test_a_dataset_file_lands_where_the_recipe_reads_it(download, tmp_path: Path, which: str) -> None:
    result = download("dataset", "shibing624/medical", "--file", "pretrain/medical_book_zh.json", "--hub", which,
                      "--to", "data/pre")
    assert result.returncode == 0, result.stderr
    placed = tmp_path / "data/pre/medical_book_zh.json"
    assert result.stdout.startswith(f"{which} dataset shibing624/medical: data/pre/medical_book_zh.json  (cache: ")
    assert placed.read_bytes() == BOOK
    cached = Path(result.stdout.strip().rsplit("(cache: ", 1)[1].rstrip(")"))
    assert os.path.samefile(placed, cached.resolve())  # a hard link into the cache, not a second copy


@pytest.mark.parametrize("which", HUBS)
def test_offline_uses_the_cache_and_never_the_network(download, hub: FakeHub, which: str) -> None:
    assert download("model", "Qwen/Tiny", "--hub", which).returncode == 0
    asked = len(hub.requests)
    switch = {"hf": "HF_HUB_OFFLINE", "modelscope": "MODELSCOPE_OFFLINE"}[which]
    offline = download("model", "Qwen/Tiny", "--hub", which, **{switch: "1"})
    assert offline.returncode == 0, offline.stderr
    assert (_path(offline) / "model.safetensors").read_bytes() == WEIGHTS
    assert len(hub.requests) == asked


@pytest.mark.parametrize("which", HUBS)
def test_offline_without_a_cache_says_what_to_download(download, hub: FakeHub, which: str) -> None:
    result = download("model", "Qwen/Tiny", "--hub", which, "--offline")
    assert result.returncode == 2
    assert _errors(result) == [f"error: model Qwen/Tiny is not in the {which} cache and offline: run `swiftpipe "
                               f"download model Qwen/Tiny --hub {which}` on a machine with network (and copy the "
                               "cache, or pass a local path instead)"]
    assert "Traceback" not in result.stderr and not hub.requests


# The hubs with 404 in their port are stopped half-way: one worker runs them, so that the other cannot take the
# port that one has just freed, and answer.
@pytest.mark.parametrize("hub", [None, pytest.param("404", marks=pytest.mark.xdist_group("hub-port-404"))],
                         indirect=True, ids=["any-port", "port-with-404"])
@pytest.mark.parametrize("which", HUBS)
def test_no_network_falls_back_to_the_cache(download, hub: FakeHub, which: str) -> None:
    assert download("model", "Qwen/Tiny", "--hub", which).returncode == 0
    hub.stop()  # connection refused from now on
    cached = download("model", "Qwen/Tiny", "--hub", which)
    assert cached.returncode == 0, cached.stderr
    assert (_path(cached) / "config.json").read_bytes() == CONFIG
    missing = download("dataset", "shibing624/medical", "--file", "reward/train.json", "--hub", which)
    assert missing.returncode == 3  # the hub, not the input: Exit.INFRASTRUCTURE
    where = {"hf": "the Hugging Face Hub", "modelscope": "ModelScope"}[which]
    assert _errors(missing)[0].startswith(f"error: dataset shibing624/medical (reward/train.json) is not in the "
                                          f"{which} cache and {where} cannot be reached: run `swiftpipe download "
                                          f"dataset shibing624/medical --file reward/train.json --hub {which}`")


@pytest.mark.parametrize("which", HUBS)
def test_404s_are_one_line_each(download, which: str) -> None:
    where = {"hf": "the Hugging Face Hub", "modelscope": "ModelScope"}[which]
    repo = download("model", "Qwen/Nope", "--hub", which)
    assert repo.returncode == 2
    assert _errors(repo) == [f"error: model Qwen/Nope: not found on {where} (is it a model? is --hub right?)"]
    file = download("dataset", "shibing624/medical", "--file", "nope.json", "--hub", which)
    assert file.returncode == 2
    assert _errors(file) == [f"error: dataset shibing624/medical (nope.json): no such file in shibing624/medical on "
                             f"{where} (check the path with the hub's file browser)"]
    assert "Traceback" not in repo.stderr + file.stderr


@pytest.mark.parametrize("which", HUBS)
def test_an_interrupted_transfer_ends_complete(download, hub: FakeHub, which: str) -> None:
    hub.cut("model.safetensors")
    result = download("model", "Qwen/Tiny", "--hub", which)
    if result.returncode != 0:  # the library gave up: the same command again must finish the job
        assert "run the same command again" in _errors(result)[0]
        result = download("model", "Qwen/Tiny", "--hub", which)
    assert result.returncode == 0, result.stderr
    assert (_path(result) / "model.safetensors").read_bytes() == WEIGHTS
    assert hub.downloads("model.safetensors") == 2


def test_download_has_help_with_examples() -> None:
    for command in ([], ["model"], ["dataset"]):
        result = subprocess.run([sys.executable, "-m", "swiftpipe", "download", *command, "--help"],
                                capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0 and "Examples:" in result.stdout


def test_make_data_fetches_and_checks_what_the_medical_recipe_reads(tmp_path: Path, hub: FakeHub) -> None:
    """`make data` against the stand-in hub, holding the tutorials' repositories with our sample files in their
    formats: every file lands where recipes/medical.py reads it and passes validation; a second run fetches
    nothing."""
    datasets = REPO / "datasets"
    hub.add("model", "Qwen/Qwen2.5-1.5B", {"config.json": CONFIG})
    hub.add("dataset", "shibing624/medical", {
        "pretrain/medical_book_zh.json": (datasets / "medical_pretrain_sample.jsonl").read_bytes(),
        "reward/train.json": (datasets / "medical_reward_sample.jsonl").read_bytes()})
    hub.add("dataset", "xiaofengalg/qizen-gpt-sample-sft-20k", {
        "qizhen-gpt-sft-20k.json": (datasets / "qizhen_sft_sample.json").read_bytes(), "README.md": b"# QiZhen\n"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "MODELSCOPE_", "USE_HF", "MAKE"))}
    env.update(HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"), MODELSCOPE_CACHE=str(tmp_path / "ms"),
               HF_ENDPOINT=hub.url, MODELSCOPE_ENDPOINT=hub.url)
    make = ["make", "-s", "-C", str(REPO), "data", f"DATA={tmp_path / 'data'}", "DATA_NEEDS=",
            f"SWIFTPIPE={sys.executable} -m swiftpipe"]
    first = subprocess.run(make, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    data = tmp_path / "data"
    assert f"ok: {data}/pre/medical_book_zh.json: 40 pt records (text, JSON Lines)" in first.stdout
    assert f"ok: {data}/qizen-gpt-sample-sft-20k/qizhen-gpt-sft-20k.json: 30 sft records (alpaca, JSON array)" \
        in first.stdout
    assert f"ok: {data}/reward/train.json: 30 dpo records (question/response, JSON Lines)" in first.stdout
    assert "modelscope model Qwen/Qwen2.5-1.5B: " in first.stdout
    fetched = hub.downloads("reward/train.json")
    second = subprocess.run(make, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and hub.downloads("reward/train.json") == fetched
