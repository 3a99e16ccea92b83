"""DriftMonitor against real parts: the local control plane (its garbage collector and CronJob
controller), the operator as a subprocess with its /metrics, and a real `mlflow server`.

Most tests play the drift job: they write job-shaped results into the monitor's status as the job
does — one merge patch with field manager ``modelops-drift-job`` (tests/fixtures/drift-job-status.yaml
pins the wire format) — and checks what the operator makes of them: gauges, conditions, and
exactly one retraining TrainingRun per cooldown; and that its own status writes never drop or take
over the job's keys. The last test runs the real job over Parquet the real log sink wrote.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, dynamic
from mlflow.tracking import MlflowClient

from localcluster.cluster import LocalCluster
from localcluster.logsink_server import LogSinkServer
from tests.support import drift_job as dj
from tests.support.drift import CHILDREN, JOB_KEYS, JOB_MANAGER, RETRAIN, job_status, model_version_body, monitor_body
from tests.support.drift import MonitorEnv as Env
from tests.support.kube import API
from tests.support.logsink import predictions
from tests.support.names import unique
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for


@pytest.fixture()
def env(dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str, operator: OperatorProcess) -> Env:
    return Env(dyn, api, namespace)


def test_example_monitors_own_their_children_and_lose_them_with_them(env: Env) -> None:
    model = unique("credit")
    for doc in env.example(model):
        env.apply(doc)
    for monitor in ("credit-risk", "credit-risk-v1-weekly"):
        ready = env.wait_condition("DriftMonitor", monitor, "Ready", "True", "ChildrenApplied")
        assert f"CronJob {monitor}-drift" in ready["message"]
        uid = env.monitor(monitor)["metadata"]["uid"]
        for api_version, kind, pattern in CHILDREN:
            child = env.get(api_version, kind, pattern.format(monitor))
            assert child is not None, f"{kind} of {monitor}"
            (owner,) = child["metadata"]["ownerReferences"]
            assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == ("DriftMonitor", monitor,
                                                                                         uid, True)
            assert {m["manager"] for m in child["metadata"]["managedFields"]} == {"modelops"}
        assert env.condition("DriftMonitor", monitor, "Evaluated")["reason"] == "AwaitingFirstRun"
    cron = env.get("batch/v1", "CronJob", "credit-risk-drift")
    assert cron is not None
    spec = cron["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("*/15 * * * *", "Etc/UTC", "Forbid")
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "credit-risk-drift-job"
    assert pod["containers"][0]["args"] == ["--namespace", env.name, "--monitor", "credit-risk"]
    role = env.get("rbac.authorization.k8s.io/v1", "Role", "credit-risk-drift-job")
    assert role is not None and {v for r in role["rules"] for v in r["verbs"]} == {"get", "patch"}
    rule = env.get("monitoring.coreos.com/v1", "PrometheusRule", "credit-risk-drift")
    assert rule is not None
    alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert alerts["ModelDriftRoutePsiP2"]["labels"] == {"team": "risk", "severity": "P2"}
    assert f'model="{model}"' in alerts["ModelLatencyP99Regression"]["expr"]
    # A CronJob deleted by hand comes back (its deletion wakes the monitor).
    env.delete("batch/v1", "CronJob", "credit-risk-drift")
    wait_for(lambda: (c := env.get("batch/v1", "CronJob", "credit-risk-drift")) and
             c["metadata"]["uid"] != cron["metadata"]["uid"], 30, "the CronJob put back")
    # Deleting the monitor lets the garbage collector take every child.
    env.delete(API, "DriftMonitor", "credit-risk-v1-weekly")
    for api_version, kind, pattern in CHILDREN:
        wait_for(lambda a=api_version, k=kind, p=pattern: env.get(a, k, p.format("credit-risk-v1-weekly")) is None,
                 60, f"the {kind} to be garbage-collected")






@pytest.mark.parametrize(("field", "value", "reason"), [
    ("schedule", "*/15 * * * 9", "InvalidSchedule"),
    ("timeZone", "Mars/Olympus_Mons", "UnknownTimeZone"),
    ("retrain", None, "UnknownNodePool"),
])
def test_bad_input_is_refused_naming_the_field(env: Env, field: str, value: Any, reason: str) -> None:
    model = unique("bad")
    env.apply(model_version_body(f"{model}-v1", model))
    spec: dict[str, Any] = {field: value} if value is not None else {"retrain": copy.deepcopy(RETRAIN)}
    env.apply(monitor_body("bad", {"kind": "ModelVersion", "name": f"{model}-v1"}, model, **spec))
    accepted = env.wait_condition("DriftMonitor", "bad", "Accepted", "False", reason)
    named = "spec.retrain.template.spec.nodePool" if field == "retrain" else f"spec.{field}"
    assert named in accepted["message"]
    env.one_warning("bad", reason)
    assert env.get("batch/v1", "CronJob", "bad-drift") is None, "nothing is applied for a refused spec"


def test_a_model_ref_to_nothing_heals_when_it_appears(env: Env) -> None:
    model = unique("late")
    env.apply(monitor_body("late", {"kind": "Rollout", "name": model}, model))
    accepted = env.wait_condition("DriftMonitor", "late", "Accepted", "False", "ModelRefNotFound")
    assert f"spec.modelRef: Rollout {model} does not exist" in accepted["message"]
    env.one_warning("late", "ModelRefNotFound")
    env.apply(model_version_body(f"{model}-v1", model))
    env.apply({"apiVersion": API, "kind": "Rollout", "metadata": {"name": model},
               "spec": {"model": model, "target": f"{model}-v1", "steps": [{"full": {}}],
                        "trafficRouting": {"kserve": {"inferenceService": model}}}})
    env.wait_condition("DriftMonitor", "late", "Accepted", "True", "Valid", timeout=30)
    env.wait_condition("DriftMonitor", "late", "Ready", "True", "ChildrenApplied")


def _gauges(operator: OperatorProcess, namespace: str, monitor: str) -> dict[str, float]:
    marker = f'monitor="{monitor}"'
    return {k: v for k, v in operator.metrics().items() if marker in k and f'namespace="{namespace}"' in k}


def test_job_results_become_gauges_conditions_and_one_retraining_per_cooldown(
        env: Env, operator: OperatorProcess, mlflow: MlflowClient) -> None:
    model = unique("drifty")
    version = f"{model}-v1"
    env.apply(model_version_body(version, model))
    retrain = copy.deepcopy(RETRAIN)
    retrain["template"]["spec"].update(model=model, nodePool="cpu", tracking={"experiment": f"exp-{model}"})
    env.apply(monitor_body("drifty", {"kind": "ModelVersion", "name": version}, model, retrain=retrain))
    env.wait_condition("DriftMonitor", "drifty", "Ready", "True", "ChildrenApplied")

    # First drifted evaluation: gauges, Evaluated, no retraining yet (after: 2).
    first = job_status(consecutive=1, last_run="2026-12-01T12:15:00Z", served=version)
    env.write_as_job("drifty", first)
    env.wait_condition("DriftMonitor", "drifty", "Evaluated", "True", "DriftDetected")
    series = f'feature="income",model="{model}",modelversion="{version}",monitor="drifty"'

    def gauges() -> dict[str, float] | None:
        found = _gauges(operator, env.name, "drifty")
        return found if any("modelops_feature_drift{" in k for k in found) else None

    found = wait_for(gauges, 30, "the drift gauges on the operator's /metrics")
    psi = next(v for k, v in found.items() if k.startswith("modelops_feature_drift{") and series in k
               and 'statistic="psi"' in k)
    assert psi == 0.31
    assert any(k.startswith("modelops_feature_drift_threshold{") and v == 0.1 for k, v in found.items())
    assert found[f'modelops_drift_verdict{{monitor="drifty",namespace="{env.name}",verdict="Drift"}}'] == 1
    assert found[f'modelops_drift_rows{{monitor="drifty",namespace="{env.name}"}}'] == 48210
    assert found[f'modelops_drift_consecutive{{monitor="drifty",namespace="{env.name}"}}'] == 1
    assert found[f'modelops_drift_last_run_timestamp_seconds{{monitor="drifty",namespace="{env.name}"}}'] > 1.7e9
    time.sleep(2)
    assert env.training_runs("drifty") == []

    # Second drifted evaluation in a row: exactly one TrainingRun, a record with the reason.
    env.write_as_job("drifty", job_status(consecutive=2, last_run="2026-12-01T12:30:00Z", served=version))
    runs = wait_for(lambda: env.training_runs("drifty"), 30, "the retraining TrainingRun")
    (run,) = runs
    name = run["metadata"]["name"]
    assert name.startswith("drifty-retrain-") and not run["metadata"].get("ownerReferences")
    assert run["metadata"]["labels"]["team"] == "risk" and run["spec"]["model"] == model
    annotations = run["metadata"]["annotations"]
    assert annotations["mlflow.modelops.io/modelops.drift.statistics"] == "income/psi=0.31>0.1, income/ks=0.18>0.1"
    status = wait_for(lambda: (s := env.status("DriftMonitor", "drifty")).get("retrainRuns") and s, 30,
                      "status.retrainRuns")
    assert status["retrainRuns"] == [name] and status["lastRetrain"]
    assert [e.type for e in env.events("DriftMonitor", "drifty", "RetrainingStarted")] == ["Normal"]
    # The reason reaches MLflow as tags of the run the TrainingRun starts.
    run_id = wait_for(lambda: (env.status("TrainingRun", name).get("mlflow") or {}).get("runId"), 60,
                      "the retraining run's MLflow run")
    tags = mlflow.get_run(run_id).data.tags
    assert tags["modelops.drift.monitor"] == f"{env.name}/drifty"
    assert tags["modelops.drift.window"] == "2026-12-01T11:15:00Z/2026-12-01T12:15:00Z"

    # A third drifted evaluation within the cooldown: nothing new, throttled, said once.
    third = job_status(consecutive=3, last_run="2026-12-01T12:45:00Z", served=version)
    env.write_as_job("drifty", third)
    throttled = env.wait_condition("DriftMonitor", "drifty", "RetrainingThrottled", "True", "Cooldown")
    assert "spec.retrain.cooldown (1h)" in throttled["message"]
    time.sleep(3)
    assert [r["metadata"]["name"] for r in env.training_runs("drifty")] == [name]

    # The operator's writes never dropped or rewrote a key of the job's, and never took one over.
    monitor = env.monitor("drifty")
    assert {k: monitor["status"][k] for k in JOB_KEYS} == third
    status_managers = {m["manager"]: m for m in monitor["metadata"]["managedFields"]
                       if m.get("subresource") == "status"}
    ours = status_managers["modelops"]["fieldsV1"]["f:status"]
    theirs = status_managers[JOB_MANAGER]["fieldsV1"]["f:status"]
    assert {f"f:{k}" for k in JOB_KEYS} <= set(theirs)
    assert not {f"f:{k}" for k in JOB_KEYS} & set(ours), set(ours)

    # Inconclusive is never a pass.
    env.write_as_job("drifty", job_status(drifted=False, verdict="Inconclusive", served=version))
    evaluated = env.wait_condition("DriftMonitor", "drifty", "Evaluated", "False", "InsufficientData")
    assert evaluated["message"] == "no result drifted"


def test_the_real_drift_job_drives_the_operator(env: Env, operator: OperatorProcess, cluster: LocalCluster,
                                                tmp_path: Path) -> None:
    """Not played: real KServe-format calls through the real log sink into Parquet, the real
    ``python -m modelops.drift_job`` (as the CronJob's Pod runs it) over them, and the operator
    turning its reports into gauges, conditions and exactly one retraining per cooldown."""
    model = unique("loop")
    version = f"{model}-v3"
    snapshot = dj.write_snapshot(tmp_path / "train.parquet", dj.rows(2000, seed=20))
    shifted = dj.rows(800, seed=21, shift=1.0)
    traffic = [dataclasses.replace(call, model=model, modelversion=version)
               for call in dj.calls(shifted, datetime.now(UTC) - timedelta(minutes=50), timedelta(seconds=3),
                                    namespace=env.name)]
    with LogSinkServer(tmp_path / "sink", config={"flushInterval": "200ms"}) as sink:
        dj.post_traffic(sink.url, traffic)
        wait_for(lambda: predictions(sink.store).num_rows >= len(traffic) or None, 120, "every call in Parquet")
    mv = dj.model_version(version, training_data=str(snapshot))
    mv["spec"].update(model=model, serving={"enabled": False})
    env.apply(mv)
    monitor = dj.drift_monitor("real", reference={"snapshotUri": str(snapshot)}, window="2h",
                               statistics=("psi", "ks", "nullRate", "schema"),
                               model_ref={"kind": "ModelVersion", "name": version})
    retrain = copy.deepcopy(RETRAIN)
    retrain["template"]["spec"].update(model=model, nodePool="cpu", tracking={"experiment": f"exp-{model}"})
    monitor["spec"].update(schedule="*/15 * * * *", retrain=retrain)
    env.apply(monitor)
    env.wait_condition("DriftMonitor", "real", "Ready", "True", "ChildrenApplied")

    def evaluate(expected_consecutive: int) -> dict[str, Any]:
        done = dj.run_job(env.name, "real", str(sink.store), cluster.kubeconfig)
        assert done.returncode == 0, done.stderr
        status = env.status("DriftMonitor", "real")
        assert status["verdict"] == "Drift" and status["consecutiveDrifted"] == expected_consecutive, status
        assert status["rowsSeen"] == len(traffic) and status["servedModelVersion"] == version
        return status

    first = evaluate(1)
    env.wait_condition("DriftMonitor", "real", "Evaluated", "True", "DriftDetected")
    psi = dj.results_by_key(first)[("amount", "psi")]
    assert psi["drifted"] and psi["value"] > psi["threshold"]
    series = f'feature="amount",model="{model}",modelversion="{version}",monitor="real"'
    gauges = wait_for(lambda: (found := _gauges(operator, env.name, "real")) and any(
        series in k and 'statistic="psi"' in k for k in found) and found, 30, "the job's values as gauges")
    assert next(v for k, v in gauges.items() if k.startswith("modelops_feature_drift{") and series in k
                and 'statistic="psi"' in k) == pytest.approx(psi["value"])
    time.sleep(2)
    assert env.training_runs("real") == []

    evaluate(2)  # drift on `after: 2` runs in a row: one retraining
    (run,) = wait_for(lambda: env.training_runs("real"), 30, "the retraining TrainingRun")
    assert run["spec"]["model"] == model and not run["metadata"].get("ownerReferences")
    evaluate(3)  # within the cooldown: nothing new
    env.wait_condition("DriftMonitor", "real", "RetrainingThrottled", "True", "Cooldown")
    time.sleep(3)
    assert [r["metadata"]["name"] for r in env.training_runs("real")] == [run["metadata"]["name"]]
