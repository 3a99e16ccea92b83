"""InferenceService status -> Readiness, with statuses in KServe's real format: conditions
(IngressReady, PredictorReady, Ready, ...) and modelStatus {states {activeModelState,
targetModelState}, transitionStatus, lastFailureInfo {reason, message, location, exitCode}}.

A Pod that is up but whose model is still loading, or failed to load, is not Ready."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.core.serving.readiness import Readiness, readiness

URL = "http://fraud-detector-v3.ml.example.com"
T = "2026-03-01T12:00:00Z"


def _cond(type: str, status: str, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": type, "status": status, "lastTransitionTime": T}
    if reason is not None:
        condition["reason"] = reason
    if message is not None:
        condition["message"] = message
    return condition


def _all_true() -> list[dict[str, Any]]:
    return [
        _cond("IngressReady", "True"),
        _cond("LatestDeploymentReady", "True"),
        _cond("PredictorConfigurationReady", "True"),
        _cond("PredictorReady", "True"),
        _cond("PredictorRouteReady", "True"),
        _cond("Ready", "True"),
        _cond("RoutesReady", "True"),
    ]


def _model_status(active: str, target: str | None = None, transition: str = "UpToDate",
                  failure: dict[str, Any] | None = None) -> dict[str, Any]:
    model_status: dict[str, Any] = {
        "copies": {"failedCopies": 0, "totalCopies": 1},
        "states": {"activeModelState": active, "targetModelState": target or active},
        "transitionStatus": transition,
    }
    if failure is not None:
        model_status["lastFailureInfo"] = failure
    return model_status


def _isvc(status: dict[str, Any] | None) -> dict[str, Any]:
    isvc: dict[str, Any] = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "fraud-detector-v3", "namespace": "ml", "generation": 1},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/3"}}},
    }
    if status is not None:
        isvc["status"] = status
    return isvc


LOADED: dict[str, Any] = {
    "url": URL,
    "address": {"url": "http://fraud-detector-v3-predictor.ml.svc.cluster.local"},
    "components": {"predictor": {"latestCreatedRevision": "fraud-detector-v3-predictor-00001", "url": URL}},
    "conditions": _all_true(),
    "modelStatus": _model_status("Loaded"),
    "observedGeneration": 1,
}

LOAD_FAILURE = {
    "reason": "ModelLoadFailed",
    "message": "Failed to locate model file: No such file or directory: /mnt/models/model.joblib",
    "location": "fraud-detector-v3-predictor-00001-deployment-6f7c9d8b5-x2x7k",
    "exitCode": 1,
}


def test_missing_inference_service() -> None:
    state = readiness(None)
    assert state == Readiness(False, "InferenceServiceMissing", "the InferenceService does not exist yet")
    assert state.url is None


@pytest.mark.parametrize("status", [None, {}, {"observedGeneration": 1}, {"conditions": []}])
def test_no_status_yet_is_pending(status: dict[str, Any] | None) -> None:
    state = readiness(_isvc(status))
    assert state.ready is False
    assert state.reason == "Pending"
    assert state.url is None


def test_status_null_is_pending() -> None:
    isvc = _isvc(None)
    isvc["status"] = None
    assert readiness(isvc).reason == "Pending"


def test_ready_and_loaded_is_ready() -> None:
    state = readiness(_isvc(LOADED))
    assert state.ready is True
    assert state.reason == "Ready"
    assert state.url == URL
    assert state.message


@pytest.mark.parametrize("active", ["Pending", "Standby", "Loading"])
def test_pod_ready_but_model_not_loaded_is_not_ready(active: str) -> None:
    status = {**LOADED, "modelStatus": _model_status(active, "Loaded", transition="InProgress")}
    state = readiness(_isvc(status))
    assert state.ready is False
    assert state.reason == "ModelNotLoaded"
    assert active in state.message
    assert state.url == URL


def test_failed_to_load_with_failure_info() -> None:
    status = {
        **LOADED,
        "modelStatus": _model_status("FailedToLoad", transition="BlockedByFailedLoad", failure=LOAD_FAILURE),
    }
    state = readiness(_isvc(status))
    assert state.ready is False
    assert state.reason == "ModelLoadFailed"
    assert state.message == f"ModelLoadFailed: {LOAD_FAILURE['message']}"
    assert state.url == URL


def test_failed_to_load_reason_from_failure_info_is_in_the_message() -> None:
    failure = {"reason": "RuntimeUnhealthy", "message": "Runtime Pod is CrashLoopBackOff", "exitCode": 137}
    conditions = [
        _cond("PredictorReady", "False", "RevisionFailed", "container exited"),
        _cond("Ready", "False", "RevisionFailed", "container exited"),
    ]
    status = {"conditions": conditions,
              "modelStatus": _model_status("FailedToLoad", transition="BlockedByFailedLoad", failure=failure)}
    state = readiness(_isvc(status))
    # The model status is more precise than the Pod-level condition, and wins.
    assert state.reason == "ModelLoadFailed"
    assert state.message == "RuntimeUnhealthy: Runtime Pod is CrashLoopBackOff"


def test_failed_to_load_without_failure_info() -> None:
    status = {**LOADED, "modelStatus": _model_status("FailedToLoad", transition="BlockedByFailedLoad")}
    state = readiness(_isvc(status))
    assert state.ready is False
    assert state.reason == "ModelLoadFailed"
    assert state.message == "ModelLoadFailed: the model server failed to load the model"


def test_failed_to_load_before_any_condition() -> None:
    status = {"modelStatus": _model_status("FailedToLoad", failure=LOAD_FAILURE)}
    state = readiness(_isvc(status))
    assert (state.ready, state.reason) == (False, "ModelLoadFailed")


def test_ready_false_takes_the_reason_of_the_failing_component() -> None:
    message = ("Revision \"fraud-detector-v3-predictor-00001\" failed with message: "
               "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.")
    conditions = [
        _cond("IngressReady", "True"),
        _cond("PredictorConfigurationReady", "True"),
        _cond("PredictorReady", "False", "RevisionFailed", message),
        _cond("PredictorRouteReady", "Unknown", "RevisionMissing"),
        _cond("Ready", "False", "RevisionFailed", message),
    ]
    state = readiness(_isvc({"url": URL, "conditions": conditions}))
    assert state == Readiness(False, "RevisionFailed", message, URL)


def test_ready_false_when_another_component_is_false_first() -> None:
    conditions = [
        _cond("IngressReady", "False", "IngressNotConfigured", "Ingress has not been configured yet"),
        _cond("PredictorReady", "True"),
        _cond("Ready", "False", "IngressNotConfigured"),
    ]
    state = readiness(_isvc({"conditions": conditions}))
    assert state.reason == "IngressNotConfigured"
    assert state.message == "Ingress has not been configured yet"


def test_ready_false_with_no_component_detail_uses_ready() -> None:
    conditions = [_cond("PredictorReady", "Unknown"), _cond("Ready", "False", "Stopped", "the service is stopped")]
    assert readiness(_isvc({"conditions": conditions})) == Readiness(False, "Stopped", "the service is stopped")


def test_ready_false_without_any_reason() -> None:
    state = readiness(_isvc({"conditions": [_cond("Ready", "False")]}))
    assert state.ready is False
    assert state.reason == "ReadyNotReady"
    assert state.message == "Ready is not ready"


def test_component_false_without_reason_names_the_component() -> None:
    conditions = [_cond("PredictorReady", "False"), _cond("Ready", "False")]
    state = readiness(_isvc({"conditions": conditions}))
    assert state.reason == "PredictorReadyNotReady"
    assert state.message == "PredictorReady is not ready"


@pytest.mark.parametrize("status", ["Unknown", "", "true", "TRUE"])
def test_ready_not_exactly_true_is_not_ready(status: str) -> None:
    state = readiness(_isvc({"conditions": [_cond("Ready", status, "Reconciling")], "modelStatus": {}}))
    assert state.ready is False


def test_ready_true_without_model_status_is_ready() -> None:
    status = {"url": URL, "conditions": _all_true()}
    state = readiness(_isvc(status))
    assert state == Readiness(True, "Ready", state.message, URL)


def test_ready_true_with_empty_model_status_is_ready() -> None:
    assert readiness(_isvc({"conditions": _all_true(), "modelStatus": {}})).ready is True


def test_ready_true_with_a_failed_update_still_serving_the_old_model() -> None:
    """KServe keeps the active model Loaded when a new revision fails; the old one still serves."""
    status = {**LOADED, "modelStatus": _model_status("Loaded", "FailedToLoad", "BlockedByFailedLoad", LOAD_FAILURE)}
    assert readiness(_isvc(status)).ready is True


def test_components_not_ready_but_no_ready_condition_is_pending() -> None:
    conditions = [_cond("PredictorReady", "False", "RevisionMissing")]
    state = readiness(_isvc({"conditions": conditions, "url": URL}))
    assert (state.ready, state.reason, state.url) == (False, "Pending", URL)


@pytest.mark.parametrize(
    "status",
    [
        LOADED,
        {**LOADED, "modelStatus": _model_status("Loading", "Loaded", "InProgress")},
        {**LOADED, "modelStatus": _model_status("FailedToLoad", failure=LOAD_FAILURE)},
        {"url": URL, "conditions": [_cond("Ready", "False", "RevisionFailed", "x")]},
        {"url": URL},
    ],
)
def test_url_is_passed_through(status: dict[str, Any]) -> None:
    assert readiness(_isvc(status)).url == URL


def test_readiness_does_not_mutate_its_input() -> None:
    isvc = _isvc({**LOADED, "modelStatus": _model_status("FailedToLoad", failure=LOAD_FAILURE)})
    before = copy.deepcopy(isvc)
    readiness(isvc)
    assert isvc == before


STATES = st.sampled_from(["", "Pending", "Standby", "Loading", "Loaded", "FailedToLoad"])
CONDITION_STATUS = st.sampled_from(["True", "False", "Unknown"])
CONDITION_TYPES = st.sampled_from(["Ready", "PredictorReady", "IngressReady", "PredictorRouteReady",
                                   "LatestDeploymentReady", "TransformerReady"])


@st.composite
def kserve_status(draw: st.DrawFn) -> dict[str, Any]:
    types = draw(st.lists(CONDITION_TYPES, unique=True, max_size=6))
    conditions = [
        _cond(t, draw(CONDITION_STATUS), draw(st.none() | st.text(min_size=1, max_size=12)),
              draw(st.none() | st.text(max_size=20)))
        for t in types
    ]
    status: dict[str, Any] = {"conditions": conditions}
    if draw(st.booleans()):
        failure = draw(st.none() | st.fixed_dictionaries({
            "reason": st.sampled_from(["ModelLoadFailed", "RuntimeUnhealthy", "NoSupportingRuntime"]),
            "message": st.text(max_size=20),
        }))
        status["modelStatus"] = _model_status(draw(STATES), draw(STATES), failure=failure)
    if draw(st.booleans()):
        status["url"] = URL
    return status


@given(kserve_status())
def test_ready_only_when_ready_condition_true_and_model_loaded(status: dict[str, Any]) -> None:
    state = readiness(_isvc(status))
    ready = next((c for c in status["conditions"] if c["type"] == "Ready"), None)
    active = (status.get("modelStatus") or {}).get("states", {}).get("activeModelState")
    assert isinstance(state.reason, str) and state.reason
    assert isinstance(state.message, str)
    assert state.url == status.get("url")
    assert state.ready == (ready is not None and ready["status"] == "True" and active in (None, "Loaded"))
    if active == "FailedToLoad":
        assert state.reason == "ModelLoadFailed"
    if state.ready:
        assert state.reason == "Ready"
