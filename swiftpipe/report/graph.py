"""The chain as a graph for the report page: a box per stage, an arrow per hand-off (the producer's output that a
later stage took as a flag's value). Only the layout is worked out here; report.html.j2 draws it as inline SVG,
through Jinja's escaping.

A stage sits one column right of the rightmost stage it took something from (a stage that took nothing from the
chain, the first, or one that asks the base model, is in the first column); within a column, in chain order.
"""
from __future__ import annotations

from dataclasses import dataclass

from swiftpipe.msswift.layout import Output

BOX_WIDTH, BOX_HEIGHT = 150, 58
COLUMN_GAP, ROW_GAP, MARGIN = 78, 18, 10


@dataclass(frozen=True)
class Node:
    name: str
    column: int
    row: int

    @property
    def x(self) -> int:
        return MARGIN + self.column * (BOX_WIDTH + COLUMN_GAP)

    @property
    def y(self) -> int:
        return MARGIN + self.row * (BOX_HEIGHT + ROW_GAP)


@dataclass(frozen=True)
class Edge:
    producer: str
    consumer: str
    flag: str
    output: Output | None
    path: str
    d: str  # the SVG path: from the producer's right side to the consumer's left side


@dataclass(frozen=True)
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int


def layout(names: list[str], handoffs: dict[str, list[tuple[str, str, Output | None, str]]]) -> Graph:
    """`names` in chain order; `handoffs[consumer]`: (producer, flag, output, path) for each value it took."""
    if not names:
        return Graph([], [], 0, 0)
    column: dict[str, int] = {}
    for name in names:
        column[name] = max((column[p] + 1 for p, *_ in handoffs.get(name, ()) if p in column), default=0)
    rows: dict[int, int] = {}
    nodes: dict[str, Node] = {}
    for name in names:
        row = rows.get(column[name], 0)
        rows[column[name]] = row + 1
        nodes[name] = Node(name, column[name], row)
    edges = [Edge(producer, consumer, flag, output, path, _curve(nodes[producer], nodes[consumer]))
             for consumer in names for producer, flag, output, path in handoffs.get(consumer, ()) if producer in nodes]
    columns, tallest = max(column.values()) + 1, max(rows.values())
    return Graph(list(nodes.values()), edges, width=2 * MARGIN + columns * BOX_WIDTH + (columns - 1) * COLUMN_GAP,
                 height=2 * MARGIN + tallest * BOX_HEIGHT + (tallest - 1) * ROW_GAP)


def _curve(producer: Node, consumer: Node) -> str:
    x0, y0 = producer.x + BOX_WIDTH, producer.y + BOX_HEIGHT // 2
    x1, y1 = consumer.x - 6, consumer.y + BOX_HEIGHT // 2  # the arrow head ends at the box
    bend = max(24, (x1 - x0) // 2)
    return f"M{x0},{y0} C{x0 + bend},{y0} {x1 - bend},{y1} {x1},{y1}"
