"""Several operators on one control plane, each seen through its own recording proxy: a token
kubeconfig (a ServiceAccount bound to cluster-admin for the test's life) per operator, which
objects each one wrote to, and who holds a shard's Lease.

The proxy (``api_recorder``) records every request of one process with the object it names and
when, so "reconciled by exactly one operator" is read off the API traffic itself — no annotation
or status field the operators would have to write for the test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubernetes import client

from localcluster.cluster import LocalCluster
from tests.support.api_recorder import Access, RecordingProxy
from tests.support.operator import OperatorProcess

WRITES = ("create", "update", "patch", "delete")
ACCOUNT = "shard-test-operator"


@contextmanager
def admin_account(api: client.ApiClient, namespace: str) -> Iterator[str]:
    """A ServiceAccount bound to cluster-admin (the binding removed afterwards); yields its name."""
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": ACCOUNT}})
    binding = f"{ACCOUNT}-{namespace}"
    rbac.create_cluster_role_binding({
        "metadata": {"name": binding},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}],
    })
    try:
        yield ACCOUNT
    finally:
        rbac.delete_cluster_role_binding(binding)


@contextmanager
def recorded_operator(api: client.ApiClient, cluster: LocalCluster, namespace: str, account: str, path: Path,
                      args: tuple[str, ...], config: dict[str, Any] | None = None,
                      ) -> Iterator[tuple[OperatorProcess, RecordingProxy]]:
    """An operator (``python -m modelops *args``) whose every request goes through its own proxy."""
    assert cluster.pki is not None
    token = client.CoreV1Api(api).create_namespaced_service_account_token(
        account, namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    path.mkdir(parents=True, exist_ok=True)
    proxy = RecordingProxy(cluster.server, cluster.pki.ca_cert).start()
    process = OperatorProcess(cluster, path / "operator.log", config or {},
                              kubeconfig=proxy.kubeconfig(token, path / "kubeconfig"), args=args)
    try:
        yield process, proxy
    finally:
        process.stop()
        proxy.stop()


def object_writes(proxy: RecordingProxy, group: str = "modelops.io") -> list[Access]:
    """Writes (allowed or not) to objects of ``group`` that name an object."""
    return [a for a in proxy.recorded() if a.verb in WRITES and a.group == group and a.name]


def written(proxy: RecordingProxy, namespace: str, name: str, group: str = "modelops.io") -> list[Access]:
    return [a for a in object_writes(proxy, group) if a.namespace == namespace and a.name == name]


def non_lease_requests(proxy: RecordingProxy) -> list[Access]:
    """Everything but the Lease traffic and discovery: what a standby must never do."""
    return [a for a in proxy.recorded() if a.resource != "leases"]


def lease_holder(api: client.ApiClient, namespace: str, name: str) -> str | None:
    try:
        lease = client.CoordinationV1Api(api).read_namespaced_lease(name, namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return lease.spec.holder_identity or None


def wait_holder(api: client.ApiClient, namespace: str, name: str, holder: str, timeout: float) -> float:
    """Seconds until ``holder`` holds the Lease; AssertionError with the last holder after ``timeout``."""
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout:
        last = lease_holder(api, namespace, name)
        if last == holder:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"Lease {namespace}/{name} still held by {last!r} after {timeout}s, not {holder!r}")
