"""Charts as inline SVG, drawn by matplotlib (which ms-swift already installs): no JavaScript, no network.

Each chart is one axes. Each curve's path carries the id `series-<name>`, and the chart says how data maps to the
SVG's coordinates (`x_map`, `y_map`: svg = a * value + b), so that a test, or anyone, can read the values back.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from swiftpipe.report.curves import Curve

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn, not when swiftpipe starts
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH, HEIGHT = 5.2, 2.6  # inches; the SVG is drawn at 72 points an inch
# The charts, in the order shown, each with the series it draws first, by the names ms-swift (and trl under it)
# logs: the losses, the rewards (DPO's, GRPO's total and per function, PPO's objective), KL, completion lengths.
# Any other series joins the chart its name says (_panel_of), or one of its own, after these.
PANELS = (
    ("loss", ("loss", "eval_loss", "nll_loss", "loss/policy_avg", "loss/value_avg")),
    ("rewards", ("reward", "reward_std", "rewards/chosen", "rewards/rejected", "rewards/margins",
                 "objective/rlhf_reward", "objective/scores")),
    ("reward accuracy", ("rewards/accuracies",)),
    ("KL", ("kl", "objective/kl", "policy/approxkl_avg")),
    ("completion lengths", ("completions/mean_length", "completions/min_length", "completions/max_length")),
    ("learning rate", ("learning_rate", "lr")),
    ("grad norm", ("grad_norm",)),
    ("memory and speed", ("memory(GiB)", "train_speed(iter/s)")),
)
_KNOWN = {name: (i, j) for i, (_, names) in enumerate(PANELS) for j, name in enumerate(names)}
_TITLES = [title for title, _ in PANELS]


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    series: tuple[str, ...]
    x_map: tuple[float, float]
    y_map: tuple[float, float]


def series_id(name: str) -> str:
    return "series-" + re.sub(r"[^a-z0-9]+", "-", name.lower())


def panels(names: Iterable[str]) -> list[tuple[str, list[str]]]:
    """The charts that series `names` make, each with its series, in a stable order: PANELS' order and theirs, then
    the other series by name."""
    found: dict[str, list[str]] = {}
    for name in names:
        found.setdefault(_panel_of(name), []).append(name)
    order = sorted(found, key=lambda title: (_TITLES.index(title) if title in _TITLES else len(_TITLES), title))
    return [(title, sorted(found[title], key=lambda name: (_KNOWN[name][1] if name in _KNOWN else len(_KNOWN), name)))
            for title in order]


def _panel_of(name: str) -> str:
    """The chart a series goes on: its known one, else the one its name says (a loss, a reward, KL, a length),
    else one named after its family (`logps/chosen` with `logps/rejected`), else its own."""
    if name in _KNOWN:
        return PANELS[_KNOWN[name][0]][0]
    words = set(re.split(r"[/_()]", name.lower()))
    if "loss" in words:
        return "loss"
    if words & {"reward", "rewards", "rlhf_reward", "scores"}:
        return "rewards"
    if words & {"kl", "approxkl"}:
        return "KL"
    if any(word.endswith("length") for word in words):
        return "completion lengths"
    return name.partition("/")[0]


def charts(curves: dict[str, Curve]) -> list[Chart]:
    """One chart per panel that has data (panels())."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    # Every point is drawn where it was logged: matplotlib's path simplification would drop points of a curve
    # that look collinear (the curves are already thinned to at most curves.DRAWN points).
    with matplotlib.rc_context({"path.simplify": False}):
        drawn = [_chart(title, [curves[n] for n in names if curves[n].values])
                 for title, names in panels(curves)]
    return [chart for chart in drawn if chart is not None]


def overlaid(title: str, shown: list[Curve]) -> Chart | None:
    """One chart of several curves of one series (a stage's loss in each variant of a sweep), named as drawn."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    with matplotlib.rc_context({"path.simplify": False}):
        return _chart(title, [curve for curve in shown if curve.values])


def _chart(title: str, shown: list[Curve]) -> Chart | None:
    from matplotlib.figure import Figure

    if not shown:
        return None
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=72)
    axes = figure.add_subplot()
    for curve in shown:
        (line,) = axes.plot(curve.steps, curve.values, linewidth=1.2, label=curve.name,
                            marker="o" if len(curve.values) < 30 else None, markersize=2.5)
        line.set_gid(series_id(curve.name))
    axes.set_xlabel("step")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    if len(shown) > 1:
        axes.legend(fontsize=8)
    figure.tight_layout()
    svg = _svg(figure)  # draws the figure: its layout and limits are final from here on
    return Chart(title, svg, tuple(c.name for c in shown), *_maps(figure, axes))


def _maps(figure: Figure, axes: Axes) -> tuple[tuple[float, float], tuple[float, float]]:
    """Data to SVG coordinates along each axis. matplotlib draws at 72 dpi and the SVG's y grows downwards."""
    (x0, y0), (x1, y1) = axes.transData.transform([(0.0, 0.0), (1.0, 1.0)])
    height = figure.get_figheight() * 72
    return (x1 - x0, x0), (-(y1 - y0), height - y0)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", dpi=72, metadata={"Date": None})
    text = buffer.getvalue()
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)  # RDF about the file: no use here
    return text[text.index("<svg"):]  # without the XML declaration and doctype, to sit inside HTML
