"""Reading a report page back: the values each chart's curves were drawn at, from the SVG paths and the chart's
data-to-SVG maps (data-x-map, data-y-map: svg = a * value + b). Shared by the fast test and the Chromium one."""
from __future__ import annotations

import re
from html.parser import HTMLParser


class _Charts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: list[dict] = []  # {"stage", "x_map", "y_map", "series": {id: [(x, y), ...]}}
        self._series: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "figure" and "data-x-map" in found:
            x_map = [float(v) for v in (found["data-x-map"] or "").split()]
            y_map = [float(v) for v in (found["data-y-map"] or "").split()]
            stage = found.get("data-stage")  # a sweep's chart of one series across variants: "sft:loss"
            stage = f"{stage}:{found['data-overlay']}" if found.get("data-overlay") else stage
            self.charts.append({"stage": stage, "x_map": x_map, "y_map": y_map, "series": {}})
        elif tag == "g" and (found.get("id") or "").startswith("series-"):
            self._series, self._depth = found["id"], 0
        elif tag == "g" and self._series:
            self._depth += 1
        elif tag == "path" and self._series and self._series not in self.charts[-1]["series"]:
            numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", found.get("d") or "")]
            self.charts[-1]["series"][self._series] = list(zip(numbers[0::2], numbers[1::2]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "g" and self._series:
            if self._depth == 0:
                self._series = None
            else:
                self._depth -= 1


def drawn_values(html: str) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(stage, series id) -> the (step, value) points the curve was drawn through."""
    parser = _Charts()
    parser.feed(html)
    found = {}
    for chart in parser.charts:
        (ax, bx), (ay, by) = chart["x_map"], chart["y_map"]
        for series, points in chart["series"].items():
            found[(chart["stage"], series)] = [((x - bx) / ax, (y - by) / ay) for x, y in points]
    return found
