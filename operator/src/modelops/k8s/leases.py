"""A shard's ``coordination.k8s.io/v1`` Lease, read and written as ``core.leasing.LeaseRecord``:
get, create, and update (a PUT carrying the resourceVersion read, so a concurrent writer makes it
fail with 409 ``Conflict`` instead of both believing they hold it)."""

from __future__ import annotations

from typing import Any

from modelops.core.leasing import LeaseRecord
from modelops.k8s.errors import NotFound
from modelops.k8s.objects import FIELD_MANAGER
from modelops.k8s.session import KubeSession

API_VERSION = "coordination.k8s.io/v1"


def _record(body: dict[str, Any]) -> LeaseRecord:
    spec = body.get("spec") or {}
    return LeaseRecord(holder=str(spec.get("holderIdentity") or ""),
                       duration=int(spec.get("leaseDurationSeconds") or 0),
                       acquire_time=spec.get("acquireTime"), renew_time=spec.get("renewTime"),
                       transitions=int(spec.get("leaseTransitions") or 0))


def _spec(record: LeaseRecord) -> dict[str, Any]:
    return {"holderIdentity": record.holder, "leaseDurationSeconds": record.duration,
            "acquireTime": record.acquire_time, "renewTime": record.renew_time,
            "leaseTransitions": record.transitions}


async def read(session: KubeSession, namespace: str, name: str) -> tuple[LeaseRecord | None, str | None]:
    """The Lease's record and resourceVersion; (None, None) when there is none."""
    resource = await session.resource(API_VERSION, "Lease")
    try:
        body = await session.rest.request("GET", resource.path(namespace, name))
    except NotFound:
        return None, None
    return _record(body), str((body.get("metadata") or {}).get("resourceVersion") or "")


async def create(session: KubeSession, namespace: str, name: str, record: LeaseRecord,
                 labels: dict[str, str]) -> str:
    """Create the Lease holding ``record``; its resourceVersion (409 ``Conflict``: it exists)."""
    resource = await session.resource(API_VERSION, "Lease")
    body = {"apiVersion": API_VERSION, "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": _spec(record)}
    made = await session.rest.request("POST", resource.path(namespace), params={"fieldManager": FIELD_MANAGER},
                                      body=body)
    return str((made.get("metadata") or {}).get("resourceVersion") or "")


async def update(session: KubeSession, namespace: str, name: str, record: LeaseRecord, resource_version: str,
                 labels: dict[str, str]) -> str:
    """Replace the Lease read at ``resource_version`` (409 ``Conflict``: written since); the new one."""
    resource = await session.resource(API_VERSION, "Lease")
    body = {"apiVersion": API_VERSION, "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace, "labels": labels,
                         "resourceVersion": resource_version},
            "spec": _spec(record)}
    made = await session.rest.request("PUT", resource.path(namespace, name),
                                      params={"fieldManager": FIELD_MANAGER}, body=body)
    return str((made.get("metadata") or {}).get("resourceVersion") or "")
