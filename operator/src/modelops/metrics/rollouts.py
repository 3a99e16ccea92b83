"""The Rollouts as Prometheus series: what an SRE graphs and alerts on about each rollout, read
from the statuses the operator already holds (the watch store), never from an extra API read.

Owns the exported per-Rollout series (their names and labels are the contract the chart's rules and
dashboard and ``docs/operations.md`` use):

- ``modelops_rollout_phase{namespace,rollout,phase}``: 1 for the current phase, 0 for the others;
- ``modelops_rollout_step{namespace,rollout}``: ``status.currentStep`` (absent out of flight);
- ``modelops_rollout_weight{namespace,rollout,backend}``: ``status.traffic`` in percent, ``backend``
  ``stable``, ``candidate`` or ``mirror``;
- ``modelops_registry_synced{namespace,rollout}``: 1/0 from the ``RegistrySynced`` condition
  (absent while it is Unknown: MLflow not configured);
- ``modelops_analysis_measurement{namespace,rollout,check}``: the last value each check measured
  (absent while the check has no data);
- ``modelops_analysis_verdicts_total{namespace,rollout,check,verdict}``: measurements by verdict.

The gauges are read when scraped (``RolloutCollector`` walks the store), so a deleted Rollout's
series disappear with it. The verdicts are counted when the reconciler writes a status
(``count_verdicts``: the measurements the new status has and the old one had not), so a scrape
interval longer than the analysis interval loses none. Registered by the runtime through
``observability.export`` (this layer and ``observability`` do not import each other).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from modelops.api.rollout import RolloutPhase

PHASES = tuple(phase.value for phase in RolloutPhase)
BACKENDS = ("stable", "candidate", "mirror")
REGISTRY_SYNCED = "RegistrySynced"

Bodies = Callable[[], Iterable[Mapping[str, Any]]]
_VerdictKey = tuple[str, str, str, str]  # namespace, rollout, check, verdict


class VerdictTally:
    """Measurements counted by verdict, per Rollout and check (a Prometheus counter's state)."""

    def __init__(self) -> None:
        self.counts: Counter[_VerdictKey] = Counter()

    def add(self, namespace: str, rollout: str, measurements: Iterable[Mapping[str, Any]]) -> None:
        for m in measurements:
            check, verdict = m.get("check"), m.get("verdict")
            if isinstance(check, str) and isinstance(verdict, str):
                self.counts[(namespace, rollout, check, verdict)] += 1


VERDICTS = VerdictTally()


def _measurement_key(m: Mapping[str, Any]) -> tuple[Any, ...]:
    return (m.get("check"), m.get("at"), m.get("step"), m.get("verdict"), m.get("value"))


def latest_measurements(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every measurement a status shows: the summary's last one per check, and the recent list."""
    analysis = status.get("analysis") or {}
    found: list[Mapping[str, Any]] = [m for m in analysis.get("measurements") or [] if isinstance(m, Mapping)]
    for summary in analysis.get("checks") or []:
        last = summary.get("last") if isinstance(summary, Mapping) else None
        if isinstance(last, Mapping):
            found.append({"check": summary.get("name"), **last})
    return found


def new_measurements(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The measurements in the ``after`` status that the ``before`` status did not hold."""
    seen = {_measurement_key(m) for m in latest_measurements(before or {})}
    fresh: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for m in latest_measurements(after):
        key = _measurement_key(m)
        if key not in seen:
            fresh.setdefault(key, m)
    return list(fresh.values())


def count_verdicts(namespace: str, rollout: str, before: Mapping[str, Any] | None,
                   after: Mapping[str, Any]) -> None:
    """The reconciler's hook, once per status it writes."""
    VERDICTS.add(namespace, rollout, new_measurements(before, after))


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


class RolloutCollector(Collector):
    """The gauges, from the Rollouts held in memory when scraped, and the verdict counter."""

    def __init__(self, bodies: Bodies, tally: VerdictTally = VERDICTS) -> None:
        self._bodies, self._tally = bodies, tally

    def collect(self) -> Iterable[Metric]:
        labels = ["namespace", "rollout"]
        phase = GaugeMetricFamily("modelops_rollout_phase", "1 for the Rollout's current phase, 0 for the others.",
                                  labels=[*labels, "phase"])
        step = GaugeMetricFamily("modelops_rollout_step", "Index of the running step in spec.steps.", labels=labels)
        weight = GaugeMetricFamily("modelops_rollout_weight", "Percent of traffic the router applies, by backend.",
                                   labels=[*labels, "backend"])
        synced = GaugeMetricFamily("modelops_registry_synced",
                                   "1 while the RegistrySynced condition is True, 0 while it is False.", labels=labels)
        measured = GaugeMetricFamily("modelops_analysis_measurement", "The last value an analysis check measured.",
                                     labels=[*labels, "check"])
        for body in self._bodies():
            meta, status = body.get("metadata") or {}, body.get("status") or {}
            key = [str(meta.get("namespace") or ""), str(meta.get("name") or "")]
            current = status.get("phase")
            if current:
                for name in PHASES:
                    phase.add_metric([*key, name], 1.0 if name == current else 0.0)
            if isinstance(status.get("currentStep"), int):
                step.add_metric(key, float(status["currentStep"]))
            traffic = status.get("traffic") or {}
            for backend in BACKENDS:
                value = traffic.get(backend)
                if isinstance(value, int | float):
                    weight.add_metric([*key, backend], float(value))
            condition = _condition(status, REGISTRY_SYNCED)
            if condition is not None and condition.get("status") in ("True", "False"):
                synced.add_metric(key, 1.0 if condition.get("status") == "True" else 0.0)
            last: dict[str, float | None] = {}  # the newest measurement of each check; no data: absent
            for m in sorted(latest_measurements(status), key=lambda m: str(m.get("at") or "")):
                if isinstance(m.get("check"), str):
                    value = m.get("value")
                    last[m["check"]] = float(value) if isinstance(value, int | float) else None
            for check, value in sorted(last.items()):
                if value is not None:
                    measured.add_metric([*key, check], value)
        verdicts = CounterMetricFamily("modelops_analysis_verdicts", "Analysis measurements by verdict.",
                                       labels=[*labels, "check", "verdict"])
        for (namespace, rollout, check, verdict), count in sorted(self._tally.counts.items()):
            verdicts.add_metric([namespace, rollout, check, verdict], float(count))
        yield from (phase, step, weight, synced, measured, verdicts)
