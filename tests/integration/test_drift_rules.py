"""A DriftMonitor's PrometheusRule against Prometheus' own rule engine: ``promtool check rules`` on
the generated groups, and ``promtool test rules`` showing each alert firing on drifted series and
silent on stable ones — the built-in severity table (example 07's weekly monitor) and routes that
override and add (example 07's first monitor). promtool is Debian's (``localcluster``)."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster.prometheus_server import ensure_promtool
from modelops.api.driftmonitor import DriftMonitorSpec
from modelops.core.alerts.drift import Monitored, desired_rule
from tests.support.manifests import REPO, documents

NS, MODEL, VERSION = "risk", "credit-risk", "credit-risk-v1"


def _spec(index: int) -> DriftMonitorSpec:
    docs = [d for d in documents(REPO / "examples" / "07-driftmonitor.yaml") if d["kind"] == "DriftMonitor"]
    return DriftMonitorSpec.model_validate(docs[index]["spec"])


def _rule(index: int, monitor: str, version: str | None) -> dict[str, Any]:
    return dict(desired_rule(Monitored(NS, monitor, "uid", MODEL, version), _spec(index))["spec"])


@pytest.fixture(scope="module")
def builtin() -> dict[str, Any]:
    return _rule(1, "weekly", VERSION)


@pytest.fixture(scope="module")
def routed() -> dict[str, Any]:
    return _rule(0, "credit-risk", None)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ensure_promtool()), *args], capture_output=True, text=True, timeout=120)


def _alerts(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rules["groups"] for r in g["rules"]}


def _labels(monitor: str, feature: str, statistic: str) -> dict[str, str]:
    return {"namespace": NS, "monitor": monitor, "model": MODEL, "modelversion": VERSION, "feature": feature,
            "statistic": statistic}


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    return {"series": metric + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}", "values": values}


def _drift(monitor: str, feature: str, statistic: str, value: str, threshold: float, steps: int = 10
           ) -> list[dict[str, str]]:
    labels = _labels(monitor, feature, statistic)
    values = value if " " in value or "x" in value else f"{value}x{steps}"
    return [_series("modelops_feature_drift", labels, values),
            _series("modelops_feature_drift_threshold", labels, f"{threshold}x{steps}")]


def _expected(rules: dict[str, Any], alert: str, labels: dict[str, str], value: str) -> dict[str, Any]:
    rule = _alerts(rules)[alert]
    every = {**labels, **rule["labels"]}

    def expand(text: str) -> str:
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: every[m.group(1)], text)
        return text.replace("{{ $value }}", value)

    return {"exp_labels": every, "exp_annotations": {k: expand(v) for k, v in rule["annotations"].items()}}


def _case(series: list[dict[str, str]], alert: str, at: str, fired: list[dict[str, Any]],
          interval: str = "1m") -> dict[str, Any]:
    return {"interval": interval, "input_series": series,
            "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": fired}]}


def _latency(version_labels: dict[str, str], slow_from: int, steps: int) -> list[dict[str, str]]:
    """Request-duration buckets every 10m: 100 requests per step under 0.1 s until ``slow_from``,
    then between 0.1 s and 1 s."""
    fast = f"0+100x{slow_from} {100 * slow_from}+0x{steps - slow_from - 1}" if slow_from < steps else f"0+100x{steps}"
    return [_series("modelops_request_duration_seconds_bucket", {**version_labels, "le": "0.1"}, fast),
            _series("modelops_request_duration_seconds_bucket", {**version_labels, "le": "1"}, f"0+100x{steps}"),
            _series("modelops_request_duration_seconds_bucket", {**version_labels, "le": "+Inf"}, f"0+100x{steps}")]


def _builtin_cases(rules: dict[str, Any]) -> list[dict[str, Any]]:
    m = "weekly"
    slice_ = "__performance__:gender=F"
    served = {"namespace": NS, "model": MODEL, "modelversion": VERSION}
    return [
        _case(_drift(m, "income", "schema", "0.02", 0), "ModelDriftSchemaMismatch", "5m",
              [_expected(rules, "ModelDriftSchemaMismatch", _labels(m, "income", "schema"), "0.02")]),
        _case(_drift(m, "income", "schema", "0", 0), "ModelDriftSchemaMismatch", "5m", []),
        _case(_drift(m, "employment_type", "nullRate", "0.2", 0.05), "ModelDriftNullRateSpike", "5m",
              [_expected(rules, "ModelDriftNullRateSpike", _labels(m, "employment_type", "nullRate"), "0.2")]),
        _case(_drift(m, "employment_type", "nullRate", "0.01", 0.05), "ModelDriftNullRateSpike", "5m", []),
        _case(_drift(m, slice_, "accuracy", "0.12", 0.05), "ModelSlicedAccuracyDrop", "5m",
              [_expected(rules, "ModelSlicedAccuracyDrop", _labels(m, slice_, "accuracy"), "0.12")]),
        # A drop overall is not a slice's; a small drop of a slice is no alert.
        _case(_drift(m, "__performance__", "accuracy", "0.12", 0.05) + _drift(m, slice_, "accuracy", "0.01", 0.05),
              "ModelSlicedAccuracyDrop", "5m", []),
        _case(_drift(m, "income", "psi", "0.31", 0.2), "ModelDriftPSI", "5m",
              [_expected(rules, "ModelDriftPSI", _labels(m, "income", "psi"), "0.31")]),
        _case(_drift(m, "income", "psi", "0.1", 0.2), "ModelDriftPSI", "5m", []),
        # p99 moved from under 0.1 s to about 1 s in the last hour, against the same hour a day before.
        _case(_latency(served, 150, 157), "ModelLatencyP99Regression", "26h",
              [_expected(rules, "ModelLatencyP99Regression", {"namespace": NS, "model": MODEL}, "")], "10m"),
        _case(_latency(served, 157, 157), "ModelLatencyP99Regression", "26h", [], "10m"),
        # Another version's latency is not this monitor's (it watches one ModelVersion).
        _case(_latency({**served, "modelversion": "credit-risk-v2"}, 150, 157), "ModelLatencyP99Regression",
              "26h", [], "10m"),
        # The overall accuracy drop stayed above half its threshold for 6 hours; then dipped to none.
        _case(_drift(m, "__performance__", "accuracy", "0.03", 0.05, steps=45), "ModelAccuracyDecay", "7h",
              [_expected(rules, "ModelAccuracyDecay", _labels(m, "__performance__", "accuracy"), "0.03")], "10m"),
        _case(_drift(m, "__performance__", "accuracy", "0.03x30 0x2 0.03x12", 0.05, steps=45),
              "ModelAccuracyDecay", "7h", [], "10m"),
    ]


def _routed_cases(rules: dict[str, Any]) -> list[dict[str, Any]]:
    m = "credit-risk"
    return [
        # psi above 0.2 for 30 minutes: not yet at 20m, firing at 35m.
        _case(_drift(m, "income", "psi", "0.31", 0.1, steps=40), "ModelDriftRoutePsiP2", "20m", []),
        _case(_drift(m, "income", "psi", "0.31", 0.1, steps=40), "ModelDriftRoutePsiP2", "35m",
              [_expected(rules, "ModelDriftRoutePsiP2", _labels(m, "income", "psi"), "0.31")]),
        _case(_drift(m, "income", "psi", "0.15", 0.1, steps=40), "ModelDriftRoutePsiP2", "35m", []),
        _case(_drift(m, "income", "ks", "0.18", 0.1), "ModelDriftRouteKsP3", "5m",
              [_expected(rules, "ModelDriftRouteKsP3", _labels(m, "income", "ks"), "0.18")]),
        _case(_drift(m, "income", "ks", "0.05", 0.1), "ModelDriftRouteKsP3", "5m", []),
        # The route's 0.2 replaces the threshold for null rates: 0.1 is above 0.05 but pages no one.
        _case(_drift(m, "employment_type", "nullRate", "0.1", 0.05), "ModelDriftRouteNullRateP0", "5m", []),
        _case(_drift(m, "employment_type", "nullRate", "0.3", 0.05), "ModelDriftRouteNullRateP0", "5m",
              [_expected(rules, "ModelDriftRouteNullRateP0", _labels(m, "employment_type", "nullRate"), "0.3")]),
        _case(_drift(m, "income", "schema", "0.01", 0), "ModelDriftRouteSchemaP0", "5m",
              [_expected(rules, "ModelDriftRouteSchemaP0", _labels(m, "income", "schema"), "0.01")]),
        _case(_drift(m, "income", "schema", "0", 0), "ModelDriftRouteSchemaP0", "5m", []),
        # Another monitor's series never fire this one's alerts.
        _case(_drift("other", "income", "ks", "0.9", 0.1), "ModelDriftRouteKsP3", "5m", []),
    ]


def _write(tmp: Path, rules: dict[str, Any], cases: list[dict[str, Any]]) -> Path:
    (tmp / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    path = tmp / "rules_test.yml"
    path.write_text(yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": cases},
                                   sort_keys=False))
    return path


@pytest.mark.parametrize("which", ["builtin", "routed"])
def test_the_rules_pass_promtool_check(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    rules = request.getfixturevalue(which)
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts(rules))} rules found" in result.stdout


def test_the_built_in_table_fires_on_drift_and_stays_silent_when_stable(builtin: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    cases = _builtin_cases(builtin)
    _every_alert_both_ways(builtin, cases)
    result = _promtool("test", "rules", str(_write(tmp_path, builtin, cases)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_routes_override_and_add(routed: dict[str, Any], tmp_path: Path) -> None:
    assert set(_alerts(routed)) == {"ModelDriftRouteSchemaP0", "ModelDriftRouteNullRateP0", "ModelDriftRoutePsiP2",
                                    "ModelDriftRouteKsP3", "ModelSlicedAccuracyDrop", "ModelLatencyP99Regression",
                                    "ModelAccuracyDecay"}
    assert all(r["labels"]["team"] == "risk" for r in _alerts(routed).values())
    cases = _routed_cases(routed)
    _every_alert_both_ways(routed, cases, only={"ModelDriftRouteSchemaP0", "ModelDriftRouteNullRateP0",
                                                "ModelDriftRoutePsiP2", "ModelDriftRouteKsP3"})
    result = _promtool("test", "rules", str(_write(tmp_path, routed, cases)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_really_judges_the_cases(builtin: dict[str, Any], tmp_path: Path) -> None:
    """Control: a firing case expected silent fails."""
    case = copy.deepcopy(_builtin_cases(builtin)[0])
    case["alert_rule_test"][0]["exp_alerts"] = []
    result = _promtool("test", "rules", str(_write(tmp_path, builtin, [case])))
    assert result.returncode != 0


def _every_alert_both_ways(rules: dict[str, Any], cases: list[dict[str, Any]], only: set[str] | None = None) -> None:
    for alert in only or set(_alerts(rules)):
        outcomes = {bool(c["alert_rule_test"][0]["exp_alerts"]) for c in cases
                    if c["alert_rule_test"][0]["alertname"] == alert}
        assert outcomes == {True, False}, alert
