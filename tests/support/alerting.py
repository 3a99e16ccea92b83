"""Alerts on the test's real Prometheus: the operator's own /metrics scraped by it (the drift gauges a
DriftMonitor's alerts read), a generated PrometheusRule's groups loaded into it as a rules file (what
the Prometheus Operator does with the object), and its alerts read back from ``/api/v1/alerts``.

- ``scraping_operator``: the operator's metrics port as a target while the block runs (removed after,
  so no later test reads its series by accident).
- ``loaded_rule``: the PrometheusRule's ``spec.groups`` written to ``<rules_dir>/<ns>-<name>.yml``
  and ``POST /-/reload``; a rule Prometheus refuses fails the reload (HTTP 500) loudly; the file is
  removed (and Prometheus reloaded) after the block.
- ``alerts``: the alerts Prometheus holds now (``state`` ``pending`` or ``firing``, their labels);
  ``series``: the label sets an instant query answers.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from localcluster.prometheus_server import PrometheusServer
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for


def _get(prometheus: PrometheusServer, path: str) -> Any:
    with urllib.request.urlopen(prometheus.url + path, timeout=10) as answer:
        payload = json.load(answer)
    assert payload["status"] == "success", payload
    return payload["data"]


@contextmanager
def scraping_operator(prometheus: PrometheusServer, operator: OperatorProcess) -> Iterator[str]:
    target = f"127.0.0.1:{operator.metrics_port}"
    prometheus.add_target(target)
    try:
        prometheus.wait_scraped(target, timeout=60)
        yield target
    finally:
        prometheus.remove_target(target)


def rule_groups(prometheus: PrometheusServer) -> list[dict[str, Any]]:
    return list(_get(prometheus, "/api/v1/rules")["groups"])


@contextmanager
def loaded_rule(prometheus: PrometheusServer, rule: dict[str, Any]) -> Iterator[list[str]]:
    """Load a PrometheusRule object's groups; yields the group names Prometheus now evaluates."""
    meta = rule["metadata"]
    path = prometheus.rules_dir / f"{meta['namespace']}-{meta['name']}.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    try:
        prometheus.reload()
        wanted = [group["name"] for group in rule["spec"]["groups"]]
        wait_for(lambda: set(wanted) <= {g["name"] for g in rule_groups(prometheus)}, 30,
                 f"Prometheus to evaluate the groups {wanted}")
        yield wanted
    finally:
        path.unlink(missing_ok=True)
        prometheus.reload()


def alerts(prometheus: PrometheusServer, **labels: str) -> list[dict[str, Any]]:
    """Alerts (pending or firing) whose labels include ``labels``."""
    return [alert for alert in _get(prometheus, "/api/v1/alerts")["alerts"]
            if all(alert["labels"].get(k) == v for k, v in labels.items())]


def series(prometheus: PrometheusServer, expr: str) -> list[dict[str, str]]:
    """The label sets (with ``__value__``) of an instant query's answer."""
    result = _get(prometheus, "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["result"]
    return [{**item["metric"], "__value__": item["value"][1]} for item in result]
