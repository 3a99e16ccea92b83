"""The status subresource is real: status cannot be written through the main resource, and the
spec cannot be written through /status (so the operator's status writes never touch spec)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import dynamic

from tests.integration.manifests import REPO, apply, documents

KINDS = ["TrainingRun", "ModelVersion", "Rollout", "DriftMonitor"]


def example_of(kind: str) -> dict[str, Any]:
    for path in sorted((REPO / "examples").glob("*.yaml")):
        for doc in documents(path):
            if doc["kind"] == kind and doc["apiVersion"].startswith("modelops.io/"):
                return doc
    raise AssertionError(f"no example of {kind}")


@pytest.mark.parametrize("kind", KINDS)
def test_status_is_a_subresource(kind: str, dyn: dynamic.DynamicClient, namespace: str) -> None:
    doc = example_of(kind)
    name = doc["metadata"]["name"]
    resource = dyn.resources.get(api_version=doc["apiVersion"], kind=kind)
    apply(dyn, doc, namespace)

    # Through the main resource, status is silently dropped (the API server resets it).
    resource.patch(name=name, namespace=namespace, content_type="application/merge-patch+json",
                   body={"status": {"observedGeneration": 42}})
    assert (resource.get(name=name, namespace=namespace).to_dict().get("status") or {}).get(
        "observedGeneration") != 42

    # Through /status it lands, and a spec change sent there is dropped.
    original_spec = resource.get(name=name, namespace=namespace).to_dict()["spec"]
    resource.status.patch(name=name, namespace=namespace, content_type="application/merge-patch+json",
                          body={"status": {"observedGeneration": 42}, "spec": {"zzz": "ignored"}})
    stored = resource.get(name=name, namespace=namespace).to_dict()
    assert stored["status"]["observedGeneration"] == 42
    assert stored["spec"] == original_spec
