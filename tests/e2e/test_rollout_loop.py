"""The rollout loop on real parts: models trained by examples/training/train.py against the real
MLflow, served by KServe's real sklearnserver behind KServe's real agent (played KServe controller:
hack/localcluster/kserve_player.py), real HTTP load split by the HTTPRoute the operator writes
(hack/localcluster/load.py), every call logged by the agent to the real prediction-log sink, whose
metrics the real Prometheus scrapes and the Rollout's analysis reads. Nothing is mocked; what is
played is KServe's controller (its status writes) and the gateway (the load driver applies the
route's weights).

1. A good candidate goes shadow → canary → A/B → full and becomes ``champion`` in MLflow.
2. A bad candidate (trained on 40% flipped labels) is rolled back at the first step that can see
   it — the shadow step, where its mirrored predictions diverge from the champion's — with the
   failing measurement in status, an MLflow tag on it, and no request ever served by it.
3. An SRE patches ``spec.target`` back in the middle of a canary: the route is 100% on the
   champion within a second, and no step is replayed.

And the kserve router on real predictors: the shared InferenceService's main predictor and canary,
each a real model server, split by its ``trafficPercent``; and readiness is the model server's own:
a model that does not load is KServe's FailedToLoad.
"""

from __future__ import annotations

import time
from typing import Any

from mlflow.tracking import MlflowClient

from localcluster.cluster import LocalCluster
from localcluster.load import LoadDriver
from localcluster.mlflow_server import MLflowServer
from tests.support.logsink import trace
from tests.support.names import unique
from tests.support.rollouts import HTTPROUTE, alias_version, gateway, started_steps
from tests.support.serving_loop import ANALYSIS, Loop, Models, corrupt_run
from tests.support.waiting import wait_for

LOOP_STEPS: list[dict[str, Any]] = [
    {"name": "shadow", "shadow": {"mirrorPercent": 100, "duration": "4s"}},
    {"name": "canary-25", "canary": {"weight": 25, "duration": "4s"}},
    {"name": "ab-test", "abTest": {"weight": 50, "metric": "accuracy", "minSamples": 40, "maxDuration": "150s",
                                   "alpha": 0.05}},
    {"name": "full", "full": {}},
]


def _two_versions(loop: Loop, models: Models, model: str, *, better: bool = True) -> tuple[str, str]:
    """v1 (the champion) and v2: v2 the good model and v1 the weak one, or the other way round."""
    v1 = loop.model_version(f"{model}-v1", model, "1", models.weak if better else models.good)
    v2 = loop.model_version(f"{model}-v2", model, "2", models.good if better else models.weak)
    loop.wait_ready(v1)
    loop.wait_ready(v2)
    return v1, v2


def _served(driver: LoadDriver, service: str) -> int:
    return driver.stats[f"{service}:served:200"]


def test_a_good_candidate_goes_shadow_canary_ab_full_and_becomes_champion(
        loop: Loop, trained_models: Models, mlflow: MlflowClient, cluster: LocalCluster) -> None:
    env, model = loop.env, unique("cancer")
    v1, v2 = _two_versions(loop, trained_models, model)
    env.rollout(model, model, v1, gateway(model), LOOP_STEPS, analysis=ANALYSIS, keepWarm=1)
    env.wait_promoted(model, v1)
    driver = loop.load(model, rate=24)
    wait_for(lambda: _served(driver, f"{v1}-predictor") >= 20, 30, f"requests answered by {v1}")

    env.patch(model, {"target": v2})
    try:
        status = env.wait_promoted(model, v2, timeout=240)
    finally:
        driver.stop()
    assert driver.errors == [] or all("labels" not in e for e in driver.errors), driver.errors

    # The splits the load really applied, read from the HTTPRoute: mirror, canary, A/B, full.
    seen = [(split.percents(), split.mirror) for split in driver.splits]
    assert ({f"{v1}-predictor": 100.0}, (f"{v2}-predictor", 100)) in seen, seen
    assert ({f"{v1}-predictor": 75.0, f"{v2}-predictor": 25.0}, None) in seen, seen
    assert ({f"{v1}-predictor": 50.0, f"{v2}-predictor": 50.0}, None) in seen, seen
    assert driver.stats[f"{v2}-predictor:mirrored:200"] > 0 and _served(driver, f"{v2}-predictor") > 0
    assert driver.stats["labels:posted"] > 0

    # The audit trail: every step started once, in order, then the promotion; the A/B test decided.
    assert started_steps(status) == ["shadow", "canary-25", "ab-test", "full"], status["history"]
    assert status["history"][-1]["to"] == "Promoted"
    assert wait_for(lambda: alias_version(mlflow, model, "champion") == env.mv(v2)["status"]["registry"]["version"],
                    30, "alias champion on v2")
    assert alias_version(mlflow, model, "challenger") is None

    # A request served by the candidate in the canary, traced to its version and stage.
    canary = next(request_id for request_id, service, headers in driver.answered
                  if service == f"{v2}-predictor" and any(v.endswith("/canary-25") for v in headers.values()))
    answer = wait_for(lambda: (r := trace(cluster, canary, store=loop.sink.store)).returncode == 0 and r, 30,
                      f"trace of {canary}")
    assert f"ModelVersion {env.namespace}/{v2}" in answer.stdout, answer.stdout
    assert f"stage       {model}/canary-25" in answer.stdout, answer.stdout


def test_a_bad_candidate_is_rolled_back_at_the_shadow_step_that_sees_it(
        loop: Loop, trained_models: Models, mlflow: MlflowClient) -> None:
    env, model = loop.env, unique("cancer")
    v1, v2 = _two_versions(loop, trained_models, model, better=False)
    divergence = {"name": "prediction-divergence", "builtin": "predictionDivergence", "max": 0.3, "minSamples": 100}
    analysis = {**ANALYSIS, "checks": [*ANALYSIS["checks"], divergence]}
    env.rollout(model, model, v1, gateway(model), LOOP_STEPS, analysis=analysis)
    env.wait_promoted(model, v1)
    driver = loop.load(model, rate=24)
    wait_for(lambda: _served(driver, f"{v1}-predictor") >= 20, 30, f"requests answered by {v1}")
    env.patch(model, {"target": v2})
    try:
        rolled = env.wait_phase(model, "RolledBack", timeout=120)
    finally:
        driver.stop()

    assert started_steps(rolled) == ["shadow"]  # seen at the first step: nothing served by v2
    assert rolled["stable"] == v1 and rolled["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
    assert driver.stats[f"{v2}-predictor:mirrored:200"] > 0 and _served(driver, f"{v2}-predictor") == 0
    failed = [m for m in rolled["analysis"]["measurements"] if m["verdict"] == "Failed"]
    assert failed and failed[-1]["check"] == "prediction-divergence" and failed[-1]["value"] > 0.3, failed
    entry = next(h for h in rolled["history"] if h["to"] == "RolledBack")
    assert entry["reason"] == "AnalysisFailed" and "prediction-divergence" in entry["message"]
    version = env.mv(v2)["status"]["registry"]["version"]
    tags = wait_for(lambda: (t := mlflow.get_model_version(model, version).tags).get("modelops.rollout.outcome")
                    and t, 30, "the failure tag on v2")
    assert tags["modelops.rollout.outcome"] == "RolledBack"
    assert alias_version(mlflow, model, "champion") == env.mv(v1)["status"]["registry"]["version"]


def test_an_sre_patches_the_target_back_mid_canary_and_nothing_is_replayed(
        loop: Loop, trained_models: Models, mlflow: MlflowClient) -> None:
    env, model = loop.env, unique("cancer")
    v1, v2 = _two_versions(loop, trained_models, model)
    steps = [{"name": "canary-50", "canary": {"weight": 50, "duration": "5m"}}, {"name": "full", "full": {}}]
    env.rollout(model, model, v1, gateway(model), steps, analysis=ANALYSIS)
    env.wait_promoted(model, v1)
    driver = loop.load(model, rate=20)
    env.patch(model, {"target": v2})
    wait_for(lambda: _served(driver, f"{v2}-predictor") >= 20, 60, f"{v2} answering its canary share")
    before = env.status(model)
    assert before["phase"] == "Progressing" and started_steps(before) == ["canary-50"]

    patched = env.patch(model, {"target": v1})
    route = wait_for(lambda: (r := env.route(HTTPROUTE, model)) and [
        (b["name"], b.get("weight")) for rule in r["spec"]["rules"] if rule.get("name") == "split"
        for b in rule["backendRefs"]] == [(f"{v1}-predictor", 100)] and r, 5, "the route 100% on v1", interval=0.02)
    elapsed = time.monotonic() - patched
    assert route is not None and elapsed < 1.0, f"route 100% on {v1} after {elapsed:.2f}s"

    # The load follows the route: only v1 answers from the next second on.
    time.sleep(3)
    after_v2 = _served(driver, f"{v2}-predictor")
    time.sleep(2)
    assert _served(driver, f"{v2}-predictor") == after_v2
    driver.stop()
    status = env.wait_phase(model, "RolledBack")
    assert started_steps(status) == ["canary-50"]  # nothing replayed
    last = status["history"][-1]
    assert (last["reason"], last["to"]) == ("TargetReverted", "RolledBack")
    assert status["stable"] == v1 and status.get("candidate") is None
    assert alias_version(mlflow, model, "champion") == env.mv(v1)["status"]["registry"]["version"]


def test_a_model_that_fails_to_load_is_reported_as_kserve_reports_it(loop: Loop, mlflow_server: MLflowServer) -> None:
    """Readiness is real: the model server could not load the artifact, so KServe's FailedToLoad."""
    model = unique("broken")
    name = loop.model_version(f"{model}-v1", model, "1", corrupt_run(mlflow_server))
    status = wait_for(lambda: (s := loop.env.mv(name).get("status") or {}).get("reason") == "ModelLoadFailed" and s,
                      120, f"{name} ModelLoadFailed")
    assert status["ready"] is False
    isvc = loop.env.get(loop.env.isvcs, name)
    assert isvc is not None
    assert isvc["status"]["modelStatus"]["states"]["activeModelState"] == "FailedToLoad"
    assert loop.player.endpoint(f"{name}-predictor") is None


def test_the_kserve_router_splits_real_calls_between_its_predictors(loop: Loop, trained_models: Models,
                                                                   mlflow: MlflowClient) -> None:
    env, model = loop.env, unique("churn")
    v1 = loop.model_version(f"{model}-v1", model, "1", trained_models.weak, mode="Standard")
    v2 = loop.model_version(f"{model}-v2", model, "2", trained_models.good, mode="Standard")
    steps = [{"name": "canary-50", "canary": {"weight": 50, "duration": "6s"}}, {"name": "full", "full": {}}]
    env.rollout(model, model, v1, {"kserve": {"inferenceService": model}}, steps, analysis=ANALYSIS)
    env.wait_promoted(model, v1, timeout=120)
    driver = loop.load(model, rate=20)
    wait_for(lambda: sum(n for key, n in driver.stats.items() if key.endswith(":served:200")) >= 20, 60,
             "calls answered through the shared InferenceService")
    env.patch(model, {"target": v2})
    try:
        status = env.wait_promoted(model, v2, timeout=180)
    finally:
        driver.stop()
    assert started_steps(status) == ["canary-50", "full"]
    halves = [split.percents() for split in driver.splits if len(split.percents()) == 2]
    assert halves and all(sorted(p.values()) == [50.0, 50.0] for p in halves), driver.splits
    answered = {key.split(":")[0] for key, n in driver.stats.items() if key.endswith(":served:200") and n}
    assert len(answered) >= 2 and all(s.startswith(f"{model}-") for s in answered), driver.stats
    wait_for(lambda: alias_version(mlflow, model, "champion") == env.mv(v2)["status"]["registry"]["version"], 30,
             "alias champion on v2")
