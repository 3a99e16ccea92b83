"""The Argo CD health checks (deploy/argocd/health/*.lua) run in a real Lua 5.1 runtime (lupa) the way
Argo CD runs them, on statuses of the shapes the operator writes (each validated by the pydantic
status model it claims to be), for every phase the API defines and the failure cases; the states a
running operator produces are checked again in tests/integration/test_gitops_health.py."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

import gen_argocd_cm
from modelops.api.driftmonitor import DriftMonitorStatus
from modelops.api.modelversion import ModelVersionStatus
from modelops.api.rollout import RolloutPhase, RolloutStatus
from modelops.api.trainingrun import TrainingPhase, TrainingRunStatus
from tests.support.gitops import REPO, argocd_health, health_script

KINDS = ("TrainingRun", "ModelVersion", "Rollout", "DriftMonitor")
MODELS = {"Rollout": RolloutStatus, "ModelVersion": ModelVersionStatus, "TrainingRun": TrainingRunStatus,
          "DriftMonitor": DriftMonitorStatus}
T = "2026-12-01T10:00:00Z"


def cond(type: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {"type": type, "status": status, "reason": reason, "message": message or reason,
            "lastTransitionTime": T, "observedGeneration": 3}


def obj(kind: str, status: dict[str, Any] | None, spec: dict[str, Any] | None = None,
        generation: int = 3) -> dict[str, Any]:
    """An object of ``kind`` at ``generation``; its status is checked against the API's model first."""
    body: dict[str, Any] = {"apiVersion": "modelops.io/v1alpha1", "kind": kind,
                            "metadata": {"name": "x", "namespace": "ml", "generation": generation},
                            "spec": spec or {}}
    if status is not None:
        status = {"observedGeneration": 3, **status}
        MODELS[kind].model_validate(status)
        body["status"] = status
    return body


READY = cond("Ready", "True", "StableReady", "the stable fraud-v1 is Ready")
SPLIT = {"stable": 90, "candidate": 10, "mirror": 0}


def rollout(phase: str | None, *, target: str = "fraud-v2", stable: str = "fraud-v1", extra: list[Any] = (),
            **fields: Any) -> dict[str, Any]:
    status = {"stable": stable, "candidate": "fraud-v2", "traffic": SPLIT, "message": f"{phase} message",
              "conditions": [cond("Accepted", "True", "Valid"), READY, *extra], **fields}
    if phase is not None:
        status["phase"] = phase
    return obj("Rollout", status, {"target": target})


def health(body: dict[str, Any]) -> tuple[str, str]:
    result = argocd_health(body)
    return result["status"], result.get("message", "")


# -------------------------------------------------------------------------------------- shape


def test_the_argocd_cm_snippet_is_generated_from_the_scripts() -> None:
    assert gen_argocd_cm.main(["--check"]) == 0, "run python hack/gen_argocd_cm.py"
    snippet = yaml.safe_load((REPO / "deploy" / "argocd" / "argocd-cm.yaml").read_text())
    assert snippet["metadata"] == {"name": "argocd-cm", "namespace": "argocd",
                                   "labels": {"app.kubernetes.io/name": "argocd-cm",
                                              "app.kubernetes.io/part-of": "argocd"}}
    assert sorted(snippet["data"]) == sorted(f"resource.customizations.health.modelops.io_{k}" for k in KINDS)
    for kind in KINDS:
        script = health_script(kind)
        assert f"resource.customizations.health.modelops.io_{kind})" in script.splitlines()[0]
        assert script.count("-- end of prelude") == 1 and script.rstrip().splitlines()[-1].startswith("return ")


def test_the_scripts_need_no_string_library() -> None:
    """Control for the harness: Argo CD's custom checks have no string library, and neither has ours."""
    with pytest.raises(Exception, match="string"):
        argocd_health(obj("Rollout", None), 'return {status = string.upper("healthy")}')
    assert argocd_health(obj("Rollout", None), 'return {status = "Healthy", message = "x" .. 1}') == {
        "status": "Healthy", "message": "x1"}


@pytest.mark.parametrize("kind", KINDS)
def test_an_object_the_operator_has_not_seen_is_progressing(kind: str) -> None:
    assert health(obj(kind, None)) == ("Progressing", "waiting for the modelops operator to reconcile it")
    stale = obj(kind, {"conditions": []}, generation=4)
    assert health(stale) == ("Progressing", "waiting for the modelops operator to observe generation 4")
    deleting = obj(kind, {"conditions": []})
    deleting["metadata"]["deletionTimestamp"] = T
    assert health(deleting) == ("Progressing", "being deleted")


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_spec_is_degraded_with_the_reason(kind: str) -> None:
    refused = obj(kind, {"conditions": [cond("Accepted", "False", "InvalidSpec", "spec.steps[0]: shadow is not "
                                                                                  "supported by the kserve router")]})
    assert health(refused) == ("Degraded", "InvalidSpec: spec.steps[0]: shadow is not supported by the kserve router")


# ------------------------------------------------------------------------------------ Rollout


EXPECTED_ROLLOUT = {
    RolloutPhase.IDLE: "Healthy",
    RolloutPhase.PROGRESSING: "Progressing",
    RolloutPhase.PAUSED: "Suspended",
    RolloutPhase.AWAITING_APPROVAL: "Suspended",
    RolloutPhase.PROMOTED: "Healthy",
    RolloutPhase.ABORTED: "Degraded",
    RolloutPhase.ROLLED_BACK: "Degraded",  # automatic: spec.target names the candidate that lost
    RolloutPhase.FAILED: "Degraded",
}


@pytest.mark.parametrize("phase", list(RolloutPhase))
def test_every_rollout_phase_has_a_health(phase: RolloutPhase) -> None:
    status, message = health(rollout(phase.value))
    assert status == EXPECTED_ROLLOUT[phase]
    assert message.endswith("[stable 90%, candidate 10%]") and f"{phase.value} message" in message


def test_rollout_details() -> None:
    # The SRE rollback (target patched back to the stable) is the state asked for.
    assert health(rollout("RolledBack", target="fraud-v1"))[0] == "Healthy"
    # A not-Ready stable is an outage, whatever the phase.
    down = rollout("Promoted", extra=[])
    down["status"]["conditions"][1] = cond("Ready", "False", "StableNotReady", "the stable fraud-v1 is not Ready")
    assert health(down) == ("Degraded", "StableNotReady: the stable fraud-v1 is not Ready [stable 90%, candidate 10%]")
    first = rollout(None, stable=None)
    first["status"]["conditions"][1] = cond("Ready", "False", "NoStable", "no version serves yet")
    assert health(first)[0] == "Progressing"
    waiting = rollout("Progressing", extra=[cond("CandidateReady", "False", "NotReady", "candidate fraud-v2 is "
                                                                                           "not Ready")])
    assert "(candidate fraud-v2 is not Ready)" in health(waiting)[1]
    mirrored = rollout("Progressing", traffic={"stable": 100, "candidate": 0, "mirror": 20})
    assert health(mirrored)[1].endswith("[stable 100%, candidate 0%, mirror 20%]")
    unsynced = rollout("Promoted", extra=[cond("RegistrySynced", "False", "RegistryWriteFailed", "MLflow is down")])
    assert health(unsynced) == ("Healthy", "Promoted message [stable 90%, candidate 10%]; MLflow not in sync: "
                                           "MLflow is down")
    newer = rollout("Progressing")
    newer["status"]["phase"] = "Verifying"  # a phase of a newer operator: not validated by this API
    assert health(newer) == ("Unknown", "phase Verifying is unknown to this health check; update it from the "
                                        "modelops release")


# ------------------------------------------------------------------------------- ModelVersion


@pytest.mark.parametrize("status, expected", [
    ({"ready": True, "role": "champion", "url": "http://fraud-v1.ml",
      "conditions": [cond("Ready", "True", "Ready")]}, ("Healthy", "serving as champion at http://fraud-v1.ml")),
    ({"ready": False, "conditions": [cond("Ready", "False", "Pending", "waiting for KServe")]},
     ("Progressing", "waiting for KServe")),
    ({"ready": False, "conditions": [cond("Ready", "False", "ModelLoadFailed", "ModelLoadFailed: no model.pkl")]},
     ("Degraded", "ModelLoadFailed: ModelLoadFailed: no model.pkl")),
    ({"ready": False, "conditions": [cond("Registered", "False", "RegistryUnavailable", "MLflow is down"),
                                     cond("Ready", "False", "Pending")]},
     ("Degraded", "RegistryUnavailable: MLflow is down")),
    ({"ready": False, "role": "archived", "conditions": [cond("Ready", "False", "Retired", "retired: not kept warm")]},
     ("Healthy", "not serving, as intended: retired: not kept warm")),
    ({"ready": False, "conditions": [cond("Ready", "False", "ServingDisabled")]},
     ("Healthy", "not serving, as intended: ServingDisabled")),
    ({"conditions": [cond("Registered", "Unknown", "MLflowNotConfigured")]},
     ("Progressing", "waiting for its InferenceService")),
])
def test_model_version_health(status: dict[str, Any], expected: tuple[str, str]) -> None:
    assert health(obj("ModelVersion", status)) == expected


# -------------------------------------------------------------------------------- TrainingRun


EXPECTED_TRAINING = {
    TrainingPhase.PENDING: "Progressing",
    TrainingPhase.RUNNING: "Progressing",
    TrainingPhase.EVALUATING: "Progressing",
    TrainingPhase.SUCCEEDED: "Healthy",
    TrainingPhase.REJECTED: "Degraded",
    TrainingPhase.FAILED: "Degraded",
}


@pytest.mark.parametrize("phase", list(TrainingPhase))
def test_every_training_phase_has_a_health(phase: TrainingPhase) -> None:
    status, message = health(obj("TrainingRun", {"phase": phase.value, "message": "auc 0.81 < 0.9",
                                                 "conditions": [cond("Accepted", "True", "Valid")]}))
    assert status == EXPECTED_TRAINING[phase] and "auc 0.81 < 0.9" in message


def test_an_unschedulable_training_is_degraded() -> None:
    body = obj("TrainingRun", {"phase": "Pending", "conditions": [
        cond("Scheduled", "False", "Unschedulable", "Pod x has been unschedulable for 600s")]})
    assert health(body) == ("Degraded", "Unschedulable: Pod x has been unschedulable for 600s")


# ------------------------------------------------------------------------------- DriftMonitor


def test_drift_monitor_health() -> None:
    accepted = [cond("Accepted", "True", "Valid")]
    assert health(obj("DriftMonitor", {"conditions": accepted})) == ("Healthy", "waiting for its first evaluation")
    assert health(obj("DriftMonitor", {"conditions": accepted, "lastRun": T, "drifted": False})) == (
        "Healthy", f"no drift at {T}")
    drifted = obj("DriftMonitor", {"conditions": accepted, "lastRun": T, "drifted": True, "consecutiveDrifted": 3,
                                   "results": [
                                       {"feature": "amount", "statistic": "psi", "value": 0.31, "threshold": 0.2,
                                        "drifted": True},
                                       {"feature": "hour", "statistic": "psi", "value": 0.01, "threshold": 0.2,
                                        "drifted": False}]})
    assert health(drifted) == ("Healthy", f"drift at {T}: amount psi 0.31 > 0.2 (3 evaluations in a row)")
