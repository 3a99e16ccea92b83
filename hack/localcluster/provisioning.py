"""Fills a freshly started control plane: the fake node pools, our CRDs and the upstream CRDs.

CRDs are server-side applied (field manager ``modelops-localcluster``): the KServe
InferenceService CRD is ~2 MB, past the 256 KiB annotation a client-side apply would write, and
SSA also makes re-provisioning an existing cluster (``make dev`` after a model change) a no-op.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config, dynamic
from kubernetes.client.rest import ApiException

from localcluster import nodepools, upstream_crds

FIELD_MANAGER = "modelops-localcluster"


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


def apply_crds(api: client.ApiClient, crds: list[dict[str, Any]], timeout: float = 180) -> None:
    dyn = dynamic.DynamicClient(api)
    resource = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")

    def apply(crd: dict[str, Any]) -> None:
        # A fresh API server on a loaded machine may answer a large CRD (KServe's) with a 504 after
        # its 60 s request timeout; applying is idempotent, so try again (three times at most).
        for attempt in range(3):
            try:
                resource.server_side_apply(body=crd, field_manager=FIELD_MANAGER, force_conflicts=True)
                return
            except ApiException as error:
                if error.status not in (500, 503, 504) or attempt == 2:
                    raise

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(apply, crds))
    wait_established(api, [crd["metadata"]["name"] for crd in crds], timeout)


def wait_established(api: client.ApiClient, names: list[str], timeout: float) -> None:
    ext = client.ApiextensionsV1Api(api)
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            crd = ext.read_custom_resource_definition(name)
            conditions = {c.type: c.status for c in (crd.status.conditions or [])}
            if conditions.get("Established") == "True":
                pending.discard(name)
        if pending:
            time.sleep(0.2)
    if pending:
        raise TimeoutError(f"CRDs not Established after {timeout}s: {sorted(pending)}")


def create_nodes(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    for node in nodepools.node_manifests():
        try:
            core.create_node(body=node)
        except ApiException as error:
            if error.status != 409:
                raise


def wait_nodes_ready(api: client.ApiClient, timeout: float = 60) -> None:
    core = client.CoreV1Api(api)
    expected = {n["metadata"]["name"] for n in nodepools.node_manifests()}
    deadline = time.monotonic() + timeout
    not_ready = expected
    while time.monotonic() < deadline:
        nodes = core.list_node(label_selector="type=kwok").items
        not_ready = set(expected)
        for node in nodes:
            conditions = {c.type: c.status for c in (node.status.conditions or [])}
            taints = {t.key for t in (node.spec.taints or [])}
            # The node lifecycle controller removes its not-ready taint only after Ready flips.
            if conditions.get("Ready") == "True" and "node.kubernetes.io/not-ready" not in taints:
                not_ready.discard(node.metadata.name)
        if not not_ready:
            return
        time.sleep(0.3)
    raise TimeoutError(f"kwok nodes not Ready after {timeout}s: {sorted(not_ready)}")


def provision(kubeconfig: Path, *, install_crds: bool, repo_root: Path) -> None:
    api = api_client(kubeconfig)
    try:
        create_nodes(api)
        if install_crds:
            crds = list(upstream_crds.own_crds(repo_root)) + list(upstream_crds.upstream_crds())
            apply_crds(api, crds)
        wait_nodes_ready(api)
    finally:
        api.close()
