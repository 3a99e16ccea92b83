"""PromQL for the Rollout's measurements: the built-in checks, the A/B arms and the sample ratio,
written against the metric contract in ``names.py``, and the placeholders of user queries.

Owns the query text only (building strings is not I/O; running them is ``prometheus.py``).

- Checks look at the last ``window`` with ``increase(...[window])``: recent behaviour, so a
  candidate that degrades mid-step is caught at the next look.
- Counts since the step began (A/B arms, served requests) are ``now - (value at the step's
  start)``: ``sum(x) - sum(x offset Δ)``, with ``or sum(x)`` for series born after the start
  (the subtraction drops them). Unlike ``increase()``, this is exact at scrape resolution and
  never extrapolated, which the integer counts of the sequential test and the chi-square need.
- Selectors use ``namespace`` and ``modelversion`` (ModelVersion names are unique in a
  namespace) and group ``by (modelversion)``, so one query answers for both arms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from modelops.metrics import names


def quote(value: str) -> str:
    """A PromQL string literal (double-quoted, backslash and quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def seconds(duration: timedelta) -> str:
    """A PromQL duration in whole seconds (at least 1s)."""
    return f"{max(1, round(duration.total_seconds()))}s"


def selector(namespace: str, versions: Iterable[str], **extra: str) -> str:
    """``{namespace="ns",modelversion=~"a|b",...}``. Names are escaped for the regex too."""
    alternatives = "|".join(_regex_literal(v) for v in versions)
    parts = [f"{names.NAMESPACE_LABEL}={quote(namespace)}", f"{names.MODELVERSION_LABEL}=~{quote(alternatives)}"]
    for label, value in extra.items():
        parts.append(f"{label}{value}" if value[:2] in ("=~", "!=", "!~") else f"{label}={quote(value)}")
    return "{" + ",".join(parts) + "}"


def _regex_literal(value: str) -> str:
    special = set(r"\.^$|?*+()[]{}")
    return "".join("\\" + ch if ch in special else ch for ch in value)


def _by_version(expression: str) -> str:
    return f"sum by ({names.MODELVERSION_LABEL}) ({expression})"


def error_counts(namespace: str, versions: Iterable[str], window: timedelta) -> tuple[str, str]:
    """(5xx answers, all answers) per version over the window."""
    versions = list(versions)
    errors = selector(namespace, versions, **{names.CODE_LABEL: "=~" + quote(names.ERROR_CODES)})
    everything = selector(namespace, versions)
    return (
        _by_version(f"increase({names.REQUESTS_TOTAL}{errors}[{seconds(window)}])"),
        _by_version(f"increase({names.REQUESTS_TOTAL}{everything}[{seconds(window)}])"),
    )


def latency_p99(namespace: str, version: str, window: timedelta) -> tuple[str, str]:
    """(p99 latency in seconds, number of requests) of one version over the window."""
    sel = selector(namespace, [version])
    bucket = f"{names.REQUEST_DURATION_SECONDS}_bucket{sel}"
    count = f"{names.REQUEST_DURATION_SECONDS}_count{sel}"
    return (
        f"histogram_quantile(0.99, sum by (le) (increase({bucket}[{seconds(window)}])))",
        f"sum(increase({count}[{seconds(window)}]))",
    )


def score_histograms(namespace: str, versions: Iterable[str], window: timedelta) -> str:
    """Cumulative prediction-score buckets per version and ``le`` over the window."""
    sel = selector(namespace, versions)
    return (
        f"sum by ({names.MODELVERSION_LABEL}, le) "
        f"(increase({names.PREDICTION_SCORE}_bucket{sel}[{seconds(window)}]))"
    )


def _since(series: str, by: str, elapsed: timedelta) -> str:
    now = f"sum by ({by}) ({series})"
    before = f"sum by ({by}) ({series} offset {seconds(elapsed)})"
    return f"({now} - {before}) or {now}"


def outcomes_since(namespace: str, versions: Iterable[str], metric: str, elapsed: timedelta) -> str:
    """Outcome observations of ``metric`` per version and outcome since the step began."""
    series = f"{names.OUTCOMES_TOTAL}{selector(namespace, versions, **{names.METRIC_LABEL: metric})}"
    return _since(series, f"{names.MODELVERSION_LABEL}, {names.OUTCOME_LABEL}", elapsed)


def served_since(namespace: str, versions: Iterable[str], elapsed: timedelta) -> str:
    """Requests answered per version since the step began (the sample-ratio check's counts)."""
    series = f"{names.REQUESTS_TOTAL}{selector(namespace, versions)}"
    return _since(series, names.MODELVERSION_LABEL, elapsed)


def expand(query: str, values: Mapping[str, str]) -> str:
    """A user query with ``${namespace}``, ``${model}``, ``${stable}``, ``${candidate}`` and
    ``${interval}`` replaced; unknown placeholders are left as written (Prometheus then reports
    the error, which names them)."""
    for key, value in values.items():
        query = query.replace("${" + key + "}", value)
    return query
