"""Tables for people: a recipe (`info`), a run's stages (`run`'s summary, `status`) and the runs (`runs`).

Cells hold text from paths, models and recipes, so every cell is a rich Text: never read as markup.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from swiftpipe.console import console
from swiftpipe.msswift.layout import Output
from swiftpipe.records.index import Summary
from swiftpipe.records.run_record import Job, RunRecord, StageRecord, State
from swiftpipe.run.compare import Comparison, comparisons

_STYLE = {State.QUEUED: "cyan", State.DONE: "green", State.REUSED: "green", State.FAILED: "red",
          State.INTERRUPTED: "yellow", State.ABORTED: "red", State.SKIPPED: "dim", State.RUNNING: "cyan",
          State.PENDING: "dim"}
ANSWERS_SHOWN = 5


def _state(state: State) -> Text:
    return Text(state.value, style=_STYLE.get(state, ""))


def _produced(entry: StageRecord) -> str:
    """The one output worth a column: the merged model, else the last checkpoint, results (an inference's or an
    evaluation's), run folder, or why not."""
    for output in (Output.MERGED, Output.LAST_CHECKPOINT, Output.RESULTS, Output.EVAL, Output.RUN_DIR):
        if entry.outputs.get(output):
            return entry.outputs[output]
    return entry.reason or ""


def stage_table(record: RunRecord, title: str | None = None, *, gone: Collection[str] = (),
                earlier: Mapping[str, tuple[str, StageRecord]] | None = None,
                order: Sequence[str] = ()) -> Table:
    """A row per stage of the run; those named in `gone`, which the recipe no longer has, dim and marked so. With
    `earlier` (history.earlier_outcomes), the chain as a whole: a stage this run did not run shows its latest
    outcome in the run named beside it, in the recipe's `order`."""
    earlier = earlier or {}
    rows: dict[str, tuple[StageRecord, str | None]] = {name: (entry, None) for name, entry in record.stages.items()
                                                       if name not in earlier}
    rows.update({name: (entry, run_id) for name, (run_id, entry) in earlier.items()})
    names = [name for name in order if name in rows] + [name for name in rows if name not in order]
    table = Table(title=title or f"run {record.id}" + (" and the latest outcome of the stages it did not run"
                                                      if earlier else ""), title_justify="left")
    slurm = any(entry.job for entry, _ in rows.values())
    relaunched = any(entry.attempts for entry, _ in rows.values())
    for column in ("stage", "state", *(("job", "slurm state") if slurm else ()), *(("launches",) if relaunched else ()),
                   "duration", "final", "produced", *(("run",) if earlier else ())):
        table.add_column(column, overflow="fold")
    for name in names:
        entry, run_id = rows[name]
        jobs = (Text(entry.job.id if entry.job else ""), Text(_slurm_state(entry.job))) if slurm else ()
        launches = (Text(_launches(entry)),) if relaunched else ()
        stage = Text.assemble(name, " (no longer in the recipe)") if name in gone else Text(name)
        table.add_row(stage, _state(entry.state), *jobs, *launches,
                      Text(f"{entry.seconds:.1f}s" if entry.seconds is not None else ""),
                      Text(_final(entry)), Text(_produced(entry)), *((Text(run_id or "this one"),) if earlier else ()),
                      style="dim" if name in gone else None)
    return table


def _final(entry: StageRecord) -> str:
    """A training stage's last number, named: `loss 0.5`, `reward 0.75` (GRPO); an older record's, its loss."""
    if entry.headline is not None:
        return str(entry.headline)
    return f"loss {entry.final_loss:.4g}" if entry.final_loss is not None else ""


def _launches(entry: StageRecord) -> str:
    """The earlier launches' outcomes, then this one's: `interrupted, failed, done`."""
    return ", ".join([a.state.value for a in entry.attempts] + ([entry.state.value] if entry.started else []))


def _slurm_state(job: Job | None) -> str:
    if job is None:
        return ""
    text = job.state
    if job.reason not in (None, "", "None"):
        text += f" ({job.reason})"
    if job.exit_code not in (None, "0:0"):
        text += f" exit {job.exit_code}"
    return text


def print_summary(record: RunRecord) -> None:
    """The stage table, each comparison side by side, then the first answers of each other inference stage."""
    console.print(stage_table(record))
    for comparison in comparisons(record):
        console.print(comparison_table(comparison))
    for name, entry in record.stages.items():
        if entry.group is not None:
            continue
        for answer in entry.answers[:ANSWERS_SHOWN]:  # a question or an answer ms-swift did not log is blank
            console.print(Text.assemble((name, "bold"), f" Q: {answer.question or ''}\n"
                                                        f"      A: {answer.answer or ''}"))


def comparison_table(comparison: Comparison) -> Table:
    """A row per question (with its reference answer, if any) and a column per model; then a row per score."""
    title = "the same questions to each model" if comparison.questions else "scores of each model"
    table = Table(title=f"{comparison.name}: {title}", title_justify="left", show_lines=True)
    references = any(comparison.references)
    first = "question" if comparison.questions else "score"
    for column in (first, *(("reference",) if references else ()), *comparison.labels):
        table.add_column(column, overflow="fold")
    for i, question in enumerate(comparison.questions):
        answers = [comparison.answer(label, i) for label in comparison.labels]
        table.add_row(Text(question or ""), *((Text(comparison.references[i] or ""),) if references else ()),
                      *(Text(a) for a in answers))
    for score in comparison.headline_scores:
        values = [comparison.scores[label].get(score) for label in comparison.labels]
        table.add_row(Text(score, style="bold"), *((Text(""),) if references else ()),
                      *(Text("" if v is None else _score(v), style="bold") for v in values))
    best = comparison.best()
    if best is not None:
        table.caption, table.caption_justify = f"best variant: {best[0]} ({best[1]} {_score(best[2])})", "left"
    unscored = [label for label in comparison.labels if not comparison.scores[label]]
    if not comparison.questions and unscored:  # an evaluation that gave no scores says why
        table.add_row(Text("not scored", style="bold"), *(Text(comparison.missing.get(label, "") if label in unscored
                                                                 else "") for label in comparison.labels))
    return table


def _score(value: float) -> str:
    """ms-swift's metrics are percentages (82.8), EvalScope's fractions (0.428): each with its own digits."""
    return f"{value:.1f}" if value >= 1 or value == 0 else f"{value:.3f}"


def runs_table(summaries: list[Summary]) -> Table:
    table = Table(title="runs", title_justify="left")
    for column in ("run", "recipe", "parameters", "state", "stages done", "created"):
        table.add_column(column, overflow="fold")
    for run in summaries:
        params = " ".join([*(f"{k}={v}" for k, v in run.params.items()), *(f"--set {v}" for v in run.sets),
                           *(f"--vary {v}" for v in run.varies)])
        table.add_row(Text(run.id), Text(run.path), Text(params), _state(State(run.state)),
                      Text(f"{run.done}/{run.total}"), Text(run.created))
    return table


def print_info(described: dict[str, Any]) -> None:
    """`swiftpipe info`: a recipe's name, description, parameters and stages (recipe/describe.py's dict)."""
    console.print(Text.assemble((described["recipe"], "bold"), f"  {described['path']}"))
    if described["description"]:
        console.print(Text(described["description"]))
    params = Table(title="parameters (-p NAME=VALUE)", title_justify="left")
    for column in ("name", "type", "default", "value"):
        params.add_column(column)
    for p in described["parameters"]:
        params.add_row(*(Text(str(p[k])) for k in ("name", "type", "default", "value")))
    console.print(params if described["parameters"] else Text("no parameters"))
    stages = Table(title="stages", title_justify="left")
    for column in ("#", "stage", "command", "launch", "consumes"):
        stages.add_column(column)
    for i, s in enumerate(described["stages"], 1):
        launch = " ".join(f"{k}={v}" for k, v in s["launch"].items())
        stages.add_row(Text(str(i)), Text(s["name"]), Text(s["command"]), Text(launch), Text("\n".join(s["consumes"])))
    console.print(stages)
