"""The HTML drift report written next to the logs: ``<reports>/<ns>/<monitor>/<run-id>.html``.

Owns the report: an Evidently ``DataDriftPreset`` report when ``evidently`` is importable (the
``[drift-job]`` extra), run on bounded samples — at most ``limit`` rows per side (10,000 by
default): the current side is the run's bottom-k sample (the same rows however the run was
sharded), the reference side the sample stored with the reference sketch — because Evidently
needs raw rows and its cost grows with them (DESIGN §6: 93 s and 2 GB at a million rows); the
numbers on the DriftMonitor's status are the engine's, on every row. Without Evidently (or if it
fails on the data), a small HTML table of the engine's own results. ``Report.kind`` says which,
for the status message.
"""

from __future__ import annotations

import html
import logging
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.api.driftmonitor import FeatureType

logger = logging.getLogger(__name__)
EVIDENTLY, OWN = "evidently", "table"


@dataclass(frozen=True)
class Report:
    html: str
    kind: str  # EVIDENTLY or OWN
    note: str = ""

    @property
    def description(self) -> str:
        if self.kind == EVIDENTLY:
            return "Evidently report on sampled rows"
        return "HTML table of the engine's results" + (f" ({self.note})" if self.note else "")


def bounded(rows: Sequence[Mapping[str, Any]], limit: int) -> list[Mapping[str, Any]]:
    """At most ``limit`` rows (the sample is already in a random order: the first ones)."""
    return list(rows[:limit])


def evidently_html(reference: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]],
                   kinds: Mapping[str, FeatureType]) -> str:
    """Evidently's data drift report of two row samples (raises if Evidently is absent or fails)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas as pd
        from evidently import DataDefinition, Dataset
        from evidently import Report as EvidentlyReport
        from evidently.presets import DataDriftPreset

        names = [n for n in kinds if any(n in r for r in reference) and any(n in r for r in current)]
        numerical = [n for n in names if kinds[n] == FeatureType.NUMERIC]
        categorical = [n for n in names if kinds[n] == FeatureType.CATEGORICAL]
        if not names:
            raise ValueError("no column present on both sides")

        def frame(rows: Sequence[Mapping[str, Any]]) -> Any:
            data = pd.DataFrame([{n: r.get(n) for n in names} for r in rows], columns=names)
            for n in numerical:
                data[n] = pd.to_numeric(data[n], errors="coerce")
            for n in categorical:
                data[n] = data[n].astype("string")
            return data

        definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
        ref = Dataset.from_pandas(frame(reference), data_definition=definition)
        cur = Dataset.from_pandas(frame(current), data_definition=definition)
        snapshot = EvidentlyReport([DataDriftPreset(columns=names)]).run(current_data=cur, reference_data=ref)
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "report.html"
            snapshot.save_html(str(target))
            return target.read_text()


def own_html(title: str, summary: str, results: Sequence[Mapping[str, Any]]) -> str:
    """A self-contained HTML table of the engine's results."""
    head = ["feature", "statistic", "value", "threshold", "noiseFloor", "pValue", "verdict", "message"]

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.6g}"
        return html.escape("" if value is None else str(value))

    rows = "\n".join(
        "<tr class=\"{}\">{}</tr>".format(html.escape(str(r.get("verdict", ""))),
                                         "".join(f"<td>{cell(r.get(h))}</td>" for h in head))
        for r in results
    )
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>"
        "body{{font-family:sans-serif}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;"
        "padding:2px 6px}} tr.Drift{{background:#fdd}} tr.Inconclusive{{background:#ffd}}</style></head>"
        "<body><h1>{t}</h1><p>{s}</p><table><tr>{h}</tr>\n{r}\n</table></body></html>"
    ).format(t=html.escape(title), s=html.escape(summary), h="".join(f"<th>{x}</th>" for x in head), r=rows)


def render(title: str, summary: str, results: Sequence[Mapping[str, Any]],
           reference: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]],
           kinds: Mapping[str, FeatureType], limit: int) -> Report:
    """Evidently's report on bounded samples when it is importable, else the engine's table."""
    try:
        import evidently  # noqa: F401
    except ImportError:
        return Report(own_html(title, summary, results), OWN, "evidently is not installed")
    if not reference or not current:
        return Report(own_html(title, summary, results), OWN, "no rows to sample on one side")
    try:
        return Report(evidently_html(bounded(reference, limit), bounded(current, limit), kinds), EVIDENTLY)
    except Exception as error:  # Evidently's failures on odd data must not lose the run's status
        logger.warning("Evidently could not render the report (%s): writing the engine's table", error)
        return Report(own_html(title, summary, results), OWN, f"evidently failed: {type(error).__name__}")
