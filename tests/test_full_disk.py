"""A disk that fills up during a stage (a small tmpfs; the fake `swift` writes until ENOSPC, as a checkpoint save
that does not fit): the stage fails, the record is final (its reserve gives the last write room), its run folder
recorded, and once space is freed `--resume` continues from the last checkpoint. Without the reserve, the failed
write is one line and leaves the last good record, which the next command settles. Needs root (mount)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from records import latest_record
from test_runner import _calls

from swiftpipe.cli import main
from swiftpipe.records import safe_write

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


@pytest.fixture
def small_disk(chain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The chain's project on a 24 MiB tmpfs (pre-flight asks for 16 MiB free), the fake swift filling it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], check=True)
    try:
        for name in ("data", "base", chain.name):
            (shutil.copytree if Path(name).is_dir() else shutil.copy)(name, disk / name)
        monkeypatch.chdir(disk)
        monkeypatch.setenv("FAKE_SWIFT_FILL_DISK", "sft")
        monkeypatch.setenv("FAKE_SWIFT_SLEEP_ON", "sft:1.5")  # the run folder is recorded, then the disk fills
        yield disk
    finally:
        os.chdir(tmp_path)
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _free(disk: Path) -> None:
    for filler in disk.glob("out/*/filler"):
        filler.unlink()


def test_a_full_disk_fails_the_stage_with_a_final_record_and_resume_continues(small_disk: Path, chain: Path,
                                                                            fake_swift: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(main, ["run", chain.name, "--quiet"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    record = latest_record()
    assert record["state"] == "failed" and record["stages"]["sft"]["state"] == "failed", result.output
    assert record["stages"]["merge"] == {"state": "aborted", "reason": "prerequisite sft failed"}
    run_dir = Path(record["stages"]["sft"]["outputs"]["run_dir"])
    assert (run_dir / "checkpoint-2").is_dir()
    _free(small_disk)
    monkeypatch.delenv("FAKE_SWIFT_FILL_DISK")
    resumed = CliRunner().invoke(main, ["run", chain.name, "--quiet", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    sft = [c["argv"] for c in _calls(fake_swift) if c["argv"][1] == "sft"][-1]
    assert sft[sft.index("--resume_from_checkpoint") + 1] == str(run_dir / "checkpoint-2")


def test_a_record_that_cannot_be_written_at_all_is_one_line_and_the_next_command_settles_it(
        small_disk: Path, chain: Path, fake_swift: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_write, "keep_reserve", lambda folder: None)  # no room kept for the last write
    result = CliRunner().invoke(main, ["run", chain.name, "--quiet"])
    assert result.exit_code == 3, result.output  # the disk, not the input or a stage: Exit.INFRASTRUCTURE
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "cannot write the run record (No space left on device); the last one written " \
        "is kept: free space, then --resume" in errors[0], result.output
    assert "Traceback" not in result.output
    folder = Path(latest_record()["stages"]["sft"]["log"]).parent
    assert not list(folder.glob(".record-*"))  # no half-written temporary left
    record = latest_record()  # the last good one: the stage running, its run folder known
    assert record["stages"]["sft"]["state"] == "running" and "run_dir" in record["stages"]["sft"]["outputs"]
    _free(small_disk)
    monkeypatch.delenv("FAKE_SWIFT_FILL_DISK")
    status = CliRunner().invoke(main, ["status", chain.name])
    assert status.exit_code == 0 and latest_record()["stages"]["sft"]["state"] == "interrupted", status.output
    resumed = CliRunner().invoke(main, ["run", chain.name, "--quiet", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    sft = [c["argv"] for c in _calls(fake_swift) if c["argv"][1] == "sft"][-1]
    assert sft[sft.index("--resume_from_checkpoint") + 1].endswith("/checkpoint-2")


def test_a_write_that_fails_leaves_the_last_good_file_and_no_temporary(small_disk: Path) -> None:
    target = small_disk / "record.json"
    target.write_text('{"good": true}')
    filler = small_disk / "filler"
    with pytest.raises(OSError), open(filler, "wb") as f:
        while True:
            f.write(b"\0" * (1 << 16))
            f.flush()
    with pytest.raises(safe_write.WriteFailed):
        safe_write.replace(target, "x" * (1 << 20), prefix="record")
    assert target.read_text() == '{"good": true}' and not list(small_disk.glob(".record-*"))
    filler.unlink()
    safe_write.keep_reserve(small_disk)
    with open(filler, "wb") as f:  # full again, but the reserve is there to give up
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError:
            pass
    safe_write.replace(target, '{"final": true}', prefix="record")
    assert target.read_text() == '{"final": true}' and not (small_disk / safe_write.RESERVE_FILE).exists()
