"""DriftMonitor -> its PrometheusRule (``monitoring.coreos.com/v1``; pure, golden-tested, and
checked with ``promtool check rules`` / ``promtool test rules``).

The built-in alerts follow the seeds' severity table, over the gauges the operator exports from
the monitor's status (``modelops_feature_drift`` and ``modelops_feature_drift_threshold``, labelled
``namespace``, ``monitor``, ``model``, ``modelversion``, ``feature``, ``statistic``) and, for
latency, the log sink's request-duration histogram of the monitored model:

| alert | severity | fires when |
|---|---|---|
| ``ModelDriftSchemaMismatch`` | P0 | a ``schema`` result is above its threshold (missing, new or wrong-typed columns) |
| ``ModelDriftNullRateSpike`` | P0 | a ``nullRate`` result is above its threshold |
| ``ModelSlicedAccuracyDrop`` | P0 | a slice's accuracy drop (``__performance__:<column>=<value>``) is above threshold |
| ``ModelLatencyP99Regression`` | P1 | p99 latency over the monitor's window exceeds 1.5x the same window a day before |
| ``ModelDriftPSI`` | P2 | PSI above its threshold on a critical feature (every feature when none is marked) |
| ``ModelAccuracyDecay`` | P3 | the overall accuracy drop stayed above half its threshold for 6 hours |

``spec.alerts.routes`` override and add: a route for ``schema``, ``nullRate`` or ``psi`` replaces
that built-in alert; every route becomes ``ModelDriftRoute<Statistic><Severity>``, firing when the
statistic is above the route's ``above`` on any feature, for the route's ``for``.
``spec.alerts.labels`` go on every alert; ``severity`` is always the table's or the route's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelops.api.driftmonitor import PERFORMANCE_FEATURE, AlertRoute, DriftMonitorSpec
from modelops.core.durations import parse_duration
from modelops.core.monitoring.children import labels, owner_reference
from modelops.core.naming import dns_label

API_VERSION = "monitoring.coreos.com/v1"
FEATURE_DRIFT = "modelops_feature_drift"
FEATURE_THRESHOLD = "modelops_feature_drift_threshold"
REQUEST_DURATION_BUCKET = "modelops_request_duration_seconds_bucket"
LATENCY_RATIO = 1.5
LATENCY_BASELINE_OFFSET = "1d"
DECAY_WINDOW = "6h"
DECAY_SHARE = 0.5
# The built-in alert a route for that statistic replaces.
OVERRIDDEN_BY_ROUTE = {"schema": "ModelDriftSchemaMismatch", "nullRate": "ModelDriftNullRateSpike",
                       "psi": "ModelDriftPSI"}


@dataclass(frozen=True)
class Monitored:
    """Whose alerts these are: the monitor and the model it watches (``model_version``: the one
    version a ModelVersion reference pins; None for a Rollout, which follows what it serves)."""

    namespace: str
    monitor: str
    uid: str
    model: str
    model_version: str | None = None


def rule_name(monitor: str) -> str:
    return dns_label(monitor, "drift")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _regex(value: str) -> str:
    """``value`` matched literally inside a PromQL regex (RE2) string."""
    escaped = "".join("\\" + c if c in ".+*?()[]{}|^$\\" else c for c in value)
    return escaped


def _selector(who: Monitored, **matchers: str) -> str:
    parts = [f"namespace={_quote(who.namespace)}", f"monitor={_quote(who.monitor)}"]
    for label, matcher in matchers.items():
        parts.append(f"{label}{matcher}")
    return "{" + ", ".join(parts) + "}"


def _above_threshold(who: Monitored, **matchers: str) -> str:
    return f"{FEATURE_DRIFT}{_selector(who, **matchers)} > {FEATURE_THRESHOLD}{_selector(who, **matchers)}"


def _seconds(duration: str) -> str:
    return f"{max(1, int(parse_duration(duration).total_seconds()))}s"


def _latency_p99(who: Monitored, window: str, offset: str = "") -> str:
    matchers = [f"namespace={_quote(who.namespace)}", f"model={_quote(who.model)}"]
    if who.model_version is not None:
        matchers.append(f"modelversion={_quote(who.model_version)}")
    selector = "{" + ", ".join(matchers) + "}"
    shifted = f" offset {offset}" if offset else ""
    return (f"histogram_quantile(0.99, sum by (namespace, model, le) "
            f"(rate({REQUEST_DURATION_BUCKET}{selector}[{window}]{shifted})))")


def _critical_features(spec: DriftMonitorSpec) -> list[str]:
    return [f.name for f in spec.features if f.critical]


def _alert(name: str, expr: str, severity: str, summary: str, description: str, extra: dict[str, str],
           duration: str | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if duration:
        rule["for"] = duration
    rule["labels"] = {**extra, "severity": severity}
    rule["annotations"] = {"summary": summary, "description": description}
    return rule


def _builtin(who: Monitored, spec: DriftMonitorSpec, extra: dict[str, str]) -> list[dict[str, Any]]:
    where = f"DriftMonitor {who.namespace}/{who.monitor}"
    critical = _critical_features(spec)
    psi_matchers = {"statistic": '="psi"'}
    if critical:
        psi_matchers["feature"] = "=~" + _quote("|".join(_regex(f) for f in critical))
    window = _seconds(spec.window)
    feature = "{{ $labels.feature }}"
    overall = _selector(who, feature="=" + _quote(PERFORMANCE_FEATURE), statistic='="accuracy"')
    value = "{{ $value }}"
    return [
        _alert("ModelDriftSchemaMismatch", _above_threshold(who, statistic='="schema"'), "P0",
               f"Schema mismatch on {feature} of {who.model}",
               f"{where}: {value} of the records of {feature} violate the model's schema (missing, new or "
               "wrong-typed column).", extra),
        _alert("ModelDriftNullRateSpike", _above_threshold(who, statistic='="nullRate"'), "P0",
               f"Null-rate spike on {feature} of {who.model}",
               f"{where}: the null share of {feature} rose by {value} over the reference.", extra),
        _alert("ModelSlicedAccuracyDrop",
               _above_threshold(who, feature="=~" + _quote(_regex(PERFORMANCE_FEATURE) + ":.+"),
                                statistic='="accuracy"'), "P0",
               f"Accuracy dropped on slice {feature} of {who.model}",
               f"{where}: accuracy on {feature} fell by {value} against the reference window.", extra),
        _alert("ModelLatencyP99Regression",
               f"{_latency_p99(who, window)} > {LATENCY_RATIO} * "
               f"{_latency_p99(who, window, LATENCY_BASELINE_OFFSET)}", "P1",
               f"p99 latency of {who.model} regressed",
               f"{where}: p99 latency over the last {spec.window} is above {LATENCY_RATIO}x the same window "
               f"{LATENCY_BASELINE_OFFSET} earlier.", extra),
        _alert("ModelDriftPSI", _above_threshold(who, **psi_matchers), "P2",
               f"PSI drift on {feature} of {who.model}",
               f"{where}: PSI of {feature} is {value}, above its threshold.", extra),
        _alert("ModelAccuracyDecay",
               f"min_over_time({FEATURE_DRIFT}{overall}[{DECAY_WINDOW}]) > "
               f"{DECAY_SHARE} * {FEATURE_THRESHOLD}{overall}",
               "P3", f"Accuracy of {who.model} is decaying",
               f"{where}: the accuracy drop stayed above {DECAY_SHARE:g}x its threshold for {DECAY_WINDOW} "
               f"(now {value}).", extra),
    ]


def _route(who: Monitored, route: AlertRoute, extra: dict[str, str]) -> dict[str, Any]:
    statistic = route.statistic.value
    name = f"ModelDriftRoute{statistic[0].upper()}{statistic[1:]}{route.severity.value}"
    return _alert(name, f"{FEATURE_DRIFT}{_selector(who, statistic='=' + _quote(statistic))} > {route.above:g}",
                  route.severity.value, f"{statistic} drift on {{{{ $labels.feature }}}} of {who.model}",
                  f"DriftMonitor {who.namespace}/{who.monitor}: {statistic} of {{{{ $labels.feature }}}} is "
                  f"{{{{ $value }}}}, above {route.above:g}.", extra, _seconds(route.for_) if route.for_ else None)


def alert_rules(who: Monitored, spec: DriftMonitorSpec) -> list[dict[str, Any]]:
    """The alerting rules of one monitor: the built-in table, overridden and extended by routes."""
    alerts = spec.alerts
    extra = dict(alerts.labels) if alerts is not None else {}
    routes = list(alerts.routes) if alerts is not None else []
    replaced = {OVERRIDDEN_BY_ROUTE[r.statistic.value] for r in routes if r.statistic.value in OVERRIDDEN_BY_ROUTE}
    rules = [rule for rule in _builtin(who, spec, extra) if rule["alert"] not in replaced]
    seen = {rule["alert"] for rule in rules}
    for route in routes:
        rule = _route(who, route, extra)
        if rule["alert"] not in seen:  # two routes of one statistic and severity: the first wins
            rules.append(rule)
            seen.add(rule["alert"])
    return rules


def desired_rule(who: Monitored, spec: DriftMonitorSpec) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {"name": rule_name(who.monitor), "namespace": who.namespace, "labels": labels(who.monitor),
                     "ownerReferences": [owner_reference(who.monitor, who.uid)]},
        "spec": {"groups": [{"name": f"modelops-drift.{who.namespace}.{who.monitor}",
                             "rules": alert_rules(who, spec)}]},
    }


def alerts_enabled(spec: DriftMonitorSpec) -> bool:
    return spec.alerts is None or spec.alerts.enabled
