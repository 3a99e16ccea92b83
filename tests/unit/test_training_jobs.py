"""TrainingRun spec -> batch/v1 Job: golden files for three typical runs, plus the rules each field
follows (owner reference, env, resources, security context, deterministic names).

Golden files live in tests/unit/golden/. ``UPDATE_GOLDEN=1`` rewrites them from the code; review
the diff by eye before committing it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from modelops.api.config import NodePool, TrainingSettings
from modelops.api.trainingrun import TrainingRunSpec
from modelops.core.naming import dns_label
from modelops.core.training.jobs import (
    CONTAINER,
    MODEL_LABEL,
    RUN_LABEL,
    desired_job,
    hyperparameter_env_name,
    image_pinned,
    job_name,
)
from tests.support.golden import assert_golden

DIGEST = "sha256:" + "0123456789abcdef" * 4
UID = "5f0c7a52-1d0e-4c53-9f8e-2b4a1c3d5e6f"
RUN_ID = "8a1f2e3d4c5b6a7980f1e2d3c4b5a697"
TRACKING_URI = "http://mlflow.mlflow.svc:5000"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

A100 = NodePool.model_validate({
    "nodeSelector": {"modelops.io/pool": "gpu-a100"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "gpuResource": "nvidia.com/gpu",
    "gpuType": "NVIDIA-A100-SXM4-80GB",
})
MI300 = NodePool.model_validate({
    "nodeSelector": {"modelops.io/pool": "gpu-mi300"},
    "tolerations": [{"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "gpuResource": "amd.com/gpu",
    "gpuType": "AMD-Instinct-MI300X",
})

GPU_SPEC: dict[str, Any] = {
    "model": "fraud-detector",
    "image": f"registry.example.com/fraud/train@{DIGEST}",
    "command": ["python", "-m", "train"],
    "args": ["--epochs", "20"],
    "env": [
        {"name": "BATCH_SIZE", "value": "512"},
        # Must never override the operator's own variable.
        {"name": "MLFLOW_RUN_ID", "value": "somewhere-else"},
    ],
    "hyperparameters": {"maxDepth": "6", "learning-rate": "0.01", "n_estimators": "300"},
    "seed": 42,
    "data": {"uri": "s3://datasets/fraud/train/", "version": "2025-01-31"},
    "code": {"repo": "https://github.com/acme/fraud-model", "commit": "3f2a9c1b7d4e5f60718293a4b5c6d7e8f9a0b1c2"},
    "resources": {"cpu": 8, "memory": "32Gi", "gpus": 2},
    "nodePool": "gpu-a100",
    "serviceAccountName": "fraud-trainer",
    "maxRetries": 2,
    "timeout": "2h",
    "tracking": {"experiment": "fraud-detection"},
    "evaluation": [{"metric": "auc", "op": ">=", "threshold": 0.9}],
}
CPU_SPEC: dict[str, Any] = {"model": "iris", "image": "python:3.12-slim", "args": ["train.py"]}
AMD_SPEC: dict[str, Any] = {
    "model": "llm-ranker",
    "image": f"registry.example.com/ranker/train:1.4.0@{DIGEST}",
    "hyperparameters": {"lr": "3e-4"},
    "seed": 7,
    "data": {"uri": "pvc://datasets/ranker"},
    "resources": {"memory": "64Gi", "gpus": 1},
    "nodePool": "gpu-mi300",
    "maxRetries": 1,
    "timeout": "45m",
}


def _job(name: str, spec: dict[str, Any], pool: NodePool | None, pool_name: str | None,
         settings: TrainingSettings | None = None, namespace: str = "ml") -> dict[str, Any]:
    return desired_job(
        name=name, namespace=namespace, uid=UID, spec=TrainingRunSpec.model_validate(spec), pool=pool,
        pool_name=pool_name, mlflow_run_id=RUN_ID, tracking_uri=TRACKING_URI,
        settings=settings or TrainingSettings(),
    )


def gpu_job() -> dict[str, Any]:
    settings = TrainingSettings.model_validate({
        "podLabels": {"team": "fraud"},
        "podAnnotations": {"sidecar.istio.io/inject": "false"},
        "ttlSecondsAfterFinished": 86400,
    })
    return _job("fraud-train-42", GPU_SPEC, A100, "gpu-a100", settings)


def cpu_job() -> dict[str, Any]:
    return _job("iris-baseline", CPU_SPEC, None, None, namespace="default")


def amd_job() -> dict[str, Any]:
    return _job("ranker-2025-02", AMD_SPEC, MI300, "gpu-mi300")


CASES = {"job-gpu-a100": gpu_job, "job-cpu-no-pool": cpu_job, "job-amd-gpu": amd_job}


def _container(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def _env(job: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(job)["env"]}


# -- golden files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_job_matches_golden(case: str) -> None:
    job = CASES[case]()
    assert_golden(case, job)


@pytest.mark.parametrize("case", sorted(CASES))
def test_job_is_plain_json(case: str) -> None:
    job = CASES[case]()
    assert json.loads(json.dumps(job, allow_nan=False)) == job


# -- the GPU run, field by field ------------------------------------------------------------------


def test_gpu_job_metadata_and_owner_reference() -> None:
    job = gpu_job()
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    meta = job["metadata"]
    assert meta["name"] == "fraud-train-42" and meta["namespace"] == "ml"
    assert meta["ownerReferences"] == [{
        "apiVersion": "modelops.io/v1alpha1", "kind": "TrainingRun", "name": "fraud-train-42", "uid": UID,
        "controller": True, "blockOwnerDeletion": True,
    }]
    assert meta["labels"] == {
        RUN_LABEL: "fraud-train-42",
        MODEL_LABEL: "fraud-detector",
        "app.kubernetes.io/managed-by": "modelops",
        "app.kubernetes.io/component": "training",
        "modelops.io/pool": "gpu-a100",
    }
    assert meta["annotations"] == {"modelops.io/mlflow-run-id": RUN_ID}


def test_gpu_job_pod_template_labels_and_annotations() -> None:
    job = gpu_job()
    pod_meta = job["spec"]["template"]["metadata"]
    assert pod_meta["labels"] == {"team": "fraud", **job["metadata"]["labels"]}
    assert pod_meta["annotations"] == {"sidecar.istio.io/inject": "false"}


def test_settings_pod_labels_cannot_override_run_labels() -> None:
    settings = TrainingSettings.model_validate({"podLabels": {RUN_LABEL: "other", MODEL_LABEL: "other"}})
    job = _job("fraud-train-42", GPU_SPEC, A100, "gpu-a100", settings)
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels[RUN_LABEL] == "fraud-train-42" and labels[MODEL_LABEL] == "fraud-detector"


def test_gpu_job_scheduling_on_pool() -> None:
    pod = gpu_job()["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"modelops.io/pool": "gpu-a100"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["serviceAccountName"] == "fraud-trainer"


def test_gpu_job_resources_requests_equal_limits() -> None:
    resources = _container(gpu_job())["resources"]
    assert resources["requests"] == {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"}
    assert resources["limits"] == resources["requests"]
    assert resources["limits"] is not resources["requests"]  # two dicts, so YAML never writes an anchor


def test_gpu_job_env() -> None:
    container = _container(gpu_job())
    names = [e["name"] for e in container["env"]]
    assert names == [
        "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MODELOPS_MODEL", "MODELOPS_SEED", "MODELOPS_DATA_URI",
        "MODELOPS_DATA_VERSION", "MODELOPS_HYPERPARAMETERS",
        "MODELOPS_HP_LEARNING_RATE", "MODELOPS_HP_MAXDEPTH", "MODELOPS_HP_N_ESTIMATORS",
        "BATCH_SIZE",
    ]
    env = _env(gpu_job())
    assert env["MLFLOW_TRACKING_URI"] == TRACKING_URI
    assert env["MLFLOW_RUN_ID"] == RUN_ID
    assert env["MODELOPS_MODEL"] == "fraud-detector"
    assert env["MODELOPS_SEED"] == "42"
    assert env["MODELOPS_DATA_URI"] == "s3://datasets/fraud/train/"
    assert env["MODELOPS_DATA_VERSION"] == "2025-01-31"
    # Sorted keys, compact separators: the same hyperparameters always give the same bytes.
    assert env["MODELOPS_HYPERPARAMETERS"] == '{"learning-rate":"0.01","maxDepth":"6","n_estimators":"300"}'
    assert json.loads(env["MODELOPS_HYPERPARAMETERS"]) == GPU_SPEC["hyperparameters"]
    assert env["MODELOPS_HP_LEARNING_RATE"] == "0.01"
    assert env["MODELOPS_HP_MAXDEPTH"] == "6"
    assert env["BATCH_SIZE"] == "512"
    assert all("valueFrom" not in e for e in container["env"])


def test_hyperparameters_json_is_sorted_whatever_the_spec_order() -> None:
    a = _job("r", {**CPU_SPEC, "hyperparameters": {"b": "2", "a": "1", "c": "3"}}, None, None)
    b = _job("r", {**CPU_SPEC, "hyperparameters": {"c": "3", "a": "1", "b": "2"}}, None, None)
    assert _env(a)["MODELOPS_HYPERPARAMETERS"] == '{"a":"1","b":"2","c":"3"}'
    assert a == b


@pytest.mark.parametrize("name", [
    "MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MODELOPS_SEED", "MODELOPS_MODEL", "MODELOPS_DATA_URI",
    "MODELOPS_DATA_VERSION", "MODELOPS_HYPERPARAMETERS", "MODELOPS_HP_MAXDEPTH",
])
def test_user_env_cannot_override_operator_env(name: str) -> None:
    spec = {**GPU_SPEC, "env": [{"name": name, "value": "user-value"}]}
    env_list = _container(_job("fraud-train-42", spec, A100, "gpu-a100"))["env"]
    matching = [e for e in env_list if e["name"] == name]
    assert len(matching) == 1
    assert matching[0]["value"] != "user-value"


def test_user_env_without_value_gets_empty_string() -> None:
    job = _job("r", {**CPU_SPEC, "env": [{"name": "EMPTY"}]}, None, None)
    assert _container(job)["env"][-1] == {"name": "EMPTY", "value": ""}


def test_env_names_are_unique_and_valid() -> None:
    for make in CASES.values():
        names = [e["name"] for e in _container(make())["env"]]
        assert len(names) == len(set(names))
        assert all(ENV_NAME.fullmatch(n) for n in names)


def test_distinct_hyperparameters_never_share_an_env_variable() -> None:
    """Two hyperparameters must not collapse into one MODELOPS_HP_<NAME>: the container would see
    only the last value, and server-side apply rejects duplicate keys in the env list map. The
    spec is refused, naming the field and both names."""
    spec = {**CPU_SPEC, "hyperparameters": {"learning-rate": "0.1", "learning_rate": "0.2"}}
    with pytest.raises(ValidationError) as caught:
        TrainingRunSpec.model_validate(spec)
    (error,) = caught.value.errors()
    assert error["loc"] == ("hyperparameters",)
    assert "MODELOPS_HP_LEARNING_RATE" in error["msg"] and "learning-rate" in error["msg"]


def test_gpu_job_spec_limits() -> None:
    spec = gpu_job()["spec"]
    assert spec["activeDeadlineSeconds"] == 7200
    assert spec["backoffLimit"] == 2
    assert spec["ttlSecondsAfterFinished"] == 86400
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    # The Job controller makes its own selector; a hand-written one would need manualSelector.
    assert "selector" not in spec and "manualSelector" not in spec


def test_gpu_job_command_args_image() -> None:
    container = _container(gpu_job())
    assert container["name"] == CONTAINER
    assert container["image"] == GPU_SPEC["image"]
    assert container["command"] == ["python", "-m", "train"]
    assert container["args"] == ["--epochs", "20"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_security_context_is_restricted(case: str) -> None:
    job = CASES[case]()
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    container = _container(job)
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    # The read-only root filesystem comes with a writable /tmp.
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    assert "hostNetwork" not in pod and "hostPID" not in pod and "hostIPC" not in pod
    assert "privileged" not in container["securityContext"]


# -- the CPU run: nothing optional leaks in -------------------------------------------------------


def test_cpu_job_without_pool_resources_or_options() -> None:
    job = cpu_job()
    pod = job["spec"]["template"]["spec"]
    container = _container(job)
    assert "nodeSelector" not in pod and "tolerations" not in pod and "serviceAccountName" not in pod
    assert "resources" not in container
    assert "command" not in container and container["args"] == ["train.py"]
    assert "activeDeadlineSeconds" not in job["spec"]
    assert "ttlSecondsAfterFinished" not in job["spec"]
    assert job["spec"]["backoffLimit"] == 0
    assert "modelops.io/pool" not in job["metadata"]["labels"]
    assert "annotations" not in job["spec"]["template"]["metadata"]
    assert [e["name"] for e in container["env"]] == [
        "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MODELOPS_MODEL", "MODELOPS_HYPERPARAMETERS",
    ]
    assert _env(job)["MODELOPS_HYPERPARAMETERS"] == "{}"


def test_zero_gpus_and_no_amounts_give_no_resources() -> None:
    job = _job("r", {**CPU_SPEC, "resources": {"gpus": 0}}, None, None)
    assert "resources" not in _container(job)


def test_cpu_only_resources_have_no_gpu() -> None:
    job = _job("r", {**CPU_SPEC, "resources": {"cpu": "500m", "memory": "1Gi"}}, None, None)
    assert _container(job)["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "500m", "memory": "1Gi"},
    }


def test_gpus_without_pool_use_nvidia() -> None:
    job = _job("r", {**CPU_SPEC, "resources": {"gpus": 1}}, None, None)
    assert _container(job)["resources"]["limits"] == {"nvidia.com/gpu": "1"}


def test_data_without_version_sets_only_uri() -> None:
    env = _env(_job("r", {**CPU_SPEC, "data": {"uri": "s3://d/"}}, None, None))
    assert env["MODELOPS_DATA_URI"] == "s3://d/" and "MODELOPS_DATA_VERSION" not in env


def test_seed_zero_is_passed() -> None:
    assert _env(_job("r", {**CPU_SPEC, "seed": 0}, None, None))["MODELOPS_SEED"] == "0"


# -- the AMD pool ---------------------------------------------------------------------------------


def test_amd_pool_uses_its_gpu_resource_name() -> None:
    job = amd_job()
    resources = _container(job)["resources"]
    assert resources["requests"] == {"memory": "64Gi", "amd.com/gpu": "1"}
    assert resources["limits"] == resources["requests"]
    assert "nvidia.com/gpu" not in resources["limits"]
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"modelops.io/pool": "gpu-mi300"}
    assert pod["tolerations"] == [{"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert job["spec"]["activeDeadlineSeconds"] == 45 * 60
    assert job["spec"]["backoffLimit"] == 1


def test_pool_tolerations_are_copied_not_shared() -> None:
    job = amd_job()
    job["spec"]["template"]["spec"]["tolerations"][0]["key"] = "mutated"
    job["spec"]["template"]["spec"]["nodeSelector"]["x"] = "y"
    assert MI300.tolerations[0]["key"] == "amd.com/gpu"
    assert "x" not in MI300.node_selector


@pytest.mark.parametrize(("timeout", "seconds"), [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("0s", 1),
                                                  ("500ms", 1), ("1.5s", 1), ("61s", 61)])
def test_active_deadline_seconds(timeout: str, seconds: int) -> None:
    job = _job("r", {**CPU_SPEC, "timeout": timeout}, None, None)
    assert job["spec"]["activeDeadlineSeconds"] == seconds


# -- names ----------------------------------------------------------------------------------------


def test_job_name_is_the_run_name_when_it_fits() -> None:
    assert job_name("fraud-train-42") == "fraud-train-42"


def test_job_name_long_run_name() -> None:
    long_name = "fraud-detector-retrain-" + "a" * 177
    assert len(long_name) == 200
    name = job_name(long_name)
    assert len(name) <= 63
    assert DNS_LABEL.fullmatch(name)
    assert name == job_name(long_name)  # deterministic
    assert name.startswith("fraud-detector-retrain-")
    assert job_name(long_name[:-1] + "b") != name  # same prefix, different run: different Job
    job = _job(long_name, CPU_SPEC, None, None)
    assert job["metadata"]["name"] == name
    assert job["metadata"]["labels"][RUN_LABEL] == name
    assert job["metadata"]["ownerReferences"][0]["name"] == long_name


def test_job_name_of_a_dotted_run_name_is_a_label() -> None:
    name = job_name("fraud.train.v2")
    assert DNS_LABEL.fullmatch(name) and len(name) <= 63
    assert name != job_name("fraud-train-v2")


@given(st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", fullmatch=True))
def test_job_name_property(run_name: str) -> None:
    name = job_name(run_name)
    assert DNS_LABEL.fullmatch(name) and len(name) <= 63
    assert name == job_name(run_name)
    if len(run_name) <= 63 and "." not in run_name:
        assert name == run_name


@pytest.mark.parametrize(("image", "pinned"), [
    (f"registry.example.com/fraud/train@{DIGEST}", True),
    (f"registry.example.com/fraud/train:1.2.3@{DIGEST}", True),
    (f"localhost:5000/train@{DIGEST}", True),
    ("registry.example.com/fraud/train:1.2.3", False),
    ("registry.example.com/fraud/train", False),
    ("localhost:5000/train:latest", False),
    ("train:sha256", False),
    ("registry.example.com/fraud/train@sha256:abc", False),  # too short to be a digest
    ("registry.example.com/fraud/train@sha256:" + "A" * 64, False),  # digests are lowercase hex
    (f"registry.example.com/fraud/train@{DIGEST}0", False),
])
def test_image_pinned(image: str, pinned: bool) -> None:
    assert image_pinned(image) is pinned


@pytest.mark.parametrize(("name", "env"), [
    ("learning_rate", "MODELOPS_HP_LEARNING_RATE"),
    ("learning-rate", "MODELOPS_HP_LEARNING_RATE"),
    ("maxDepth", "MODELOPS_HP_MAXDEPTH"),
    ("optimizer.beta1", "MODELOPS_HP_OPTIMIZER_BETA1"),
    ("n estimators", "MODELOPS_HP_N_ESTIMATORS"),
    ("dropout%", "MODELOPS_HP_DROPOUT_"),
    ("lr", "MODELOPS_HP_LR"),
])
def test_hyperparameter_env_name(name: str, env: str) -> None:
    assert hyperparameter_env_name(name) == env


@given(st.text(min_size=1, max_size=60))
def test_hyperparameter_env_name_is_a_valid_env_name(name: str) -> None:
    env = hyperparameter_env_name(name)
    assert env.startswith("MODELOPS_HP_")
    assert ENV_NAME.fullmatch(env)
    assert re.fullmatch(r"[A-Z0-9_]+", env)


def test_run_label_is_a_dns_label_of_the_run_name() -> None:
    job = _job("Fraud.Train", CPU_SPEC, None, None)
    assert job["metadata"]["labels"][RUN_LABEL] == dns_label("Fraud.Train")
