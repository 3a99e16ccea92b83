"""The real dependencies stopped under the operator: Prometheus mid-rollout (missing data never
promotes: Error looks, then Inconclusive and a hold that keeps the split; once Prometheus is back a
human's resume measures the step again and the rollout promotes), MLflow mid-training (the run
stays Running, never Failed; when MLflow returns it is evaluated and registered once) and
mid-promotion (traffic and phase go on without it, ``RegistrySynced=False``, then healed: the
champion alias moves, nothing is registered twice). A route watch judges every route state of each
test (weights sum to 100, never traffic on a backend that was not Ready).
"""

from __future__ import annotations

import time

from kubernetes import client
from mlflow.tracking import MlflowClient

from localcluster.dataplane import DataPlane
from localcluster.exporter import MetricsExporter
from localcluster.mlflow_server import MLflowServer
from localcluster.prometheus_server import PrometheusServer
from tests.support.chaos import RouteWatch
from tests.support.manifests import apply
from tests.support.names import unique
from tests.support.rollouts import ANALYSIS, CHECKS, GOOD, HTTPROUTE, alias_version, gateway
from tests.support.rollouts import Env as RolloutEnv
from tests.support.training import Env as TrainingEnv
from tests.support.training import play_container, training_run
from tests.support.waiting import wait_for

OUTAGE = 15.0  # seconds a dependency stays down: longer than a step, many analysis intervals


def _condition(status: dict, kind: str) -> dict | None:  # type: ignore[type-arg]
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def test_prometheus_stopped_mid_rollout_holds_without_promoting_and_resumes_when_back(
    rollout_env: RolloutEnv, api: client.ApiClient, metrics_exporter: MetricsExporter,
    prometheus_server: PrometheusServer,
) -> None:
    env, model = rollout_env, unique("pdown")
    v1, v2 = env.model_version(model, f"{model}-v1"), env.model_version(model, f"{model}-v2")
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 20, "duration": "8s"}}, {"full": {}}],
                analysis={**ANALYSIS, "checks": [CHECKS[0]], "consecutiveErrorLimit": 2})
    env.wait_promoted(model, v1)
    with RouteWatch(api, env.namespace) as seen, DataPlane(env.dyn, metrics_exporter, env.namespace, model,
                                                          (*HTTPROUTE, model), {v1: GOOD, v2: GOOD}):
        env.patch(model, {"target": v2})
        env.wait_step(model, 0, timeout=60)
        wait_for(lambda: any(m["verdict"] == "Successful" for m in
                             (env.status(model).get("analysis") or {}).get("measurements", [])), 60, "a first look")
        prometheus_server.stop()
        try:
            held = env.wait_phase(model, "Paused", timeout=60)
            time.sleep(OUTAGE)  # past the step's 8 s: missing data must not promote
            during = env.status(model)
        finally:
            prometheus_server.start()
        assert _condition(held, "Progressing")["reason"] == "AnalysisInconclusive"  # type: ignore[index]
        assert during["phase"] == "Paused" and during["stable"] == v1 and during["candidate"] == v2
        assert during["traffic"] == {"stable": 80, "candidate": 20, "mirror": 0}  # the hold keeps the split
        errors = [m for m in during["analysis"]["measurements"] if m["verdict"] == "Error"]
        assert errors, "no Error measurement while Prometheus was down"
        time.sleep(4)  # Prometheus scrapes again: windows with data
        env.patch(model, {"paused": True})  # the human's resume: pause, then unpause
        env.wait_phase(model, "Paused")
        env.patch(model, {"paused": False})
        done = env.wait_promoted(model, v2, timeout=120)
        time.sleep(1)
    assert any(h["reason"] == "StepRetried" for h in done["history"]), done["history"]
    assert seen.violations() == []


def test_mlflow_stopped_mid_training_leaves_it_running_and_registers_once_when_back(
    training_env: TrainingEnv, mlflow: MlflowClient, mlflow_server: MLflowServer,
) -> None:
    env, name = training_env, unique("mdown")
    apply(env.dyn, training_run(name, model=name), env.namespace)
    pod = env.running_pod(name)
    play_container(env, name, mlflow_server)  # the container logs its metrics while MLflow is up
    mlflow_server.stop()
    try:
        env.release(pod, "succeed")  # the Job completes while MLflow is down: evaluation must wait
        deadline = time.monotonic() + OUTAGE
        while time.monotonic() < deadline:
            assert env.status(name).get("phase") == "Running", env.status(name)
            time.sleep(1)
    finally:
        mlflow_server.start()
    done = env.wait_phase(name, "Succeeded", timeout=180)
    uid = env.run(name)["metadata"]["uid"]
    experiment = mlflow.get_experiment_by_name(f"exp-{name}")
    assert len(mlflow.search_runs([experiment.experiment_id],
                                  filter_string=f"tags.`modelops.io/uid` = '{uid}'")) == 1
    assert len(mlflow.search_model_versions(f"name='{name}'")) == 1
    assert done["modelVersion"] == f"{name}-v1"
    jobs = env.batch.list_namespaced_job(env.namespace, label_selector=f"modelops.io/trainingrun={name}").items
    assert len(jobs) == 1


def test_mlflow_stopped_mid_promotion_moves_traffic_and_heals_the_registry_when_back(
    rollout_env: RolloutEnv, api: client.ApiClient, mlflow: MlflowClient, mlflow_server: MLflowServer,
) -> None:
    env, model = rollout_env, unique("mpromo")
    v1, v2 = env.model_version(model, f"{model}-v1"), env.model_version(model, f"{model}-v2")
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 30, "duration": "3s"}}, {"full": {}}])
    env.wait_promoted(model, v1)
    wait_for(lambda: alias_version(mlflow, model, "champion") == env.mv(v1)["status"]["registry"]["version"], 60,
             "alias champion on v1")
    with RouteWatch(api, env.namespace) as seen:
        env.patch(model, {"target": v2})
        env.wait_step(model, 0, timeout=60)
        mlflow_server.stop()
        try:
            promoted = env.wait_promoted(model, v2, timeout=90)  # traffic does not wait for the registry
            synced = wait_for(lambda: (c := _condition(env.status(model), "RegistrySynced")) and
                              c["status"] == "False" and c, 60, "RegistrySynced=False while MLflow is down")
        finally:
            mlflow_server.start()
        assert promoted["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
        wait_for(lambda: (c := _condition(env.status(model), "RegistrySynced")) and c["status"] == "True", 120,
                 "RegistrySynced=True once MLflow is back")
        time.sleep(1)
    print(f"RegistrySynced=False while down: {synced.get('reason')}: {synced.get('message')}")
    assert alias_version(mlflow, model, "champion") == env.mv(v2)["status"]["registry"]["version"]
    versions = mlflow.search_model_versions(f"name='{model}'")
    assert sorted(v.tags.get("modelops.io/modelversion", "") for v in versions) == [v1, v2]
    assert env.status(model)["phase"] == "Promoted"
    assert seen.violations() == []
