"""Reading what ms-swift 3 and 4 print and write."""
from __future__ import annotations

from pathlib import Path

import pytest

from swiftpipe.msswift import layout
from swiftpipe.msswift.layout import Output
from swiftpipe.run.watch import StageWatcher


class _Sink:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("line,output,value", [
    ("[INFO:swift] output_dir: /abs/out/sft/v3-20250101-120000", Output.RUN_DIR, "/abs/out/sft/v3-20250101-120000"),
    # 3.12.6 and 4.6.0 spell the merge line differently
    ("[INFO:swift] Successfully merged LoRA and saved in /a/checkpoint-8-merged.", Output.MERGED,
     "/a/checkpoint-8-merged"),
    ("[INFO:swift] Successfully merged LoRA and saved in `/a/checkpoint-8-merged`.", Output.MERGED,
     "/a/checkpoint-8-merged"),
    ("[INFO:swift] The inference results have been saved to result_path: `/m/infer_result/1.jsonl`.", Output.RESULTS,
     "/m/infer_result/1.jsonl"),
])
def test_watcher_picks_what_ms_swift_reports_out_of_its_output(line: str, output: Output, value: str) -> None:
    sink = _Sink()
    watcher = StageWatcher("s", stream=sink)
    text = f"noise\r{line}\nmore\n".encode()
    for i in range(0, len(text), 7):  # arrives in arbitrary chunks
        watcher.output(text[i:i + 7])
    assert watcher.found == {output: value}
    assert sink.data == text  # passed through untouched


def _checkpoint(run: Path, step: int, *, state: bool = True) -> Path:
    path = run / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"w")
    if state:
        (path / "trainer_state.json").write_text("{}")
    return path


def test_checkpoints_by_number_complete_only(tmp_path: Path) -> None:
    run = tmp_path / "v0-20250101-000000"
    for step in (9, 10, 100):
        _checkpoint(run, step)
    _checkpoint(run, 200, state=False)
    (run / "checkpoint-100-merged").mkdir()
    assert [p.name for p in layout.checkpoints(run)] == ["checkpoint-9", "checkpoint-10", "checkpoint-100"]


def test_read_training_prefers_ms_swifts_own_report_and_survives_a_cut_log(tmp_path: Path) -> None:
    run = tmp_path / "v0-20250101-000000"
    best = _checkpoint(run, 2)
    last = _checkpoint(run, 4)
    (run / "logging.jsonl").write_text(
        '{"loss": 1.5, "global_step/max_steps": "2/4"}\n{"loss": 1.25, "global_step/max_steps": "4/4", '
        '"remaining_time": "0s"}\n'
        f'{{"last_model_checkpoint": "{last}", "best_model_checkpoint": "{best}", "global_step": 4}}\n{{"cut')
    result = layout.read_training(run)
    assert (result.last_checkpoint, result.best_checkpoint, result.final_loss) == (last, best, 1.25)
    assert result.headline == layout.Headline("loss", 1.25)
    assert layout.read_progress(run) == layout.Progress(4, 4, 1.25, "0s", headline=layout.Headline("loss", 1.25))


def test_run_dirs_are_keyed_by_their_number(tmp_path: Path) -> None:
    for name in ("v0-20250101-000000", "v10-20240101-000000", "v2-20260101-000000", "notes", "v3-bad"):
        (tmp_path / name).mkdir()
    assert sorted(layout.run_dirs(tmp_path)) == [0, 2, 10]
