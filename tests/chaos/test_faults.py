"""API faults: the operator talks to the API server only through tests/support/chaos_proxy.py, which
answers a seeded share of its requests with 409, 429, 500 or 503, slows others, and cuts or
silently stalls its watch streams. Under those faults a rollout still goes through its steps to
promotion, a broken candidate is still rolled back, a training run still ends registered once;
every route state (recorded by a watch that does not go through the proxy) has weights summing to
100 and no traffic on a backend that was not Ready; and every stalled watch is abandoned by the
operator within its inactivity timeout (``MODELOPS_WATCH_INACTIVITY_TIMEOUT``, kopf's
``settings.watching.inactivity_timeout``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, dynamic
from mlflow.tracking import MlflowClient

from localcluster.cluster import LocalCluster
from localcluster.dataplane import DataPlane
from localcluster.exporter import MetricsExporter
from localcluster.mlflow_server import MLflowServer
from tests.support.chaos import RouteWatch, chaos_seed, duplicates
from tests.support.chaos_proxy import FaultProxy
from tests.support.manifests import apply
from tests.support.operator import OperatorProcess
from tests.support.rollouts import ANALYSIS, BETTER, BROKEN, CHECKS, GOOD, HTTPROUTE, gateway, started_steps
from tests.support.rollouts import Env as RolloutEnv
from tests.support.training import Env as TrainingEnv
from tests.support.training import play_container, training_run
from tests.support.waiting import wait_for

KINDS = ("409", "429", "500", "503", "slow", "watch-cut", "watch-stall")
INACTIVITY = 6.0  # the operator's watch inactivity timeout under test (the default is 600 s)
WAIT = 240


@pytest.fixture()
def faulty_operator(cluster: LocalCluster, operator: OperatorProcess, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[OperatorProcess, FaultProxy]]:
    """The session's operator stopped; one with the same configuration started behind the proxy."""
    proxy = FaultProxy(cluster, chaos_seed("API faults"))
    proxy.start()
    monkeypatch.setenv("MODELOPS_WATCH_INACTIVITY_TIMEOUT", str(INACTIVITY))
    config = yaml.safe_load(operator.config_path.read_text())
    operator.stop()
    behind = OperatorProcess(cluster, tmp_path / "operator.log", config,
                             kubeconfig=proxy.proxied_kubeconfig(tmp_path / "proxied-kubeconfig"))
    try:
        behind.start(timeout=120)
        yield behind, proxy
    finally:
        behind.stop()
        proxy.stop()
        monkeypatch.delenv("MODELOPS_WATCH_INACTIVITY_TIMEOUT")
        operator.start(timeout=120)


def _flip(env: RolloutEnv, name: str, target: str) -> dict[str, Any]:
    """The SRE's instant rollback to the warm version ``target``, waited for until it serves."""
    env.patch(name, {"target": target})
    return wait_for(lambda: (s := env.status(name)).get("stable") == target and s.get("phase") == "RolledBack"
                    and s.get("traffic") == {"stable": 100, "candidate": 0, "mirror": 0} and s, WAIT,
                    f"Rollout {name} rolled back to {target}")


@pytest.mark.timeout(1200)
def test_rollouts_and_training_converge_through_api_faults_and_stalled_watches_are_noticed(
    faulty_operator: tuple[OperatorProcess, FaultProxy], api: client.ApiClient, dyn: dynamic.DynamicClient,
    namespace: str, metrics_exporter: MetricsExporter, mlflow: MlflowClient, mlflow_server: MLflowServer,
) -> None:
    behind, proxy = faulty_operator
    env, runs = RolloutEnv(dyn, api, namespace), TrainingEnv(dyn, api, namespace)
    env.patience = runs.patience = WAIT
    good, bad, trained = "ffull", "fbad", "ftrain"
    steps = [{"name": "shadow", "shadow": {"mirrorPercent": 50, "duration": "3s"}},
             {"name": "canary", "canary": {"weight": 25, "duration": "3s"}},
             {"name": "ab", "abTest": {"weight": 50, "metric": "conversion", "minSamples": 100, "maxDuration": "40s"}},
             {"name": "full", "full": {}}]
    started = time.monotonic()
    with RouteWatch(api, namespace) as seen:
        proxy.faulty = True
        for model in (good, bad):
            env.model_version(model, f"{model}-v1")
            env.model_version(model, f"{model}-v2")
        env.rollout(good, good, f"{good}-v1", gateway(good), steps, analysis=ANALYSIS)
        env.rollout(bad, bad, f"{bad}-v1", gateway(bad), [{"canary": {"weight": 30, "duration": "30s"}}],
                    analysis={"interval": "2s", "window": "6s", "checks": [CHECKS[0]]})
        apply(dyn, training_run(trained, model=trained), namespace)
        for model in (good, bad):
            env.wait_promoted(model, f"{model}-v1", timeout=WAIT)
        with DataPlane(dyn, metrics_exporter, namespace, good, (*HTTPROUTE, good),
                       {f"{good}-v1": GOOD, f"{good}-v2": BETTER}), \
                DataPlane(dyn, metrics_exporter, namespace, bad, (*HTTPROUTE, bad),
                          {f"{bad}-v1": GOOD, f"{bad}-v2": BROKEN}):
            time.sleep(2)
            for model in (good, bad):
                env.patch(model, {"target": f"{model}-v2"})
            pod = runs.running_pod(trained)
            play_container(runs, trained, mlflow_server)
            runs.release(pod, "succeed")
            rolled = env.wait_phase(bad, "RolledBack", timeout=WAIT)
            done = env.wait_promoted(good, f"{good}-v2", timeout=WAIT)
            finished = runs.wait_phase(trained, "Succeeded", timeout=WAIT)
            # The faults stay on, and the operator busy — the SRE rolling the good model back to its
            # warm version and forward again, each an instant rollback through the route — until
            # every kind of fault has been injected a few times and watches were abandoned.
            deadline, flips = time.monotonic() + WAIT, 0
            while time.monotonic() < deadline and (
                    any(proxy.injected[kind] < 2 for kind in KINDS) or len(proxy.stall_ended) < 3):
                flips += 1
                _flip(env, good, f"{good}-v1" if flips % 2 else f"{good}-v2")
            settled = _flip(env, good, f"{good}-v2") if flips % 2 else env.status(good)
        proxy.faulty = False
        time.sleep(1)
    elapsed = time.monotonic() - started
    print(f"{proxy.requests} requests through the proxy in {elapsed:.0f}s; injected: {dict(proxy.injected)}; "
          f"stalled watches abandoned after {sorted(round(s, 1) for s in proxy.stall_ended)} s")
    assert behind.running, behind.log_tail()
    for kind in KINDS:
        assert proxy.injected[kind] >= 2, f"{kind} injected fewer than twice: {dict(proxy.injected)}"
    print(f"{flips} SRE flips between the good model's versions under faults")
    # Every stalled watch the operator gave up on, it gave up within the inactivity timeout (+ slack).
    assert proxy.stall_ended, "no stalled watch was abandoned by the operator"
    assert max(proxy.stall_ended) <= INACTIVITY + 3, proxy.stall_ended
    assert rolled["stable"] == f"{bad}-v1" and rolled["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
    assert started_steps(done) == [s["name"] for s in steps]
    assert settled["stable"] == f"{good}-v2" and settled["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
    assert finished["modelVersion"] == f"{trained}-v1"
    assert seen.violations() == []
    jobs = runs.batch.list_namespaced_job(namespace).items
    assert duplicates([j.metadata.labels["modelops.io/trainingrun"] for j in jobs]) == {}
    experiment = mlflow.get_experiment_by_name(f"exp-{trained}")
    assert len(mlflow.search_runs([experiment.experiment_id])) == 1
    assert len(mlflow.search_model_versions(f"name='{trained}'")) == 1
    isvcs = env.isvcs.get(namespace=namespace).to_dict()["items"]
    mvs = env.mvs.get(namespace=namespace).to_dict()["items"]
    assert sorted(i["metadata"]["name"] for i in isvcs) == sorted(m["metadata"]["name"] for m in mvs)
