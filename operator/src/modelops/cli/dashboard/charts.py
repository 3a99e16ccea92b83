"""Inline SVG charts drawn on the server, pure (strings in, a string out; no script, no CDN): a time
series (one polyline per series, optionally drawn as steps, with vertical marks for events), bars
against a threshold (drift per feature), and a left-to-right graph (a version's lineage).

Every chart is an ``<svg>`` with an ``id`` and ``data-*`` attributes naming what it draws (series,
point counts, nodes), so a test — or a user's browser tools — can find it in the DOM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

Point = tuple[float, float]
"""(seconds since the epoch, value)."""

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#64748b")
FONT = 'font-family="sans-serif" font-size="11"'
LEFT, RIGHT, TOP, BOTTOM = 60, 12, 24, 36


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S")


def _number(value: float) -> str:
    return f"{value:.4g}"


def _empty(chart_id: str, title: str, width: int, height: int, why: str) -> str:
    return (f'<svg id="{escape(chart_id)}" class="chart empty" data-points="0" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
            f'<text x="8" y="16" {FONT} font-weight="bold">{escape(title)}</text>'
            f'<text x="{width / 2}" y="{height / 2}" {FONT} text-anchor="middle" fill="#64748b">{escape(why)}</text>'
            "</svg>")


def time_series(series: Mapping[str, Sequence[Point]], *, chart_id: str, title: str, unit: str = "",
                steps: bool = False, y_range: tuple[float, float] | None = None,
                marks: Sequence[tuple[float, str]] = (), width: int = 640, height: int = 220) -> str:
    """One polyline per series over a shared time axis; ``steps``: hold each value until the next
    point (weights change in jumps); ``marks``: vertical lines with a label (history entries)."""
    drawn = {name: sorted(points) for name, points in series.items() if points}
    if not drawn:
        return _empty(chart_id, title, width, height, "no data yet")
    times = [t for points in drawn.values() for t, _ in points] + [t for t, _ in marks]
    values = [v for points in drawn.values() for _, v in points]
    t0, t1 = min(times), max(times)
    t1 = t1 if t1 > t0 else t0 + 1
    low, high = y_range if y_range is not None else (min(0.0, min(values)), max(values))
    high = high if high > low else low + 1
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - (v - low) / (high - low) * plot_h

    total = sum(len(points) for points in drawn.values())
    out = [f'<svg id="{escape(chart_id)}" class="chart" data-series="{escape(",".join(drawn))}" '
           f'data-points="{total}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="8" y="14" {FONT} font-weight="bold">{escape(title)}</text>']
    for i in range(5):
        value = low + (high - low) * i / 4
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e2e8f0"/>'
                   f'<text x="{LEFT - 4}" y="{y(value) + 4:.1f}" {FONT} text-anchor="end">'
                   f"{_number(value)}{unit}</text>")
    for t, anchor in ((t0, "start"), ((t0 + t1) / 2, "middle"), (t1, "end")):
        out.append(f'<text x="{x(t):.1f}" y="{height - BOTTOM + 14}" {FONT} text-anchor="{anchor}">{_clock(t)}</text>')
    for t, label in marks:
        out.append(f'<line class="mark" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
                   f'stroke="#94a3b8" stroke-dasharray="3 3"><title>{escape(label)}</title></line>')
    for index, (name, points) in enumerate(drawn.items()):
        path: list[Point] = []
        for number, (t, v) in enumerate(points):
            if steps and number > 0:
                path.append((t, points[number - 1][1]))
            path.append((t, v))
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in path)
        out.append(f'<polyline class="series" data-series="{escape(name)}" data-points="{len(points)}" fill="none" '
                   f'stroke="{colour(index)}" stroke-width="2" points="{coords}"/>')
        out += [f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour(index)}">'
                f'<title>{escape(name)} {_number(v)}{unit} at {_clock(t)}</title></circle>' for t, v in points]
        out.append(f'<rect x="{LEFT + 110 * index}" y="{height - 14}" width="10" height="10" fill="{colour(index)}"/>'
                   f'<text x="{LEFT + 110 * index + 14}" y="{height - 5}" {FONT}>{escape(name[:16])}</text>')
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    threshold: float
    flagged: bool


def bars(items: Sequence[Bar], *, chart_id: str, title: str, width: int = 640) -> str:
    """One horizontal bar per item, its threshold as a tick; flagged bars in red."""
    if not items:
        return _empty(chart_id, title, width, 60, "no results yet")
    row = 22
    height = TOP + row * len(items) + 8
    scale = max([b.threshold for b in items] + [b.value for b in items if b.value is not None]) or 1.0
    label_w, plot_w = 150, width - 150 - 80
    out = [f'<svg id="{escape(chart_id)}" class="chart bars" data-bars="{len(items)}" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg"><text x="8" y="14" {FONT} font-weight="bold">{escape(title)}</text>']
    for index, item in enumerate(items):
        top = TOP + row * index
        length = 0.0 if item.value is None else item.value / scale * plot_w
        fill = "#dc2626" if item.flagged else "#16a34a"
        tick = label_w + item.threshold / scale * plot_w
        shown = "no data" if item.value is None else _number(item.value)
        out.append(f'<g class="bar" data-label="{escape(item.label)}" data-flagged="{str(item.flagged).lower()}">'
                   f'<text x="{label_w - 6}" y="{top + 14}" {FONT} text-anchor="end">{escape(item.label[:24])}</text>'
                   f'<rect x="{label_w}" y="{top + 3}" width="{length:.1f}" height="14" fill="{fill}"/>'
                   f'<line x1="{tick:.1f}" x2="{tick:.1f}" y1="{top}" y2="{top + 20}" stroke="#0f172a"/>'
                   f'<text x="{label_w + plot_w + 6}" y="{top + 14}" {FONT}>{shown} / {_number(item.threshold)}'
                   "</text></g>")
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class Node:
    key: str
    kind: str
    label: str
    detail: str = ""
    column: int = 0


def graph(nodes: Sequence[Node], edges: Sequence[tuple[str, str]], *, chart_id: str, title: str) -> str:
    """Nodes in columns (left to right), rows in the order given; edges as arrows."""
    if not nodes:
        return _empty(chart_id, title, 640, 60, "no lineage recorded")
    box_w, box_h, gap_x, gap_y = 170, 40, 40, 14
    rows: dict[int, int] = {}
    where: dict[str, tuple[float, float]] = {}
    for node in nodes:
        row = rows.get(node.column, 0)
        rows[node.column] = row + 1
        where[node.key] = (8 + node.column * (box_w + gap_x), TOP + row * (box_h + gap_y))
    width = int(max(x for x, _ in where.values()) + box_w + 8)
    height = int(max(y for _, y in where.values()) + box_h + 8)
    out = [f'<svg id="{escape(chart_id)}" class="chart graph" data-nodes="{len(nodes)}" data-edges="{len(edges)}" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg"><defs><marker id="{escape(chart_id)}-arrow" viewBox="0 0 10 10" '
           'refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
           f'fill="#475569"/></marker></defs><text x="8" y="14" {FONT} font-weight="bold">{escape(title)}</text>']
    for source, target in edges:
        if source in where and target in where:
            (x1, y1), (x2, y2) = where[source], where[target]
            out.append(f'<line class="edge" x1="{x1 + box_w:.0f}" y1="{y1 + box_h / 2:.0f}" x2="{x2:.0f}" '
                       f'y2="{y2 + box_h / 2:.0f}" stroke="#475569" marker-end="url(#{escape(chart_id)}-arrow)"/>')
    for index, node in enumerate(nodes):
        x, y = where[node.key]
        out.append(f'<g class="node" data-kind="{escape(node.kind)}" data-key="{escape(node.key)}">'
                   f'<rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{box_h}" rx="6" fill="#f8fafc" '
                   f'stroke="{colour(index)}"/><text x="{x + 6:.0f}" y="{y + 15:.0f}" {FONT} font-weight="bold">'
                   f'{escape(node.kind)}: {escape(node.label[:20])}</text><text x="{x + 6:.0f}" y="{y + 31:.0f}" '
                   f'{FONT} fill="#475569">{escape(node.detail[:28])}</text><title>{escape(node.label)} '
                   f'{escape(node.detail)}</title></g>')
    out.append("</svg>")
    return "".join(out)
