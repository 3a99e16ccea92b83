"""A test's view of one namespace on the real API server: read any object as a dict, its status and
conditions, the Events the operator posted about it, and wait for a condition to say something."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from tests.support.manifests import apply
from tests.support.waiting import wait_for

API = "modelops.io/v1alpha1"


@contextlib.contextmanager
def scratch_namespace(api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace, labelled as a test's, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name, "labels": {"modelops.io/test": "true"}}})
    try:
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")


class Namespace:
    def __init__(self, dyn: dynamic.DynamicClient, api: client.ApiClient, name: str) -> None:
        self.dyn, self.api, self.name = dyn, api, name
        self.core = client.CoreV1Api(api)

    def resource(self, api_version: str, kind: str) -> Any:
        return self.dyn.resources.get(api_version=api_version, kind=kind)

    def apply(self, doc: dict[str, Any], manager: str | None = None) -> Any:
        if manager is None:
            return apply(self.dyn, doc, self.name)
        resource = self.resource(doc["apiVersion"], doc["kind"])
        return resource.server_side_apply(body=doc, namespace=self.name, field_manager=manager,
                                          force_conflicts=True)

    def get(self, api_version: str, kind: str, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.resource(api_version, kind).get(name=name, namespace=self.name).to_dict())
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def delete(self, api_version: str, kind: str, name: str) -> None:
        try:
            self.resource(api_version, kind).delete(name=name, namespace=self.name)
        except ApiException as error:
            if error.status != 404:
                raise

    def status(self, kind: str, name: str) -> dict[str, Any]:
        return ((self.get(API, kind, name) or {}).get("status")) or {}

    def condition(self, kind: str, name: str, type_: str) -> dict[str, Any] | None:
        for condition in self.status(kind, name).get("conditions") or []:
            if condition.get("type") == type_:
                return dict(condition)
        return None

    def wait_condition(self, kind: str, name: str, type_: str, status: str, reason: str | None = None,
                       timeout: float = 60) -> dict[str, Any]:
        """Wait until the condition has this status (and reason) for the object's current generation."""
        def seen() -> dict[str, Any] | None:
            obj = self.get(API, kind, name) or {}
            generation = (obj.get("metadata") or {}).get("generation")
            found = self.condition(kind, name, type_)
            if found is None or found.get("observedGeneration") != generation or found.get("status") != status:
                return None
            return found if reason is None or found.get("reason") == reason else None

        return wait_for(seen, timeout, f"{kind} {name}: {type_}={status} {reason or ''} "
                                       f"(conditions: {self.status(kind, name).get('conditions')})")

    def events(self, kind: str, name: str, reason: str | None = None) -> list[Any]:
        items = self.core.list_namespaced_event(
            self.name, field_selector=f"involvedObject.name={name},involvedObject.kind={kind}").items
        return [e for e in items if reason is None or e.reason == reason]

    def stays(self, probe: Any, seconds: float, what: str, interval: float = 0.5) -> None:
        """Assert ``probe()`` stays true for ``seconds`` (after a positive signal was seen)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert probe(), what
            time.sleep(interval)
