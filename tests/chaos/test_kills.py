"""The operator SIGKILLed at seeded random moments, restarted each time, while rollouts, training
runs and drift evaluations are in flight — 50 kills across the three tests (``KILLS``). After the
kills every object reaches the end state it would have reached without them; nothing is
duplicated (Job, MLflow run, registry version, ModelVersion, InferenceService, route, retraining
TrainingRun); and a watch over the whole run records every route state: weights always sum to 100
and never go (nor a mirror) to a backend whose InferenceService was not Ready at that revision.

Every random choice comes from the printed seed (``MODELOPS_CHAOS_SEED`` reproduces a run; the
kill moments are then the same offsets, though what they interrupt can differ with machine load).
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from kubernetes import client, dynamic
from mlflow.tracking import MlflowClient

from localcluster.dataplane import DataPlane
from localcluster.exporter import MetricsExporter
from localcluster.mlflow_server import MLflowServer
from tests.support.chaos import KILLS as TOTAL_KILLS
from tests.support.chaos import Killer, RouteWatch, chaos_seed, duplicates
from tests.support.drift import CHILDREN, RETRAIN, MonitorEnv, job_status, model_version_body, monitor_body
from tests.support.kube import API
from tests.support.manifests import apply
from tests.support.operator import OperatorProcess
from tests.support.rollouts import ANALYSIS, BETTER, BROKEN, CHECKS, GOOD, HTTPROUTE, gateway, started_steps
from tests.support.rollouts import Env as RolloutEnv
from tests.support.training import Env as TrainingEnv
from tests.support.training import play_container, training_run
from tests.support.waiting import wait_for

# 50 kills across the three tests (MODELOPS_CHAOS_KILLS): 30 in rollouts, 12 in training runs, 8
# in drift evaluations.
KILLS = {"rollouts": TOTAL_KILLS - TOTAL_KILLS // 4 - TOTAL_KILLS * 4 // 25, "training": TOTAL_KILLS // 4,
         "drift": TOTAL_KILLS * 4 // 25}
FULL_STEPS: list[dict[str, Any]] = [
    {"name": "shadow", "shadow": {"mirrorPercent": 100, "duration": "3s"}},
    {"name": "canary", "canary": {"weight": 20, "duration": "3s"}},
    {"name": "ab", "abTest": {"weight": 50, "metric": "conversion", "minSamples": 100, "maxDuration": "40s"}},
    {"name": "pause", "pause": {"duration": "3s"}},
    {"name": "full", "full": {}},
]
WAIT = 240  # a hang guard: kills every few seconds stretch every step
# Rounds (rollout cycles, training batches) go on until the kills are all spent: a quiet machine
# gets through a cycle in ~25 s and ~3 kills. The cap only bounds a run that stops killing.
MAX_ROUNDS = 24


def _rollout_moments(env: RolloutEnv, steps: dict[str, list[dict[str, Any]]]) -> list[str]:
    found = []
    for item in env.rollouts.get(namespace=env.namespace).to_dict()["items"]:
        status, name = item.get("status") or {}, item["metadata"]["name"]
        phase = status.get("phase") or "new"
        if phase == "Progressing" and status.get("currentStep") is not None:
            step = steps[name][status["currentStep"]] if status["currentStep"] < len(steps[name]) else {"full": {}}
            kind = next(k for k in step if k != "name")
            looked = any(m.get("step") == status["currentStep"]
                         for m in (status.get("analysis") or {}).get("measurements") or [])
            found.append(f"rollout {kind} step" + (", analysis under way" if looked else ""))
        else:
            found.append(f"rollout {phase}")
    return found


def _one_rollout_cycle(env: RolloutEnv, exporter: MetricsExporter, rng: Any, cycle: int,
                       steps: dict[str, list[dict[str, Any]]], killer: Killer) -> None:
    """Three models at once: A through every step kind then an SRE rollback; B a broken candidate
    rolled back by analysis; C a candidate that becomes Ready only later."""
    a, b, c = (f"{m}-c{cycle}" for m in ("kfull", "kbad", "klate"))
    killer.hold()  # the setup is not under test: the stable versions served first
    for model in (a, b, c):
        env.model_version(model, f"{model}-v1")
        env.model_version(model, f"{model}-v2", ready=model != c)
    steps[a] = FULL_STEPS
    steps[b] = [{"name": "canary", "canary": {"weight": 30, "duration": "30s"}}]
    steps[c] = [{"name": "canary", "canary": {"weight": 40, "duration": "2s"}}, {"name": "full", "full": {}}]
    env.rollout(a, a, f"{a}-v1", gateway(a), steps[a], analysis=ANALYSIS, keepWarm=1)
    env.rollout(b, b, f"{b}-v1", gateway(b), steps[b],
                analysis={"interval": "2s", "window": "6s", "checks": [CHECKS[0]]})
    env.rollout(c, c, f"{c}-v1", gateway(c), steps[c], progressDeadline="3m")
    for model in (a, b, c):
        env.wait_promoted(model, f"{model}-v1", timeout=WAIT)
    planes = [DataPlane(env.dyn, exporter, env.namespace, a, (*HTTPROUTE, a), {f"{a}-v1": GOOD, f"{a}-v2": BETTER},
                        rate=200, seed=rng.randrange(1 << 30)),
              DataPlane(env.dyn, exporter, env.namespace, b, (*HTTPROUTE, b), {f"{b}-v1": GOOD, f"{b}-v2": BROKEN},
                        rate=150, seed=rng.randrange(1 << 30))]
    with planes[0], planes[1]:
        time.sleep(2)  # the stable's history before the candidates, for the first windows
        for model in (a, b, c):
            env.patch(model, {"target": f"{model}-v2"})
        killer.release()
        time.sleep(rng.uniform(2, 6))
        wait_for(lambda: env.get(env.isvcs, f"{c}-v2"), WAIT, "the late candidate's InferenceService")
        env.make_ready(f"{c}-v2")
        rolled = env.wait_phase(b, "RolledBack", timeout=WAIT)
        assert rolled["stable"] == f"{b}-v1" and rolled["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
        assert env.wait_promoted(c, f"{c}-v2", timeout=WAIT)["traffic"]["stable"] == 100
        done = env.wait_promoted(a, f"{a}-v2", timeout=WAIT)
    assert started_steps(done) == [s["name"] for s in FULL_STEPS], "a step replayed or skipped"
    assert done["abTest"]["decision"] == "CandidateBetter"
    env.patch(a, {"target": f"{a}-v1"})  # the SRE rollback, to the version kept warm
    back = env.wait_phase(a, "RolledBack", timeout=WAIT)
    assert back["stable"] == f"{a}-v1" and back["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}


@pytest.mark.timeout(1800)  # 50 restarts of a Python process: minutes on a busy 2-core machine
def test_operator_killed_at_random_moments_of_rollouts_converges_and_never_misroutes(
    rollout_env: RolloutEnv, api: client.ApiClient, metrics_exporter: MetricsExporter, mlflow: MlflowClient,
    operator: OperatorProcess,
) -> None:
    env, rng = rollout_env, chaos_seed("rollout kills")
    env.patience = WAIT
    steps: dict[str, list[dict[str, Any]]] = {}
    started = time.monotonic()
    with RouteWatch(api, env.namespace) as seen:
        with Killer(operator, rng, lambda: _rollout_moments(env, steps), quota=KILLS["rollouts"]) as killer:
            cycle = 0
            while not killer.done and cycle < MAX_ROUNDS:
                _one_rollout_cycle(env, metrics_exporter, rng, cycle, steps, killer)
                cycle += 1
        time.sleep(1)  # the watch delivers the last states
    print(killer.summary())
    print(f"{cycle} cycles, {seen.route_states()} route states recorded, {time.monotonic() - started:.0f}s")
    assert killer.errors == []
    assert killer.kills >= KILLS["rollouts"], f"only {killer.kills} kills in {cycle} cycles"
    assert seen.violations() == []
    # Nothing duplicated: one route per Rollout, one InferenceService per ModelVersion (each owned by
    # it alone), one registry version per ModelVersion.
    routes = env.dyn.resources.get(api_version=HTTPROUTE[0], kind=HTTPROUTE[1]).get(namespace=env.namespace)
    assert sorted(r["metadata"]["name"] for r in routes.to_dict()["items"]) == sorted(steps)
    mvs = env.mvs.get(namespace=env.namespace).to_dict()["items"]
    isvcs = env.isvcs.get(namespace=env.namespace).to_dict()["items"]
    assert sorted(i["metadata"]["name"] for i in isvcs) == sorted(m["metadata"]["name"] for m in mvs)
    for isvc in isvcs:
        owners = isvc["metadata"].get("ownerReferences") or []
        assert [(o["kind"], o["name"]) for o in owners] == [("ModelVersion", isvc["metadata"]["name"])]
    for model in steps:
        versions = mlflow.search_model_versions(f"name='{model}'")
        assert sorted(v.tags.get("modelops.io/modelversion", "") for v in versions) == [f"{model}-v1", f"{model}-v2"]


def _training_moments(env: TrainingEnv) -> list[str]:
    found = []
    for item in env.runs.get(namespace=env.namespace).to_dict()["items"]:
        status = item.get("status") or {}
        phase = status.get("phase") or "new"
        if phase in ("Succeeded", "Rejected", "Failed"):
            found.append(f"training {phase}")
        elif status.get("metrics") or any(c["type"] == "Complete" for c in status.get("conditions") or []):
            found.append("training evaluating/registering")
        elif status.get("job"):
            found.append("training: MLflow run and Job exist")
        elif (status.get("mlflow") or {}).get("runId"):
            found.append("training: MLflow run, no Job yet")
        else:
            found.append("training: before the MLflow run")
    return found


def _explain_runs(env: TrainingEnv, names: dict[str, float]) -> str:
    lines = []
    for name in names:
        lines.append(f"{name}: {env.status(name)}")
        lines += [f"  pod {p.metadata.name} {p.status.phase} {p.metadata.labels}" for p in env.pods(name)]
    lines += [f"  event {e.involved_object.name} {e.reason}: {e.message}" for e in
              env.core.list_namespaced_event(env.namespace).items[-15:]]
    return "\n".join(lines)


@pytest.mark.timeout(1200)
def test_operator_killed_at_random_moments_of_training_runs_duplicates_nothing(
    training_env: TrainingEnv, mlflow: MlflowClient, mlflow_server: MLflowServer, operator: OperatorProcess,
) -> None:
    env, rng = training_env, chaos_seed("training kills")
    env.patience = WAIT
    started, outcomes = time.monotonic(), {}
    with Killer(operator, rng, lambda: _training_moments(env), interval=(3.0, 8.0), quota=KILLS["training"]) as killer:
        batch = 0
        while not killer.done and batch < MAX_ROUNDS:
            names = {f"kgood-{batch}": 0.0, f"kpoor-{batch}": 0.45}
            for name in names:
                apply(env.dyn, training_run(name, model=name), env.namespace)
            if rng.random() < 0.3:
                killer.nudge(0.5)  # before the MLflow run and the Job exist
            try:
                for name, degrade in names.items():
                    pod = env.running_pod(name)
                    play_container(env, name, mlflow_server, degrade=degrade)
                    env.release(pod, "succeed")
                for name, degrade in names.items():
                    outcomes[name] = env.wait_phase(name, "Rejected" if degrade else "Succeeded", timeout=WAIT)
            except AssertionError as error:
                raise AssertionError(f"{error}\n{killer.summary()}\n{_explain_runs(env, names)}\n"
                                     f"operator log:\n{operator.log_tail(60)}") from None
            batch += 1
    print(killer.summary())
    print(f"{batch} batches of 2 runs, {time.monotonic() - started:.0f}s")
    assert killer.errors == []
    assert killer.kills >= KILLS["training"], f"only {killer.kills} kills in {batch} batches"
    jobs = env.batch.list_namespaced_job(env.namespace).items
    assert duplicates([j.metadata.labels["modelops.io/trainingrun"] for j in jobs]) == {}
    mvs = env.mvs.get(namespace=env.namespace).to_dict()["items"]
    assert sorted(m["spec"]["lineage"]["trainingRun"] for m in mvs) == sorted(n for n in outcomes if "good" in n)
    assert len(env.runs.get(namespace=env.namespace).to_dict()["items"]) == len(outcomes)
    for name, status in outcomes.items():
        uid = env.run(name)["metadata"]["uid"]
        experiment = mlflow.get_experiment_by_name(f"exp-{name}")
        runs = mlflow.search_runs([experiment.experiment_id], filter_string=f"tags.`modelops.io/uid` = '{uid}'")
        assert len(runs) == 1, f"{name}: {len(runs)} MLflow runs"
        versions = mlflow.search_model_versions(f"name='{name}'")
        assert len(versions) == (1 if "good" in name else 0), f"{name}: {len(versions)} registry versions"
        if "good" in name:
            assert status["modelVersion"] == f"{name}-v1"


def _drift_moments(env: MonitorEnv) -> list[str]:
    found = []
    for item in env.resource(API, "DriftMonitor").get(namespace=env.name).to_dict()["items"]:
        status = item.get("status") or {}
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
        if status.get("retrainRuns"):
            found.append("drift: retraining created")
        elif (status.get("consecutiveDrifted") or 0) >= 2:
            found.append("drift: drifted twice, retraining being created")
        elif status.get("lastRun"):
            found.append("drift: the job's first result written")
        elif ready:
            found.append("drift: children applied, awaiting the job")
        else:
            found.append("drift: before its children")
    return found


@pytest.mark.timeout(1200)
def test_operator_killed_at_random_moments_of_drift_evaluations_retrains_exactly_once(
    dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str, operator: OperatorProcess,
) -> None:
    """Each monitor's job (played: its status write, as in tests/integration/test_driftmonitor.py)
    reports drift, then drift again — ``retrain.after: 2`` — while the operator is killed: each
    monitor gets its children once and exactly one retraining TrainingRun, recorded in its status."""
    env, rng = MonitorEnv(dyn, api, namespace), chaos_seed("drift kills")
    monitors: list[str] = []
    started = time.monotonic()
    with Killer(operator, rng, lambda: _drift_moments(env), quota=KILLS["drift"]) as killer:
        batch = 0
        while not killer.done and batch < MAX_ROUNDS:
            names = [f"kdrift-{batch}-{i}" for i in range(3)]
            for name in names:
                env.apply(model_version_body(f"{name}-v1", name))
                retrain = copy.deepcopy(RETRAIN)
                retrain["template"]["spec"].update(model=name, nodePool="cpu", tracking={"experiment": f"exp-{name}"})
                env.apply(monitor_body(name, {"kind": "ModelVersion", "name": f"{name}-v1"}, name, retrain=retrain))
            for name in names:
                env.wait_condition("DriftMonitor", name, "Ready", "True", "ChildrenApplied", timeout=WAIT)
                env.write_as_job(name, job_status(consecutive=1, last_run="2026-12-01T12:15:00Z",
                                                  served=f"{name}-v1"))
            time.sleep(rng.uniform(0, 3))
            for name in names:
                env.write_as_job(name, job_status(consecutive=2, last_run="2026-12-01T12:30:00Z",
                                                  served=f"{name}-v1"))
            if rng.random() < 0.5:
                killer.nudge(0.5)  # while the retraining runs are being created
            for name in names:
                wait_for(lambda n=name: env.status("DriftMonitor", n).get("retrainRuns"), WAIT,
                         f"{name}'s retraining run in its status")
            monitors += names
            batch += 1
    print(killer.summary())
    print(f"{batch} batches of 3 monitors, {time.monotonic() - started:.0f}s")
    assert killer.errors == []
    assert killer.kills >= KILLS["drift"], f"only {killer.kills} kills in {batch} batches"
    time.sleep(3)  # a duplicate made by a reconcile under way at the end would show by now
    for name in monitors:
        runs = [r["metadata"]["name"] for r in env.training_runs(name)]
        assert len(runs) == 1, f"{name}: retraining runs {runs}"
        assert env.status("DriftMonitor", name)["retrainRuns"] == runs
        for api_version, kind, pattern in CHILDREN:
            child = env.get(api_version, kind, pattern.format(name))
            assert child is not None, f"{name}: no {kind}"
            assert [o["name"] for o in child["metadata"]["ownerReferences"]] == [name]
    jobs = client.BatchV1Api(api).list_namespaced_job(namespace).items
    assert duplicates([j.metadata.labels.get("modelops.io/trainingrun", j.metadata.name) for j in jobs]) == {}

