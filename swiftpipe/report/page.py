"""`swiftpipe report`: one run as one self-contained HTML page.

Everything is inline (styles, SVG charts), so the file opens anywhere without a network. Every value reaches the
page through Jinja's HTML escaping: an answer holding `<script>` shows as text.
"""
from __future__ import annotations

import dataclasses
import functools
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from swiftpipe.msswift.layout import Output
from swiftpipe.recipe.sweep import SEPARATOR
from swiftpipe.records.run_record import RunRecord, StageRecord
from swiftpipe.render.templating import templates_dir
from swiftpipe.report.charts import Chart, charts, overlaid, panels
from swiftpipe.report.curves import Curve, read_curves
from swiftpipe.report.graph import BOX_HEIGHT, BOX_WIDTH, layout
from swiftpipe.run.compare import Comparison, comparisons

TEMPLATE = "report.html.j2"


@dataclass
class Handoff:
    flag: str
    producer: str
    output: Output | None  # None in a record that did not say which
    path: str


@dataclass
class StageView:
    name: str
    entry: StageRecord
    command: str
    handoffs: list[Handoff] = field(default_factory=list)
    curves: dict[str, Curve] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)  # (question, answer); either may be empty


@dataclass
class Overlay:
    """A stage of a sweep run per variant: its curves of each variant drawn on one chart per series."""

    stage: str
    charts: dict[str, Chart]  # by series: loss, eval_loss, learning_rate


OVERLAID = ("loss", "eval_loss", "learning_rate")


def write(record: RunRecord, target: Path) -> Path:
    """Write the page for `record` to `target` (its folder is created) and return it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(record), encoding="utf-8")
    return target


def render(record: RunRecord) -> str:
    stages = [_view(record, name, entry) for name, entry in record.stages.items()]
    compared: list[Comparison] = comparisons(record)
    graph = layout([view.name for view in stages],
                   {view.name: [(h.producer, h.flag, h.output, h.path) for h in view.handoffs] for view in stages})
    return _environment().get_template(TEMPLATE).render(
        record=record, stages=stages, comparisons=compared, graph=graph, overlays=_overlays(stages),
        entries={view.name: view.entry for view in stages}, box=(BOX_WIDTH, BOX_HEIGHT))


def _overlays(stages: list[StageView]) -> list[Overlay]:
    """For each stage that a sweep runs per variant, each series of every variant on one chart (the variants'
    losses side by side), the variant's folder name for each curve."""
    split: dict[str, list[StageView]] = {}
    for view in stages:
        stage, separator, _ = view.name.partition(SEPARATOR)
        if separator and view.curves:
            split.setdefault(stage, []).append(view)
    found = []
    for stage, views in split.items():
        drawn = {series: overlaid(f"{series} of {stage}, each variant",
                                  [dataclasses.replace(view.curves[series], name=view.name.partition(SEPARATOR)[2])
                                   for view in views if series in view.curves])
                 for series in OVERLAID}
        shown = {series: chart for series, chart in drawn.items() if chart is not None and len(chart.series) > 1}
        if shown:
            found.append(Overlay(stage, shown))
    return found


def _view(record: RunRecord, name: str, entry: StageRecord) -> StageView:
    view = StageView(name, entry, shlex.join(entry.command), handoffs=_handoffs(record, name, entry),
                     answers=[(a.question or "", a.answer or "") for a in entry.answers])
    run_dir = entry.outputs.get(Output.RUN_DIR)
    if run_dir:
        curves = read_curves(Path(run_dir))
        view.curves = {name: curves[name] for _, names in panels(curves) for name in names}  # as the charts go
        view.charts = charts(view.curves)
    return view


def _handoffs(record: RunRecord, name: str, entry: StageRecord) -> list[Handoff]:
    """What this stage took from earlier ones, as it recorded when it launched (a reused stage, what it took in
    the run it finished in). A record from before stages kept their inputs: a flag whose value is a path an
    earlier stage recorded, as ms-swift was given it."""
    if entry.inputs is not None:
        return [Handoff(f"--{h.flag}", h.producer, h.kind, h.path) for h in entry.inputs
                if h.producer is not None]
    produced: dict[str, tuple[str, Output]] = {}  # path -> (stage, output)
    for other, earlier in record.stages.items():
        if other == name:
            break
        for output, path in earlier.outputs.items():
            produced.setdefault(path, (other, output))
    found = []
    for flag, value in zip(entry.command, entry.command[1:]):
        if flag.startswith("--") and value in produced:
            producer, output = produced[value]
            found.append(Handoff(flag, producer, output, value))
    return found


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    jinja = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                               undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    jinja.filters["duration"] = _duration
    return jinja


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {rest:02d}s" if minutes else f"{seconds:.1f}s"
