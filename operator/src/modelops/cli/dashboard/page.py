"""The dashboard's HTML, pure: one page from a gathered ``Board`` — per Rollout its phase, the steps
with the current one marked, the weights over time, the analysis (each check's last verdict and
counts, its measurements as a chart), the A/B test, recent history and each version's lineage as a
graph; then drift per feature for every DriftMonitor. Inline CSS and SVG only; the page reloads
itself (``<meta http-equiv="refresh">``), no script.

Stable hooks for people and tests: ``section.rollout[data-rollout]``, ``ol.steps > li.step.current``
(``aria-current="step"``), ``svg#weights-<ns>-<name>``, ``svg#measurements-<ns>-<name>``,
``svg#lineage-<ns>-<name>-<version>``, ``svg#drift-<ns>-<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any

from modelops.cli.dashboard import series
from modelops.cli.dashboard.charts import Bar, bars, graph, time_series
from modelops.cli.dashboard.gathering import Board, RolloutData

STYLE = """
body{font-family:sans-serif;margin:16px;color:#0f172a;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:0}h3{font-size:14px;margin:12px 0 4px}
.meta{color:#475569;font-size:12px}.rollout,.monitor{border:1px solid #cbd5e1;border-radius:8px;padding:12px;
margin:12px 0}.phase{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#e2e8f0;
margin-left:8px}.phase.Promoted{background:#dcfce7}.phase.RolledBack,.phase.Failed,.phase.Aborted{background:#fee2e2}
.phase.Paused,.phase.AwaitingApproval{background:#fef9c3}ol.steps{list-style:none;padding:0;margin:4px 0}
.step{padding:2px 6px;font-size:13px}.step.done{color:#64748b}.step.current{background:#dbeafe;font-weight:bold}
.grid{display:flex;flex-wrap:wrap;gap:12px}table{border-collapse:collapse;font-size:12px}
td,th{border-bottom:1px solid #e2e8f0;padding:2px 8px;text-align:left}.problems{color:#b91c1c;font-size:12px}
.Successful{color:#15803d}.Failed{color:#b91c1c}.Inconclusive,.Error{color:#a16207}
"""


def _id(*parts: str) -> str:
    return "-".join(part.replace(".", "-") for part in parts if part)


def _table(head: list[str], rows: list[list[str]], css: str) -> str:
    if not rows:
        return ""
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><tr>{cells}</tr>{body}</table>'


def steps_list(body: Mapping[str, Any]) -> str:
    items = []
    for name, what, state in series.step_rows(body):
        marker = "▶ " if state == "current" else "✓ " if state == "done" else "· "
        current = ' aria-current="step"' if state == "current" else ""
        items.append(f'<li class="step {state}" data-step="{escape(name)}"{current}>{marker}<b>{escape(name)}</b> '
                     f"{escape(what)}</li>")
    return f'<ol class="steps">{"".join(items)}</ol>' if items else '<p class="meta">steps not readable</p>'


def _checks(status: Mapping[str, Any]) -> str:
    rows = []
    for check in (status.get("analysis") or {}).get("checks") or []:
        last = check.get("last") or {}
        verdict = str(last.get("verdict") or "-")
        counts = "/".join(str(check.get(k) or 0) for k in ("successful", "failed", "inconclusive", "error"))
        rows.append([escape(str(check.get("name"))), escape(str(last.get("value", "-"))),
                     f'<span class="{escape(verdict)}">{escape(verdict)}</span>', escape(counts),
                     escape(str(last.get("at") or "-"))])
    return _table(["check", "last value", "verdict", "ok/failed/inconclusive/error", "at"], rows, "checks")


def _ab(status: Mapping[str, Any]) -> str:
    ab = status.get("abTest") or {}
    if not ab:
        return ""
    arms = " vs ".join(f"{arm} {((ab.get(arm) or {}).get('rate'))} of {((ab.get(arm) or {}).get('samples'))}"
                       for arm in ("stable", "candidate"))
    return (f'<p class="abtest">A/B {escape(str(ab.get("metric")))}: {escape(arms)}; p={escape(str(ab.get("pValue")))}'
            f" — {escape(str(ab.get('decision')))}</p>")


def _history(status: Mapping[str, Any]) -> str:
    rows = [[escape(str(h.get("time"))), escape(f"{h.get('from')} → {h.get('to')}"), escape(str(h.get("reason"))),
             escape(str(h.get("actor") or "-")), escape(str(h.get("message") or ""))[:200]]
            for h in (status.get("history") or [])[-10:]]
    return _table(["time", "transition", "reason", "actor", "message"], rows, "history")


def rollout_section(data: RolloutData, now: datetime) -> str:
    body, ns, name = data.body, data.namespace, data.name
    status = body.get("status") or {}
    phase = str(status.get("phase") or "Unknown")
    weights = data.weights or series.weights_over_time(body, now)
    source = "Prometheus" if data.weights else "status.history"
    measured = data.measured or series.measurements(body)
    measured_from = "Prometheus" if data.measured else "status.analysis"
    route = ", ".join(f"{backend} {weight}" for backend, weight in series.route_weights(data.route))
    parts = [
        f'<section class="rollout" id="{_id("rollout", ns, name)}" data-rollout="{escape(name)}" '
        f'data-phase="{escape(phase)}">',
        f'<h2 class="rollout-name">{escape(name)}<span class="phase {escape(phase)}">{escape(phase)}</span></h2>',
        f'<p class="meta">namespace {escape(ns)} · model {escape(str((body.get("spec") or {}).get("model")))} · '
        f'stable <b>{escape(str(status.get("stable")))}</b> · candidate <b>{escape(str(status.get("candidate")))}</b>'
        f' · warm {escape(", ".join(status.get("warm") or []) or "-")} · route {escape(str(status.get("route")))}'
        f'{": " + escape(route) if route else ""}</p>',
        f'<p class="message">{escape(str(status.get("message") or ""))}</p>',
        '<div class="grid"><div>', "<h3>Steps</h3>", steps_list(body), "</div><div>",
        time_series(weights, chart_id=_id("weights", ns, name), title=f"Weights over time (%, from {source})",
                    unit="%", steps=True, y_range=(0, 100), marks=series.history_marks(body)),
        "</div></div>", "<h3>Analysis</h3>", _checks(status), _ab(status),
        time_series(measured, chart_id=_id("measurements", ns, name),
                    title=f"Measurements per check (from {measured_from})"),
        "<h3>History</h3>", _history(status), "<h3>Lineage</h3>", '<div class="grid">',
    ]
    for version, lineage in data.lineages.items():
        nodes, edges = series.lineage_graph(lineage, series.role_of(body, version))
        parts.append(graph(nodes, edges, chart_id=_id("lineage", ns, name, version), title=f"{version}"))
        parts += [f'<p class="problems">{escape(problem)}</p>' for problem in lineage.problems]
    parts.append("</div></section>")
    return "".join(parts)


def drift_section(monitor: Mapping[str, Any]) -> str:
    meta, status = monitor.get("metadata") or {}, monitor.get("status") or {}
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    items = [Bar(f"{r.get('feature')} ({r.get('statistic')})", r.get("value"), float(r.get("threshold") or 0),
                 bool(r.get("drifted"))) for r in status.get("results") or []]
    window = status.get("window") or {}
    return (f'<section class="monitor" id="{_id("monitor", ns, name)}" data-monitor="{escape(name)}">'
            f'<h2>{escape(name)}<span class="phase">{escape(str(status.get("verdict") or "not evaluated"))}</span></h2>'
            f'<p class="meta">namespace {escape(ns)} · version {escape(str(status.get("servedModelVersion")))} · '
            f'rows {escape(str(status.get("rowsSeen")))} · window {escape(str(window.get("start")))} → '
            f'{escape(str(window.get("end")))} · drifted runs in a row {escape(str(status.get("consecutiveDrifted")))}'
            f"</p>{bars(items, chart_id=_id('drift', ns, name), title='Drift per feature (value / threshold)')}"
            "</section>")


def render(board: Board, now: datetime, refresh_seconds: int = 10) -> str:
    where = board.namespace or "all namespaces"
    rollouts = "".join(rollout_section(data, now) for data in board.rollouts) or \
        '<p class="meta">no Rollouts here</p>'
    monitors = "".join(drift_section(m) for m in board.monitors) or '<p class="meta">no DriftMonitors here</p>'
    problems = "".join(f"<li>{escape(p)}</li>" for p in board.problems)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">'
        f"<title>modelops dashboard — {escape(where)}</title><style>{STYLE}</style></head><body>"
        f'<h1>modelops dashboard</h1><p class="meta">{escape(where)} · read at '
        f"{escape(board.gathered_at.strftime('%Y-%m-%d %H:%M:%S UTC'))} · read-only, reloads every "
        f"{int(refresh_seconds)}s</p>"
        + (f'<ul class="problems">{problems}</ul>' if problems else "")
        + f'<main><h2 class="part">Rollouts</h2>{rollouts}<h2 class="part">Drift</h2>{monitors}</main></body></html>'
    )
