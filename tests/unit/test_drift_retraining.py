"""Retraining on persistent drift (pure): after ``spec.retrain.after`` drifted evaluations one
TrainingRun per evaluation (a repeated reconcile creates nothing new), none within the cooldown,
none past ``maxConcurrent``; the run is a record (no owner reference) that carries the reason as
annotations which become MLflow tags. Also the PrometheusRule golden files and the drift gauges."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from modelops.api.driftmonitor import DriftMonitorSpec, Retrain
from modelops.core.alerts.drift import Monitored, desired_rule
from modelops.core.conditions import format_time
from modelops.core.monitoring.progress import plan
from modelops.core.monitoring.retraining import RetrainRun, decide, recorded, retrain_name
from modelops.core.training.annotations import annotation_tags
from modelops.metrics.drift import DriftCollector
from tests.support.drift import job_status
from tests.support.golden import assert_golden
from tests.unit.test_drift_monitor import CONFIG, NOW, UID, conditions, example_spec, observation

RETRAIN = Retrain.model_validate(example_spec()["retrain"])  # after 3, cooldown 24h, maxConcurrent 1


def choose(status: dict[str, Any], runs: tuple[RetrainRun, ...] = (), now: datetime = NOW) -> Any:
    return decide(monitor="credit-risk", namespace="risk", retrain=RETRAIN, status=status, runs=runs, now=now)


def test_nothing_before_after_drifted_runs_then_one_run() -> None:
    assert choose(job_status(consecutive=2)).create is None
    assert choose(job_status(drifted=False)).create is None
    choice = choose(job_status(consecutive=3))
    run = choice.create
    assert run is not None and choice.record == run["metadata"]["name"] == retrain_name("credit-risk",
                                                                                           "2026-12-01T12:15:00Z")
    assert run["metadata"]["name"].startswith("credit-risk-retrain-")
    assert "ownerReferences" not in run["metadata"], "a record, never a child: it outlives the monitor"
    assert run["metadata"]["labels"] == {"modelops.io/trigger": "drift", "modelops.io/drift-monitor": "credit-risk"}
    assert run["spec"]["nodePool"] == "gpu-a100" and run["spec"]["model"] == "credit-risk"
    tags = annotation_tags(run["metadata"]["annotations"])
    assert tags["modelops.drift.monitor"] == "risk/credit-risk"
    assert tags["modelops.drift.window"] == "2026-12-01T11:15:00Z/2026-12-01T12:15:00Z"
    assert tags["modelops.drift.statistics"] == "income/psi=0.31>0.1, income/ks=0.18>0.1"
    assert tags["modelops.drift.last_run"] == "2026-12-01T12:15:00Z"
    assert "3 consecutive" in tags["modelops.drift.reason"]


def test_the_same_evaluation_never_retrains_twice() -> None:
    first = choose(job_status(consecutive=3))
    name = first.record
    assert choose(job_status(consecutive=3), runs=(RetrainRun(name, finished=False),)).create is None
    status = {**job_status(consecutive=3), "retrainRuns": [name]}
    assert choose(status).create is None and choose(status).record == name


def test_cooldown_and_max_concurrent_hold_it_back() -> None:
    status = {**job_status(consecutive=4, last_run="2026-12-01T12:30:00Z"),
              "lastRetrain": format_time(NOW - timedelta(hours=1)), "retrainRuns": ["old"]}
    held = choose(status)
    assert held.create is None and held.throttled is not None and held.throttled[0] == "Cooldown"
    assert held.retry_after == timedelta(hours=23).total_seconds()
    assert choose(status, now=NOW + timedelta(hours=23, seconds=1)).create is not None
    busy = choose(job_status(consecutive=3), runs=(RetrainRun("other", finished=False),))
    assert busy.create is None and busy.throttled is not None and busy.throttled[0] == "MaxConcurrent"
    assert choose(job_status(consecutive=3), runs=(RetrainRun("other", finished=True),)).create is not None


@settings(deadline=None, max_examples=60)  # plans parse a spec: slow on a shared machine
@given(consecutive=st.integers(0, 10), hours_since=st.one_of(st.none(), st.floats(0, 48)),
       active=st.integers(0, 3), after=st.integers(1, 5), limit=st.integers(1, 3))
def test_never_within_cooldown_never_past_max_concurrent(consecutive: int, hours_since: float | None, active: int,
                                                        after: int, limit: int) -> None:
    retrain = RETRAIN.model_copy(update={"after": after, "max_concurrent": limit})
    status = job_status(consecutive=consecutive)
    if hours_since is not None:
        status["lastRetrain"] = format_time(NOW - timedelta(hours=hours_since))
    runs = tuple(RetrainRun(f"r{i}", finished=False) for i in range(active))
    choice = decide(monitor="m", namespace="n", retrain=retrain, status=status, runs=runs, now=NOW)
    if choice.create is not None:
        assert consecutive >= after and active < limit
        assert hours_since is None or hours_since >= 24 - 1 / 3600
    elif consecutive >= after:
        assert choice.throttled is not None


def test_recorded_runs_are_bounded_newest_last() -> None:
    runs = [f"r{i}" for i in range(20)]
    assert recorded(runs, "new") == [*runs[1:], "new"] and recorded(["a", "b"], "a") == ["b", "a"]


def test_the_plan_retrains_once_and_says_so() -> None:
    decision = plan(observation(job_status(consecutive=3)), CONFIG, NOW)
    run = decision.create_training_run
    assert run is not None
    assert decision.status["retrainRuns"] == [run["metadata"]["name"]]
    assert decision.status["lastRetrain"] == format_time(NOW)
    assert [e.reason for e in decision.events if e.type == "Normal"] == ["RetrainingStarted"]
    # The job reports the next drifted run within the cooldown: nothing created, throttled, one Event.
    later = {**decision.status, **job_status(consecutive=4, last_run="2026-12-01T12:30:00Z")}
    held = plan(observation(later), CONFIG, NOW + timedelta(minutes=15))
    assert held.create_training_run is None
    assert conditions(held.status)["RetrainingThrottled"] == ("True", "Cooldown")
    assert [e.reason for e in held.events] == ["Cooldown"]
    again = plan(observation(held.status), CONFIG, NOW + timedelta(minutes=16))
    assert again.events == [] and again.create_training_run is None


def test_annotation_tags_take_only_their_prefix() -> None:
    assert annotation_tags({"mlflow.modelops.io/a.b": "x", "modelops.io/c": "y", "mlflow.modelops.io/": "z",
                            "mlflow.modelops.io/long": "v" * 6000}) == {"a.b": "x", "long": "v" * 5000}


# ------------------------------------------------------------------------ PrometheusRule


def test_prometheus_rule_goldens() -> None:
    specs = [DriftMonitorSpec.model_validate(example_spec(i)) for i in (0, 1)]
    assert_golden("drift-prometheusrule-routed", desired_rule(Monitored("risk", "credit-risk", UID, "credit-risk"),
                                                              specs[0]))
    builtin = desired_rule(Monitored("risk", "credit-risk-v1-weekly", UID, "credit-risk", "credit-risk-v1"), specs[1])
    assert_golden("drift-prometheusrule-builtin", builtin)
    alerts = {r["alert"]: r["labels"]["severity"] for r in builtin["spec"]["groups"][0]["rules"]}
    assert alerts == {"ModelDriftSchemaMismatch": "P0", "ModelDriftNullRateSpike": "P0",
                      "ModelSlicedAccuracyDrop": "P0", "ModelLatencyP99Regression": "P1", "ModelDriftPSI": "P2",
                      "ModelAccuracyDecay": "P3"}


def test_critical_features_narrow_the_psi_alert() -> None:
    spec = example_spec(1)
    spec["features"][0]["critical"] = True
    rule = desired_rule(Monitored("risk", "m", UID, "credit-risk"), DriftMonitorSpec.model_validate(spec))
    psi = next(r for r in rule["spec"]["groups"][0]["rules"] if r["alert"] == "ModelDriftPSI")
    assert 'feature=~"income"' in psi["expr"]


# ------------------------------------------------------------------------------ gauges


def test_gauges_from_status() -> None:
    body = {"metadata": {"namespace": "risk", "name": "credit-risk"}, "status": job_status(consecutive=2)}
    body["status"]["results"].append(copy.deepcopy(body["status"]["results"][0]))  # a duplicate is exported once
    body["status"]["results"].append({"feature": "age", "statistic": "psi", "value": None, "threshold": 0.2,
                                      "drifted": False, "verdict": "Inconclusive"})
    registry = CollectorRegistry()
    registry.register(DriftCollector(lambda: [(body, "credit-risk", "credit-risk-v1"),
                                              ({"metadata": {"namespace": "risk", "name": "new"}}, "m", "")]))
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(generate_latest(registry).decode())
               for sample in family.samples}

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, tuple(sorted({"namespace": "risk", "monitor": "credit-risk", **labels}.items()))))

    series = {"model": "credit-risk", "modelversion": "credit-risk-v1"}
    assert value("modelops_feature_drift", **series, feature="income", statistic="psi") == 0.31
    assert value("modelops_feature_drift_threshold", **series, feature="income", statistic="psi") == 0.1
    assert value("modelops_feature_drift", **series, feature="age", statistic="psi") is None  # no value: no series
    assert value("modelops_feature_drift_threshold", **series, feature="age", statistic="psi") == 0.2
    assert len([k for k in samples if k[0] == "modelops_feature_drift"]) == 5  # the duplicate exported once
    assert value("modelops_drift_verdict", verdict="Drift") == 1
    assert value("modelops_drift_verdict", verdict="NoDrift") == 0
    assert value("modelops_drift_rows") == 48210 and value("modelops_drift_consecutive") == 2
    assert value("modelops_drift_last_run_timestamp_seconds") == datetime(2026, 12, 1, 12, 15, tzinfo=UTC).timestamp()
    assert not [k for k in samples if ("monitor", "new") in k[1]]  # no evaluation yet: no series
