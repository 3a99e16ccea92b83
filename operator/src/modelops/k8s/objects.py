"""Reading and writing objects as plain dicts: get, list, server-side apply (field manager
``modelops``), create, merge-patch of the status subresource, delete.

Every write of a child goes through ``apply``: server-side apply makes a repeated reconcile a
no-op at the API server (no new resourceVersion when nothing changed) and lets other managers
own other fields without fights. Status is only ever written through ``/status``, so the
operator cannot touch a user's ``spec`` even by mistake. Every write returns the object as the
API server stored it, which the caller may keep (the reconcilers' write-through store).
"""

from __future__ import annotations

from typing import Any

from modelops.k8s.errors import KubeError
from modelops.k8s.rest import APPLY_PATCH, MERGE_PATCH
from modelops.k8s.session import KubeSession

FIELD_MANAGER = "modelops"


def _target(error: KubeError, body: dict[str, Any]) -> KubeError:
    if error.target is None:
        error.target = f"{body.get('kind')} {(body.get('metadata') or {}).get('name')}"
    return error


async def get(session: KubeSession, api_version: str, kind: str, namespace: str | None,
              name: str) -> dict[str, Any] | None:
    resource = await session.resource(api_version, kind)
    try:
        return await session.rest.request("GET", resource.path(namespace, name))
    except KubeError as error:
        if error.status == 404:
            return None
        raise


async def list_objects(session: KubeSession, api_version: str, kind: str, namespace: str | None,
                       label_selector: str | None = None) -> list[dict[str, Any]]:
    resource = await session.resource(api_version, kind)
    params = {"labelSelector": label_selector} if label_selector else None
    answer = await session.rest.request("GET", resource.path(namespace), params=params)
    return [dict(item) for item in answer.get("items") or []]


async def apply(session: KubeSession, body: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply with force: the operator is the sole owner of its children's fields."""
    resource = await session.resource(body["apiVersion"], body["kind"])
    metadata = body["metadata"]
    try:
        return await session.rest.request(
            "PATCH", resource.path(metadata.get("namespace"), metadata["name"]),
            params={"fieldManager": FIELD_MANAGER, "force": "true"}, body=body, content_type=APPLY_PATCH,
        )
    except KubeError as error:
        raise _target(error, body) from error


async def create(session: KubeSession, body: dict[str, Any]) -> dict[str, Any]:
    """Create once (for records the operator makes but does not own afterwards)."""
    resource = await session.resource(body["apiVersion"], body["kind"])
    try:
        return await session.rest.request("POST", resource.path(body["metadata"].get("namespace")),
                                          params={"fieldManager": FIELD_MANAGER}, body=body)
    except KubeError as error:
        raise _target(error, body) from error


async def patch_status(session: KubeSession, api_version: str, kind: str, namespace: str, name: str,
                       status: dict[str, Any], *, field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
    resource = await session.resource(api_version, kind)
    return await session.rest.request("PATCH", resource.path(namespace, name, "status"),
                                      params={"fieldManager": field_manager}, body={"status": status},
                                      content_type=MERGE_PATCH)


async def delete(session: KubeSession, api_version: str, kind: str, namespace: str | None, name: str,
                 propagation: str = "Background") -> bool:
    resource = await session.resource(api_version, kind)
    try:
        await session.rest.request("DELETE", resource.path(namespace, name),
                                   body={"propagationPolicy": propagation})
        return True
    except KubeError as error:
        if error.status == 404:
            return False
        raise
