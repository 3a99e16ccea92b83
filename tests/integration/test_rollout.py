"""Rollouts against real parts: the local control plane with the real Gateway API, Istio and KServe
CRDs, the operator as a subprocess, a real `mlflow server`, and a real Prometheus scraping a test
exporter. No KServe controller or gateway runs here, so the tests play them: they write each
InferenceService's status in KServe's own format (a ModelVersion is Ready when its predictor is),
and a simulated data plane (hack/localcluster/dataplane.py) sends requests by the weights the
route object really carries and records what each version answered, which Prometheus scrapes and
the operator's analysis reads.

Each test names what it proves: the full strategy through shadow, canary, A/B and promotion with
the HTTPRoute checked at every step and the MLflow aliases at the end; an automatic rollback on a
bad candidate; Prometheus stopped mid-analysis (never a promotion); the SRE rollback by patching
``spec.target``, timed; abort; pause; approval; the Istio VirtualService at each step; the kserve
router; the operator killed mid-canary; keepWarm retiring a version; deleting a Rollout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from localcluster.dataplane import DataPlane
from localcluster.exporter import MetricsExporter
from localcluster.prometheus_server import PrometheusServer
from tests.support.kserve_status import ready_status
from tests.support.names import unique
from tests.support.operator import OperatorProcess
from tests.support.rollouts import (
    ANALYSIS,
    BETTER,
    BROKEN,
    CHECKS,
    GOOD,
    HTTPROUTE,
    VIRTUALSERVICE,
    Env,
    alias_version,
    gateway,
    served,
    started_steps,
)
from tests.support.waiting import wait_for


@pytest.fixture()
def env(rollout_env: Env) -> Env:
    return rollout_env


@pytest.fixture()
def serving_v1(env: Env, metrics_exporter: MetricsExporter) -> Iterator[tuple[str, str, str]]:
    """A model with v1 serving through an HTTPRoute and v2 Ready: (model, v1, v2)."""
    model = unique("fraud")
    v1, v2 = env.model_version(model, f"{model}-v1"), env.model_version(model, f"{model}-v2")
    yield model, v1, v2


# ------------------------------------------------------------------------------ the strategy


def test_full_strategy_shadow_canary_ab_full_with_the_route_checked_at_every_step(
    env: Env, metrics_exporter: MetricsExporter, mlflow: MlflowClient, serving_v1: tuple[str, str, str]
) -> None:
    model, v1, v2 = serving_v1
    steps = [
        {"name": "shadow", "shadow": {"mirrorPercent": 100, "duration": "6s"}},
        {"name": "canary-5", "canary": {"weight": 5, "duration": "6s"}},
        {"name": "canary-25", "canary": {"weight": 25, "duration": "6s"}},
        {"name": "ab-test", "abTest": {"weight": 50, "metric": "conversion", "minSamples": 100, "maxDuration": "2m"}},
        {"name": "full", "full": {}},
    ]
    env.rollout(model, model, v1, gateway(model), steps, analysis=ANALYSIS, keepWarm=1)
    first = env.wait_phase(model, "Promoted")
    assert first["stable"] == v1 and first["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
    wait_for(lambda: alias_version(mlflow, model, "champion") == env.mv(v1)["status"]["registry"]["version"], 30,
             "alias champion on v1")

    with DataPlane(env.dyn, metrics_exporter, env.namespace, model, (*HTTPROUTE, model),
                   {v1: GOOD, v2: BETTER}) as plane:
        time.sleep(2)  # the stable's history before the rollout, for the first windows
        env.patch(model, {"target": v2})
        shadow = env.wait_step(model, 0)
        assert shadow["phase"] == "Progressing" and shadow["candidate"] == v2
        route = env.route(HTTPROUTE, model)
        assert route is not None
        stage = [f for f in route["spec"]["rules"][-1]["filters"] if f["type"] == "RequestHeaderModifier"]
        assert stage[0]["requestHeaderModifier"]["set"] == [{"name": "x-modelops-stage", "value": f"{model}/shadow"}]
        mirror = [f for f in route["spec"]["rules"][-1].get("filters") or [] if f["type"] == "RequestMirror"]
        assert mirror and mirror[0]["requestMirror"]["percent"] == 100
        assert mirror[0]["requestMirror"]["backendRef"]["name"] == f"{v2}-predictor"
        wait_for(lambda: alias_version(mlflow, model, "challenger") == env.mv(v2)["status"]["registry"]["version"],
                 30, "alias challenger on v2 while in flight")
        done = env.wait_promoted(model, v2, timeout=150)
        time.sleep(1)  # the data plane reads the route every 0.25 s

    assert done["stable"] == v2 and "candidate" not in done and done["warm"] == [v1]
    assert served(plane.splits(), v1, v2) == [
        (100, 0, 0), (100, 0, 100), (95, 5, 0), (75, 25, 0), (50, 50, 0), (0, 100, 0)]
    assert started_steps(done) == ["shadow", "canary-5", "canary-25", "ab-test", "full"]
    ab = done["abTest"]
    assert ab["decision"] == "CandidateBetter" and ab["candidate"]["samples"] >= 100 and ab["pValue"] <= 0.05
    checks = {m["check"] for m in done["analysis"]["measurements"] if m["verdict"] == "Successful"}
    assert checks == {c["name"] for c in CHECKS}
    assert alias_version(mlflow, model, "champion") == env.mv(v2)["status"]["registry"]["version"]
    wait_for(lambda: alias_version(mlflow, model, "challenger") is None, 30, "challenger cleared")
    synced = [c for c in done["conditions"] if c["type"] == "RegistrySynced"]
    assert synced and synced[0]["status"] == "True"
    # The roles follow: v2 champion, v1 previous (kept warm, still served).
    wait_for(lambda: env.mv(v2)["status"].get("role") == "champion", 30, "v2 champion")
    wait_for(lambda: env.mv(v1)["status"].get("role") == "previous", 30, "v1 previous")
    assert env.get(env.isvcs, v1) is not None


def test_a_bad_candidate_is_rolled_back_automatically_at_its_first_measurement(
    env: Env, metrics_exporter: MetricsExporter, mlflow: MlflowClient, serving_v1: tuple[str, str, str]
) -> None:
    model, v1, v2 = serving_v1
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 50, "duration": "1m"}}],
                analysis={"interval": "2s", "window": "6s", "checks": [CHECKS[0]]})
    env.wait_phase(model, "Promoted")
    with DataPlane(env.dyn, metrics_exporter, env.namespace, model, (*HTTPROUTE, model),
                   {v1: GOOD, v2: BROKEN}) as plane:
        env.patch(model, {"target": v2})
        started = env.wait_step(model, 0)
        rolled = env.wait_phase(model, "RolledBack", timeout=30)
        time.sleep(1)
    assert rolled["stable"] == v1 and rolled["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
    failed = [m for m in rolled["analysis"]["measurements"] if m["verdict"] == "Failed"]
    assert failed and failed[-1]["check"] == "error-rate" and failed[-1]["value"] > 0.05
    assert "error-rate" in rolled["message"] and "above max 0.05" in rolled["message"]
    # Within one analysis interval of the first look that had data: at most two looks were taken.
    looks = [m for m in rolled["analysis"]["measurements"] if m.get("step") == 0]
    assert len(looks) <= 2, looks
    entry = next(h for h in rolled["history"] if h["to"] == "RolledBack")
    assert entry["reason"] == "AnalysisFailed" and entry["actor"] == "operator"
    assert started["stepStartedAt"] <= entry["time"]
    assert served(plane.splits(), v1, v2)[-1] == (100, 0, 0)
    assert any(e.reason == "AnalysisFailed" and e.type == "Warning" for e in env.events(model))
    version = env.mv(v2)["status"]["registry"]["version"]
    tags = wait_for(lambda: (t := mlflow.get_model_version(model, version).tags).get("modelops.rollout.outcome")
                    and t, 30, "the failure tag on v2")
    assert tags["modelops.rollout.outcome"] == "RolledBack" and "error-rate" in tags["modelops.rollout.message"]


def test_prometheus_stopped_mid_analysis_pauses_and_never_promotes(
    env: Env, metrics_exporter: MetricsExporter, prometheus_server: PrometheusServer,
    serving_v1: tuple[str, str, str],
) -> None:
    model, v1, v2 = serving_v1
    analysis = {**ANALYSIS, "checks": [CHECKS[0]], "consecutiveErrorLimit": 1}
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 20, "duration": "12s"}}],
                analysis=analysis)
    env.wait_phase(model, "Promoted")
    with DataPlane(env.dyn, metrics_exporter, env.namespace, model, (*HTTPROUTE, model), {v1: GOOD, v2: GOOD}):
        env.patch(model, {"target": v2})
        env.wait_step(model, 0)
        wait_for(lambda: any(m["verdict"] == "Successful" for m in
                             (env.status(model).get("analysis") or {}).get("measurements", [])), 30, "a first look")
        prometheus_server.stop()
        try:
            held = env.wait_phase(model, "Paused", timeout=30)
            time.sleep(15)  # past the step's 12 s: a rollout on missing data must still not promote
            later = env.status(model)
        finally:
            prometheus_server.start()
    progressing = next(c for c in held["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "AnalysisInconclusive" and "consecutiveErrorLimit" in held["message"]
    assert later["phase"] == "Paused" and later["stable"] == v1 and later["candidate"] == v2
    assert later["traffic"] == {"stable": 80, "candidate": 20, "mirror": 0}  # a hold keeps the split
    errors = [m for m in later["analysis"]["measurements"] if m["verdict"] == "Error"]
    assert errors and "could not measure" in errors[-1]["message"]


def test_sre_rollback_by_patching_the_target_is_immediate_and_audited(
    env: Env, metrics_exporter: MetricsExporter, serving_v1: tuple[str, str, str],
    record_property: Any,
) -> None:
    model, v1, v2 = serving_v1
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 25, "duration": "10m"}}])
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    env.wait_step(model, 0)
    wait_for(lambda: (r := env.route(HTTPROUTE, model)) and len(r["spec"]["rules"][-1]["backendRefs"]) == 2, 30,
             "the canary split on the route")
    patched = env.patch(model, {"target": v1}, manager="sre-kubectl")
    wait_for(lambda: [b["name"] for b in env.route(HTTPROUTE, model)["spec"]["rules"][-1]["backendRefs"]]  # type: ignore[index]
             == [f"{v1}-predictor"], 10, "100% stable on the route", interval=0.005)
    elapsed = time.monotonic() - patched
    record_property("rollback_seconds", round(elapsed, 3))
    print(f"\nSRE rollback: patch of spec.target -> route 100% stable in {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0
    status = env.wait_phase(model, "RolledBack", timeout=10)
    entry = next(h for h in status["history"] if h["to"] == "RolledBack")
    assert entry["reason"] == "TargetReverted" and entry["actor"] == "sre-kubectl"
    assert started_steps(status) == ["canary-0"]  # nothing was replayed


@pytest.fixture()
def hanging_prometheus() -> Iterator[str]:
    """An address that accepts connections and never answers: a Prometheus stuck on a query."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


def test_a_rollback_does_not_wait_for_a_measurement_stuck_on_a_hanging_prometheus(
    env: Env, serving_v1: tuple[str, str, str], hanging_prometheus: str
) -> None:
    model, v1, v2 = serving_v1
    stuck = {"name": "stuck", "prometheus": {"query": "vector(1)", "address": hanging_prometheus}, "min": 0}
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 25, "duration": "10m"}}],
                analysis={"interval": "1s", "checks": [stuck]})
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    env.wait_step(model, 0)
    # The first look starts one interval (1 s) after the step and hangs for the 2 s query timeout of
    # the test operator: 1.5 s in, the patch lands in the middle of it.
    time.sleep(1.5)
    patched = env.patch(model, {"target": v1})
    wait_for(lambda: [b["name"] for b in env.route(HTTPROUTE, model)["spec"]["rules"][-1]["backendRefs"]]  # type: ignore[index]
             == [f"{v1}-predictor"], 10, "100% stable on the route", interval=0.005)
    elapsed = time.monotonic() - patched
    print(f"\nrollback during a stuck measurement: {1000 * elapsed:.0f} ms")
    assert elapsed < 0.5  # without abandoning the measurement it waits out the query: ~1-1.5 s
    assert env.wait_phase(model, "RolledBack", timeout=10)["stable"] == v1


def test_abort_sends_everything_to_stable_and_keeps_the_candidate(
    env: Env, serving_v1: tuple[str, str, str], mlflow: MlflowClient
) -> None:
    model, v1, v2 = serving_v1
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 30, "duration": "10m"}}])
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    env.wait_step(model, 0)
    env.patch(model, {"abort": True})
    status = env.wait_phase(model, "Aborted", timeout=10)
    assert status["candidate"] == v2 and status["stable"] == v1
    assert status["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
    backends = [b["name"] for b in env.route(HTTPROUTE, model)["spec"]["rules"][-1]["backendRefs"]]  # type: ignore[index]
    assert backends == [f"{v1}-predictor"]
    assert env.get(env.isvcs, v2) is not None  # kept deployed for debugging
    wait_for(lambda: alias_version(mlflow, model, "challenger") is None, 30, "challenger cleared on abort")


def test_pause_freezes_the_split_and_resume_continues_the_same_step(env: Env, serving_v1: tuple[str, str, str]) -> None:
    model, v1, v2 = serving_v1
    steps = [{"canary": {"weight": 10, "duration": "3s"}}, {"canary": {"weight": 40, "duration": "3s"}}]
    env.rollout(model, model, v1, gateway(model), steps)
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2, "paused": True})
    paused = env.wait_phase(model, "Paused", timeout=10)
    time.sleep(5)  # longer than the step: nothing may move while paused
    still = env.status(model)
    assert still["phase"] == "Paused" and still["currentStep"] == paused["currentStep"]
    assert still["traffic"] == paused["traffic"]
    env.patch(model, {"paused": False})
    done = env.wait_promoted(model, v2, timeout=30)
    assert done["stable"] == v2
    assert started_steps(done).count("canary-0") == 1 and "canary-1" in started_steps(done)
    assert any(h["reason"] == "Resumed" for h in done["history"])


def test_a_step_with_approval_waits_for_its_name_in_spec_approved(env: Env, serving_v1: tuple[str, str, str]) -> None:
    model, v1, v2 = serving_v1
    steps = [{"canary": {"weight": 10, "duration": "2s"}},
             {"name": "big-canary", "approval": True, "canary": {"weight": 50, "duration": "2s"}}]
    env.rollout(model, model, v1, gateway(model), steps)
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    waiting = env.wait_phase(model, "AwaitingApproval", timeout=30)
    assert f"add big-canary@{v2} to spec.approved" in waiting["message"]
    assert waiting["traffic"] == {"stable": 90, "candidate": 10, "mirror": 0}  # the split before the step
    time.sleep(3)
    assert env.status(model)["phase"] == "AwaitingApproval"
    env.patch(model, {"approved": ["big-canary"]}, manager="release-manager")
    done = env.wait_promoted(model, v2, timeout=30)
    approval = next(h for h in done["history"] if h["reason"] == "Approved")
    assert approval["to"] == "big-canary" and approval["actor"] == "release-manager"


# ------------------------------------------------------------------------------ other routers


def test_istio_virtual_service_carries_every_step(
    env: Env, metrics_exporter: MetricsExporter, serving_v1: tuple[str, str, str]
) -> None:
    model, v1, v2 = serving_v1
    routing = {"istio": {"virtualService": model, "host": f"{model}.ml.example.com", "gateways": ["istio/ingress"]}}
    steps = [{"shadow": {"mirrorPercent": 20, "duration": "3s"}}, {"canary": {"weight": 30, "duration": "3s"}},
             {"full": {}}]
    env.rollout(model, model, v1, routing, steps, analysis={**ANALYSIS, "checks": [CHECKS[0]]})
    env.wait_phase(model, "Promoted")
    with DataPlane(env.dyn, metrics_exporter, env.namespace, model, (*VIRTUALSERVICE, model),
                   {v1: GOOD, v2: GOOD}) as plane:
        env.patch(model, {"target": v2})
        env.wait_step(model, 0)
        vs = env.route(VIRTUALSERVICE, model)
        assert vs is not None and vs["spec"]["hosts"] == [f"{model}.ml.example.com"]
        split = next(r for r in vs["spec"]["http"] if r["name"] == "split")
        assert split["mirror"]["host"] == f"{v2}-predictor.{env.namespace}.svc.cluster.local"
        assert split["mirrorPercentage"]["value"] == 20
        variants = [r for r in vs["spec"]["http"] if r["name"] == "candidate-variant"]
        assert variants[0]["match"][0]["headers"]["x-modelops-variant"] == {"exact": "candidate"}
        done = env.wait_promoted(model, v2, timeout=60)
        time.sleep(1)
    assert done["stable"] == v2
    assert served(plane.splits(), v1, v2) == [(100, 0, 0), (100, 0, 20), (70, 30, 0), (0, 100, 0)]


def test_kserve_router_refuses_shadow_with_a_reason(env: Env) -> None:
    model = unique("churn")
    v1 = env.model_version(model, f"{model}-v1", ready=False, mode="Standard")
    env.rollout(model, model, v1, {"kserve": {"inferenceService": model}},
                [{"shadow": {"mirrorPercent": 10, "duration": "1m"}}, {"full": {}}])
    status = wait_for(lambda: (s := env.status(model)).get("conditions") and s, 30, "conditions")
    accepted = next(c for c in status["conditions"] if c["type"] == "Accepted")
    assert accepted["status"] == "False" and accepted["reason"] == "InvalidSpec"
    assert "spec.steps[0].shadow: the kserve router cannot mirror traffic" in accepted["message"]
    assert any(e.reason == "InvalidSpec" for e in env.events(model))


def test_kserve_router_deploys_versions_as_predictor_and_canaries(env: Env, mlflow: MlflowClient) -> None:
    model = unique("churn")
    v1 = env.model_version(model, f"{model}-v1", ready=False, mode="Standard")
    v2 = env.model_version(model, f"{model}-v2", ready=False, mode="Standard")
    routing = {"kserve": {"inferenceService": model}}
    env.rollout(model, model, v1, routing, [{"canary": {"weight": 10, "duration": "2s"}},
                                           {"canary": {"weight": 60, "duration": "2s"}}], keepWarm=1)
    # The shared InferenceService appears before any version is Ready: it is what deploys them.
    shared = wait_for(lambda: env.get(env.isvcs, model), 30, "the Rollout's InferenceService")
    assert shared["spec"]["predictor"]["name"] == v1 and "canary" not in shared["spec"]
    assert shared["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    wait_for(lambda: env.get(env.isvcs, v1) is None, 30, "no InferenceService of v1's own")
    env.isvcs.status.patch(name=model, namespace=env.namespace, body={"status": ready_status(f"http://{model}")},
                           content_type="application/merge-patch+json")
    wait_for(lambda: env.mv(v1)["status"].get("ready") is True, 30, "v1 Ready through the shared ISVC")
    env.wait_phase(model, "Promoted")

    env.patch(model, {"target": v2})
    dark = wait_for(lambda: (i := env.get(env.isvcs, model)) and i["spec"].get("canary") and i, 30, "a canary")
    assert dark["spec"]["canary"][0]["predictor"]["name"] == v2 and dark["spec"]["canary"][0]["trafficPercent"] == 0
    status = ready_status(f"http://{model}")
    status["canaryStatuses"] = [{"name": v2, "ready": True, "trafficPercent": 0}]
    env.isvcs.status.patch(name=model, namespace=env.namespace, body={"status": status},
                           content_type="application/merge-patch+json")
    wait_for(lambda: (i := env.get(env.isvcs, model)) and i["spec"]["canary"][0]["trafficPercent"] == 10, 30,
             "the candidate at 10% once Ready")
    done = env.wait_promoted(model, v2, timeout=60)
    assert done["stable"] == v2 and done["warm"] == [v1]
    final = env.get(env.isvcs, model)
    assert final is not None and final["spec"]["predictor"]["name"] == v2
    assert [(c["predictor"]["name"], c["trafficPercent"]) for c in final["spec"]["canary"]] == [(v1, 0)]


# ------------------------------------------------------------------------------ reliability


def test_operator_killed_mid_canary_continues_without_replaying_or_skipping_a_step(
    env: Env, metrics_exporter: MetricsExporter, operator: OperatorProcess, serving_v1: tuple[str, str, str]
) -> None:
    model, v1, v2 = serving_v1
    steps = [{"canary": {"weight": 10, "duration": "4s"}}, {"canary": {"weight": 30, "duration": "8s"}},
             {"canary": {"weight": 60, "duration": "4s"}}]
    env.rollout(model, model, v1, gateway(model), steps, analysis={**ANALYSIS, "checks": [CHECKS[0]]})
    env.wait_phase(model, "Promoted")
    with DataPlane(env.dyn, metrics_exporter, env.namespace, model, (*HTTPROUTE, model),
                   {v1: GOOD, v2: GOOD}) as plane:
        env.patch(model, {"target": v2})
        env.wait_step(model, 1, timeout=30)
        assert operator.proc is not None
        operator.proc.kill()  # SIGKILL: no cleanup, no last status write
        operator.proc.wait()
        time.sleep(3)
        operator.start()
        done = env.wait_promoted(model, v2, timeout=90)
        time.sleep(1)
    assert started_steps(done) == ["canary-0", "canary-1", "canary-2", "full-3"]
    assert served(plane.splits(), v1, v2) == [(100, 0, 0), (90, 10, 0), (70, 30, 0), (40, 60, 0), (0, 100, 0)]


def test_a_candidate_never_ready_fails_at_the_progress_deadline_and_never_gets_traffic(
    env: Env, metrics_exporter: MetricsExporter
) -> None:
    model = unique("fraud")
    v1 = env.model_version(model, f"{model}-v1")
    v2 = env.model_version(model, f"{model}-v2", ready=False)  # its model never loads
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 50, "duration": "1m"}}],
                progressDeadline="6s")
    env.wait_phase(model, "Promoted")
    with DataPlane(env.dyn, metrics_exporter, env.namespace, model, (*HTTPROUTE, model),
                   {v1: GOOD, v2: GOOD}) as plane:
        env.patch(model, {"target": v2})
        failed = env.wait_phase(model, "Failed", timeout=30)
    assert "was not Ready within progressDeadline 6s" in failed["message"]
    assert failed["stable"] == v1 and failed["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
    assert all(seen.of(v2) == 0 for seen in plane.splits())  # not one request was routed to it
    assert any(e.reason == "ProgressDeadlineExceeded" for e in env.events(model))


def test_keep_warm_zero_retires_the_old_champion_and_naming_it_again_serves_it(
    env: Env, serving_v1: tuple[str, str, str]
) -> None:
    model, v1, v2 = serving_v1
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 50, "duration": "1s"}}], keepWarm=0)
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    done = wait_for(lambda: (s := env.status(model)).get("stable") == v2 and s, 30, "v2 promoted")
    assert done["warm"] == [] and done["retired"] == [v1]
    wait_for(lambda: env.mv(v1)["status"].get("role") == "archived", 30, "v1 archived")
    wait_for(lambda: env.get(env.isvcs, v1) is None, 30, "v1's InferenceService removed")
    assert env.mv(v1)["status"]["reason"] == "Retired"
    env.patch(model, {"target": v1})  # a retired version is a new rollout: deployed again, then the steps
    wait_for(lambda: env.get(env.isvcs, v1), 30, "v1's InferenceService back")
    env.make_ready(v1)
    back = wait_for(lambda: (s := env.status(model)).get("stable") == v1 and s, 30, "v1 promoted again")
    assert "retired" not in back or v1 not in back["retired"]


def test_rolling_back_to_a_warm_previous_champion_is_instant_and_moves_the_champion_alias(
    env: Env, mlflow: MlflowClient, serving_v1: tuple[str, str, str]
) -> None:
    model, v1, v2 = serving_v1
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 50, "duration": "1s"}}], keepWarm=1)
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    env.wait_promoted(model, v2, timeout=30)
    wait_for(lambda: alias_version(mlflow, model, "champion") == env.mv(v2)["status"]["registry"]["version"], 30,
             "champion on v2")
    patched = env.patch(model, {"target": v1}, manager="sre-kubectl")
    wait_for(lambda: [b["name"] for b in env.route(HTTPROUTE, model)["spec"]["rules"][-1]["backendRefs"]]  # type: ignore[index]
             == [f"{v1}-predictor"], 10, "100% on the warm version", interval=0.005)
    print(f"\nrollback to a warm version: {1000 * (time.monotonic() - patched):.0f} ms")
    status = env.wait_phase(model, "RolledBack", timeout=10)
    assert status["stable"] == v1 and status["warm"] == [v2] and "candidate" not in status
    entry = status["history"][-1]
    assert (entry["reason"], entry["actor"]) == ("RolledBackToWarm", "sre-kubectl")
    assert started_steps(status).count("canary-0") == 1  # no step was replayed for the rollback
    wait_for(lambda: alias_version(mlflow, model, "champion") == env.mv(v1)["status"]["registry"]["version"], 30,
             "champion back on v1")


def test_deleting_a_rollout_leaves_its_route_on_stable_and_unowned(env: Env, serving_v1: tuple[str, str, str]) -> None:
    model, v1, v2 = serving_v1
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 40, "duration": "10m"}}])
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    wait_for(lambda: len(env.route(HTTPROUTE, model)["spec"]["rules"][-1]["backendRefs"]) == 2, 30,  # type: ignore[index]
             "the canary on the route")
    env.rollouts.delete(name=model, namespace=env.namespace)
    wait_for(lambda: env.get(env.rollouts, model) is None, 30, "the Rollout gone")
    time.sleep(2)  # the garbage collector would have acted by now on an owned route
    route = env.route(HTTPROUTE, model)
    assert route is not None and not route["metadata"].get("ownerReferences")
    assert [b["name"] for b in route["spec"]["rules"][-1]["backendRefs"]] == [f"{v1}-predictor"]
    assert [r.get("name") for r in route["spec"]["rules"]] == ["split"]
