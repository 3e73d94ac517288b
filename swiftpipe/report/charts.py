"""Charts as inline SVG, drawn by matplotlib (which ms-swift already installs): no JavaScript, no network.

Each chart is one axes. Each curve's path carries the id `series-<name>`, and the chart says how data maps to the
SVG's coordinates (`x_map`, `y_map`: svg = a * value + b), so that a test, or anyone, can read the values back.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from swiftpipe.report.curves import Curve

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn, not when swiftpipe starts
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH, HEIGHT = 5.2, 2.6  # inches; the SVG is drawn at 72 points an inch
# Curves that share a chart: the losses, the rewards; the others stand alone.
PANELS = (("loss", ("loss", "eval_loss")), ("learning rate", ("learning_rate",)), ("grad norm", ("grad_norm",)),
          ("rewards", ("rewards/chosen", "rewards/rejected", "rewards/margins")),
          ("reward accuracy", ("rewards/accuracies",)))


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    series: tuple[str, ...]
    x_map: tuple[float, float]
    y_map: tuple[float, float]


def series_id(name: str) -> str:
    return "series-" + re.sub(r"[^a-z0-9]+", "-", name.lower())


def charts(curves: dict[str, Curve]) -> list[Chart]:
    """One chart per panel that has data."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    # Every point is drawn where it was logged: matplotlib's path simplification would drop points of a curve
    # that look collinear (the curves are already thinned to at most curves.DRAWN points).
    with matplotlib.rc_context({"path.simplify": False}):
        drawn = [_chart(title, [curves[n] for n in names if n in curves and curves[n].values])
                 for title, names in PANELS]
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
