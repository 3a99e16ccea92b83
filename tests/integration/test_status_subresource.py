"""The status subresource is real: status cannot be written through the main resource, and the
spec cannot be written through /status (so the operator's status writes never touch spec)."""

from __future__ import annotations

import pytest
from kubernetes import dynamic

from tests.support.examples import KINDS, example_of
from tests.support.manifests import apply


@pytest.mark.parametrize("kind", KINDS)
def test_status_is_a_subresource(kind: str, dyn: dynamic.DynamicClient, namespace: str) -> None:
    # Dry runs: the API server answers with the object it would store, so the check is exact and
    # cannot race with the operator's own status writes (it may be running for other tests).
    doc = example_of(kind)
    name = doc["metadata"]["name"]
    resource = dyn.resources.get(api_version=doc["apiVersion"], kind=kind)
    apply(dyn, doc, namespace)
    stored = resource.get(name=name, namespace=namespace).to_dict()

    # Through the main resource, status is dropped (the API server keeps the stored one).
    would = resource.patch(name=name, namespace=namespace, content_type="application/merge-patch+json",
                           body={"status": {"observedGeneration": 42}, "metadata": {"labels": {"x": "y"}}},
                           dry_run="All").to_dict()
    assert would["metadata"]["labels"]["x"] == "y"
    assert (would.get("status") or {}).get("observedGeneration") != 42

    # Through /status, status lands and a spec change sent along is dropped.
    would = resource.status.patch(name=name, namespace=namespace, content_type="application/merge-patch+json",
                                  body={"status": {"observedGeneration": 42}, "spec": {"model": "changed"}},
                                  dry_run="All").to_dict()
    assert would["status"]["observedGeneration"] == 42
    assert would["spec"] == stored["spec"]
