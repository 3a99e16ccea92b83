"""DriftMonitor -> the objects it owns for its drift job (pure functions; golden-tested):

- a ``batch/v1`` CronJob running ``python -m modelops.drift_job --namespace NS --monitor NAME`` on
  ``spec.schedule`` in ``spec.timeZone``: ``concurrencyPolicy: Forbid`` (a slow run is never
  overtaken by the next), bounded history, ``activeDeadlineSeconds``, ``startingDeadlineSeconds``
  (a run missed while the controller was down is started late, not skipped, within 5 minutes);
  ``MODELOPS_LOGS_URI`` from the operator's configuration, ``MODELOPS_RUN_ID`` (the Job's uid) and
  ``JOB_NAME`` from the Pod's own labels (downward API);
- sharded when the last run read more rows than ``driftJob.rowsPerShard``: the Job becomes
  Indexed with ``completions = parallelism = ceil(rowsSeen / rowsPerShard)`` (at most
  ``driftJob.maxShards``) and the job gets ``--shards N`` (Kubernetes sets
  ``JOB_COMPLETION_INDEX``; shard 0 merges and reports);
- a ServiceAccount, Role and RoleBinding of the monitor's own: the job may get this monitor and
  patch its status (``resourceNames``), and get ModelVersions and Rollouts — nothing else. One per
  monitor rather than per namespace, so one job can never write another monitor's status and the
  garbage collector takes each with its single owner.

Every child carries a controller owner reference to the monitor: deleting the monitor lets the
garbage collector take them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from modelops.api.common import API_VERSION
from modelops.api.config import DriftJobSettings
from modelops.api.driftmonitor import DriftMonitorSpec
from modelops.core.durations import parse_duration
from modelops.core.naming import dns_label, label_value
from modelops.core.resources import TMP_VOLUME, restricted_container

MONITOR_LABEL = "modelops.io/drift-monitor"
MANAGED_BY = {"app.kubernetes.io/managed-by": "modelops", "app.kubernetes.io/component": "drift"}
CONTAINER = "drift-job"
# CronJob names leave 11 characters for the suffix of the Jobs they make (Kubernetes' own limit).
CRON_JOB_NAME_LENGTH = 52
STARTING_DEADLINE_SECONDS = 300
RBAC_API = "rbac.authorization.k8s.io/v1"


def cron_job_name(monitor: str) -> str:
    return dns_label(monitor, "drift", max_length=CRON_JOB_NAME_LENGTH)


def job_account_name(monitor: str) -> str:
    """The name of the drift job's ServiceAccount, Role and RoleBinding."""
    return dns_label(monitor, "drift-job")


def labels(monitor: str) -> dict[str, str]:
    return {MONITOR_LABEL: label_value(monitor), **MANAGED_BY}


def owner_reference(monitor: str, uid: str) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "DriftMonitor", "name": monitor, "uid": uid,
            "controller": True, "blockOwnerDeletion": True}


def _metadata(name: str, namespace: str, monitor: str, uid: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(monitor),
            "ownerReferences": [owner_reference(monitor, uid)]}


def shard_count(rows_seen: Any, settings: DriftJobSettings) -> int:
    """Pods the next run needs: one per ``rowsPerShard`` rows the last run saw, at most ``maxShards``."""
    if isinstance(rows_seen, bool) or not isinstance(rows_seen, int) or rows_seen <= settings.rows_per_shard:
        return 1
    return min(settings.max_shards, math.ceil(rows_seen / settings.rows_per_shard))


def _env(settings: DriftJobSettings) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    if settings.logs_uri:
        env.append({"name": "MODELOPS_LOGS_URI", "value": settings.logs_uri})
    env.append({"name": "MODELOPS_RUN_ID", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.labels['batch.kubernetes.io/controller-uid']"}}})
    env.append({"name": "JOB_NAME", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}}})
    return env


def desired_cron_job(*, monitor: str, namespace: str, uid: str, spec: DriftMonitorSpec, shards: int,
                     settings: DriftJobSettings) -> dict[str, Any]:
    args = ["--namespace", namespace, "--monitor", monitor]
    if shards > 1:
        args += ["--shards", str(shards)]
    container = restricted_container(
        name=CONTAINER,
        image=settings.image,
        command=["python", "-m", "modelops.drift_job"],
        args=args,
        env=_env(settings),
    )
    if settings.resources:
        container["resources"] = dict(settings.resources)
    pod_labels = {**settings.pod_labels, **labels(monitor)}
    job_spec: dict[str, Any] = {
        "backoffLimit": settings.backoff_limit,
        "activeDeadlineSeconds": max(1, int(parse_duration(settings.active_deadline).total_seconds())),
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": {
                "serviceAccountName": job_account_name(monitor),
                "restartPolicy": "Never",
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container],
                "volumes": [TMP_VOLUME],
            },
        },
    }
    if shards > 1:
        job_spec.update({"completionMode": "Indexed", "completions": shards, "parallelism": shards})
    cron_spec: dict[str, Any] = {
        "schedule": spec.schedule,
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
        "successfulJobsHistoryLimit": settings.history_limit,
        "failedJobsHistoryLimit": settings.history_limit,
        "jobTemplate": {"metadata": {"labels": labels(monitor)}, "spec": job_spec},
    }
    if spec.time_zone is not None:
        cron_spec["timeZone"] = spec.time_zone
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": _metadata(cron_job_name(monitor), namespace, monitor, uid), "spec": cron_spec}


def job_role_rules(monitor: str) -> list[dict[str, Any]]:
    """What the drift job may do: read this monitor, write its status, read what it watches."""
    return [
        {"apiGroups": ["modelops.io"], "resources": ["driftmonitors"], "resourceNames": [monitor], "verbs": ["get"]},
        {"apiGroups": ["modelops.io"], "resources": ["driftmonitors/status"], "resourceNames": [monitor],
         "verbs": ["patch"]},
        {"apiGroups": ["modelops.io"], "resources": ["modelversions", "rollouts"], "verbs": ["get"]},
    ]


def desired_job_access(*, monitor: str, namespace: str, uid: str) -> list[dict[str, Any]]:
    """The drift job's ServiceAccount, Role and RoleBinding, in the order they are applied."""
    name = job_account_name(monitor)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(name, namespace, monitor, uid)},
        {"apiVersion": RBAC_API, "kind": "Role", "metadata": _metadata(name, namespace, monitor, uid),
         "rules": job_role_rules(monitor)},
        {"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": _metadata(name, namespace, monitor, uid),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]},
    ]


def holds(observed: Any, desired: Any) -> bool:
    """Does ``observed`` (a child as the API server stores it) already carry every field of
    ``desired``? Fields the server adds (defaults, status, metadata) are ignored; lists must match
    item by item. True means applying ``desired`` again would change nothing, so it is not sent."""
    if isinstance(desired, Mapping):
        return isinstance(observed, Mapping) and all(holds(observed.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(observed, list) and len(observed) == len(desired) and all(
            holds(o, d) for o, d in zip(observed, desired, strict=True))
    return bool(observed == desired)
