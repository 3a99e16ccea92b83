"""The fake node pools of the local cluster and the kwok stages that give their Pods a life.

Two pools, shaped like a real GPU cluster so the scheduler does real work:
- ``cpu``: 3 nodes, no taints;
- ``gpu-a100``: 2 nodes with 8 ``nvidia.com/gpu`` each, a pool label, the GPU product label and
  the ``nvidia.com/gpu=present:NoSchedule`` taint, so only Pods that tolerate it land there.

kwok manages only Nodes annotated ``kwok.x-k8s.io/node: fake``. v0.8.0's standalone kwok ships
no default stages: node and Pod start-up stages come from the kwok module itself, and how a
Running Pod ends is decided by this project's own stages (``stages/pod-outcome.yaml``), keyed on
the label ``OUTCOME_LABEL``: absent on a Job's Pod -> Succeeded; ``succeed``/``fail`` -> that
outcome; any other value (``hold``) -> stays Running until relabelled, so a test can play the
container before letting the Pod finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcluster import versions
from localcluster.building import module_dir

POOL_LABEL = "modelops.io/pool"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT = {"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}
# The label that decides how a Running Pod ends (see stages/pod-outcome.yaml).
OUTCOME_LABEL = "sim.modelops.io/outcome"
OUTCOME_MESSAGE_ANNOTATION = "sim.modelops.io/message"
OWN_STAGES = Path(__file__).parent / "stages" / "pod-outcome.yaml"

STAGE_FILES = [
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
]


@dataclass(frozen=True)
class NodePool:
    name: str
    count: int
    cpu: str
    memory: str
    gpus: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)


POOLS = [
    NodePool(name="cpu", count=3, cpu="16", memory="64Gi"),
    NodePool(
        name="gpu-a100",
        count=2,
        cpu="64",
        memory="512Gi",
        gpus=8,
        labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.count": "8"},
        taints=[GPU_TAINT],
    ),
]


def node_manifests() -> list[dict[str, Any]]:
    nodes = []
    for pool in POOLS:
        for index in range(pool.count):
            name = f"kwok-{pool.name}-{index}"
            capacity = {"cpu": pool.cpu, "memory": pool.memory, "pods": "110"}
            if pool.gpus:
                capacity[GPU_RESOURCE] = str(pool.gpus)
            nodes.append({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "type": "kwok",
                        POOL_LABEL: pool.name,
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        **pool.labels,
                    },
                },
                "spec": {"taints": list(pool.taints)},
                # kwok's node-initialize stage keeps the capacity given here, so the GPUs survive.
                "status": {"capacity": capacity, "allocatable": dict(capacity)},
            })
    return nodes


def stage_paths() -> list[Path]:
    root = module_dir("sigs.k8s.io/kwok", versions.KWOK)
    paths = [root / relative for relative in STAGE_FILES]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"kwok stage files missing from the module: {missing}")
    return [*paths, OWN_STAGES]
