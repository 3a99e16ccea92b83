"""What Argo CD and Flux make of the objects a running operator produces: each object is driven into
a state on the local control plane (the operator as a subprocess, KServe played as in
test_rollout), read back whole from the API server, and judged by the Argo CD health check
(deploy/argocd/health, run in Lua 5.1 as Argo CD runs it) and by kstatus (Flux's health checks).
Every status read here must also keep kstatus' conventions: observedGeneration on the status and
on every condition, metav1.Condition-shaped conditions, and the abnormal-true types (Reconciling,
Stalled) never used with the other polarity. docs/operations.md ("GitOps health") has the table
these expectations come from."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes import client, dynamic

from tests.support.gitops import argocd_health, kstatus
from tests.support.manifests import REPO, apply, documents
from tests.support.names import unique
from tests.support.operator import OperatorProcess
from tests.support.rollouts import API, Env, gateway
from tests.support.waiting import wait_for

REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture()
def env(dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str, operator: OperatorProcess) -> Env:
    return Env(dyn, api, namespace)


def current(env: Env, kind: str, name: str, what: str, until: Any = lambda o: True) -> dict[str, Any]:
    """The object once its status describes its current generation and ``until(obj)`` holds."""
    resource = env.dyn.resources.get(api_version=API, kind=kind)

    def read() -> dict[str, Any] | None:
        found = env.get(resource, name)
        if found is None or (found.get("status") or {}).get("observedGeneration") != found["metadata"]["generation"]:
            return None
        return found if until(found) else None

    return wait_for(read, 60, f"{kind} {name}: {what}")


def keeps_kstatus_conventions(obj: dict[str, Any]) -> None:
    status = obj["status"]
    generation = obj["metadata"]["generation"]
    assert status["observedGeneration"] == generation
    types = [c["type"] for c in status["conditions"]]
    assert len(types) == len(set(types)) and types, types
    for c in status["conditions"]:
        assert c["status"] in ("True", "False", "Unknown"), c
        assert REASON.match(c["reason"]) and isinstance(c["message"], str), c
        assert TIME.match(c["lastTransitionTime"]), c
        assert c["observedGeneration"] == generation, c
        # kstatus' abnormal-true conditions: never set True for a normal state. We do not use them.
        assert c["type"] not in ("Reconciling", "Stalled"), c


def judged(obj: dict[str, Any], argocd: str, flux: str, message: str = "") -> None:
    keeps_kstatus_conventions(obj)
    health = argocd_health(obj)
    assert health["status"] == argocd, (health, obj["status"])
    assert message in health.get("message", ""), health
    assert kstatus(obj)[0] == flux, (kstatus(obj), obj["status"])


def test_rollout_states_as_argocd_and_flux_see_them(env: Env) -> None:
    model = unique("fraud")
    v1, v2 = env.model_version(model, f"{model}-v1"), env.model_version(model, f"{model}-v2")
    steps = [{"name": "gate", "approval": True, "canary": {"weight": 10, "duration": "10m"}}]
    env.rollout(model, model, v1, gateway(model), steps)
    env.wait_phase(model, "Promoted")
    judged(current(env, "Rollout", model, "promoted"), "Healthy", "Current", "[stable 100%, candidate 0%]")

    env.patch(model, {"target": v2})
    env.wait_phase(model, "AwaitingApproval")
    judged(current(env, "Rollout", model, "awaiting approval"), "Suspended", "Current", "add gate@")

    env.patch(model, {"approved": ["gate"]})
    env.wait_step(model, 0)
    progressing = current(env, "Rollout", model, "on the canary",
                          lambda o: o["status"].get("phase") == "Progressing"
                          and (o["status"].get("traffic") or {}).get("candidate") == 10)
    # Flux's kstatus calls a Rollout mid-canary Current (Ready is about the stable): a Kustomization
    # does not wait hours for an A/B test. Argo CD shows the progress.
    judged(progressing, "Progressing", "Current", "[stable 90%, candidate 10%]")

    env.patch(model, {"paused": True})
    env.wait_phase(model, "Paused")
    judged(current(env, "Rollout", model, "paused"), "Suspended", "Current", "Paused:")

    env.patch(model, {"paused": False, "target": v1})  # the SRE's rollback: what serves is what git says
    env.wait_phase(model, "RolledBack")
    judged(current(env, "Rollout", model, "rolled back"), "Healthy", "Current", f"rolled back to {v1}")

    env.patch(model, {"target": v2, "approved": []})
    env.wait_phase(model, "AwaitingApproval")
    env.patch(model, {"abort": True})
    env.wait_phase(model, "Aborted")
    judged(current(env, "Rollout", model, "aborted"), "Degraded", "Current", "Aborted:")


def test_a_refused_rollout_is_degraded(env: Env) -> None:
    model = unique("churn")
    v1 = env.model_version(model, f"{model}-v1", ready=False, mode="Standard")
    env.rollout(model, model, v1, {"kserve": {"inferenceService": model}},
                [{"shadow": {"mirrorPercent": 10, "duration": "1m"}}, {"full": {}}])
    refused = current(env, "Rollout", model, "refused", lambda o: any(
        c["type"] == "Accepted" and c["status"] == "False" for c in o["status"].get("conditions") or []))
    judged(refused, "Degraded", "InProgress", "InvalidSpec: spec.steps[0].shadow: the kserve router cannot mirror")


def test_model_version_states_as_argocd_and_flux_see_them(env: Env) -> None:
    model = unique("risk")
    name = env.model_version(model, f"{model}-v1", ready=False)
    deploying = current(env, "ModelVersion", name, "deploying", lambda o: o["status"].get("inferenceService"))
    judged(deploying, "Progressing", "InProgress")
    env.make_ready(name)
    judged(current(env, "ModelVersion", name, "ready", lambda o: o["status"].get("ready") is True),
           "Healthy", "Current", "serving")

    broken = env.model_version(model, f"{model}-v2", ready=False)
    wait_for(lambda: env.get(env.isvcs, broken), 30, "the v2 InferenceService")
    env.isvcs.status.patch(name=broken, namespace=env.namespace, content_type="application/merge-patch+json", body={
        "status": {"modelStatus": {"states": {"activeModelState": "FailedToLoad", "targetModelState": "Loaded"},
                                   "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "no model.joblib"}}}})
    failed = current(env, "ModelVersion", broken, "failed to load", lambda o: any(
        c["type"] == "Ready" and c["reason"] == "ModelLoadFailed" for c in o["status"].get("conditions") or []))
    # kstatus has no Stalled from us, so Flux waits for its timeout rather than failing fast.
    judged(failed, "Degraded", "InProgress", "no model.joblib")

    lost = unique("lost")
    apply(env.dyn, {"apiVersion": API, "kind": "ModelVersion", "metadata": {"name": lost},
                    "spec": {"model": lost, "version": "1", "serving": {"nodePool": "no-such-pool"},
                             "artifact": {"storageUri": "s3://models/lost/", "format": "sklearn"}}}, env.namespace)
    judged(current(env, "ModelVersion", lost, "refused", lambda o: any(
        c["type"] == "Accepted" and c["status"] == "False" for c in o["status"].get("conditions") or [])),
        "Degraded", "InProgress", "UnknownNodePool")


def test_training_run_and_drift_monitor_states_as_argocd_and_flux_see_them(env: Env) -> None:
    run = next(d for d in documents(REPO / "examples" / "01-trainingrun-gpu.yaml") if d["kind"] == "TrainingRun")
    run["spec"]["model"] = unique("gitops-train")
    apply(env.dyn, run, env.namespace)
    running = current(env, "TrainingRun", run["metadata"]["name"], "running",
                      lambda o: o["status"].get("phase") == "Running")
    # No Ready condition on a TrainingRun: kstatus calls it Current as soon as it is observed.
    judged(running, "Progressing", "Current", "running")

    refused = {**run, "metadata": {"name": unique("refused")},
               "spec": {**run["spec"], "model": unique("gitops-refused"), "nodePool": "no-such-pool"}}
    apply(env.dyn, refused, env.namespace)
    judged(current(env, "TrainingRun", refused["metadata"]["name"], "refused", lambda o: any(
        c["type"] == "Accepted" and c["status"] == "False" for c in o["status"].get("conditions") or [])),
        "Degraded", "Current", "UnknownNodePool")

    drift = documents(REPO / "examples" / "07-driftmonitor.yaml")
    version = next(d for d in drift if d["kind"] == "ModelVersion")
    version["spec"] = {**version["spec"], "model": unique("gitops-drift"), "serving": {"enabled": False}}
    apply(env.dyn, version, env.namespace)
    monitor = next(d for d in drift if d["kind"] == "DriftMonitor")
    # It watches the version applied here: a reference to nothing is refused (ModelRefNotFound).
    monitor["spec"]["modelRef"] = {"kind": "ModelVersion", "name": version["metadata"]["name"]}
    apply(env.dyn, monitor, env.namespace)
    judged(current(env, "DriftMonitor", monitor["metadata"]["name"], "accepted", lambda o: any(
        c["type"] == "Accepted" and c["status"] == "True" for c in o["status"].get("conditions") or [])),
        "Healthy", "Current", "waiting for its first evaluation")


def test_a_spec_change_not_yet_observed_is_in_progress_for_both(env: Env) -> None:
    model = unique("fraud")
    v1 = env.model_version(model, f"{model}-v1")
    env.rollout(model, model, v1, gateway(model), [{"full": {}}])
    env.wait_phase(model, "Promoted")
    promoted = current(env, "Rollout", model, "promoted")
    ahead = {**promoted, "metadata": {**promoted["metadata"], "generation": promoted["metadata"]["generation"] + 1}}
    assert argocd_health(ahead)["status"] == "Progressing"
    assert kstatus(ahead)[0] == "InProgress"
