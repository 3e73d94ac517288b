"""What a stage produced: read from the lines ms-swift printed and the folders it wrote (see msswift/layout.py)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from swiftpipe.msswift import layout
from swiftpipe.msswift.layout import Output
from swiftpipe.recipe.model import Stage
from swiftpipe.records.run_record import FINISHED, Handed, StageRecord, State
from swiftpipe.run import reads
from swiftpipe.run.fingerprint import Fingerprint, changed_flags

ANSWERS_KEPT = 20


@dataclass
class Produced:
    outputs: dict[Output, str] = field(default_factory=dict)
    final_loss: float | None = None
    headline: layout.Headline | None = None
    answers: list[layout.Answer] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


def run_dirs_before(stage: Stage) -> set[Path]:
    """A training stage's run folders before it starts, to tell the one it creates."""
    output_dir = stage.flags.get("output_dir")
    return set(layout.run_dirs(Path(str(output_dir))).values()) if stage.trains and output_dir else set()


def run_dir_of(stage: Stage, found: dict[Output, str], before: set[Path]) -> Path | None:
    """The run folder this training stage made: the one ms-swift named in its output, else the one new folder
    under its --output_dir (none when there are several: another run wrote there meanwhile)."""
    if Output.RUN_DIR in found:
        return Path(found[Output.RUN_DIR])
    if not stage.trains or not stage.flags.get("output_dir"):
        return None
    created = set(layout.run_dirs(Path(str(stage.flags["output_dir"]))).values()) - before
    return created.pop() if len(created) == 1 else None


def collect(stage: Stage, found: dict[Output, str], before: set[Path], *, scores: str | None = None) -> Produced:
    """What this stage produced, as ms-swift reported it (`found`: the outputs it named; `scores`: the mean scores
    it logged); for a training run, the folder this run created."""
    produced = Produced()
    if stage.trains:
        run_dir = run_dir_of(stage, found, before)
        if run_dir is not None:
            result = layout.read_training(run_dir)
            produced.outputs[Output.RUN_DIR] = str(run_dir)
            for output, path in ((Output.LAST_CHECKPOINT, result.last_checkpoint),
                                 (Output.BEST_CHECKPOINT, result.best_checkpoint)):
                if path:
                    produced.outputs[output] = str(path)
            produced.final_loss, produced.headline = result.final_loss, result.headline
    elif stage.command == "export" and Output.MERGED in found:
        produced.outputs[Output.MERGED] = found[Output.MERGED]
    elif stage.command == "infer" and Output.RESULTS in found:
        produced.outputs[Output.RESULTS] = found[Output.RESULTS]
        produced.answers = layout.read_answers(Path(found[Output.RESULTS]), ANSWERS_KEPT)
        produced.scores = layout.read_scores(scores)
    elif stage.command == "eval" and Output.EVAL in found:
        produced.outputs[Output.EVAL] = found[Output.EVAL]
        produced.scores = layout.read_eval(Path(found[Output.EVAL]))
    return produced


def checkpoint_to_resume(stage: Stage, entry: StageRecord, current: Fingerprint,
                         inputs: Sequence[Handed]) -> str | None:
    """The last complete checkpoint of a training stage that did not finish (failed, stopped, or killed outright
    and left "running"), to continue from, written by a launch of the same command (`current`) on the same inputs:
    a checkpoint of another command (LoRA when the stage now trains in full), or trained on data since edited, is
    never continued. A launch that was stopped before its first save leaves an empty run folder: the earlier
    launches' folders are searched too, newest first."""
    return next((str(launch.saved) for launch in _unfinished_checkpoints(stage, entry)
                 if (launch.fingerprint is None or current.matches(launch.fingerprint))
                 and reads.changed(launch.inputs, inputs) is None), None)


def changed_since_checkpoint(stage: Stage, entry: StageRecord, current: Fingerprint, inputs: Sequence[Handed],
                             argv: list[str]) -> str | None:
    """Why a stage that left a checkpoint starts over: its command (`argv`: the command now) or what it reads
    changed since."""
    if checkpoint_to_resume(stage, entry, current, inputs) is not None:
        return None
    launch = next(iter(_unfinished_checkpoints(stage, entry)), None)
    if launch is None:
        return None
    if launch.fingerprint is not None and not current.matches(launch.fingerprint):
        return f"its command changed since {launch.saved} was written ({changed_flags(launch.command, argv)}); " \
            "starting over"
    return f"{reads.changed(launch.inputs, inputs)} since {launch.saved} was written; starting over"


@dataclass(frozen=True)
class _Launch:
    saved: Path  # its last complete checkpoint
    fingerprint: str | None
    command: list[str]
    inputs: list[Handed] | None


def _unfinished_checkpoints(stage: Stage, entry: StageRecord) -> Iterator[_Launch]:
    """The last complete checkpoint of each unfinished launch of the stage, newest first, with that launch's
    fingerprint, command and inputs; back to the last launch that finished."""
    if not stage.trains or entry.state not in (State.FAILED, State.INTERRUPTED, State.RUNNING):
        return
    launches = [(entry.outputs, entry.fingerprint, entry.command, entry.inputs)]
    for attempt in reversed(entry.attempts):
        if attempt.state in FINISHED:  # an earlier, finished run of the stage is not this run's start
            break
        launches.append((attempt.outputs, attempt.fingerprint, attempt.command, attempt.inputs))
    for outputs, fingerprint, command, inputs in launches:
        run_dir = outputs.get(Output.RUN_DIR)
        saved = layout.checkpoints(Path(run_dir)) if run_dir else []
        if saved:
            yield _Launch(saved[-1], fingerprint, command, inputs)


FINISHED_BEFORE_STOP = "it saved its final checkpoint before it was stopped; done"


def finished_before_stop(stage: Stage, entry: StageRecord) -> Produced | None:
    """What a training stage produced when it was stopped, or killed outright, after saving its final checkpoint:
    it has nothing left to train (resumed, it would train no step and save none), so it is done. None otherwise."""
    run_dir = entry.outputs.get(Output.RUN_DIR)
    if not stage.trains or entry.state not in (State.INTERRUPTED, State.RUNNING) or not run_dir:
        return None
    if not layout.training_complete(Path(run_dir)):
        return None
    return collect(stage, {Output.RUN_DIR: run_dir}, set())
