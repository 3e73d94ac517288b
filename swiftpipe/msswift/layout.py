"""ms-swift's output layout: every file and folder name it writes, and reading them back.

Checked against ms-swift 3.12.6 and 4.6.0 (the e2e tests read what both write):
- a training run writes `<output_dir>/v<N>-<YYYYMMDD>-<HHMMSS>/` (N = 1 + the largest N there), with
  `args.json`, `logging.jsonl` and `checkpoint-<step>/`; the log says `output_dir: <abs run dir>`;
- `logging.jsonl` has one JSON object per logging step and ends with an object holding
  `last_model_checkpoint` and `best_model_checkpoint`;
- `swift export --merge_lora true` writes `<checkpoint>-merged/` unless `--output_dir` says otherwise;
- `swift infer` logs `result_path: <file>` for its results (JSON Lines: `response`, `labels`, `messages`), and
  with `--metric` the mean scores as a dict;
- `swift eval` appends its report, one JSON line per evaluation, to `eval_result.jsonl` (in a local checkpoint's
  folder, else `result/<model>/`) and logs the file's path; the Native backend's line holds, per dataset, its
  main score and each metric's (`{"Native": [{"dataset_name", "score", "metrics": [{"name", "score"}]}]}`), the
  other backends' `{dataset: {metric: score}}`.
Checkpoints and runs are ordered by the numbers in their names, never by file times.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

LOGGING = "logging.jsonl"
TRAINER_STATE = "trainer_state.json"
MERGED_SUFFIX = "-merged"
RUN_DIR = re.compile(r"^v(\d+)-\d{8}-\d{6}$")
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
WEIGHTS = ("*.safetensors", "*.bin")
# What ms-swift creates where a flag says: these folders, and the folder of these files.
CREATED_FOLDERS = ("output_dir", "logging_dir", "eval_output_dir")
CREATED_FILES = ("result_path",)
# The flags that name what a stage writes, not what it reads (a folder there is no input of the stage); and the
# checkpoint a launch continues from, which is how it runs, not what the stage is.
WRITTEN_FLAGS = frozenset({*CREATED_FOLDERS, *CREATED_FILES, "resume_from_checkpoint"})
# What `swift infer` and `swift eval` write into the model folder they read, when it holds ms-swift's args.json (a
# checkpoint, a merged model): `infer_result/<time>.jsonl`, `eval_result.jsonl`, `eval_result/`. No part of the model.
WRITTEN_INTO_MODELS = frozenset({"infer_result", "eval_result", "eval_result.jsonl"})


class Output(str, Enum):
    """What a stage produces, by the name a run record keeps it under (a stage's `outputs`) and a recipe refers to it
    by (`checkpoint()`, `merged()`, `run_dir()`): a training run's folder and its last and best checkpoints, a merged
    model, a batch inference's results file, an evaluation's report."""

    RUN_DIR = "run_dir"
    LAST_CHECKPOINT = "last_checkpoint"
    BEST_CHECKPOINT = "best_checkpoint"
    MERGED = "merged"
    RESULTS = "results"
    EVAL = "eval"

    def __str__(self) -> str:
        # The name as records, placeholders and messages write it: without this, an f-string gives the value on
        # Python 3.10 but `Output.MERGED` on 3.11 and later.
        return self.value

    @property
    def in_words(self) -> str:
        return self.value.replace("_", " ")


# Lines in ms-swift's output that name what it produced (3.x and 4.x print them the same way).
OUTPUT_DIR_LINE = re.compile(r"\[INFO:swift\] output_dir: (\S.*?)\s*$")
MERGED_LINE = re.compile(r"Successfully merged LoRA and saved in `?(\S.*?)`?\.?\s*$")  # 4.x adds the backticks
RESULT_PATH_LINE = re.compile(r"saved to result_path: `(.+?)`")
# `swift infer --metric rouge|acc` logs the mean scores as a Python dict: {'rouge-1': 82.8, ..., 'bleu-4': 71.6}
METRIC_LINE = re.compile(r"\[INFO:swift\] (\{'(?:rouge-1|acc)': [^{}]*\})\s*$")
EVAL_RESULT_LINE = re.compile(r"The eval result have been saved to result_jsonl: `(.+?)`")
# The line that names each output ms-swift prints (a checkpoint it names only in logging.jsonl: read_training).
OUTPUT_LINES = {Output.RUN_DIR: OUTPUT_DIR_LINE, Output.MERGED: MERGED_LINE, Output.RESULTS: RESULT_PATH_LINE,
                Output.EVAL: EVAL_RESULT_LINE}


def run_dirs(output_dir: Path) -> dict[int, Path]:
    """The versioned run folders under an output_dir, by their number N."""
    if not output_dir.is_dir():
        return {}
    found = {}
    for child in output_dir.iterdir():
        match = RUN_DIR.match(child.name)
        if match and child.is_dir():
            found[int(match.group(1))] = child
    return found


def is_complete(checkpoint: Path) -> bool:
    """A checkpoint the trainer finished saving: weights, and trainer_state.json, which it writes after them."""
    if not (checkpoint / TRAINER_STATE).is_file():
        return False
    return any(next(checkpoint.glob(pattern), None) for pattern in WEIGHTS)


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, lowest step first; `-merged` folders and cut-short saves left out."""
    steps = []
    for child in run_dir.iterdir() if run_dir.is_dir() else []:
        match = CHECKPOINT.match(child.name)
        if match and child.is_dir() and is_complete(child):
            steps.append((int(match.group(1)), child))
    return [path for _, path in sorted(steps)]


# The series a training stage is judged by, in the order looked for in a step's line: GRPO's mean reward, PPO's
# (trl's) RLHF reward, else the loss. GRPO logs a loss too, near 0 by design; PPO logs none.
HEADLINE_SERIES = ("reward", "objective/rlhf_reward", "loss")


@dataclass(frozen=True)
class Headline:
    """A training stage's number: the series (HEADLINE_SERIES) and its value, as a step's line logged it."""

    series: str
    value: float

    def __str__(self) -> str:
        return f"{self.series} {self.value:.4g}"


def headline(record: dict) -> Headline | None:
    """The headline of one line of logging.jsonl, if it logs one."""
    for series in HEADLINE_SERIES:
        value = record.get(series)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Headline(series, float(value))
    return None


@dataclass(frozen=True)
class TrainingResult:
    run_dir: Path
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    final_loss: float | None
    global_step: int | None
    headline: Headline | None = None  # its last logged


def read_training(run_dir: Path) -> TrainingResult:
    """What a run produced: ms-swift's own last/best from logging.jsonl, else the highest complete checkpoint."""
    records = read_log(run_dir)
    final: dict[str, Any] = next((r for r in reversed(records) if "last_model_checkpoint" in r), {})
    complete = checkpoints(run_dir)
    last = _existing(final.get("last_model_checkpoint"), run_dir) or (complete[-1] if complete else None)
    best = _existing(final.get("best_model_checkpoint"), run_dir)
    losses = [r["loss"] for r in records if isinstance(r.get("loss"), (int, float))]
    numbers = [found for found in map(headline, records) if found is not None]
    return TrainingResult(run_dir, last, best, losses[-1] if losses else None, final.get("global_step"),
                          numbers[-1] if numbers else None)


def read_log(run_dir: Path) -> list[dict]:
    """The JSON objects in logging.jsonl; a line cut short by a crash is skipped."""
    path = run_dir / LOGGING
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


def _existing(path: str | None, run_dir: Path) -> Path | None:
    """A checkpoint path from the log, if it is complete; relative ones are taken against the run's parent."""
    if not path:
        return None
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = run_dir / candidate.name
    return candidate if candidate.is_dir() and is_complete(candidate) else None


@dataclass(frozen=True)
class Progress:
    step: int
    max_steps: int
    loss: float | None
    remaining: str | None  # ms-swift's own estimate, e.g. "0:01:23"
    learning_rate: float | None = None
    headline: Headline | None = None  # the method's number (loss, GRPO's reward, PPO's objective)


def _progress(record: dict) -> Progress | None:
    steps = record.get("global_step/max_steps")
    if not (isinstance(steps, str) and "/" in steps):
        return None
    step, _, total = steps.partition("/")
    try:
        loss, lr = record.get("loss"), record.get("learning_rate", record.get("lr"))
        return Progress(int(step), int(total), loss if isinstance(loss, (int, float)) else None,
                        record.get("remaining_time"), lr if isinstance(lr, (int, float)) else None, headline(record))
    except ValueError:
        return None


class LogFollower:
    """The newest training step in a run's logging.jsonl, reading only what was appended since the last look (a
    run logs for hours; reading the whole file each second would not do)."""

    def __init__(self, run_dir: Path) -> None:
        self.path, self.offset = run_dir / LOGGING, 0
        self.latest: Progress | None = None
        self._partial = b""

    def poll(self) -> Progress | None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return self.latest
        self.offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()  # a line still being written
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            found = _progress(record) if isinstance(record, dict) else None
            self.latest = found or self.latest
        return self.latest


def read_progress(run_dir: Path) -> Progress | None:
    """The latest training step from logging.jsonl (`global_step/max_steps`, `loss`, `remaining_time`)."""
    for record in reversed(read_log(run_dir)):
        found = _progress(record)
        if found is not None:
            return found
    return None


def training_complete(run_dir: Path) -> bool:
    """Whether a run saved its final checkpoint (the step ms-swift logged as max_steps): stopped after that, it has
    nothing left to train, and resuming from that checkpoint would train no step and save none."""
    progress = read_progress(run_dir)
    saved = checkpoints(run_dir)
    if progress is None or not saved:
        return False
    match = CHECKPOINT.match(saved[-1].name)
    return match is not None and int(match.group(1)) >= progress.max_steps


def read_eval(path: Path) -> dict[str, float]:
    """The scores of the newest evaluation in a `swift eval` result file: `<dataset>` for a dataset's main score
    (Native backend) and `<dataset> <metric>` for each metric; nothing when the file has no readable report."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        report = json.loads(lines[-1]) if lines else {}
    except (OSError, json.JSONDecodeError):
        return {}
    scores: dict[str, float] = {}
    for backend, result in report.items() if isinstance(report, dict) else ():
        if isinstance(result, list):  # Native: one report per dataset
            for dataset in result:
                name = dataset.get("dataset_name") if isinstance(dataset, dict) else None
                if not name:
                    continue
                _number(scores, name, dataset.get("score"))
                for metric in dataset.get("metrics") or []:
                    _number(scores, f"{name} {metric.get('name')}", metric.get("score"))
        elif isinstance(result, dict) and backend not in ("time", "model", "adapters"):
            for name, metrics in result.items():
                for metric, value in (metrics.items() if isinstance(metrics, dict) else ()):
                    _number(scores, f"{name} {metric}", value)
    return scores


def _number(scores: dict[str, float], name: str, value: object) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        scores[name] = float(value)


@dataclass
class Answer:
    """One answer in `swift infer`'s results: the question (the last user message), the model's answer, and the
    reference answer (`labels`); each None where the file has none."""

    question: str | None = None
    answer: str | None = None
    reference: str | None = None


def read_answers(path: Path, kept: int) -> list[Answer]:
    """The first `kept` answers of `swift infer`'s results file."""
    answers: list[Answer] = []
    if not path.is_file():
        return answers
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:kept]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(row, dict):
            continue
        messages = row.get("messages")
        messages = messages if isinstance(messages, list) else []
        question = next((m.get("content") for m in reversed(messages) if isinstance(m, dict)
                         and m.get("role") == "user"), None)
        answers.append(Answer(*(v if isinstance(v, str) else None for v in (question, row.get("response"),
                                                                             row.get("labels")))))
    return answers


def read_scores(text: str | None) -> dict[str, float]:
    """The mean scores ms-swift logged (`{'rouge-l': 82.8, ...}`); numbers only, nothing if the line is not a dict."""
    try:
        scores = ast.literal_eval(text) if text else {}
    except (ValueError, SyntaxError):
        return {}
    if not isinstance(scores, dict):
        return {}
    return {str(k): float(v) for k, v in scores.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
