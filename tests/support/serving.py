"""ModelVersions as the integration tests drive them: an example's manifest, and the test
namespace's view of ModelVersions, their InferenceServices (whose status the tests write in
KServe's format: no KServe controller runs here) and their Events."""

from __future__ import annotations

from typing import Any

from kubernetes import client, dynamic

from tests.support.manifests import REPO, documents
from tests.support.waiting import wait_for

ISVC_API = "serving.kserve.io/v1beta1"



def example(path: str, kind: str, name: str | None = None) -> dict[str, Any]:
    for doc in documents(REPO / "examples" / path):
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name):
            return doc
    raise AssertionError(f"no {kind} {name} in {path}")


class Env:
    def __init__(self, dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str) -> None:
        self.dyn, self.namespace = dyn, namespace
        self.core = client.CoreV1Api(api)
        self.mvs = dyn.resources.get(api_version="modelops.io/v1alpha1", kind="ModelVersion")
        self.rollouts = dyn.resources.get(api_version="modelops.io/v1alpha1", kind="Rollout")
        self.isvcs = dyn.resources.get(api_version=ISVC_API, kind="InferenceService")

    def mv(self, name: str) -> dict[str, Any] | None:
        items = self.mvs.get(namespace=self.namespace, field_selector=f"metadata.name={name}").to_dict()["items"]
        return items[0] if items else None

    def status(self, name: str) -> dict[str, Any]:
        return (self.mv(name) or {}).get("status") or {}

    def isvc(self, name: str) -> dict[str, Any] | None:
        items = self.isvcs.get(namespace=self.namespace, field_selector=f"metadata.name={name}").to_dict()["items"]
        return items[0] if items else None

    def wait_isvc(self, name: str) -> dict[str, Any]:
        return wait_for(lambda: self.isvc(name), 30, f"InferenceService {name}")

    def set_isvc_status(self, name: str, status: dict[str, Any]) -> None:
        self.isvcs.status.patch(name=name, namespace=self.namespace, body={"status": status},
                                content_type="application/merge-patch+json")

    def events(self, name: str) -> list[Any]:
        return self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name},involvedObject.kind=ModelVersion").items


