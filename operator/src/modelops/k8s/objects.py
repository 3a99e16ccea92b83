"""Reading and writing objects as plain dicts: get, list, server-side apply (field manager
``modelops``), create, merge-patch of the status subresource, delete.

Every write of a child goes through ``apply``: server-side apply makes a repeated reconcile a
no-op at the API server (no new resourceVersion when nothing changed) and lets other managers
own other fields without fights. Status is only ever written through ``/status``, so the
operator cannot touch a user's ``spec`` even by mistake.
"""

from __future__ import annotations

from typing import Any

from modelops.k8s.errors import KubeError
from modelops.k8s.session import KubeSession, from_status, translate

FIELD_MANAGER = "modelops"


def _plain(instance: Any) -> dict[str, Any]:
    """The response as a dict. kubernetes_asyncio's dynamic client reads responses without
    raising on HTTP errors, so a ``Status`` with ``status: Failure`` is turned into our error here."""
    data = dict(instance.to_dict()) if hasattr(instance, "to_dict") else dict(instance)
    if data.get("kind") == "Status" and data.get("status") == "Failure":
        raise from_status(data)
    return data


def _translate(error: Exception, body: dict[str, Any] | None = None) -> KubeError:
    translated = error if isinstance(error, KubeError) else translate(error)
    if body is not None and translated.target is None:
        translated.target = f"{body.get('kind')} {(body.get('metadata') or {}).get('name')}"
    return translated


async def get(session: KubeSession, api_version: str, kind: str, namespace: str | None,
              name: str) -> dict[str, Any] | None:
    try:
        resource = await session.resource(api_version, kind)
        return _plain(await resource.get(name=name, namespace=namespace))
    except Exception as error:
        translated = _translate(error)
        if translated.status == 404:
            return None
        raise translated from error


async def list_objects(session: KubeSession, api_version: str, kind: str, namespace: str | None,
                       label_selector: str | None = None) -> list[dict[str, Any]]:
    try:
        resource = await session.resource(api_version, kind)
        result = await resource.get(namespace=namespace, label_selector=label_selector)
        return [dict(item) for item in _plain(result).get("items", [])]
    except Exception as error:
        raise _translate(error) from error


async def apply(session: KubeSession, body: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply with force: the operator is the sole owner of its children's fields."""
    try:
        resource = await session.resource(body["apiVersion"], body["kind"])
        result = await session.dynamic.server_side_apply(
            resource, body=body, namespace=body["metadata"].get("namespace"),
            field_manager=FIELD_MANAGER, force_conflicts=True,
        )
        return _plain(result)
    except Exception as error:
        raise _translate(error, body) from error


async def create(session: KubeSession, body: dict[str, Any]) -> dict[str, Any]:
    """Create once (for records the operator makes but does not own afterwards)."""
    try:
        resource = await session.resource(body["apiVersion"], body["kind"])
        result = await resource.create(body=body, namespace=body["metadata"].get("namespace"),
                                       field_manager=FIELD_MANAGER)
        return _plain(result)
    except Exception as error:
        raise _translate(error, body) from error


async def patch_status(session: KubeSession, api_version: str, kind: str, namespace: str, name: str,
                       status: dict[str, Any]) -> dict[str, Any]:
    try:
        resource = await session.resource(api_version, kind)
        result = await resource.status.patch(
            name=name, namespace=namespace, body={"status": status},
            content_type="application/merge-patch+json",
        )
        return _plain(result)
    except Exception as error:
        raise _translate(error) from error


async def delete(session: KubeSession, api_version: str, kind: str, namespace: str | None, name: str,
                 propagation: str = "Background") -> bool:
    try:
        resource = await session.resource(api_version, kind)
        await resource.delete(name=name, namespace=namespace,
                              body={"propagationPolicy": propagation})
        return True
    except Exception as error:
        translated = _translate(error)
        if translated.status == 404:
            return False
        raise translated from error
