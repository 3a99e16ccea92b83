"""Each Rollout example (examples/04-07) run to its promotion on real parts, as written except for
its clock: every duration is shortened (``30m`` holds become seconds), the Rollout starts on the
example's first version and is then pointed at its target, and the model gets a unique name.

The simulated data plane (hack/localcluster/dataplane.py) plays the gateway, mesh or KServe; the tests play KServe's
status writes (tests/integration/test_rollout.py explains both). Where an example queries a metric
of its own (05's click-through on ``recommender_*_total``), the test serves that metric too, and an
example's explicit Prometheus address is pointed at the test's Prometheus.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import Counter

from localcluster.dataplane import Behaviour, DataPlane
from localcluster.exporter import MetricsExporter
from localcluster.prometheus_server import PrometheusServer
from tests.support.kserve_status import ready_status
from tests.support.rollouts import HTTPROUTE, VIRTUALSERVICE, Env, load, served, start_on_first_version, started_steps
from tests.support.waiting import wait_for


@pytest.fixture()
def suffix() -> str:
    return uuid.uuid4().hex[:5]


@pytest.fixture()
def env(rollout_env: Env) -> Env:
    return rollout_env


def test_example_04_gateway_api_full_strategy(env: Env, metrics_exporter: MetricsExporter, suffix: str) -> None:
    versions, rollout = load("04-rollout-gateway-api.yaml", suffix)
    name, route = rollout["metadata"]["name"], rollout["spec"]["trafficRouting"]["gatewayAPI"]["httpRoute"]
    rollout["spec"]["trafficRouting"]["gatewayAPI"]["httpRoute"] = route = f"{route}-{suffix}"
    # The shortened clock looks every 2s, but a candidate's series needs the mirror on the route,
    # the played data plane's next poll and two 1s scrapes before a rate over it exists: three
    # looks without data (the example's inconclusiveLimit is 2) are a loaded machine, not the
    # model. As written the example tolerates three minutes of no data; 4s looks tolerate 12s.
    rollout["spec"]["analysis"]["interval"] = "4s"
    first, target = start_on_first_version(env, versions, rollout)
    for version in (first, target):
        env.make_ready(version)
    env.wait_phase(name, "Promoted")
    model = rollout["spec"]["model"]
    # Scores around 0.1 keep the example's fraud-score-mean check (0.001-0.2) satisfied.
    champion, challenger = Behaviour(score=0.1, conversion=0.10), Behaviour(score=0.1, conversion=0.30)
    with DataPlane(env.dyn, metrics_exporter, env.namespace, model, (*HTTPROUTE, route),
                   {first: champion, target: challenger}, rate=2000) as plane:
        env.patch(name, {"target": target})
        done = env.wait_promoted(name, target, timeout=240)
        wait_for(lambda: plane.splits()[-1].of(target) == 100, 5, "the promotion on the route")
    assert done["stable"] == target and done["warm"] == [first]
    assert started_steps(done) == ["shadow", "canary-5", "canary-25", "ab-test", "full"]
    assert served(plane.splits(), first, target) == [
        (100, 0, 0), (100, 0, 100), (95, 5, 0), (75, 25, 0), (50, 50, 0), (0, 100, 0)]
    assert done["abTest"]["decision"] == "CandidateBetter"
    passed = {m["check"] for m in done["analysis"]["measurements"] if m["verdict"] == "Successful"}
    assert passed == {"error-rate", "latency-p99", "prediction-divergence", "fraud-score-mean"}


@pytest.fixture()
def click_through(metrics_exporter: MetricsExporter) -> Iterator[dict[str, float]]:
    """Serves example 05's own business metrics from the test exporter: clicks and impressions per
    version, at the click-through rate the test sets per version."""
    clicks = Counter("recommender_clicks", "clicks", ["version"], registry=metrics_exporter.registry)
    impressions = Counter("recommender_impressions", "impressions", ["version"], registry=metrics_exporter.registry)
    rates: dict[str, float] = {}
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.25):
            for version, rate in list(rates.items()):
                impressions.labels(version).inc(100)
                clicks.labels(version).inc(100 * rate)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield rates
    stop.set()
    thread.join(timeout=5)


def test_example_05_istio_with_a_pause_resumed_by_approval(
    env: Env, metrics_exporter: MetricsExporter, prometheus_server: PrometheusServer,
    click_through: dict[str, float], suffix: str,
) -> None:
    versions, rollout = load("05-rollout-istio.yaml", suffix)
    name = rollout["metadata"]["name"]
    routing = rollout["spec"]["trafficRouting"]["istio"]
    routing["virtualService"] = route = f"{routing['virtualService']}-{suffix}"
    for check in rollout["spec"]["analysis"]["checks"]:
        if "prometheus" in check and "address" in check["prometheus"]:
            check["prometheus"]["address"] = prometheus_server.url
    first, target = start_on_first_version(env, versions, rollout)
    for version in (first, target):
        env.make_ready(version)
    env.wait_phase(name, "Promoted")
    click_through[target] = 0.05  # above the example's min 0.03
    with DataPlane(env.dyn, metrics_exporter, env.namespace, rollout["spec"]["model"], (*VIRTUALSERVICE, route),
                   {first: Behaviour(), target: Behaviour()}, rate=1000) as plane:
        env.patch(name, {"target": target})
        waiting = env.wait_phase(name, "AwaitingApproval", timeout=120)
        assert f"add review@{target} to spec.approved" in waiting["message"]
        env.patch(name, {"approved": ["review"]}, manager="reviewer")
        done = env.wait_promoted(name, target, timeout=120)
        wait_for(lambda: plane.splits()[-1].of(target) == 100, 5, "the promotion on the route")
    assert done["stable"] == target
    assert served(plane.splits(), first, target) == [(100, 0, 0), (100, 0, 20), (90, 10, 0), (50, 50, 0),
                                                     (0, 100, 0)]
    passed = {m["check"] for m in done["analysis"]["measurements"] if m["verdict"] == "Successful"}
    assert passed == {"error-rate", "click-through"}


def test_example_06_kserve_canary_fields(env: Env, metrics_exporter: MetricsExporter, suffix: str) -> None:
    versions, rollout = load("06-rollout-kserve.yaml", suffix)
    name = rollout["metadata"]["name"]
    rollout["spec"]["trafficRouting"]["kserve"]["inferenceService"] = isvc = f"churn-{suffix}"
    first, target = start_on_first_version(env, versions, rollout)
    wait_for(lambda: env.get(env.isvcs, isvc), 30, "the Rollout's InferenceService")
    status = ready_status(f"http://{isvc}")
    env.isvcs.status.patch(name=isvc, namespace=env.namespace, body={"status": status},
                           content_type="application/merge-patch+json")
    env.wait_phase(name, "Promoted")
    with DataPlane(env.dyn, metrics_exporter, env.namespace, rollout["spec"]["model"],
                   ("serving.kserve.io/v1beta1", "InferenceService", isvc),
                   {first: Behaviour(), target: Behaviour()}, rate=1000) as plane:
        env.patch(name, {"target": target})
        wait_for(lambda: (i := env.get(env.isvcs, isvc)) and i["spec"].get("canary"), 30, "the candidate deployed")
        status["canaryStatuses"] = [{"name": target, "ready": True, "trafficPercent": 0}]
        env.isvcs.status.patch(name=isvc, namespace=env.namespace, body={"status": status},
                               content_type="application/merge-patch+json")
        done = env.wait_promoted(name, target, timeout=120)
        wait_for(lambda: plane.splits()[-1].of(target) == 100, 5, "the promotion on the InferenceService")
    assert done["stable"] == target and done["warm"] == [] and done["retired"] == [first]
    assert served(plane.splits(), first, target) == [(100, 0, 0), (90, 10, 0), (70, 30, 0), (40, 60, 0),
                                                     (0, 100, 0)]
    final = env.get(env.isvcs, isvc)
    assert final is not None and final["spec"]["predictor"]["name"] == target and "canary" not in final["spec"]
    wait_for(lambda: env.mv(first)["status"].get("role") == "archived", 30, "the old champion archived")


def test_example_07_serves_the_watched_model(env: Env, suffix: str) -> None:
    """07's Rollout deploys its only version as the first champion on its shared InferenceService,
    straight to full traffic (a first version has nothing to be compared with). Its DriftMonitors
    are run by the drift tests."""
    versions, rollout = load("07-driftmonitor.yaml", suffix)
    name = rollout["metadata"]["name"]
    rollout["spec"]["trafficRouting"]["kserve"]["inferenceService"] = isvc = f"credit-risk-{suffix}"
    first, target = start_on_first_version(env, versions, rollout)
    assert first == target
    wait_for(lambda: env.get(env.isvcs, isvc), 30, "the Rollout's InferenceService")
    env.isvcs.status.patch(name=isvc, namespace=env.namespace, body={"status": ready_status(f"http://{isvc}")},
                           content_type="application/merge-patch+json")
    done = env.wait_promoted(name, target, timeout=60)
    assert done["stable"] == target and done["phase"] == "Promoted"
    final = env.get(env.isvcs, isvc)
    assert final is not None and final["spec"]["predictor"]["name"] == target and "canary" not in final["spec"]
    wait_for(lambda: env.mv(target)["status"].get("role") == "champion", 30, "the version the champion")
