"""Tables of what ran: the summary after `run`, `status` and `runs`."""
from __future__ import annotations

from typing import Any

from swiftpipe.run.run_record import RunRecord

_STYLE = {"queued": "cyan", "done": "green", "reused": "green", "failed": "red", "interrupted": "yellow",
          "aborted": "red", "skipped": "dim", "running": "cyan", "pending": "dim"}


def produced(entry: dict[str, Any]) -> str:
    outputs = entry.get("outputs", {})
    for key in ("merged", "last_checkpoint", "results", "run_dir"):
        if outputs.get(key):
            return str(outputs[key])
    return entry.get("reason", "")


def stage_table(record: RunRecord, title: str | None = None):
    from rich.table import Table

    table = Table(title=title or f"run {record.id}", title_justify="left")
    slurm = any(entry.get("job_id") for entry in record.stages.values())
    columns = ("stage", "state", *(("job", "slurm state") if slurm else ()), "duration", "final loss", "produced")
    for column in columns:
        table.add_column(column, overflow="fold")
    for name, entry in record.stages.items():
        state = entry.get("state", "pending")
        seconds = entry.get("seconds")
        loss = entry.get("final_loss")
        jobs = (entry.get("job_id", ""), _slurm_state(entry)) if slurm else ()
        table.add_row(name, f"[{_STYLE.get(state, '')}]{state}[/]", *jobs,
                      f"{seconds:.1f}s" if seconds is not None else "",
                      f"{loss:.4g}" if isinstance(loss, (int, float)) else "", produced(entry))
    return table


def _slurm_state(entry: dict[str, Any]) -> str:
    slurm = entry.get("slurm", {})
    text = slurm.get("state", "")
    if slurm.get("reason") not in (None, "", "None"):
        text += f" ({slurm['reason']})"
    if slurm.get("exit_code") not in (None, "0:0"):
        text += f" exit {slurm['exit_code']}"
    return text


def print_summary(record: RunRecord) -> None:
    from swiftpipe.console import console

    console.print(stage_table(record))
    for name, entry in record.stages.items():
        for answer in entry.get("answers", [])[:5]:
            console.print(f"[bold]{name}[/bold] Q: {answer.get('question')}\n      A: {answer.get('answer')}",
                          markup=True, highlight=False)


def runs_table(all_records: list[RunRecord]):
    from rich.table import Table

    table = Table(title="runs", title_justify="left")
    for column in ("run", "recipe", "parameters", "state", "stages done", "created"):
        table.add_column(column, overflow="fold")
    for record in all_records:
        recipe = record.data["recipe"]
        stages = record.stages.values()
        done = sum(1 for s in stages if s.get("state") in ("done", "reused"))
        params = " ".join(f"{k}={v}" for k, v in recipe.get("params", {}).items())
        state = record.data.get("state", "pending")
        table.add_row(record.id, recipe["path"], params, f"[{_STYLE.get(state, '')}]{state}[/]",
                      f"{done}/{len(record.stages)}", record.data.get("created", ""))
    return table
