"""The DriftMonitors' results as Prometheus gauges on the operator's own ``/metrics``
(registered through ``observability.export``), read from the watch store when scraped: no API
request, nothing on the reconcile path.

From each monitor's status as the drift job last wrote it:

- ``modelops_feature_drift{namespace,monitor,model,modelversion,feature,statistic}``: the value
  of one statistic of one feature (absent while it could not be computed);
- ``modelops_feature_drift_threshold{...same labels}``: the threshold it was judged against;
- ``modelops_drift_verdict{namespace,monitor,verdict}``: 1 for the last evaluation's verdict
  (Drift, NoDrift, Inconclusive), 0 for the others;
- ``modelops_drift_rows{namespace,monitor}``: rows in the last evaluated window;
- ``modelops_drift_last_run_timestamp_seconds{namespace,monitor}``: when the last evaluation ended;
- ``modelops_drift_consecutive{namespace,monitor}``: drifted evaluations in a row.

``model`` is the watched object's ``spec.model``; ``modelversion`` the version the job evaluated
(``status.servedModelVersion``), else the named ModelVersion or the Rollout's stable one. The
``monitor`` label keeps two monitors of one model (a Rollout's and a version's) apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

VERDICTS = ("Drift", "NoDrift", "Inconclusive")
FEATURE_LABELS = ["namespace", "monitor", "model", "modelversion", "feature", "statistic"]
MONITOR_LABELS = ["namespace", "monitor"]

# (DriftMonitor body, model, modelversion) for every monitor the operator holds.
Monitors = Callable[[], Iterable[tuple[Mapping[str, Any], str, str]]]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _timestamp(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class DriftCollector(Collector):
    def __init__(self, monitors: Monitors) -> None:
        self._monitors = monitors

    def collect(self) -> Iterable[Metric]:
        drift = GaugeMetricFamily("modelops_feature_drift", "A DriftMonitor's last value of one statistic of one "
                                  "feature.", labels=FEATURE_LABELS)
        threshold = GaugeMetricFamily("modelops_feature_drift_threshold", "The threshold that value was judged "
                                      "against.", labels=FEATURE_LABELS)
        verdict = GaugeMetricFamily("modelops_drift_verdict", "1 for the verdict of a DriftMonitor's last "
                                    "evaluation, 0 for the others.", labels=[*MONITOR_LABELS, "verdict"])
        rows = GaugeMetricFamily("modelops_drift_rows", "Rows in the last evaluated window.", labels=MONITOR_LABELS)
        last_run = GaugeMetricFamily("modelops_drift_last_run_timestamp_seconds", "When the last evaluation "
                                     "ended (Unix time).", labels=MONITOR_LABELS)
        consecutive = GaugeMetricFamily("modelops_drift_consecutive", "Drifted evaluations in a row.",
                                        labels=MONITOR_LABELS)
        for body, model, version in self._monitors():
            meta = body.get("metadata") or {}
            status = body.get("status") or {}
            who = [str(meta.get("namespace") or ""), str(meta.get("name") or "")]
            seen: set[tuple[str, str]] = set()
            for result in status.get("results") or []:
                if not isinstance(result, Mapping):
                    continue
                key = (str(result.get("feature") or ""), str(result.get("statistic") or ""))
                if key in seen:
                    continue  # one series per feature and statistic, whatever the status holds
                seen.add(key)
                labels = [*who, model, version, *key]
                value, limit = _number(result.get("value")), _number(result.get("threshold"))
                if value is not None:
                    drift.add_metric(labels, value)
                if limit is not None:
                    threshold.add_metric(labels, limit)
            current = status.get("verdict")
            if current in VERDICTS:
                for name in VERDICTS:
                    verdict.add_metric([*who, name], 1.0 if name == current else 0.0)
            for family, value in ((rows, _number(status.get("rowsSeen"))),
                                  (last_run, _timestamp(status.get("lastRun"))),
                                  (consecutive, _number(status.get("consecutiveDrifted")))):
                if value is not None:
                    family.add_metric(who, value)
        yield from (drift, threshold, verdict, rows, last_run, consecutive)
