from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/golden/ from the current rendering instead of comparing with it.")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def fake_swift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the fake `swift` first on PATH; returns the JSON-lines file it records each call in."""
    log = tmp_path / "swift-calls.jsonl"
    monkeypatch.setenv("PATH", f"{REPO / 'tests' / 'fake_swift'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SWIFT_LOG", str(log))
    return log


@pytest.fixture
def write_recipe(tmp_path: Path):
    """Write a small scenario recipe file and return its path."""

    def write(body: str, name: str = "scenario.py") -> Path:
        path = tmp_path / name
        path.write_text("from swiftpipe import *\n" + body)
        return path

    return write


@pytest.fixture(autouse=True)
def real_swift_guard(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch):
    """A fast test never launches the real `swift` (pre-flight would fall back to the one beside this Python): a
    stand-in first on PATH records any call, and the test fails. `fake_swift` and the e2e tier go before it."""
    if request.node.get_closest_marker("e2e"):
        yield
        return
    guard = tmp_path_factory.mktemp("swift-guard")
    calls = guard / "calls"
    (guard / "swift").write_text(f"#!/bin/sh\necho \"swift $*\" >> {shlex.quote(str(calls))}\n"
                                 "echo 'a fast test launched swift: use the fake_swift fixture' >&2\nexit 97\n")
    (guard / "swift").chmod(0o755)
    monkeypatch.setenv("PATH", f"{guard}{os.pathsep}{os.environ['PATH']}")
    yield
    assert not calls.exists(), f"a fast test launched swift: {calls.read_text()}"


@pytest.fixture(scope="session")
def stand_in_hub():
    """One tests/fake_hub.py server for the session: what a fast test reaches when it asks "a hub"."""
    from fake_hub import FakeHub

    hub = FakeHub().start()
    yield hub
    hub.stop()


@pytest.fixture(autouse=True)
def real_hub_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """A fast test never asks a real hub: pre-flight asks whether the hub of a model id answers, and here the
    stand-in on 127.0.0.1 does (with no model in it), whatever the machine's network or offline settings. A test
    of hub behaviour sets its own endpoints and caches in the environment of the process it starts."""
    if request.node.get_closest_marker("e2e"):
        return
    hub = request.getfixturevalue("stand_in_hub")
    for name in ("HF_HUB_OFFLINE", "MODELSCOPE_OFFLINE", "USE_HF"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)


# Four stages on the fake swift: pretrain -> LoRA SFT -> merge -> batch inference, with one parameter.
FAKE_CHAIN = '''
def recipe(out: str = "out"):
    return make_recipe("chain", [
        pretrain("pretrain", {"model": "base", "train_type": "full", "dataset": "data/pt.jsonl", "output_dir": f"{out}/pt"}),
        sft("sft", {"model": checkpoint("pretrain"), "train_type": "lora", "dataset": "data/sft.jsonl",
                    "output_dir": f"{out}/sft"}),
        merge("merge", {"ckpt_dir": checkpoint("sft")}),
        infer("infer", {"model": merged("merge"), "val_dataset": "data/q.jsonl"}),
    ])
'''


@pytest.fixture
def chain(tmp_path: Path, write_recipe, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """FAKE_CHAIN as chain.py in a fresh working directory holding its data and base model."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/pt.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "data/sft.jsonl").write_text('{"query": "q", "response": "r"}\n')
    (tmp_path / "data/q.jsonl").write_text('{"query": "what?"}\n{"query": "why?"}\n')
    (tmp_path / "base").mkdir()
    (tmp_path / "base/config.json").write_text("{}")
    path = write_recipe(FAKE_CHAIN, name="chain.py")
    return Path(path.name)
