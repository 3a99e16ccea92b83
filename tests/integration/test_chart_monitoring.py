"""The chart's monitoring: the operator's metrics Service and ServiceMonitor, its PrometheusRule
(``promtool check rules``, and ``promtool test rules`` with a firing and a silent case per alert),
and the Grafana dashboard (every query parses in a real Prometheus, every series it and the rules
read is one docs/operations.md documents). promtool and Prometheus are Debian's, as the rest of
the tiers use them (``localcluster.prometheus_server``)."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster.building import ensure_helm
from localcluster.prometheus_server import PrometheusServer, ensure_promtool
from tests.support.chart import CHART, REPO, one, render
from tests.support.promql import (
    base_name,
    documented_metrics,
    grafana_to_promql,
    metric_names,
    variable_query_selector,
)

JOB = "modelops-metrics"
ALERT_LABELS = {"team": "ml-platform"}
DASHBOARD = CHART / "dashboards" / "modelops.json"
OPERATIONS = REPO / "docs" / "operations.md"
# Prometheus' own series the rules may read besides ours.
PROMETHEUS_SERIES = {"up"}


@pytest.fixture(scope="module")
def helm() -> Path:
    return ensure_helm()


@pytest.fixture(scope="module")
def rules(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The rendered PrometheusRule's spec (as promtool reads a rule file), with alert labels set."""
    tmp = tmp_path_factory.mktemp("rules")
    docs = render(helm, CHART, "ml-platform", {"metrics": {"prometheusRule": {"alertLabels": ALERT_LABELS}}}, tmp)
    return dict(one(docs, "PrometheusRule")["spec"])


def _rule(rules: dict[str, Any], alert: str) -> dict[str, Any]:
    return next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == alert)


def _expand(text: str, labels: dict[str, str], value: str | None) -> str:
    """The annotation Prometheus renders: ``$labels.x`` and ``$value | humanize...`` filled in (the only
    template forms the chart's annotations use; anything else left would fail the comparison)."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
    if value is not None:
        text = re.sub(r"\{\{ \$value \| humanize\w* \}\}", value, text)
    return text


def _alert(rules: dict[str, Any], alert: str, labels: dict[str, str], value: str | None = None) -> dict[str, Any]:
    rule = _rule(rules, alert)
    all_labels = {**labels, **rule["labels"]}
    return {"exp_labels": all_labels,
            "exp_annotations": {k: _expand(v, all_labels, value) for k, v in rule["annotations"].items()}}


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    selector = ", ".join(f'{k}="{v}"' for k, v in {"job": JOB, **labels}.items())
    return {"series": f"{metric}{{{selector}}}", "values": values}


def _cases(rules: dict[str, Any]) -> list[dict[str, Any]]:
    """promtool test groups: for every alert, a case that fires and one (or more) that stays silent."""
    pod = {"namespace": "ml-platform", "instance": "10.0.0.7:8081"}
    rollout = {"namespace": "team-a", "rollout": "fraud-detector"}
    stuck_after = 120  # minutes: the chart's default rolloutStuckAfter (2h)
    long = stuck_after + 60

    def test(series: list[dict[str, str]], alert: str, at: str, fired: list[dict[str, Any]]) -> dict[str, Any]:
        return {"interval": "1m", "input_series": series,
                "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": fired}]}

    reconciles = _series("modelops_reconciles_total", {**pod, "kind": "Rollout"}, "0+60x30")
    bucket = "modelops_reconcile_duration_seconds_bucket"
    verdicts = "modelops_analysis_verdicts_total"
    check = {**rollout, "check": "error-rate"}
    phase = "modelops_rollout_phase"
    return [
        # -- the operator is down, or not scraped at all
        test([_series("up", pod, "0x10")], "ModelopsOperatorDown", "6m",
             [_alert(rules, "ModelopsOperatorDown", {"job": JOB, **pod})]),
        test([_series("modelops_reconciles_total", {**pod, "kind": "Rollout"}, "0+1x10")], "ModelopsOperatorDown",
             "6m", [_alert(rules, "ModelopsOperatorDown", {"job": JOB})]),
        test([_series("up", pod, "1x10")], "ModelopsOperatorDown", "6m", []),
        test([_series("up", pod, "0x2 1x8")], "ModelopsOperatorDown", "6m", []),
        # -- half the Rollout reconciles fail for 25 minutes; then one in sixty
        test([reconciles, _series("modelops_reconcile_errors_total", {**pod, "kind": "Rollout"}, "0+30x30")],
             "ModelopsReconcileErrors", "25m",
             [_alert(rules, "ModelopsReconcileErrors", {"namespace": "ml-platform", "kind": "Rollout"}, "50%")]),
        test([reconciles, _series("modelops_reconcile_errors_total", {**pod, "kind": "Rollout"}, "0+1x30")],
             "ModelopsReconcileErrors", "25m", []),
        # -- p99 of 9.9 s (90% of reconciles between 1 s and 10 s); then all under a second
        test([_series(bucket, {**pod, "kind": "ModelVersion", "le": "1"}, "0+10x30"),
              _series(bucket, {**pod, "kind": "ModelVersion", "le": "10"}, "0+100x30"),
              _series(bucket, {**pod, "kind": "ModelVersion", "le": "+Inf"}, "0+100x30")],
             "ModelopsReconcileSlow", "25m",
             [_alert(rules, "ModelopsReconcileSlow", {"namespace": "ml-platform", "kind": "ModelVersion"}, "9.9s")]),
        test([_series(bucket, {**pod, "kind": "ModelVersion", "le": "1"}, "0+100x30"),
              _series(bucket, {**pod, "kind": "ModelVersion", "le": "+Inf"}, "0+100x30")],
             "ModelopsReconcileSlow", "25m", []),
        # -- stuck: Progressing on step 2 for three hours
        test([_series(phase, {**rollout, "phase": "Progressing"}, f"1x{long}"),
              _series("modelops_rollout_step", rollout, f"2x{long}")],
             "ModelopsRolloutStuck", f"{long}m", [_alert(rules, "ModelopsRolloutStuck", rollout)]),
        # -- ... awaiting a human for three hours counts too (the phase changed, the step did not)
        test([_series(phase, {**rollout, "phase": "Progressing"}, f"1x30 0x{long - 30}"),
              _series(phase, {**rollout, "phase": "AwaitingApproval"}, f"0x30 1x{long - 30}"),
              _series("modelops_rollout_step", rollout, f"3x{long}")],
             "ModelopsRolloutStuck", f"{long}m", [_alert(rules, "ModelopsRolloutStuck", rollout)]),
        # -- not stuck: a step every 30 minutes; a rollout younger than the window; a promoted one
        test([_series(phase, {**rollout, "phase": "Progressing"}, f"1x{long}"),
              _series("modelops_rollout_step", rollout, " ".join(f"{i}x29" for i in range(long // 30)))],
             "ModelopsRolloutStuck", f"{long - 10}m", []),
        test([_series(phase, {**rollout, "phase": "Progressing"}, f"_x{long - 40} 1x40"),
              _series("modelops_rollout_step", rollout, f"_x{long - 40} 0x40")],
             "ModelopsRolloutStuck", f"{long}m", []),
        test([_series(phase, {**rollout, "phase": "Promoted"}, f"1x{long}"),
              _series(phase, {**rollout, "phase": "Progressing"}, f"0x{long}"),
              _series("modelops_rollout_step", rollout, f"4x{long}")],
             "ModelopsRolloutStuck", f"{long}m", []),
        # -- rolled back; promoted
        test([_series(phase, {**rollout, "phase": "RolledBack"}, "1x10")], "ModelopsRolloutRolledBack", "5m",
             [_alert(rules, "ModelopsRolloutRolledBack", {**rollout, "phase": "RolledBack"})]),
        test([_series(phase, {**rollout, "phase": "RolledBack"}, "0x10"),
              _series(phase, {**rollout, "phase": "Promoted"}, "1x10")], "ModelopsRolloutRolledBack", "5m", []),
        # -- every measurement of a check is Error for 25 minutes; then one in ten
        test([_series(verdicts, {**check, "verdict": "Error"}, "0+1x30"),
              _series(verdicts, {**check, "verdict": "Successful"}, "0x30")],
             "ModelopsAnalysisErrors", "25m", [_alert(rules, "ModelopsAnalysisErrors", check, "100%")]),
        test([_series(verdicts, {**check, "verdict": "Error"}, "0+1x30"),
              _series(verdicts, {**check, "verdict": "Successful"}, "0+9x30")],
             "ModelopsAnalysisErrors", "25m", []),
        # -- MLflow aliases unwritten for 20 minutes; a 5-minute blip
        test([_series("modelops_registry_synced", rollout, "0x30")], "ModelopsRegistryUnsynced", "20m",
             [_alert(rules, "ModelopsRegistryUnsynced", rollout)]),
        test([_series("modelops_registry_synced", rollout, "1x10 0x5 1x15")], "ModelopsRegistryUnsynced", "20m", []),
    ]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ensure_promtool()), *args], capture_output=True, text=True, timeout=120)


def _write_rule_tests(tmp: Path, rules: dict[str, Any], cases: list[dict[str, Any]]) -> Path:
    (tmp / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    test_file = tmp / "rules_test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": cases},
                                        sort_keys=False))
    return test_file


def test_the_rules_pass_promtool_check(rules: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    alerts = sorted(r["alert"] for g in rules["groups"] for r in g["rules"])
    assert alerts == ["ModelopsAnalysisErrors", "ModelopsOperatorDown", "ModelopsReconcileErrors",
                      "ModelopsReconcileSlow", "ModelopsRegistryUnsynced", "ModelopsRolloutRolledBack",
                      "ModelopsRolloutStuck"]
    assert f"SUCCESS: {len(alerts)} rules found" in result.stdout


def test_every_alert_fires_when_it_should_and_only_then(rules: dict[str, Any], tmp_path: Path) -> None:
    cases = _cases(rules)
    tested = {t["alert_rule_test"][0]["alertname"] for t in cases}
    every = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert tested == every
    for alert in every:  # each has a firing and a silent case
        outcomes = {bool(t["alert_rule_test"][0]["exp_alerts"]) for t in cases
                    if t["alert_rule_test"][0]["alertname"] == alert}
        assert outcomes == {True, False}, alert
    result = _promtool("test", "rules", str(_write_rule_tests(tmp_path, rules, cases)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_really_judges_the_cases(rules: dict[str, Any], tmp_path: Path) -> None:
    """Control: a silent case expected to fire, and a firing case expected silent, both fail."""
    cases = _cases(rules)
    swapped = []
    for case in (cases[0], cases[2]):  # OperatorDown: one firing, one silent
        case = json.loads(json.dumps(case))
        test = case["alert_rule_test"][0]
        test["exp_alerts"] = [] if test["exp_alerts"] else [_alert(rules, "ModelopsOperatorDown", {"job": JOB})]
        swapped.append(case)
    for case in swapped:
        result = _promtool("test", "rules", str(_write_rule_tests(tmp_path, rules, [case])))
        assert result.returncode != 0, result.stdout


def _dashboard_expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every variable's selector."""
    found = [(f"panel {p['title']!r}", t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append((f"variable {variable['name']}", variable_query_selector(variable["query"]["query"])))
    return found


def _query(prometheus: PrometheusServer, expr: str) -> tuple[int, dict[str, Any]]:
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_every_dashboard_query_parses_in_prometheus(prometheus_server: PrometheusServer) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = _dashboard_expressions(dashboard)
    assert len(expressions) >= 15
    failures = []
    for where, expr in expressions:
        status, body = _query(prometheus_server, grafana_to_promql(expr))
        if status != 200 or body.get("status") != "success":
            failures.append(f"{where}: {expr}\n  -> {body.get('errorType')}: {body.get('error')}")
    assert failures == [], "\n".join(failures)
    # Control: the same check on an expression that does not parse.
    broken = "sum by (kind (rate(modelops_reconciles_total[$__rate_interval]))"
    status, body = _query(prometheus_server, grafana_to_promql(broken))
    assert status == 400 and body["errorType"] == "bad_data" and "parse error" in body["error"]


def test_every_series_the_rules_and_dashboard_read_is_documented(rules: dict[str, Any]) -> None:
    documented = documented_metrics(OPERATIONS)
    assert "modelops_rollout_weight" in documented and documented["modelops_reconcile_duration_seconds"] == "histogram"
    used: dict[str, set[str]] = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name in metric_names(rule["expr"]):
                used.setdefault(name, set()).add(f"alert {rule['alert']}")
    for where, expr in _dashboard_expressions(json.loads(DASHBOARD.read_text())):
        for name in metric_names(grafana_to_promql(expr)):
            used.setdefault(name, set()).add(f"dashboard {where}")
    undocumented = {name: sorted(places) for name, places in used.items()
                    if name not in PROMETHEUS_SERIES and base_name(name) not in documented}
    assert undocumented == {}
    for name in used:  # _bucket/_sum/_count only on histograms
        if base_name(name) != name:
            assert documented[base_name(name)] == "histogram", name
    # What the issue asks the dashboard to show is there.
    dashboard_names = {base_name(n) for _, e in _dashboard_expressions(json.loads(DASHBOARD.read_text()))
                       for n in metric_names(grafana_to_promql(e))}
    assert {"modelops_rollout_phase", "modelops_rollout_weight", "modelops_analysis_measurement",
            "modelops_feature_drift", "modelops_reconcile_duration_seconds",
            "modelops_reconcile_errors_total"} <= dashboard_names


def test_the_metrics_service_and_monitor_select_only_the_operator(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, CHART, "ml-platform")
    service = one(docs, "Service", JOB)
    operator_pod = one(docs, "Deployment", "modelops")["spec"]["template"]
    sink_pod = one(docs, "Deployment", "modelops-logsink")["spec"]["template"]
    selector = service["spec"]["selector"].items()
    assert selector <= operator_pod["metadata"]["labels"].items()
    assert not selector <= sink_pod["metadata"]["labels"].items()
    port = service["spec"]["ports"][0]
    container = operator_pod["spec"]["containers"][0]
    assert {"name": port["targetPort"], "containerPort": port["port"]} in container["ports"]
    monitor = one(docs, "ServiceMonitor", JOB)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    sink_service = one(docs, "Service", "modelops-logsink")
    assert not monitor["spec"]["selector"]["matchLabels"].items() <= sink_service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s",
                                             "honorLabels": True}]
    # The dashboard is opt-in; everything about metrics can be switched off.
    assert not [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
    off = render(helm, CHART, "ml-platform", {"metrics": {"enabled": False}}, tmp_path)
    assert not [d for d in off if d["kind"] in ("PrometheusRule",) or d["metadata"]["name"] == JOB]
    assert not any(a.startswith("--metrics") for a in one(off, "Deployment", "modelops")["spec"]["template"]
                   ["spec"]["containers"][0]["args"])


def test_the_dashboard_configmap_carries_the_dashboard(helm: Path, tmp_path: Path) -> None:
    values = {"grafanaDashboard": {"enabled": True, "namespace": "monitoring",
                                   "annotations": {"grafana_folder": "ML platform"}}}
    configmap = one(render(helm, CHART, "ml-platform", values, tmp_path), "ConfigMap", "modelops-dashboard")
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "ML platform"}
    assert json.loads(configmap["data"]["modelops.json"]) == json.loads(DASHBOARD.read_text())
    titles = {p["title"] for p in json.loads(DASHBOARD.read_text())["panels"]}
    assert {"Rollout phase", "Traffic weights", "Analysis measurements", "Drift per feature", "Reconcile latency",
            "Reconciles and errors"} <= titles


@pytest.mark.parametrize("values, field", [
    ({"metrics": {"prometheusRule": {"rolloutStuckAfter": "2 hours"}}}, "rolloutStuckAfter"),
    ({"metrics": {"prometheusRule": {"reconcileErrorRatio": 5}}}, "reconcileErrorRatio"),
    ({"metrics": {"port": 8080}}, "port"),
    ({"metrics": {"serviceMonitr": {"enabled": True}}}, "serviceMonitr"),
    ({"grafanaDashboard": {"labels": {"grafana_dashboard": 1}}}, "grafana_dashboard"),
])
def test_the_values_schema_refuses_bad_monitoring_values(helm: Path, tmp_path: Path, values: dict[str, Any],
                                                         field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(values))
    result = subprocess.run([str(helm), "template", "x", str(CHART), "-f", str(path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and field in result.stderr, result.stderr
