"""ModelVersion spec -> KServe ``serving.kserve.io/v1beta1`` InferenceService: golden files for six
typical versions, plus the rules each field follows (owner reference, labels, logged annotations,
resources, node pool, deployment mode, logger, deterministic DNS-1035 names).

Golden files live in tests/unit/golden/isvc-*.yaml. ``UPDATE_GOLDEN=1`` rewrites them from the
code; review the diff by eye before committing it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from modelops.api.config import NodePool, ServingSettings
from modelops.api.modelversion import ModelVersionSpec
from modelops.core.naming import dns_label
from modelops.core.serving.inference import (
    DEPLOYMENT_MODE_ANNOTATION,
    LOGGED_ANNOTATIONS,
    MODEL_LABEL,
    MODELVERSION_LABEL,
    VERSION_LABEL,
    desired_inference_service,
    inference_service_name,
)
from tests.support.golden import assert_golden

UID = "0d6b3c8e-7a41-4f2b-9c55-1e2f3a4b5c6d"
LOG_SINK = "http://modelops-logsink.modelops.svc.cluster.local:8080"
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

CPU = NodePool.model_validate({"nodeSelector": {"modelops.io/pool": "cpu"}})
A100 = NodePool.model_validate({
    "nodeSelector": {"modelops.io/pool": "gpu-a100", "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "gpuResource": "nvidia.com/gpu",
    "gpuType": "NVIDIA-A100-SXM4-80GB",
})
MI300 = NodePool.model_validate({
    "nodeSelector": {"modelops.io/pool": "gpu-mi300"},
    "tolerations": [{"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "gpuResource": "amd.com/gpu",
})

WITH_SINK = ServingSettings.model_validate({"logSinkUrl": LOG_SINK, "serviceAccountName": "model-reader"})
NO_SINK = ServingSettings()

CPU_SPEC: dict[str, Any] = {
    "model": "fraud-detector",
    "version": "3",
    "artifact": {"storageUri": "s3://models/fraud-detector/3/", "format": "sklearn"},
    "lineage": {"trainingRun": "fraud-train-42", "mlflowRunId": "8a1f2e3d4c5b6a7980f1e2d3c4b5a697"},
    "metrics": {"auc": 0.93},
    "serving": {
        "nodePool": "cpu",
        "resources": {"cpu": "500m", "memory": "1Gi"},
        "minReplicas": 1,
        "maxReplicas": 3,
        "deploymentMode": "Standard",
        "logger": {"enabled": True, "mode": "all"},
    },
}
GPU_SPEC: dict[str, Any] = {
    "model": "llm-ranker",
    "version": "7",
    "artifact": {"storageUri": "gs://models/llm-ranker/7", "format": "huggingface"},
    "serving": {
        "nodePool": "gpu-a100",
        "resources": {"cpu": 4, "memory": "32Gi", "gpus": 1},
        "minReplicas": 0,
        "maxReplicas": 2,
        "deploymentMode": "Serverless",
        "logger": {"mode": "request"},
    },
}
LOGGER_OFF_SPEC: dict[str, Any] = {
    "model": "iris",
    "version": "1",
    "artifact": {"storageUri": "pvc://models/iris/1", "format": "sklearn"},
    "serving": {"logger": {"enabled": False}},
}
LOGGER_ON_SPEC: dict[str, Any] = {
    "model": "iris",
    "version": "2",
    "artifact": {"storageUri": "pvc://models/iris/2", "format": "sklearn"},
    "serving": {"logger": {"enabled": True, "mode": "response"}},
}
RUNTIME_SPEC: dict[str, Any] = {
    "model": "churn",
    "version": "12",
    "artifact": {"storageUri": "s3://models/churn/12/", "format": "xgboost", "runtime": "kserve-xgbserver"},
    "serving": {"resources": {"memory": "2Gi"}, "maxReplicas": 4},
}
DEFAULT_MODE_SPEC: dict[str, Any] = {
    "model": "churn",
    "version": "13",
    "artifact": {"storageUri": "https://models.example.com/churn/13.tar.gz", "format": "lightgbm"},
}


def _isvc(name: str, spec: dict[str, Any], pool: NodePool | None, settings: ServingSettings,
          namespace: str = "ml", storage_uri: str | None = None) -> dict[str, Any]:
    parsed = ModelVersionSpec.model_validate(spec)
    return desired_inference_service(
        name=name, namespace=namespace, uid=UID, spec=parsed,
        storage_uri=storage_uri or parsed.artifact.storage_uri, pool=pool, settings=settings,
    )


def cpu_standard() -> dict[str, Any]:
    return _isvc("fraud-detector-v3", CPU_SPEC, CPU, WITH_SINK)


def gpu_serverless() -> dict[str, Any]:
    settings = ServingSettings.model_validate({"logSinkUrl": LOG_SINK, "deploymentMode": "Standard"})
    return _isvc("llm-ranker-7", GPU_SPEC, A100, settings, namespace="llm")


def logger_disabled() -> dict[str, Any]:
    return _isvc("iris-1", LOGGER_OFF_SPEC, None, WITH_SINK, namespace="default")


def no_log_sink() -> dict[str, Any]:
    return _isvc("iris-2", LOGGER_ON_SPEC, None, NO_SINK, namespace="default")


def runtime_set() -> dict[str, Any]:
    return _isvc("churn-12", RUNTIME_SPEC, CPU, WITH_SINK)


def default_mode() -> dict[str, Any]:
    settings = ServingSettings.model_validate({"logSinkUrl": LOG_SINK, "deploymentMode": "RawDeployment"})
    return _isvc("churn-13", DEFAULT_MODE_SPEC, None, settings)


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "isvc-cpu-standard": cpu_standard,
    "isvc-gpu-a100-serverless": gpu_serverless,
    "isvc-logger-disabled": logger_disabled,
    "isvc-no-log-sink": no_log_sink,
    "isvc-runtime": runtime_set,
    "isvc-default-mode": default_mode,
}


def _predictor(isvc: dict[str, Any]) -> dict[str, Any]:
    assert list(isvc["spec"]) == ["predictor"]
    return isvc["spec"]["predictor"]


# -- golden files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_isvc_matches_golden(case: str) -> None:
    isvc = CASES[case]()
    assert_golden(case, isvc)


@pytest.mark.parametrize("case", sorted(CASES))
def test_isvc_is_plain_json_without_yaml_aliases(case: str) -> None:
    isvc = CASES[case]()
    assert json.loads(json.dumps(isvc, allow_nan=False)) == isvc
    # Shared sub-objects would be dumped as YAML anchors (&id001), which kubectl users never expect.
    assert "&id" not in yaml.safe_dump(isvc) and "*id" not in yaml.safe_dump(isvc)


@pytest.mark.parametrize("case", sorted(CASES))
def test_isvc_common_shape(case: str) -> None:
    isvc = CASES[case]()
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["kind"] == "InferenceService"
    meta = isvc["metadata"]
    assert DNS1035.match(meta["name"]) and len(meta["name"]) <= 63
    for value in meta["labels"].values():
        assert LABEL_VALUE.match(value) and len(value) <= 63
    (owner,) = meta["ownerReferences"]
    assert owner["kind"] == "ModelVersion" and owner["apiVersion"] == "modelops.io/v1alpha1"
    assert owner["controller"] is True and owner["blockOwnerDeletion"] is True
    assert owner["uid"] == UID
    predictor = _predictor(isvc)
    assert set(predictor["model"]) <= {"modelFormat", "storageUri", "runtime", "resources"}


# -- (a) CPU pool, Standard, logger mode all ------------------------------------------------------


def test_cpu_metadata_owner_labels_annotations() -> None:
    isvc = cpu_standard()
    meta = isvc["metadata"]
    assert meta["name"] == "fraud-detector-v3" and meta["namespace"] == "ml"
    assert meta["ownerReferences"] == [{
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion", "name": "fraud-detector-v3", "uid": UID,
        "controller": True, "blockOwnerDeletion": True,
    }]
    assert meta["labels"] == {
        MODELVERSION_LABEL: "fraud-detector-v3",
        MODEL_LABEL: "fraud-detector",
        VERSION_LABEL: "3",
        "app.kubernetes.io/managed-by": "modelops",
        "app.kubernetes.io/component": "serving",
    }
    assert meta["annotations"] == {
        MODEL_LABEL: "fraud-detector",
        VERSION_LABEL: "3",
        MODELVERSION_LABEL: "fraud-detector-v3",
        DEPLOYMENT_MODE_ANNOTATION: "Standard",
    }


def test_cpu_predictor() -> None:
    predictor = _predictor(cpu_standard())
    assert predictor["model"] == {
        "modelFormat": {"name": "sklearn"},
        "storageUri": "s3://models/fraud-detector/3/",
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
    }
    assert predictor["minReplicas"] == 1 and predictor["maxReplicas"] == 3
    assert predictor["nodeSelector"] == {"modelops.io/pool": "cpu"}
    assert "tolerations" not in predictor
    assert predictor["serviceAccountName"] == "model-reader"
    assert predictor["logger"] == {
        "mode": "all",
        "url": LOG_SINK,
        "metadataHeaders": ["X-Modelops-Stage"],
        "metadataAnnotations": [MODEL_LABEL, VERSION_LABEL, MODELVERSION_LABEL],
    }


# -- (b) GPU pool, Serverless, scale to zero, logger mode request ---------------------------------


def test_gpu_predictor() -> None:
    isvc = gpu_serverless()
    predictor = _predictor(isvc)
    amounts = {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "1"}
    assert predictor["model"]["resources"] == {"requests": amounts, "limits": amounts}
    assert predictor["nodeSelector"] == {
        "modelops.io/pool": "gpu-a100", "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
    }
    assert predictor["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert predictor["minReplicas"] == 0 and predictor["maxReplicas"] == 2
    assert predictor["logger"]["mode"] == "request"
    assert "serviceAccountName" not in predictor
    # The spec's mode wins over the operator's default.
    assert isvc["metadata"]["annotations"][DEPLOYMENT_MODE_ANNOTATION] == "Serverless"
    assert isvc["metadata"]["namespace"] == "llm"


def test_gpu_resource_name_comes_from_the_pool() -> None:
    isvc = _isvc("llm-ranker-7", GPU_SPEC, MI300, WITH_SINK)
    resources = _predictor(isvc)["model"]["resources"]
    assert resources["limits"]["amd.com/gpu"] == "1" and "nvidia.com/gpu" not in resources["limits"]
    assert _predictor(isvc)["tolerations"] == [{"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_gpus_without_a_pool_default_to_nvidia() -> None:
    spec = {**GPU_SPEC, "serving": {**GPU_SPEC["serving"], "nodePool": None}}
    predictor = _predictor(_isvc("llm-ranker-7", spec, None, WITH_SINK))
    assert predictor["model"]["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert "nodeSelector" not in predictor and "tolerations" not in predictor


@pytest.mark.parametrize("case", sorted(CASES))
def test_requests_equal_limits_and_are_distinct_objects(case: str) -> None:
    resources = _predictor(CASES[case]())["model"].get("resources")
    if resources is None:
        return
    assert set(resources) == {"requests", "limits"}
    assert resources["requests"] == resources["limits"] and resources["requests"]
    assert resources["requests"] is not resources["limits"]
    assert all(isinstance(v, str) for v in resources["requests"].values())


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (None, None),
        ({}, None),
        ({"gpus": 0}, None),
        ({"cpu": 2}, {"cpu": "2"}),
        ({"cpu": "1.5", "gpus": 0}, {"cpu": "1.5"}),
        ({"memory": "512Mi"}, {"memory": "512Mi"}),
        ({"gpus": 3}, {"nvidia.com/gpu": "3"}),
    ],
)
def test_resource_amounts(resources: dict[str, Any] | None, expected: dict[str, str] | None) -> None:
    spec = {**DEFAULT_MODE_SPEC, "serving": {"resources": resources}}
    model = _predictor(_isvc("churn-13", spec, None, NO_SINK))["model"]
    if expected is None:
        assert "resources" not in model
    else:
        assert model["resources"] == {"requests": expected, "limits": expected}


def test_output_does_not_alias_the_pool() -> None:
    isvc = gpu_serverless()
    predictor = _predictor(isvc)
    predictor["tolerations"][0]["effect"] = "PreferNoSchedule"
    predictor["nodeSelector"]["extra"] = "x"
    assert A100.tolerations[0]["effect"] == "NoSchedule"
    assert "extra" not in A100.node_selector


# -- (c) logger disabled, (d) no sink -------------------------------------------------------------


def test_logger_disabled_in_spec_means_no_logger_even_with_a_sink() -> None:
    predictor = _predictor(logger_disabled())
    assert "logger" not in predictor
    assert predictor["minReplicas"] == 1 and "maxReplicas" not in predictor


def test_logger_enabled_without_a_configured_sink_means_no_logger() -> None:
    isvc = no_log_sink()
    predictor = _predictor(isvc)
    assert "logger" not in predictor
    assert "serviceAccountName" not in predictor
    # No operator default and none in the spec: KServe's cluster default applies.
    assert DEPLOYMENT_MODE_ANNOTATION not in isvc["metadata"]["annotations"]


@pytest.mark.parametrize("mode", ["all", "request", "response"])
def test_logger_mode_from_spec(mode: str) -> None:
    spec = {**LOGGER_ON_SPEC, "serving": {"logger": {"mode": mode}}}
    assert _predictor(_isvc("iris-2", spec, None, WITH_SINK))["logger"]["mode"] == mode


def test_absent_logger_and_serving_log_everything_when_a_sink_exists() -> None:
    logger = _predictor(default_mode())["logger"]
    assert logger == {"mode": "all", "url": LOG_SINK, "metadataHeaders": ["X-Modelops-Stage"],
                      "metadataAnnotations": list(LOGGED_ANNOTATIONS)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_logged_annotations_are_exactly_the_metadata_annotations(case: str) -> None:
    isvc = CASES[case]()
    annotations = isvc["metadata"]["annotations"]
    for key in (MODEL_LABEL, VERSION_LABEL, MODELVERSION_LABEL):
        assert annotations[key]
    logged = {k for k in annotations if k != DEPLOYMENT_MODE_ANNOTATION}
    assert logged == set(LOGGED_ANNOTATIONS)
    logger = _predictor(isvc).get("logger")
    if logger is not None:
        assert logger["metadataAnnotations"] == list(LOGGED_ANNOTATIONS)
        assert set(logger["metadataAnnotations"]) == logged
        assert all(k in annotations for k in logger["metadataAnnotations"])


# -- (e) runtime, (f) deployment mode from the operator -------------------------------------------


def test_runtime_is_passed_through() -> None:
    model = _predictor(runtime_set())["model"]
    assert model["runtime"] == "kserve-xgbserver"
    assert model["modelFormat"] == {"name": "xgboost"}
    assert model["resources"] == {"requests": {"memory": "2Gi"}, "limits": {"memory": "2Gi"}}


@pytest.mark.parametrize("case", ["isvc-cpu-standard", "isvc-gpu-a100-serverless", "isvc-default-mode"])
def test_no_runtime_lets_kserve_pick(case: str) -> None:
    assert "runtime" not in _predictor(CASES[case]())["model"]


def test_deployment_mode_from_operator_settings_when_spec_names_none() -> None:
    isvc = default_mode()
    assert isvc["metadata"]["annotations"][DEPLOYMENT_MODE_ANNOTATION] == "RawDeployment"
    predictor = _predictor(isvc)
    assert predictor["minReplicas"] == 1 and "maxReplicas" not in predictor
    assert "nodeSelector" not in predictor and "resources" not in predictor["model"]


@pytest.mark.parametrize("mode", ["Serverless", "Standard", "RawDeployment", "ModelMesh"])
def test_spec_deployment_mode_wins_over_the_operator_default(mode: str) -> None:
    spec = {**DEFAULT_MODE_SPEC, "serving": {"deploymentMode": mode}}
    settings = ServingSettings.model_validate({"deploymentMode": "Serverless" if mode != "Serverless" else "Standard"})
    assert _isvc("churn-13", spec, None, settings)["metadata"]["annotations"][DEPLOYMENT_MODE_ANNOTATION] == mode


def test_storage_uri_argument_wins_over_the_spec() -> None:
    spec = {**DEFAULT_MODE_SPEC, "artifact": {"storageUri": "models:/churn/13", "format": "mlflow"}}
    isvc = _isvc("churn-13", spec, None, NO_SINK, storage_uri="s3://mlflow/artifacts/1/abc/artifacts/model")
    assert _predictor(isvc)["model"]["storageUri"] == "s3://mlflow/artifacts/1/abc/artifacts/model"


def test_no_annotation_changes_with_the_role() -> None:
    """KServe copies ISVC annotations into the pod template: nothing that changes on promotion
    (the role) may be there, or every promotion would restart the serving Pods."""
    annotations = _isvc("churn-13", DEFAULT_MODE_SPEC, None, NO_SINK)["metadata"]["annotations"]
    assert "modelops.io/stage" not in annotations
    assert not any(value in ("candidate", "champion", "previous") for value in annotations.values())


# -- names ----------------------------------------------------------------------------------------


def test_name_of_a_plain_modelversion_is_kept() -> None:
    assert inference_service_name("fraud-detector-v3") == "fraud-detector-v3"


def test_name_starting_with_a_digit_gets_a_letter_prefix() -> None:
    name = inference_service_name("3-fraud")
    assert DNS1035.match(name) and name.startswith("mv-")
    assert name == inference_service_name("3-fraud")


@pytest.mark.parametrize(
    "mv_name",
    [
        "a" * 64,
        "fraud-detector-" + "x" * 60,
        "3" + "-fraud" * 20,
        "9" * 253,
        "fraud.detector.v3",
        "1.2.3",
        "a" * 63,
    ],
)
def test_long_or_unusual_names_become_dns1035_labels(mv_name: str) -> None:
    name = inference_service_name(mv_name)
    assert DNS1035.match(name), name
    assert len(name) <= 63
    assert name == inference_service_name(mv_name)
    isvc = _isvc(mv_name, DEFAULT_MODE_SPEC, None, NO_SINK)
    assert isvc["metadata"]["name"] == name
    assert isvc["metadata"]["ownerReferences"][0]["name"] == mv_name
    assert isvc["metadata"]["annotations"][MODELVERSION_LABEL] == mv_name
    label = isvc["metadata"]["labels"][MODELVERSION_LABEL]
    assert LABEL_VALUE.match(label) and len(label) <= 63 and label == dns_label(mv_name)


def test_long_names_sharing_a_prefix_do_not_collide() -> None:
    a = inference_service_name("fraud-detector-" + "x" * 60 + "-1")
    b = inference_service_name("fraud-detector-" + "x" * 60 + "-2")
    assert a != b
    c = inference_service_name("7" * 70 + "a")
    d = inference_service_name("7" * 70 + "b")
    assert c != d


def test_digit_prefixed_name_does_not_collide_with_the_prefixed_name() -> None:
    """Two ModelVersions in one namespace must never share (and fight over) one InferenceService."""
    assert inference_service_name("3-fraud") != inference_service_name("mv-3-fraud")


SUBDOMAIN = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?){0,3}\Z")


@given(SUBDOMAIN)
def test_every_kubernetes_name_maps_to_a_dns1035_label(mv_name: str) -> None:
    name = inference_service_name(mv_name)
    assert DNS1035.match(name) and len(name) <= 63


@given(SUBDOMAIN, SUBDOMAIN)
def test_distinct_letter_names_get_distinct_inference_services(a: str, b: str) -> None:
    if a != b and a[0].isalpha() and b[0].isalpha():
        assert inference_service_name(a) != inference_service_name(b)
