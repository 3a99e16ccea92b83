"""TrainingRun -> the ``batch/v1`` Job that runs it (a pure function; golden-tested).

What the Job carries, and why:
- a deterministic name (the run's, shortened if needed), so a restart finds it, never duplicates;
- labels that tie the Job and its Pods to the run (``modelops.io/trainingrun``, ``modelops.io/model``);
- the pool's nodeSelector and tolerations, GPUs under the pool's resource name (requests = limits,
  as extended resources require);
- ``backoffLimit`` = maxRetries, ``activeDeadlineSeconds`` = timeout, ``restartPolicy: Never`` so
  each attempt is one Pod (attempts are countable and each failure keeps its Pod for debugging);
- the reproducibility inputs as environment: MLFLOW_TRACKING_URI, MLFLOW_RUN_ID, MODELOPS_SEED,
  MODELOPS_DATA_URI/VERSION, MODELOPS_HYPERPARAMETERS (JSON) and one MODELOPS_HP_<NAME> each;
- a restricted security context (non-root, no privilege escalation, no capabilities, seccomp
  RuntimeDefault, read-only root filesystem with a writable /tmp).
"""

from __future__ import annotations

import json
import re
from typing import Any

from modelops.api.common import API_VERSION
from modelops.api.config import NodePool, TrainingSettings
from modelops.api.trainingrun import TrainingRunSpec, hyperparameter_env_name
from modelops.core.durations import parse_duration
from modelops.core.naming import dns_label
from modelops.core.resources import TMP_VOLUME, container_resources, restricted_container

RUN_LABEL = "modelops.io/trainingrun"
MODEL_LABEL = "modelops.io/model"
MANAGED_BY = {"app.kubernetes.io/managed-by": "modelops", "app.kubernetes.io/component": "training"}
CONTAINER = "train"
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def job_name(run_name: str) -> str:
    return dns_label(run_name)


def image_pinned(image: str) -> bool:
    """Pinned means by digest: a tag can be moved to other bytes after the run."""
    return bool(_DIGEST.search(image))


def _env(spec: TrainingRunSpec, *, tracking_uri: str, mlflow_run_id: str) -> list[dict[str, str]]:
    env = [
        {"name": "MLFLOW_TRACKING_URI", "value": tracking_uri},
        {"name": "MLFLOW_RUN_ID", "value": mlflow_run_id},
        {"name": "MODELOPS_MODEL", "value": spec.model},
    ]
    if spec.seed is not None:
        env.append({"name": "MODELOPS_SEED", "value": str(spec.seed)})
    if spec.data is not None:
        env.append({"name": "MODELOPS_DATA_URI", "value": spec.data.uri})
        if spec.data.version is not None:
            env.append({"name": "MODELOPS_DATA_VERSION", "value": spec.data.version})
    env.append({"name": "MODELOPS_HYPERPARAMETERS",
                "value": json.dumps(dict(sorted(spec.hyperparameters.items())), separators=(",", ":"))})
    for name, value in sorted(spec.hyperparameters.items()):
        env.append({"name": hyperparameter_env_name(name), "value": value})
    ours = {item["name"] for item in env}
    # The user's own variables come last and never override the operator's: MLFLOW_RUN_ID pointing
    # elsewhere would silently break the reproducibility record.
    env.extend({"name": e.name, "value": e.value or ""} for e in spec.env if e.name not in ours)
    return env


def desired_job(
    *,
    name: str,
    namespace: str,
    uid: str,
    spec: TrainingRunSpec,
    pool: NodePool | None,
    pool_name: str | None,
    mlflow_run_id: str,
    tracking_uri: str,
    settings: TrainingSettings,
) -> dict[str, Any]:
    labels = {RUN_LABEL: dns_label(name), MODEL_LABEL: spec.model, **MANAGED_BY}
    if pool_name:
        labels["modelops.io/pool"] = pool_name
    container = restricted_container(
        name=CONTAINER,
        image=spec.image,
        env=_env(spec, tracking_uri=tracking_uri, mlflow_run_id=mlflow_run_id),
    )
    if spec.command:
        container["command"] = list(spec.command)
    if spec.args:
        container["args"] = list(spec.args)
    resources = container_resources(spec.resources, pool)
    if resources:
        container["resources"] = resources
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [TMP_VOLUME],
    }
    if spec.service_account_name:
        pod_spec["serviceAccountName"] = spec.service_account_name
    if pool is not None and pool.node_selector:
        pod_spec["nodeSelector"] = dict(pool.node_selector)
    if pool is not None and pool.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in pool.tolerations]
    pod_metadata: dict[str, Any] = {"labels": {**settings.pod_labels, **labels}}
    if settings.pod_annotations:
        pod_metadata["annotations"] = dict(settings.pod_annotations)
    job_spec: dict[str, Any] = {
        "backoffLimit": spec.max_retries,
        # The run's own labels select the Pods; the Job controller adds its own selector too.
        "template": {"metadata": pod_metadata, "spec": pod_spec},
    }
    if spec.timeout is not None:
        job_spec["activeDeadlineSeconds"] = max(1, int(parse_duration(spec.timeout).total_seconds()))
    if settings.ttl_seconds_after_finished is not None:
        job_spec["ttlSecondsAfterFinished"] = settings.ttl_seconds_after_finished
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(name),
            "namespace": namespace,
            "labels": labels,
            "annotations": {"modelops.io/mlflow-run-id": mlflow_run_id},
            "ownerReferences": [{
                "apiVersion": API_VERSION,
                "kind": "TrainingRun",
                "name": name,
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }],
        },
        "spec": job_spec,
    }
