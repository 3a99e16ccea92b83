"""The local control plane does real scheduling and real Job control on kwok's fake GPU nodes."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from localcluster.nodepools import GPU_TAINT, OUTCOME_LABEL, POOL_LABEL
from tests.support.waiting import wait_for


def _gpu_pod_spec(gpus: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels or {}},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {POOL_LABEL: "gpu-a100"},
            "tolerations": [{"key": GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{
                "name": "train",
                "image": "registry.example/train@sha256:" + "0" * 64,
                "resources": {"limits": {"nvidia.com/gpu": str(gpus)}, "requests": {"cpu": "1"}},
            }],
        },
    }


def test_nodes_form_the_two_pools(api: client.ApiClient) -> None:
    nodes = client.CoreV1Api(api).list_node(label_selector="type=kwok").items
    pools: dict[str, list[Any]] = {}
    for node in nodes:
        pools.setdefault(node.metadata.labels[POOL_LABEL], []).append(node)
    assert sorted(pools) == ["cpu", "gpu-a100"]
    assert len(pools["cpu"]) == 3 and len(pools["gpu-a100"]) == 2
    for node in pools["gpu-a100"]:
        assert node.status.allocatable["nvidia.com/gpu"] == "8"
        assert any(t.key == "nvidia.com/gpu" and t.effect == "NoSchedule" for t in node.spec.taints)
    for node in pools["cpu"]:
        assert "nvidia.com/gpu" not in (node.status.allocatable or {})


def test_gpu_job_lands_on_a_gpu_node_and_completes(api: client.ApiClient, namespace: str) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    batch.create_namespaced_job(namespace, {
        "metadata": {"name": "train"},
        "spec": {"backoffLimit": 0, "template": _gpu_pod_spec(2)},
    })

    def completed() -> bool:
        job = batch.read_namespaced_job_status("train", namespace)
        return any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or [])

    wait_for(completed, 60, "the Job controller to mark the Job Complete")
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=train").items
    assert len(pods) == 1
    node = core.read_node(pods[0].spec.node_name)
    assert node.metadata.labels[POOL_LABEL] == "gpu-a100"
    assert pods[0].status.phase == "Succeeded"


def test_pod_asking_for_more_gpus_than_a_node_has_stays_pending(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    body = _gpu_pod_spec(9)
    body["metadata"]["name"] = "too-big"
    core.create_namespaced_pod(namespace, body)

    def unschedulable() -> str | None:
        pod = core.read_namespaced_pod_status("too-big", namespace)
        for condition in pod.status.conditions or []:
            if condition.type == "PodScheduled" and condition.reason == "Unschedulable":
                return str(condition.message)
        return None

    message = wait_for(unschedulable, 60, "the scheduler to report the Pod Unschedulable")
    assert "Insufficient nvidia.com/gpu" in message
    assert core.read_namespaced_pod("too-big", namespace).status.phase == "Pending"


def test_gpu_pod_without_toleration_never_lands_on_gpu_nodes(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    body = _gpu_pod_spec(1)
    body["metadata"]["name"] = "no-toleration"
    del body["spec"]["tolerations"]
    core.create_namespaced_pod(namespace, body)

    def unschedulable() -> str | None:
        pod = core.read_namespaced_pod_status("no-toleration", namespace)
        for condition in pod.status.conditions or []:
            if condition.type == "PodScheduled" and condition.reason == "Unschedulable":
                return str(condition.message)
        return None

    message = wait_for(unschedulable, 60, "the scheduler to refuse the untolerated GPU Pod")
    assert "untolerated taint" in message


def _phase(core: client.CoreV1Api, name: str, namespace: str) -> str:
    return str(core.read_namespaced_pod_status(name, namespace).status.phase)


def test_pod_with_the_fail_outcome_fails(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    body = _gpu_pod_spec(1, labels={OUTCOME_LABEL: "fail"})
    body["metadata"]["name"] = "crashes"
    core.create_namespaced_pod(namespace, body)
    wait_for(lambda: _phase(core, "crashes", namespace) == "Failed", 60, "kwok to fail the labelled Pod")
    terminated = core.read_namespaced_pod_status("crashes", namespace).status.container_statuses[0].state.terminated
    assert terminated.exit_code == 1 and terminated.reason == "Error"


def test_held_pod_runs_until_relabelled(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    body = _gpu_pod_spec(1, labels={OUTCOME_LABEL: "hold"})
    body["metadata"]["name"] = "held"
    core.create_namespaced_pod(namespace, body)
    wait_for(lambda: _phase(core, "held", namespace) == "Running", 60, "the held Pod to run")
    time.sleep(2)
    assert _phase(core, "held", namespace) == "Running"
    core.patch_namespaced_pod("held", namespace, {"metadata": {"labels": {OUTCOME_LABEL: "succeed"}}})
    wait_for(lambda: _phase(core, "held", namespace) == "Succeeded", 60, "the released Pod to succeed")
