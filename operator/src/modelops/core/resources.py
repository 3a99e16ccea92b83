"""What the operator's containers are given: resources from a spec's ``{cpu, memory, gpus}``
(requests equal limits — extended resources such as GPUs require it, and equal values give
Guaranteed QoS — GPUs under the node pool's resource name: ``nvidia.com/gpu``, ``amd.com/gpu``, ...),
and the Pod Security Standard "restricted" container settings every Job it makes runs with
(``restricted_container``: no privilege escalation, no capabilities, a read-only root, non-root,
a writable ``/tmp``)."""

from __future__ import annotations

from typing import Any

from modelops.api.common import ResourceRequirements
from modelops.api.config import NodePool

DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"
TMP_VOLUME = {"name": "tmp", "emptyDir": {}}


def restricted_container(**container: Any) -> dict[str, Any]:
    """``container`` with the restricted securityContext and ``/tmp`` mounted from ``TMP_VOLUME``."""
    return {
        **container,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def container_resources(requirements: ResourceRequirements | None, pool: NodePool | None) -> dict[str, Any]:
    if requirements is None:
        return {}
    amounts: dict[str, str] = {}
    if requirements.cpu is not None:
        amounts["cpu"] = str(requirements.cpu)
    if requirements.memory is not None:
        amounts["memory"] = str(requirements.memory)
    if requirements.gpus:
        amounts[pool.gpu_resource if pool is not None else DEFAULT_GPU_RESOURCE] = str(requirements.gpus)
    return {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}
