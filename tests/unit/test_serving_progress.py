"""The ModelVersion state machine ``plan(observation, config, now) -> ModelVersionDecision``:
spec acceptance, node pools, models:/ resolution (once), the registry record, serving on/off,
readiness into status, events exactly once, the Logging condition, role and servedBy, stable
transition times, and a property that no InferenceService status makes ``plan`` raise."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelops.api.config import OperatorConfig
from modelops.api.modelversion import ModelVersionStatus
from modelops.core.conditions import format_time, get_condition
from modelops.core.ownership import Rejection, already_applied
from modelops.core.serving.inference import inference_service_name
from modelops.core.serving.progress import (
    RETRY_SECONDS,
    UID_TAG,
    Event,
    ModelVersionDecision,
    ModelVersionObservation,
    RegisterRequest,
    RegistryVersion,
    is_registry_uri,
    parse_registry_uri,
    plan,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=7)
NAME = "fraud-detector-v3"
NS = "ml"
UID = "0d6b3c8e-7a41-4f2b-9c55-1e2f3a4b5c6d"
RUN_ID = "8a1f2e3d4c5b6a7980f1e2d3c4b5a697"
COMMIT = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f9a0b1c2"
REPO = "https://github.com/acme/fraud-model"
IMAGE = "registry.example.com/fraud/train@sha256:" + "0123456789abcdef" * 4
LOG_SINK = "http://modelops-logsink.modelops.svc.cluster.local:8080"
URL = "http://fraud-detector-v3.ml.example.com"
S3 = "s3://models/fraud-detector/3/"
MLFLOW_SOURCE = "s3://mlflow/artifacts/1/" + RUN_ID + "/artifacts/model"
ISVC = inference_service_name(NAME)

CONFIG = OperatorConfig.model_validate({
    "nodePools": {
        "gpu-a100": {
            "nodeSelector": {"modelops.io/pool": "gpu-a100"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "gpuResource": "nvidia.com/gpu",
        },
        "cpu": {"nodeSelector": {"modelops.io/pool": "cpu"}},
    },
    "mlflow": {"trackingUri": "http://mlflow.mlflow:5000"},
    "serving": {"logSinkUrl": LOG_SINK, "deploymentMode": "Standard"},
})
NO_SINK = OperatorConfig.model_validate({**CONFIG.model_dump(by_alias=True), "serving": {}})

LINEAGE: dict[str, Any] = {
    "trainingRun": "fraud-train-42",
    "mlflowRunId": RUN_ID,
    "data": {"uri": "s3://datasets/fraud/train/", "version": "2025-01-31"},
    "code": {"repo": REPO, "commit": COMMIT},
    "image": IMAGE,
}
SPEC: dict[str, Any] = {
    "model": "fraud-detector",
    "version": "3",
    "artifact": {"storageUri": S3, "format": "sklearn"},
    "lineage": LINEAGE,
    "metrics": {"auc": 0.93, "fpr": 0.015},
    "serving": {"nodePool": "cpu", "resources": {"cpu": "500m", "memory": "1Gi"}, "maxReplicas": 3},
}
REGISTRY_SPEC: dict[str, Any] = {
    **{k: v for k, v in SPEC.items() if k != "lineage"},
    "artifact": {"storageUri": "models:/fraud-detector/3", "format": "mlflow"},
}
RESOLVED = RegistryVersion(name="fraud-detector", version="3", source=MLFLOW_SOURCE)
REGISTERED = RegistryVersion(name="fraud-detector", version="3", source=S3)
EXPECTED_TAGS = {
    UID_TAG: UID,
    "modelops.io/modelversion": NAME,
    "modelops.io/namespace": NS,
    "modelops.io/trainingrun": "fraud-train-42",
    "modelops.image": IMAGE,
    "modelops.data.uri": "s3://datasets/fraud/train/",
    "modelops.data.version": "2025-01-31",
    "modelops.code.repo": REPO,
    "modelops.code.commit": COMMIT,
}


def _cond(type: str, status: str, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": type, "status": status, "lastTransitionTime": "2026-03-01T11:00:00Z"}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _isvc_status(active: str | None = "Loaded", ready: str = "True", failure: dict[str, Any] | None = None,
                 url: str | None = URL) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [_cond("IngressReady", "True"), _cond("PredictorReady", ready), _cond("Ready", ready)],
    }
    if url:
        status["url"] = url
    if active is not None:
        status["modelStatus"] = {
            "states": {"activeModelState": active, "targetModelState": active},
            "transitionStatus": "BlockedByFailedLoad" if active == "FailedToLoad" else "UpToDate",
        }
        if failure is not None:
            status["modelStatus"]["lastFailureInfo"] = failure
    return status


def _isvc(status: dict[str, Any] | None = None) -> dict[str, Any]:
    isvc: dict[str, Any] = {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        # Made by the operator: owned by the ModelVersion (a foreign one is a conflict, tested below).
        "metadata": {"name": ISVC, "namespace": NS, "ownerReferences": [
            {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion", "name": NAME, "uid": UID}]},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": S3}}},
    }
    if status is not None:
        isvc["status"] = status
    return isvc


LOADED = _isvc(_isvc_status())
LOAD_FAILURE = {
    "reason": "ModelLoadFailed",
    "message": "Failed to locate model file: /mnt/models/model.joblib",
    "location": "fraud-detector-v3-predictor-00001-deployment-6f7c9d8b5-x2x7k",
    "exitCode": 1,
}
FAILED = _isvc(_isvc_status("FailedToLoad", failure=LOAD_FAILURE))


def _rollout(name: str, *, target: str, stable: str | None = None, candidate: str | None = None,
             warm: list[str] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if stable:
        status["stable"] = stable
    if candidate:
        status["candidate"] = candidate
    if warm:
        status["warm"] = warm
    return {"metadata": {"name": name, "namespace": NS}, "spec": {"model": "fraud-detector", "target": target},
            "status": status}


def _obs(**overrides: Any) -> ModelVersionObservation:
    base: dict[str, Any] = {
        "name": NAME, "namespace": NS, "uid": UID, "generation": 2, "spec": copy.deepcopy(SPEC), "status": {},
        "registered": REGISTERED,
    }
    base.update(overrides)
    return ModelVersionObservation(**base)


def _condition(decision: ModelVersionDecision, type: str) -> dict[str, Any]:
    condition = get_condition(decision.status.get("conditions"), type)
    assert condition is not None, f"no {type} condition in {decision.status.get('conditions')}"
    return dict(condition)


def _replan(obs: ModelVersionObservation, first: ModelVersionDecision, now: datetime = LATER,
            **overrides: Any) -> ModelVersionDecision:
    return plan(dataclasses.replace(obs, status=copy.deepcopy(first.status), **overrides), CONFIG, now)


def _valid_status(status: dict[str, Any]) -> None:
    """Every status plan writes is JSON and fits the ModelVersion status schema."""
    assert json.loads(json.dumps(status, allow_nan=False)) == status
    ModelVersionStatus.model_validate(status)


# -- acceptance -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (None, "spec.model"),
        ({}, "spec.model"),
        ({**SPEC, "artifact": {"format": "sklearn"}}, "spec.artifact.storageUri"),
        ({**SPEC, "servng": {}}, "spec.servng"),
        ({**SPEC, "serving": {"minReplicas": 3, "maxReplicas": 2}}, "maxReplicas must be greater"),
        ({**SPEC, "version": "3 beta"}, "spec.version"),
    ],
)
def test_invalid_spec(spec: dict[str, Any] | None, fragment: str) -> None:
    decision = plan(_obs(spec=spec), CONFIG, NOW)
    accepted = _condition(decision, "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidSpec")
    assert fragment in accepted["message"]
    assert accepted["lastTransitionTime"] == format_time(NOW)
    assert accepted["observedGeneration"] == 2
    assert decision.status["observedGeneration"] == 2
    assert decision.apply_inference_service is None
    assert decision.delete_inference_service is None
    assert decision.register is None and not decision.needs_another_pass
    assert decision.events == [Event("Warning", "InvalidSpec", accepted["message"])]
    # Replanned with the status it wrote: no second event.
    assert _replan(_obs(spec=spec), decision).events == []


def test_valid_spec_is_accepted() -> None:
    decision = plan(_obs(), CONFIG, NOW)
    accepted = _condition(decision, "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("True", "Valid")


def test_unknown_serving_pool() -> None:
    spec = {**SPEC, "serving": {**SPEC["serving"], "nodePool": "gpu-h100"}}
    decision = plan(_obs(spec=spec), CONFIG, NOW)
    accepted = _condition(decision, "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "UnknownNodePool")
    assert "spec.serving.nodePool" in accepted["message"]
    assert "'gpu-h100'" in accepted["message"]
    assert "known pools: cpu, gpu-a100" in accepted["message"]
    assert decision.apply_inference_service is None
    assert decision.status["ready"] is False and decision.status["reason"] == "UnknownNodePool"
    ready = _condition(decision, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "UnknownNodePool")
    assert Event("Warning", "UnknownNodePool", accepted["message"]) in decision.events
    assert "inferenceService" not in decision.status
    _valid_status(decision.status)


def test_unknown_default_pool_names_the_operator_setting() -> None:
    config = CONFIG.model_copy(update={"default_node_pool": "gpu-missing"})
    spec = {**SPEC, "serving": {"maxReplicas": 3}}
    decision = plan(_obs(spec=spec), config, NOW)
    accepted = _condition(decision, "Accepted")
    assert accepted["reason"] == "UnknownNodePool"
    assert "defaultNodePool" in accepted["message"] and "'gpu-missing'" in accepted["message"]


def test_known_default_pool_is_used_when_spec_names_none() -> None:
    config = CONFIG.model_copy(update={"default_node_pool": "gpu-a100"})
    decision = plan(_obs(spec={**SPEC, "serving": None}), config, NOW)
    isvc = decision.apply_inference_service
    assert isvc is not None
    assert isvc["spec"]["predictor"]["nodeSelector"] == {"modelops.io/pool": "gpu-a100"}


def test_no_pool_anywhere_is_fine() -> None:
    decision = plan(_obs(spec={**SPEC, "serving": None}), CONFIG, NOW)
    assert _condition(decision, "Accepted")["status"] == "True"
    isvc = decision.apply_inference_service
    assert isvc is not None and "nodeSelector" not in isvc["spec"]["predictor"]


def test_unknown_pool_does_not_matter_when_serving_is_off() -> None:
    spec = {**SPEC, "serving": {"enabled": False, "nodePool": "gpu-h100"}}
    decision = plan(_obs(spec=spec), CONFIG, NOW)
    assert _condition(decision, "Accepted")["status"] == "True"


# -- models:/ resolution --------------------------------------------------------------------------


def test_registry_uri_resolved_from_observation() -> None:
    obs = _obs(spec=REGISTRY_SPEC, resolution=RESOLVED, registered=None)
    decision = plan(obs, CONFIG, NOW)
    assert decision.status["registry"] == {
        "name": "fraud-detector", "version": "3",
        "resolvedFrom": "models:/fraud-detector/3", "resolvedUri": MLFLOW_SOURCE,
    }
    registered = _condition(decision, "Registered")
    assert (registered["status"], registered["reason"]) == ("True", "Resolved")
    assert MLFLOW_SOURCE in registered["message"] and "models:/fraud-detector/3" in registered["message"]
    isvc = decision.apply_inference_service
    assert isvc is not None
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == MLFLOW_SOURCE
    assert decision.register is None and not decision.needs_another_pass
    assert decision.requeue_after is None
    assert Event("Normal", "Resolved", registered["message"]) in decision.events
    assert decision.version_tags[UID_TAG] == UID
    _valid_status(decision.status)


def test_alias_uri_resolved_once() -> None:
    spec = {**REGISTRY_SPEC, "artifact": {"storageUri": "models:/fraud-detector@champion", "format": "mlflow"}}
    first = plan(_obs(spec=spec, resolution=RESOLVED, registered=None), CONFIG, NOW)
    assert first.status["registry"]["resolvedFrom"] == "models:/fraud-detector@champion"
    assert first.status["registry"]["version"] == "3"
    # The alias moves to version 4: what is served does not.
    moved = RegistryVersion(name="fraud-detector", version="4", source="s3://mlflow/artifacts/1/other/model")
    second = _replan(_obs(spec=spec, registered=None), first, resolution=moved)
    assert second.apply_inference_service is not None
    assert second.apply_inference_service["spec"]["predictor"]["model"]["storageUri"] == MLFLOW_SOURCE
    assert second.status["registry"] == first.status["registry"]
    assert second.events == []


def test_already_resolved_in_status_wins_over_a_new_resolution() -> None:
    status = {"registry": {"name": "fraud-detector", "version": "3", "resolvedFrom": "models:/fraud-detector/3",
                           "resolvedUri": MLFLOW_SOURCE}}
    other = RegistryVersion(name="fraud-detector", version="9", source="s3://elsewhere/model")
    decision = plan(_obs(spec=REGISTRY_SPEC, status=status, resolution=other, registered=None), CONFIG, NOW)
    assert decision.apply_inference_service is not None
    assert decision.apply_inference_service["spec"]["predictor"]["model"]["storageUri"] == MLFLOW_SOURCE
    assert decision.status["registry"] == status["registry"]
    assert get_condition(decision.status.get("conditions"), "Registered") is None
    assert not [e for e in decision.events if e.reason == "Resolved"]


def test_resolved_uri_recorded_for_another_uri_is_not_used() -> None:
    status = {"registry": {"resolvedFrom": "models:/fraud-detector/2", "resolvedUri": "s3://old/model"}}
    decision = plan(_obs(spec=REGISTRY_SPEC, status=status, resolution=RESOLVED, registered=None), CONFIG, NOW)
    assert decision.apply_inference_service is not None
    assert decision.apply_inference_service["spec"]["predictor"]["model"]["storageUri"] == MLFLOW_SOURCE


def test_resolution_error() -> None:
    error = "the registered model 'fraud-detector' has no version 3"
    obs = _obs(spec=REGISTRY_SPEC, resolution_error=error, registered=None)
    decision = plan(obs, CONFIG, NOW)
    registered = _condition(decision, "Registered")
    assert (registered["status"], registered["reason"]) == ("False", "ResolutionFailed")
    assert error in registered["message"] and "models:/fraud-detector/3" in registered["message"]
    assert decision.apply_inference_service is None
    assert decision.delete_inference_service is None
    assert decision.register is None
    assert decision.requeue_after == RETRY_SECONDS
    assert decision.status["ready"] is False and decision.status["reason"] == "ArtifactUnresolved"
    ready = _condition(decision, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ArtifactUnresolved")
    assert decision.events == [Event("Warning", "ResolutionFailed", registered["message"])]
    assert "registry" not in decision.status
    again = _replan(obs, decision)
    assert again.events == [] and again.requeue_after == RETRY_SECONDS


def test_resolution_without_mlflow() -> None:
    obs = _obs(spec=REGISTRY_SPEC, mlflow_configured=False, registered=None)
    decision = plan(obs, CONFIG, NOW)
    registered = _condition(decision, "Registered")
    assert registered["reason"] == "ResolutionFailed"
    assert "no MLflow server is configured" in registered["message"]
    assert decision.apply_inference_service is None


def test_resolution_not_yet_observed() -> None:
    decision = plan(_obs(spec=REGISTRY_SPEC, registered=None), CONFIG, NOW)
    assert "not resolved yet" in _condition(decision, "Registered")["message"]
    assert decision.requeue_after == RETRY_SECONDS


# -- the registry record for a direct URI --------------------------------------------------------


def test_plain_uri_not_registered_asks_to_register() -> None:
    decision = plan(_obs(registered=None), CONFIG, NOW)
    assert decision.register == RegisterRequest(
        model="fraud-detector", source=S3, run_id=RUN_ID, tags=EXPECTED_TAGS,
        description=f"ModelVersion {NS}/{NAME}",
    )
    assert decision.needs_another_pass
    assert decision.requeue_after is None
    assert "registry" not in decision.status
    assert decision.version_tags == {}
    # Serving does not wait for the registry when the URI is direct.
    assert decision.apply_inference_service is not None
    assert decision.apply_inference_service["spec"]["predictor"]["model"]["storageUri"] == S3


def test_register_request_without_lineage() -> None:
    spec = {k: v for k, v in SPEC.items() if k != "lineage"}
    decision = plan(_obs(spec=spec, registered=None), CONFIG, NOW)
    assert decision.register is not None
    assert decision.register.run_id is None
    assert decision.register.tags == {UID_TAG: UID, "modelops.io/modelversion": NAME, "modelops.io/namespace": NS}


def test_register_request_with_partial_lineage() -> None:
    spec = {**SPEC, "lineage": {"data": {"uri": "pvc://datasets/fraud"}, "code": {"repo": REPO, "commit": "main"}}}
    decision = plan(_obs(spec=spec, registered=None), CONFIG, NOW)
    assert decision.register is not None
    tags = decision.register.tags
    assert tags["modelops.data.uri"] == "pvc://datasets/fraud"
    assert "modelops.data.version" not in tags and "modelops.io/trainingrun" not in tags
    assert "modelops.image" not in tags
    assert tags["modelops.code.commit"] == "main"
    assert decision.register.run_id is None


def test_registered() -> None:
    decision = plan(_obs(registered=REGISTERED), CONFIG, NOW)
    assert decision.status["registry"] == {"name": "fraud-detector", "version": "3"}
    registered = _condition(decision, "Registered")
    assert (registered["status"], registered["reason"]) == ("True", "Registered")
    assert "fraud-detector version 3" in registered["message"]
    assert decision.version_tags == EXPECTED_TAGS
    assert decision.register is None and not decision.needs_another_pass
    assert decision.requeue_after is None


def test_register_then_registered_two_passes() -> None:
    obs = _obs(registered=None)
    first = plan(obs, CONFIG, NOW)
    assert first.needs_another_pass
    second = _replan(obs, first, now=NOW, registered=REGISTERED)
    assert not second.needs_another_pass
    assert second.status["registry"] == {"name": "fraud-detector", "version": "3"}


def test_registry_unavailable() -> None:
    error = "MLflow is unavailable: connection refused"
    decision = plan(_obs(registered=None, registry_error=error), CONFIG, NOW)
    registered = _condition(decision, "Registered")
    assert (registered["status"], registered["reason"], registered["message"]) == (
        "False", "RegistryUnavailable", error)
    assert decision.register is None
    assert decision.requeue_after == RETRY_SECONDS
    assert Event("Warning", "RegistryUnavailable", error) in decision.events
    # The URI is direct: serving does not wait for the registry.
    assert decision.apply_inference_service is not None
    assert decision.apply_inference_service["spec"]["predictor"]["model"]["storageUri"] == S3


def test_registry_unavailable_keeps_the_recorded_version() -> None:
    status = {"registry": {"name": "fraud-detector", "version": "3"}}
    decision = plan(_obs(status=status, registered=None, registry_error="MLflow is unavailable: x"), CONFIG, NOW)
    assert decision.status["registry"] == {"name": "fraud-detector", "version": "3"}


def test_mlflow_not_configured() -> None:
    decision = plan(_obs(mlflow_configured=False, registered=None), CONFIG, NOW)
    registered = _condition(decision, "Registered")
    assert (registered["status"], registered["reason"]) == ("Unknown", "MLflowNotConfigured")
    assert decision.register is None and decision.requeue_after is None
    assert decision.apply_inference_service is not None
    assert not [e for e in decision.events if e.reason == "MLflowNotConfigured"]


# -- serving on and off ---------------------------------------------------------------------------


def test_serving_disabled_deletes_existing_isvc() -> None:
    spec = {**SPEC, "serving": {"enabled": False}}
    status = {"inferenceService": ISVC, "url": URL, "ready": True, "reason": "Ready",
              "registry": {"name": "fraud-detector", "version": "3"}}
    decision = plan(_obs(spec=spec, status=status, inference_service=LOADED), CONFIG, NOW)
    assert decision.delete_inference_service == ISVC
    assert decision.apply_inference_service is None
    assert decision.status["ready"] is False and decision.status["reason"] == "ServingDisabled"
    assert "inferenceService" not in decision.status and "url" not in decision.status
    ready = _condition(decision, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ServingDisabled")
    # The record is kept.
    assert decision.status["registry"] == {"name": "fraud-detector", "version": "3"}
    _valid_status(decision.status)


def test_serving_disabled_without_isvc_deletes_nothing() -> None:
    decision = plan(_obs(spec={**SPEC, "serving": {"enabled": False}}), CONFIG, NOW)
    assert decision.delete_inference_service is None
    assert decision.apply_inference_service is None
    assert decision.status["reason"] == "ServingDisabled"


def test_serving_enabled_applies_the_desired_isvc() -> None:
    decision = plan(_obs(inference_service=LOADED), CONFIG, NOW)
    isvc = decision.apply_inference_service
    assert isvc is not None
    assert isvc["metadata"]["name"] == ISVC and isvc["metadata"]["namespace"] == NS
    assert isvc["metadata"]["ownerReferences"][0]["uid"] == UID
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert isvc["spec"]["predictor"]["nodeSelector"] == {"modelops.io/pool": "cpu"}
    assert isvc["spec"]["predictor"]["logger"]["url"] == LOG_SINK
    assert decision.status["inferenceService"] == ISVC
    assert decision.delete_inference_service is None


# -- readiness into status, events once -----------------------------------------------------------


def test_ready_flows_into_status() -> None:
    decision = plan(_obs(inference_service=LOADED), CONFIG, NOW)
    status = decision.status
    assert status["ready"] is True and status["reason"] == "Ready" and status["url"] == URL
    assert status["inferenceService"] == ISVC
    ready = _condition(decision, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Ready")
    assert ready["message"] == status["message"]
    assert [e for e in decision.events if e.reason == "Ready"] == [Event("Normal", "Ready", status["message"])]
    _valid_status(status)
    assert [e for e in _replan(_obs(inference_service=LOADED), decision).events if e.reason == "Ready"] == []


def test_isvc_not_created_yet() -> None:
    decision = plan(_obs(inference_service=None), CONFIG, NOW)
    assert decision.status["ready"] is False
    assert decision.status["reason"] == "InferenceServiceMissing"
    assert "url" not in decision.status
    assert decision.apply_inference_service is not None
    assert decision.events == []


def test_model_not_loaded_is_not_ready_and_quiet() -> None:
    decision = plan(_obs(inference_service=_isvc(_isvc_status("Loading"))), CONFIG, NOW)
    assert decision.status["ready"] is False and decision.status["reason"] == "ModelNotLoaded"
    assert _condition(decision, "Ready")["reason"] == "ModelNotLoaded"
    assert decision.events == []


def test_model_load_failed_warns_exactly_once() -> None:
    obs = _obs(inference_service=FAILED)
    first = plan(obs, CONFIG, NOW)
    message = f"ModelLoadFailed: {LOAD_FAILURE['message']}"
    assert first.status["ready"] is False
    assert first.status["reason"] == "ModelLoadFailed"
    assert first.status["message"] == message
    assert first.status["url"] == URL
    ready = _condition(first, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "ModelLoadFailed", message)
    assert first.events == [Event("Warning", "ModelLoadFailed", message)]
    second = _replan(obs, first)
    assert second.events == []
    assert second.status == first.status


def test_model_load_failed_after_being_ready_warns() -> None:
    first = plan(_obs(inference_service=LOADED), CONFIG, NOW)
    second = _replan(_obs(), first, inference_service=FAILED)
    assert [e.reason for e in second.events] == ["ModelLoadFailed"]
    assert _condition(second, "Ready")["lastTransitionTime"] == format_time(LATER)


def test_ready_after_failure_is_a_normal_event() -> None:
    first = plan(_obs(inference_service=FAILED), CONFIG, NOW)
    second = _replan(_obs(), first, inference_service=LOADED)
    assert [(e.type, e.reason) for e in second.events] == [("Normal", "Ready")]
    assert second.status["ready"] is True


def test_url_passthrough_into_status() -> None:
    decision = plan(_obs(inference_service=_isvc(_isvc_status(url="http://other.example.com"))), CONFIG, NOW)
    assert decision.status["url"] == "http://other.example.com"


def test_not_ready_reason_from_kserve_condition() -> None:
    status = {"conditions": [_cond("PredictorReady", "False", "RevisionFailed", "0/4 nodes are available"),
                             _cond("Ready", "False", "RevisionFailed", "0/4 nodes are available")]}
    decision = plan(_obs(inference_service=_isvc(status)), CONFIG, NOW)
    assert decision.status["reason"] == "RevisionFailed"
    assert decision.status["message"] == "0/4 nodes are available"
    assert decision.events == []


def test_long_kserve_failure_message_still_fits_the_status_schema() -> None:
    """KServe fills lastFailureInfo.message from the model server container's termination message,
    which Kubernetes caps at 4096 bytes (often a Python traceback). status.message is capped at 4096
    characters by the ModelVersion CRD, so copying it with a prefix makes the API server reject the
    whole status write and the failure is never reported."""
    traceback = ("Traceback (most recent call last):\n" + "  File \"/app/model.py\", line 42, in load\n" * 200)
    failure = {**LOAD_FAILURE, "message": traceback[:4096]}
    decision = plan(_obs(inference_service=_isvc(_isvc_status("FailedToLoad", failure=failure))), CONFIG, NOW)
    assert decision.status["reason"] == "ModelLoadFailed"
    assert len(decision.status["message"]) <= 4096, len(decision.status["message"])
    _valid_status(decision.status)


# -- Logging --------------------------------------------------------------------------------------


def test_logging_condition_no_log_sink() -> None:
    decision = plan(_obs(inference_service=LOADED), NO_SINK, NOW)
    logging = _condition(decision, "Logging")
    assert (logging["status"], logging["reason"]) == ("False", "NoLogSink")
    assert "serving.logSinkUrl" in logging["message"]
    assert decision.apply_inference_service is not None
    assert "logger" not in decision.apply_inference_service["spec"]["predictor"]


def test_logging_condition_with_sink() -> None:
    decision = plan(_obs(inference_service=LOADED), CONFIG, NOW)
    logging = _condition(decision, "Logging")
    assert (logging["status"], logging["reason"]) == ("True", "Logging")
    assert LOG_SINK in logging["message"]


def test_logging_disabled_in_spec_says_so() -> None:
    spec = {**SPEC, "serving": {**SPEC["serving"], "logger": {"enabled": False}}}
    decision = plan(_obs(spec=spec), NO_SINK, NOW)
    logging = get_condition(decision.status.get("conditions"), "Logging")
    assert logging is not None and logging["status"] == "False" and logging["reason"] == "LoggingDisabled"


def test_switching_logging_off_does_not_leave_logging_true() -> None:
    """Logger enabled -> Logging True; the user then sets serving.logger.enabled: false (a mutable
    field) and the ISVC loses its logger. Status must not keep claiming predictions are logged."""
    first = plan(_obs(inference_service=LOADED), CONFIG, NOW)
    assert _condition(first, "Logging")["status"] == "True"
    spec = {**SPEC, "serving": {**SPEC["serving"], "logger": {"enabled": False}}}
    second = _replan(_obs(), first, spec=spec, inference_service=LOADED)
    assert second.apply_inference_service is not None
    assert "logger" not in second.apply_inference_service["spec"]["predictor"]
    logging = get_condition(second.status.get("conditions"), "Logging")
    assert logging is None or logging["status"] != "True", logging


# -- role and servedBy ----------------------------------------------------------------------------


def test_no_rollouts_role_none() -> None:
    decision = plan(_obs(status={"servedBy": ["gone"], "role": "champion"}), CONFIG, NOW)
    assert decision.status["role"] == "none"
    assert "servedBy" not in decision.status
    assert decision.apply_inference_service is not None
    assert "modelops.io/stage" not in decision.apply_inference_service["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("rollouts", "role", "served_by"),
    [
        ([_rollout("fraud", target=NAME, stable=NAME)], "champion", ["fraud"]),
        ([_rollout("fraud", target=NAME, stable="fraud-detector-v2", candidate=NAME)], "candidate", ["fraud"]),
        ([_rollout("fraud", target="fraud-detector-v4", stable="fraud-detector-v4", warm=[NAME])], "previous",
         ["fraud"]),
        ([_rollout("fraud-eu", target="fraud-detector-v4", stable="fraud-detector-v4", warm=[NAME]),
          _rollout("fraud-us", target=NAME, stable="fraud-detector-v2")], "candidate", ["fraud-eu", "fraud-us"]),
        ([_rollout("other", target="fraud-detector-v4", stable="fraud-detector-v4")], "none", None),
    ],
)
def test_role_and_served_by_from_rollouts(rollouts: list[dict[str, Any]], role: str,
                                          served_by: list[str] | None) -> None:
    decision = plan(_obs(rollouts=rollouts, inference_service=LOADED), CONFIG, NOW)
    assert decision.status["role"] == role
    assert decision.status.get("servedBy") == served_by
    assert decision.apply_inference_service is not None
    # The role is status only: it never reaches the InferenceService (no Pod restart on promotion).
    assert "modelops.io/stage" not in decision.apply_inference_service["metadata"]["annotations"]
    _valid_status(decision.status)


def test_role_is_kept_when_serving_is_off() -> None:
    spec = {**SPEC, "serving": {"enabled": False}}
    decision = plan(_obs(spec=spec, rollouts=[_rollout("fraud", target="x", stable="x", warm=[NAME])]), CONFIG, NOW)
    assert decision.status["role"] == "previous" and decision.status["servedBy"] == ["fraud"]


# -- idempotence ----------------------------------------------------------------------------------


SCENARIOS: dict[str, dict[str, Any]] = {
    "ready": {"inference_service": LOADED},
    "load-failed": {"inference_service": FAILED},
    "loading": {"inference_service": _isvc(_isvc_status("Loading"))},
    "missing-isvc": {},
    "resolved": {"spec": REGISTRY_SPEC, "resolution": RESOLVED, "registered": None, "inference_service": LOADED},
    "resolution-failed": {"spec": REGISTRY_SPEC, "resolution_error": "boom", "registered": None},
    "registry-down": {"registered": None, "registry_error": "MLflow is unavailable: x", "inference_service": LOADED},
    "no-mlflow": {"registered": None, "mlflow_configured": False},
    "serving-off": {"spec": {**SPEC, "serving": {"enabled": False}}, "inference_service": LOADED},
    "unknown-pool": {"spec": {**SPEC, "serving": {"nodePool": "nope"}}},
    "invalid": {"spec": {"model": "x"}},
    "champion": {"rollouts": [_rollout("fraud", target=NAME, stable=NAME)], "inference_service": LOADED},
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_replan_later_with_same_inputs_changes_nothing(scenario: str) -> None:
    obs = _obs(**SCENARIOS[scenario])
    first = plan(obs, CONFIG, NOW)
    assert first.status["conditions"]
    for condition in first.status["conditions"]:
        assert condition["lastTransitionTime"] == format_time(NOW)
    second = _replan(obs, first, now=LATER)
    assert second.status == first.status
    assert second.events == []
    assert second.apply_inference_service == first.apply_inference_service
    assert second.delete_inference_service == first.delete_inference_service
    assert second.requeue_after == first.requeue_after
    third = _replan(obs, second, now=LATER + timedelta(hours=5))
    assert third.status == first.status


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_plan_does_not_mutate_the_observation(scenario: str) -> None:
    obs = _obs(status={"conditions": [_cond("Ready", "False", "Pending", "x")], "registry": {"name": "a"}},
               **SCENARIOS[scenario])
    before = copy.deepcopy(obs)
    plan(obs, CONFIG, NOW)
    assert obs == before


def test_reason_change_without_status_flip_keeps_transition_time() -> None:
    first = plan(_obs(inference_service=None), CONFIG, NOW)
    second = _replan(_obs(), first, inference_service=_isvc(_isvc_status("Loading")))
    ready = _condition(second, "Ready")
    assert ready["reason"] == "ModelNotLoaded"
    assert ready["lastTransitionTime"] == format_time(NOW)


def test_new_generation_is_observed() -> None:
    first = plan(_obs(inference_service=LOADED), CONFIG, NOW)
    second = _replan(_obs(), first, generation=3, inference_service=LOADED)
    assert second.status["observedGeneration"] == 3
    assert all(c["observedGeneration"] == 3 for c in second.status["conditions"])
    assert all(c["lastTransitionTime"] == format_time(NOW) for c in second.status["conditions"])


def test_timezone_of_now_is_normalised() -> None:
    from datetime import timezone

    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    assert plan(_obs(), CONFIG, tokyo).status == plan(_obs(), CONFIG, NOW).status


# -- parse_registry_uri ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/fraud/3", ("fraud", "3", None)),
        ("models:/fraud-detector/12", ("fraud-detector", "12", None)),
        ("models:/fraud@champion", ("fraud", None, "champion")),
        ("models:/fraud-detector@challenger", ("fraud-detector", None, "challenger")),
        ("models:///fraud/3", ("fraud", "3", None)),
    ],
)
def test_parse_registry_uri(uri: str, expected: tuple[str, str | None, str | None]) -> None:
    assert is_registry_uri(uri)
    assert parse_registry_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "models:/",
        "models:/fraud",
        "models:/fraud/",
        "models:/fraud/latest",
        "models:/fraud/Production",
        "models:/fraud/-1",
        "models:/fraud@",
        "models:/@champion",
        "models:/fraud@champ/ion",
        "models:/3",
    ],
)
def test_parse_registry_uri_rejects(uri: str) -> None:
    with pytest.raises(ValueError, match="is not models:/<name>/<version> or models:/<name>@<alias>"):
        parse_registry_uri(uri)


@pytest.mark.parametrize("uri", ["models:/team/fraud/3", "models:/fraud/3@champion"])
def test_parse_registry_uri_rejects_names_mlflow_cannot_have(uri: str) -> None:
    """MLflow registered model names cannot contain '/' (mlflow.utils.validation._validate_model_name),
    and MLflow's own parser rejects models:/a/b/3; a name with a slash is a malformed URI, not a name."""
    with pytest.raises(ValueError):
        parse_registry_uri(uri)


@pytest.mark.parametrize("uri", ["s3://models/fraud/3", "gs://b/m", "pvc://models/iris", "https://x/m.tgz",
                                 "model:/fraud/3", "MODELS:/fraud/3"])
def test_not_registry_uris(uri: str) -> None:
    assert not is_registry_uri(uri)


# -- no InferenceService status makes plan raise --------------------------------------------------

JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
JSON = st.recursive(
    JSON_LEAF,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
CONDITION_KEYS = st.sampled_from(["type", "status", "reason", "message", "lastTransitionTime", "severity"])
MODEL_STATUS_KEYS = st.sampled_from(["states", "transitionStatus", "lastFailureInfo", "copies"])
STATE_KEYS = st.sampled_from(["activeModelState", "targetModelState"])
FAILURE_KEYS = st.sampled_from(["reason", "message", "location", "exitCode", "modelRevisionName", "time"])


def _json_dict(keys: st.SearchStrategy[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(keys | st.text(max_size=8), values, max_size=6)


CONDITION = _json_dict(CONDITION_KEYS, JSON | st.sampled_from(["Ready", "PredictorReady", "True", "False"]))
STATES = _json_dict(STATE_KEYS, JSON | st.sampled_from(["Loaded", "Loading", "FailedToLoad", "Pending"]))
FAILURE = _json_dict(FAILURE_KEYS, JSON)
MODEL_STATUS = st.fixed_dictionaries({}, optional={
    "states": STATES | JSON,
    "transitionStatus": JSON,
    "lastFailureInfo": FAILURE | JSON,
    "copies": JSON,
}) | JSON
ISVC_STATUS = st.fixed_dictionaries({}, optional={
    "conditions": st.lists(CONDITION | JSON, max_size=5) | JSON,
    "modelStatus": MODEL_STATUS,
    "url": JSON,
    "address": JSON,
    "observedGeneration": JSON,
})


@settings(max_examples=300, deadline=None)
@given(ISVC_STATUS)
@example({"conditions": [{"type": "Ready", "status": "True"}], "modelStatus": {"states": {"activeModelState": 7}}})
@example({"conditions": [{"type": ["Ready"], "status": "True"}]})
@example({"conditions": ["Ready"]})
@example({"conditions": {"type": "Ready", "status": "True"}})
@example({"modelStatus": {"states": "Loaded"}})
@example({"modelStatus": {"states": {"activeModelState": "FailedToLoad"}, "lastFailureInfo": "OOMKilled"}})
@example({"modelStatus": ["Loaded"]})
def test_plan_never_raises_for_any_isvc_status(status: dict[str, Any]) -> None:
    decision = plan(_obs(inference_service=_isvc(status)), CONFIG, NOW)
    assert isinstance(decision.status["ready"], bool)
    assert isinstance(decision.status["reason"], str) and decision.status["reason"]
    if decision.status["ready"]:
        assert decision.status["reason"] == "Ready"
    assert decision.apply_inference_service is not None
    json.dumps(decision.status)


# KServe and Knative reasons are CamelCase (RevisionFailed, IngressNotConfigured, ModelLoadFailed, ...).
CAMEL = st.from_regex(r"\A[A-Z][A-Za-z0-9]{0,15}\Z")


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "conditions": st.lists(st.fixed_dictionaries(
        {"type": st.sampled_from(["Ready", "PredictorReady", "IngressReady"]),
         "status": st.sampled_from(["True", "False", "Unknown"])},
        optional={"reason": CAMEL, "message": st.text(max_size=20)}), max_size=4),
    "modelStatus": st.fixed_dictionaries({}, optional={
        "states": st.fixed_dictionaries({}, optional={
            "activeModelState": st.sampled_from(["", "Pending", "Standby", "Loading", "Loaded", "FailedToLoad"]),
            "targetModelState": st.sampled_from(["", "Pending", "Loading", "Loaded", "FailedToLoad"])}),
        "transitionStatus": st.sampled_from(["UpToDate", "InProgress", "BlockedByFailedLoad", "InvalidSpec"]),
        "lastFailureInfo": st.fixed_dictionaries({}, optional={
            "reason": st.sampled_from(["ModelLoadFailed", "RuntimeUnhealthy", "NoSupportingRuntime"]),
            "message": st.text(max_size=20), "exitCode": st.integers(0, 255)}),
    }),
    "url": st.sampled_from([URL, "http://x.example.com"]),
}))
def test_plan_on_kserve_shaped_statuses_is_idempotent(status: dict[str, Any]) -> None:
    obs = _obs(inference_service=_isvc(status))
    first = plan(obs, CONFIG, NOW)
    _valid_status(first.status)
    assert len([e for e in first.events if e.type == "Warning"]) <= 1
    second = _replan(obs, first)
    assert second.status == first.status
    assert second.events == []


# -- Retired by keepWarm, and served by a Rollout's kserve router ---------------------------------


def test_a_version_retired_by_keep_warm_stops_serving_and_keeps_its_record() -> None:
    retired = {"metadata": {"name": "fraud", "namespace": NS}, "spec": {"model": "fraud-detector", "target": "v9"},
               "status": {"stable": "v9", "retired": [NAME]}}
    decision = plan(_obs(inference_service=LOADED, rollouts=[retired]), CONFIG, NOW)
    assert decision.status["role"] == "archived" and "servedBy" not in decision.status
    assert decision.delete_inference_service is not None and decision.apply_inference_service is None
    assert decision.status["ready"] is False and decision.status["reason"] == "Retired"
    named_again = {**retired, "spec": {"model": "fraud-detector", "target": NAME}}
    again = plan(_obs(inference_service=None, rollouts=[named_again]), CONFIG, NOW)
    assert again.status["role"] == "candidate" and again.apply_inference_service is not None


def test_a_retired_version_pushed_off_status_retired_is_not_served_again() -> None:
    # Found by the soak: after more than RETIRED_KEPT fast cycles, early-retired versions left
    # status.retired, read as named by no Rollout, and got their InferenceService back.
    moved_on = {"metadata": {"name": "fraud", "namespace": NS}, "spec": {"model": "fraud-detector", "target": "v40"},
                "status": {"stable": "v40", "retired": [f"v{i}" for i in range(39, 19, -1)]}}
    decision = plan(_obs(inference_service=None, rollouts=[moved_on], status={"role": "archived"}), CONFIG, NOW)
    assert decision.status["role"] == "archived" and decision.apply_inference_service is None
    assert decision.status["reason"] == "Retired"


def test_a_version_served_by_a_kserve_router_gets_no_inference_service_of_its_own() -> None:
    from modelops.core.serving.readiness import Readiness

    rollout = {"metadata": {"name": "fraud", "namespace": NS},
               "spec": {"model": "fraud-detector", "target": NAME,
                        "trafficRouting": {"kserve": {"inferenceService": "fraud"}}},
               "status": {"stable": NAME}}
    routed = ("fraud", Readiness(True, "Ready", "the predictor is Ready"))
    decision = plan(_obs(inference_service=LOADED, rollouts=[rollout], routed=routed), CONFIG, NOW)
    assert decision.apply_inference_service is None and decision.delete_inference_service is not None
    assert decision.status["inferenceService"] == "fraud" and decision.status["ready"] is True
    assert decision.status["role"] == "champion"


# -- what is not this record's: refused, said, left untouched --------------------------------------

OTHER_UID = "99999999-0000-4000-8000-000000000000"
CLAIMED = RegistryVersion(name="fraud-detector", version="3", source=MLFLOW_SOURCE,
                          tags={UID_TAG: OTHER_UID, "modelops.io/modelversion": "fraud-detector-v4",
                                "modelops.io/namespace": NS})


def test_a_resolution_to_a_version_another_record_claims_is_refused() -> None:
    decision = plan(_obs(spec=REGISTRY_SPEC, resolution=CLAIMED, registered=None), CONFIG, NOW)
    registered = _condition(decision, "Registered")
    assert (registered["status"], registered["reason"]) == ("False", "VersionClaimed")
    assert f"already recorded by ModelVersion {NS}/fraud-detector-v4" in registered["message"]
    assert decision.version_tags == {} and decision.apply_inference_service is None
    assert "registry" not in decision.status and decision.requeue_after is not None
    assert [e.reason for e in decision.events] == ["VersionClaimed"]


def test_adoption_never_takes_a_version_another_record_claims() -> None:
    decision = plan(_obs(registered=CLAIMED), CONFIG, NOW)
    registered = _condition(decision, "Registered")
    assert registered["reason"] == "VersionClaimed" and decision.register is None
    assert decision.version_tags == {} and "registry" not in decision.status


def test_a_version_a_trainingrun_recorded_under_another_name_is_claimed() -> None:
    made = RegistryVersion(name="fraud-detector", version="3", source=S3,
                           tags={"modelops.io/modelversion": "fraud-detector-v3-1a2b3c4d", "modelops.io/namespace": NS})
    assert _condition(plan(_obs(registered=made), CONFIG, NOW), "Registered")["reason"] == "VersionClaimed"
    mine = RegistryVersion(name="fraud-detector", version="3", source=S3,
                           tags={"modelops.io/modelversion": NAME, "modelops.io/namespace": NS})
    assert _condition(plan(_obs(registered=mine), CONFIG, NOW), "Registered")["status"] == "True"


def test_an_inference_service_someone_else_made_is_neither_written_nor_deleted() -> None:
    foreign = {**_isvc(_isvc_status()), "metadata": {
        "name": ISVC, "namespace": NS, "managedFields": [{"manager": "helm", "operation": "Apply"}]}}
    decision = plan(_obs(inference_service=foreign), CONFIG, NOW)
    accepted = _condition(decision, "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "InferenceServiceConflict")
    assert "managed by helm" in accepted["message"]
    assert decision.apply_inference_service is None and decision.delete_inference_service is None
    disabled = plan(_obs(spec={**SPEC, "serving": {"enabled": False}}, inference_service=foreign), CONFIG, NOW)
    assert disabled.delete_inference_service is None


def test_a_lineage_naming_a_missing_trainingrun_is_said_and_the_record_kept() -> None:
    decision = plan(_obs(training_run_exists=False, inference_service=LOADED), CONFIG, NOW)
    lineage = _condition(decision, "LineageComplete")
    assert (lineage["status"], lineage["reason"]) == ("False", "TrainingRunNotFound")
    assert "fraud-train-42" in lineage["message"] and RUN_ID in lineage["message"]
    assert decision.apply_inference_service is not None and decision.status["ready"] is True
    assert _condition(plan(_obs(training_run_exists=True), CONFIG, NOW), "LineageComplete")["status"] == "True"


def test_a_registration_mlflow_refuses_is_a_condition_not_a_retry_loop() -> None:
    refused = Rejection("MLflow", 400, "INVALID_PARAMETER_VALUE", "POST model-versions/create: Invalid model version "
                        "source: 's3://models/../secrets'")
    decision = plan(_obs(registered=None, rejection=refused), CONFIG, NOW)
    registered = _condition(decision, "Registered")
    assert (registered["status"], registered["reason"]) == ("False", "RegistryRejected")
    assert "Invalid model version source" in registered["message"]
    assert decision.register is None and decision.requeue_after == 60.0
    assert [e.type for e in decision.events] == ["Warning"]


def test_of_two_versions_one_run_registered_each_record_adopts_one_nobody_claims() -> None:
    from modelops.core.serving.progress import Identity, adoptable

    theirs = RegistryVersion(name="m", version="2", source=S3, tags={UID_TAG: OTHER_UID})
    free = RegistryVersion(name="m", version="1", source=S3, tags={})
    me = Identity(uid=UID, name=NAME, namespace=NS)
    assert adoptable([free, theirs], me) == free
    assert adoptable([theirs], me) == theirs  # nothing free: the plan says who claims it
    assert adoptable([], me) is None


# -- no write when the InferenceService already is what would be applied ----------------------


def _applied(decision: ModelVersionDecision) -> dict[str, Any]:
    """The InferenceService as the API server keeps it after the apply: what was sent, plus
    defaults and fields others own, plus KServe's status."""
    assert decision.apply_inference_service is not None
    stored = copy.deepcopy(decision.apply_inference_service)
    stored["metadata"].update(resourceVersion="42", generation=1, creationTimestamp="2026-01-01T00:00:00Z")
    stored["metadata"].setdefault("annotations", {})["someone.else/note"] = "kept"
    stored["spec"]["predictor"]["minReplicas"] = stored["spec"]["predictor"].get("minReplicas", 1)
    stored["spec"]["predictor"]["model"]["protocolVersion"] = "v1"
    stored["status"] = _isvc_status()
    return stored


def test_an_inference_service_already_applied_is_not_applied_again() -> None:
    first = plan(_obs(), CONFIG, NOW)
    again = plan(_obs(inference_service=_applied(first), status=first.status), CONFIG, LATER)
    assert again.apply_inference_service is None
    assert _condition(again, "Ready")["status"] == "True"


def test_a_hand_edit_of_an_applied_field_is_reverted() -> None:
    first = plan(_obs(), CONFIG, NOW)
    edited = _applied(first)
    edited["spec"]["predictor"]["model"]["storageUri"] = "s3://elsewhere/"
    again = plan(_obs(inference_service=edited, status=first.status), CONFIG, LATER)
    assert again.apply_inference_service == first.apply_inference_service


def test_a_changed_spec_is_applied() -> None:
    first = plan(_obs(), CONFIG, NOW)
    spec = {**SPEC, "artifact": {**SPEC["artifact"], "storageUri": "s3://models/fraud/4/"}}
    again = plan(_obs(spec=spec, inference_service=_applied(first), status=first.status), CONFIG, LATER)
    assert again.apply_inference_service is not None
    assert again.apply_inference_service["spec"]["predictor"]["model"]["storageUri"] == "s3://models/fraud/4/"


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=3),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                     max_leaves=12)


@given(desired=st.dictionaries(st.text(max_size=3), _json, max_size=4),
       extra=st.dictionaries(st.text(min_size=4, max_size=5), _json, max_size=3))
def test_already_applied_ignores_what_only_the_server_has(desired: dict[str, Any], extra: dict[str, Any]) -> None:
    assert already_applied({**extra, **desired}, desired)
    for key, value in desired.items():
        changed = {**extra, **desired, key: [value, "other"]}
        assert not already_applied(changed, desired)
    assert not already_applied(None, desired)
