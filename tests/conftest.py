from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/golden/ from the current rendering instead of comparing with it.")


# The tiers beyond the fast one, each a marker ([tool.pytest.ini_options] says what each needs): `make test-fast`
# leaves them out, `make test` runs them all. `e2e` is its modules' `pytestmark`; the others follow from the fixture
# that meets the need, so that a test which asks for it is in its tier without saying so twice.
TIER_OF_FIXTURE = {"slurm": "slurm", "chromium": "browser", "small_disk": "root"}


# pytest imports readline as it starts, and GNU readline puts COLUMNS and LINES (80x24 without a terminal) into the
# process's environment, where xdist's workers find them; a rich console built in-process would then be 80 columns
# wide under xdist and not without it. A worker's os.environ is the one the session started with.
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # xdist's, in the controller
    node.workerinput["environ_lacks"] = [name for name in ("COLUMNS", "LINES") if name not in os.environ]


def pytest_configure(config: pytest.Config) -> None:
    for name in getattr(config, "workerinput", {}).get("environ_lacks", ()):
        os.environ.pop(name, None)
    _share_the_cores(config)
    if config.getoption("dist", "no") == "loadgroup" and config.getoption("tx", None) and _groups_lost():
        raise pytest.UsageError("pytest-xdist 3.8 groups nothing under pytest 9.2 (pytest-xdist#1386): the tests that "
                                "share a fixture would each build it. `make install` brings the pytest that "
                                "pyproject.toml asks for; or run without -n")


def _share_the_cores(config: pytest.Config) -> None:
    """The cores, shared out between xdist's workers for the torch they start (ms-swift's stages, the tiny model's
    build). Each torch process would otherwise run a thread on every core, as many processes at once as workers, and
    OpenMP threads that outnumber the cores spin waiting on each other: a two-worker e2e tier ran its tiny trainings
    at a tenth of their speed. Each worker sets its own (xdist's controller sets none: its workers would inherit
    it); a value the caller set is kept."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None and config.getoption("numprocesses", None):
        return
    workers = int(workerinput["workercount"]) if workerinput else 1
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))


def _groups_lost() -> bool:
    """pytest 9.2 derives node ids from structured ones, and pytest-xdist up to 3.8 groups a test by editing the
    old string (the fix, pytest-xdist#1388, is not released)."""
    import xdist

    return pytest.version_tuple[:2] >= (9, 2) and tuple(int(n) for n in xdist.__version__.split(".")[:2]) <= (3, 8)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker and before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, tier in TIER_OF_FIXTURE.items():
            if fixture in item.fixturenames:
                item.add_marker(tier)
        for group in _shared_by(item):
            item.add_marker(pytest.mark.xdist_group(group))


def _shared_by(item: pytest.Item) -> set[str]:
    """Under xdist (`make test`, with `--dist loadgroup`), the tests that share a fixture of module or class scope
    (the demo run, the local Slurm cluster, a built model, converted data) go to one worker as a group, one group per
    module that defines such fixtures: each is built once, never twice at once nor again after another module's
    tests came between. A session fixture that must exist once across the workers takes a lock (`tiny`)."""
    info = getattr(item, "_fixtureinfo", None)
    groups = set()
    for name in item.fixturenames:
        defs = info.name2fixturedefs.get(name) if info is not None else None
        if defs and defs[-1].scope in ("module", "class", "package"):
            groups.add(Path(defs[-1].baseid.split("::")[0]).stem or "conftest")
    return groups


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
    # its `#!/usr/bin/env python3` finds this venv's Python first, not a version manager's shim (pyenv's costs a
    # bash and a few hundred milliseconds a call, most of a fast test's time)
    here = Path(sys.executable).parent
    monkeypatch.setenv("PATH", os.pathsep.join([str(REPO / "tests" / "fake_swift"), str(here), os.environ["PATH"]]))
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


def _session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of the whole test session: under xdist, the one above each worker's."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's tiny Qwen2 for the e2e tests (they read its files; ms-swift's infer adds results under it), built
    once for the session: under xdist the first worker to ask builds it under a lock, and the others wait for it."""
    from swiftpipe.demo import tiny_model

    folder = _session_folder(tmp_path_factory)
    target = folder / "tiny-qwen2"
    with open(folder / "tiny-qwen2.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            building = folder / "tiny-qwen2.building"
            shutil.rmtree(building, ignore_errors=True)  # a worker that died half-way
            tiny_model.build(building, sorted((REPO / "datasets").glob("*.jsonl")))
            building.rename(target)
    return target


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium (tests/browser.sh installs it and a CJK font when missing: root): its path."""
    found = subprocess.run(["bash", str(REPO / "tests/browser.sh")], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


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
        pretrain("pretrain", {"model": "base", "train_type": "full", "dataset": "data/pt.jsonl",
                              "output_dir": f"{out}/pt"}),
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
