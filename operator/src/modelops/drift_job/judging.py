"""Pure judgement of one drift run: the DriftMonitor spec turned into the engine's feature specs,
the engine's results turned into the status the operator reads, and the overall verdict.

Owns:

- ``threshold_for``: the threshold of one feature × statistic. Statistics of the API
  (``Statistic``) resolve as ``api/driftmonitor.py`` documents — ``thresholds.predictions`` for
  ``__prediction__``, then ``perFeature[feature]``, then ``default``, then ``BUILTIN_THRESHOLDS`` —
  and the engine's own checks (``infRate``, ``unseenShare``, ``outOfRange``), which the API has
  no threshold field for, use ``core.drift.verdict.DEFAULT_THRESHOLDS``;
- ``feature_specs``: ``spec.features`` plus the prediction column as ``__prediction__``;
- ``status_results``: one status result per judged check (``notApplicable`` pairs, e.g. ``ks`` on
  a categorical feature, are left out), verdicts mapped to ``Drift|NoDrift|Inconclusive``;
- ``overall``: Drift when any check drifted; Inconclusive when the window has fewer than
  ``min_rows`` rows, or when no check of a requested statistic could be judged (every one refused
  for its noise floor or short of data); else NoDrift — refused checks are named in the message;
- ``next_consecutive``: previous + 1 on Drift, 0 on NoDrift, unchanged on Inconclusive;
- ``status_patch``: the ONE merge patch of ``status`` the job writes (exactly the keys the
  operator reads; never ``conditions`` or ``observedGeneration``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from modelops.api.driftmonitor import (
    PERFORMANCE_FEATURE,
    PREDICTION_FEATURE,
    DriftMonitorSpec,
    DriftVerdict,
    FeatureType,
    Statistic,
    Thresholds,
)
from modelops.core.drift.outcome import Verdict
from modelops.core.drift.performance import OVERALL, PerformanceResult, compare
from modelops.core.drift.performance import Window as PerfWindow
from modelops.core.drift.verdict import DEFAULT_THRESHOLDS, Evaluation, FeatureSpec, Result
from modelops.drift_job.planning import TimeWindow, rfc3339

DEFAULT_MIN_ROWS = 100
MAX_RESULTS = 2048  # DriftMonitorStatus.results maxItems
API_STATISTICS = frozenset(s.value for s in Statistic)
ENGINE_CHECKS = ("infRate", "unseenShare", "outOfRange")

STATUS_KEYS = (
    "lastRun", "window", "rowsSeen", "referenceRows", "results", "drifted", "verdict", "consecutiveDrifted",
    "reportUri", "servedModelVersion", "message",
)


def threshold_for(thresholds: Thresholds | None, feature: str, statistic: str) -> float:
    """The threshold applied to one feature × statistic (see the module docstring)."""
    if statistic in API_STATISTICS:
        return (thresholds or Thresholds()).threshold(feature, Statistic(statistic))
    return DEFAULT_THRESHOLDS[statistic]


def feature_specs(spec: DriftMonitorSpec, prediction_type: FeatureType | None) -> list[FeatureSpec]:
    """The engine's specs: every ``spec.features`` entry, then ``__prediction__`` when the reference
    has a prediction column (``prediction_type``), each with every threshold resolved."""
    requested = tuple(s.value for s in spec.statistics)
    named = [(f.name, f.type) for f in spec.features]
    if prediction_type is not None:
        named.append((PREDICTION_FEATURE, prediction_type))
    out = []
    for name, kind in named:
        checks = FeatureSpec(name, kind, requested).checks()
        out.append(FeatureSpec(name, kind, requested, {c: threshold_for(spec.thresholds, name, c) for c in checks}))
    return out


def status_verdict(verdict: Verdict) -> DriftVerdict:
    if verdict == Verdict.DRIFT:
        return DriftVerdict.DRIFT
    if verdict == Verdict.NO_DRIFT:
        return DriftVerdict.NO_DRIFT
    return DriftVerdict.INCONCLUSIVE


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _result(feature: str, statistic: str, value: float | None, threshold: float, floor: float | None,
            verdict: Verdict, p_value: float | None, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "feature": feature,
        "statistic": statistic,
        "value": _finite(value),
        "threshold": float(threshold),
        "drifted": verdict == Verdict.DRIFT,
        "verdict": status_verdict(verdict).value,
    }
    if _finite(floor) is not None:
        out["noiseFloor"] = _finite(floor)
    if _finite(p_value) is not None:
        out["pValue"] = _finite(p_value)
    if message:
        out["message"] = message[:1024]
    return {k: v for k, v in out.items() if v is not None}


def performance_feature(slice_key: str) -> str:
    """``__performance__`` overall, ``__performance__:<column>=<value>`` for a slice."""
    return PERFORMANCE_FEATURE if slice_key == OVERALL else f"{PERFORMANCE_FEATURE}:{slice_key}"


def _performance_message(r: PerformanceResult) -> str:
    if r.verdict == Verdict.NOT_ENOUGH_DATA:
        return f"not enough labelled data: {r.n_reference} reference and {r.n_current} current labels"
    if r.verdict == Verdict.NOISE_FLOOR_TOO_HIGH:
        return f"refused: noise floor {r.noise_floor:.4g} exceeds a third of the threshold {r.threshold:g}"
    return (f"{r.metric} {r.reference:.4g} in the reference, {r.current:.4g} now: "
            f"degradation {r.degradation:.4g} vs threshold {r.threshold:g}")


def status_results(evaluation: Evaluation, performance: Sequence[PerformanceResult] = ()) -> list[dict[str, Any]]:
    """Every judged check as a status result (``notApplicable`` pairs left out)."""
    out = [
        _result(r.feature, r.statistic, r.value, r.threshold, r.noise_floor, r.verdict, r.p_value, r.message)
        for r in evaluation.results
        if r.verdict != Verdict.NOT_APPLICABLE
    ]
    out += [
        _result(performance_feature(p.slice), p.metric, p.degradation, p.threshold, p.noise_floor, p.verdict, None,
                _performance_message(p))
        for p in performance
    ]
    return out


@dataclass(frozen=True)
class Outcome:
    verdict: DriftVerdict
    message: str

    @property
    def drifted(self) -> bool:
        return self.verdict == DriftVerdict.DRIFT


def overall(results: Sequence[Result], performance: Sequence[PerformanceResult], rows: int, min_rows: int,
            requested: Sequence[str]) -> Outcome:
    """The run's verdict and message (see the module docstring)."""
    drifted = [f"{r.feature}/{r.statistic}" for r in results if r.verdict == Verdict.DRIFT]
    drifted += [f"{performance_feature(p.slice)}/{p.metric}" for p in performance if p.verdict == Verdict.DRIFT]
    unjudged = [r for r in results if r.verdict in (Verdict.NOISE_FLOOR_TOO_HIGH, Verdict.NOT_ENOUGH_DATA)]
    note = ""
    if unjudged:
        names = ", ".join(f"{r.feature}/{r.statistic}" for r in unjudged[:8])
        more = f" and {len(unjudged) - 8} more" if len(unjudged) > 8 else ""
        note = f"; {len(unjudged)} check(s) could not be judged (noise floor or data): {names}{more}"
    if drifted:
        shown = ", ".join(drifted[:8]) + (f" and {len(drifted) - 8} more" if len(drifted) > 8 else "")
        return Outcome(DriftVerdict.DRIFT, f"drift in {len(drifted)} check(s): {shown}{note}")
    if rows < min_rows:
        return Outcome(DriftVerdict.INCONCLUSIVE,
                       f"too little data: {rows} rows in the window, at least {min_rows} are needed")
    wanted = set(requested)
    judged = [r for r in results if r.statistic in wanted and r.verdict in (Verdict.DRIFT, Verdict.NO_DRIFT)]
    if not judged:
        return Outcome(DriftVerdict.INCONCLUSIVE,
                       f"too little data: no requested statistic could be judged at {rows} rows "
                       f"(each one's no-drift noise floor exceeds a third of its threshold, or data is missing)")
    return Outcome(DriftVerdict.NO_DRIFT, f"no drift in {len(judged)} judged check(s) over {rows} rows{note}")


def next_consecutive(previous: int | None, verdict: DriftVerdict) -> int:
    """Drifted evaluations in a row after this one."""
    before = previous or 0
    if verdict == DriftVerdict.DRIFT:
        return before + 1
    if verdict == DriftVerdict.NO_DRIFT:
        return 0
    return before


@dataclass(frozen=True)
class RunSummary:
    """Everything the status patch says about one run."""

    finished: datetime
    window: TimeWindow
    rows: int
    reference_rows: int
    results: list[dict[str, Any]]
    outcome: Outcome
    report_uri: str | None
    served: str


def capped(results: Sequence[dict[str, Any]], limit: int = MAX_RESULTS) -> tuple[list[dict[str, Any]], int]:
    """At most ``limit`` results (the CRD's bound), drifted ones first to keep, order otherwise
    kept; and how many were left out (the full list is in the HTML report)."""
    if len(results) <= limit:
        return list(results), 0
    rank = {DriftVerdict.DRIFT.value: 0, DriftVerdict.INCONCLUSIVE.value: 1, DriftVerdict.NO_DRIFT.value: 2}
    keep = sorted(range(len(results)), key=lambda i: (rank.get(results[i].get("verdict", ""), 3), i))[:limit]
    return [results[i] for i in sorted(keep)], len(results) - limit


def status_patch(summary: RunSummary, previous_consecutive: int | None) -> dict[str, Any]:
    """The merge patch body for the ``status`` subresource: ``{"status": {...}}`` with exactly
    ``STATUS_KEYS`` (``reportUri`` null when no report could be written). Results beyond the CRD's
    bound are left out (drifted ones kept), and the message says how many."""
    results, dropped = capped(summary.results)
    message = summary.outcome.message
    if dropped:
        message += f" ({dropped} results not listed in status: see the report)"
    status = {
        "lastRun": rfc3339(summary.finished),
        "window": summary.window.to_status(),
        "rowsSeen": int(summary.rows),
        "referenceRows": int(summary.reference_rows),
        "results": results,
        "drifted": summary.outcome.drifted,
        "verdict": summary.outcome.verdict.value,
        "consecutiveDrifted": next_consecutive(previous_consecutive, summary.outcome.verdict),
        "reportUri": summary.report_uri,
        "servedModelVersion": summary.served,
        "message": message[:4096],
    }
    assert tuple(status) == STATUS_KEYS
    return {"status": status}


def performance_results(ref_labels: Sequence[float], ref_scores: Sequence[float], ref_slices: dict[str, list[str]],
                        cur_labels: Sequence[float], cur_scores: Sequence[float], cur_slices: dict[str, list[str]],
                        slices: Sequence[str]) -> list[PerformanceResult]:
    """Accuracy, AUC and calibration error of the current labelled window against the reference's,
    overall and per value of each ``spec.slices`` column (slice keys ``<column>=<value>``); none
    when either side has no labelled rows."""
    if not ref_labels or not cur_labels:
        return []
    out = compare(PerfWindow.of(ref_labels, ref_scores), PerfWindow.of(cur_labels, cur_scores))
    for name in slices:
        if name not in ref_slices or name not in cur_slices:
            continue
        sliced = compare(PerfWindow.of(ref_labels, ref_scores, ref_slices[name]),
                         PerfWindow.of(cur_labels, cur_scores, cur_slices[name]))
        out += [replace(p, slice=f"{name}={p.slice}") for p in sliced if p.slice != OVERALL]
    return out
