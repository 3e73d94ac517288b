"""Two swiftpipes started at the same moment on one chain, or on two chains writing one output_dir: one runs, the
other is refused in one line naming the running one, or waits for it with --wait. Against the fake `swift`."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_runner import _calls

TRIES = 4


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "swiftpipe", "run", *args, "--quiet"],
                            env={**os.environ, "FAKE_SWIFT_SLEEP_ON": "pt:0.5", **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _pair(first: list[str], second: list[str]) -> list[tuple[int, str]]:
    """Both started within a few milliseconds; their exit codes and outputs."""
    procs = [_start(*first), _start(*second)]
    return [(p.wait(timeout=60), p.stdout.read()) for p in procs]  # type: ignore[union-attr]


@pytest.mark.parametrize("second", [[], ["--resume"]], ids=["run", "resume"])
def test_two_runs_of_one_chain_started_together_make_one_run(chain: Path, fake_swift: Path, tmp_path: Path,
                                                               second: list[str]) -> None:
    for attempt in range(TRIES):
        work = f"w{attempt}"
        ended = _pair([str(chain), "--work-dir", work], [str(chain), "--work-dir", work, *second])
        codes = sorted(code for code, _ in ended)
        assert codes == [0, 2], ended
        refused = next(output for code, output in ended if code == 2)
        assert len(refused.strip().splitlines()) == 1, refused
        assert refused.startswith(f"error: {chain} with these parameters: in use by ") and \
            f"(swiftpipe run {chain}, since " in refused and "--wait" in refused, refused
        assert len(list(Path(work, "runs").glob("*/record.json"))) == 1
    calls = [c["argv"][1] for c in _calls(fake_swift)]
    assert calls == ["pt", "sft", "export", "infer"] * TRIES  # every stage once per try, never twice at once


def test_two_recipes_writing_one_output_dir_do_not_run_at_once(chain: Path, fake_swift: Path, write_recipe) -> None:
    other = write_recipe("def recipe():\n    return make_recipe('other', [pretrain('pt', {'model': 'base', "
                         "'dataset': 'data/pt.jsonl', 'output_dir': 'out/sft'})])\n", name="other.py")
    ended = _pair([str(chain)], [other.name])
    assert sorted(code for code, _ in ended) == [0, 2], ended
    refused = next(output for code, output in ended if code == 2)
    assert refused.startswith("error: --output_dir out/sft: in use by ") and len(refused.splitlines()) == 1


def test_wait_runs_after_the_running_one_ends(chain: Path, fake_swift: Path) -> None:
    first = _start(str(chain), env={"FAKE_SWIFT_SLEEP_ON": "pt:2"})
    deadline = time.monotonic() + 30
    while not _calls(fake_swift):  # the first one runs its first stage: it holds the chain
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second = _start(str(chain), "--resume", "--wait", env={"FAKE_SWIFT_SLEEP_ON": ""})
    assert first.wait(timeout=60) == 0
    output = second.stdout.read()  # type: ignore[union-attr]
    assert second.wait(timeout=60) == 0, output
    assert "in use by" in output and "waiting for it to end" in output
    assert [c["argv"][1] for c in _calls(fake_swift)] == ["pt", "sft", "export", "infer"]  # then all reused
    assert len(list(Path(".swiftpipe/runs").glob("*/record.json"))) == 1


def test_a_local_run_while_jobs_of_the_chain_are_queued_on_slurm_is_refused(chain: Path, fake_swift: Path) -> None:
    from click.testing import CliRunner

    from swiftpipe.cli import main
    from swiftpipe.recipe import loading
    from swiftpipe.records import run_record
    from swiftpipe.records.run_record import Job, LauncherInfo, State

    record = run_record.create(Path(".swiftpipe"), loading.load(chain), stages=["pretrain", "sft", "merge", "infer"])
    record.launcher = LauncherInfo("slurm", {"path": str(chain)})
    record.stage("pretrain").job = Job("41", run_record.now(), "pretrain.sbatch", "pretrain.out")
    record.stage("pretrain").waits_or_runs(State.QUEUED)
    record.save()
    result = CliRunner().invoke(main, ["run", str(chain), "--quiet"])
    assert result.exit_code == 2 and result.output == (
        f"error: {chain}: run {record.id} of this recipe with these parameters has jobs queued or running on Slurm: "
        f"pretrain (job 41, queued); follow them (swiftpipe status {chain}) or cancel them "
        f"(swiftpipe cancel {chain}) first\n")
    assert _calls(fake_swift) == []


def test_two_work_dirs_on_one_output_dir_do_not_run_at_once(chain: Path, fake_swift: Path) -> None:
    ended = _pair([str(chain), "--work-dir", "w1"], [str(chain), "--work-dir", "w2"])
    assert sorted(code for code, _ in ended) == [0, 2], ended
    refused = next(output for code, output in ended if code == 2)
    assert refused.startswith("error: --output_dir out/") and " in use by " in refused, refused


def test_the_node_ranks_of_one_job_share_their_output_folders(chain: Path) -> None:
    """Two ranks of a multi-node job may run on one machine (the rehearsal): their output_dir claims differ."""
    from swiftpipe.recipe import loading
    from swiftpipe.recipe.scale import Scale
    from swiftpipe.run import run_lock

    keys = [set(run_lock.claims(loading.load(str(chain), scale=Scale(nodes=2, node_rank=rank,
                                                                     master_addr="127.0.0.1")), ["pretrain"]))
            for rank in (0, 1)]
    assert not {k for k in keys[0] & keys[1] if k.startswith("output_dir ")}
