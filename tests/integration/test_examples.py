"""Every example in examples/ is accepted by the real API server (server-side apply) and by the
running operator, which acknowledges each object with observedGeneration and Accepted=True."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import dynamic

from tests.support.manifests import REPO, apply, documents
from tests.support.waiting import wait_for

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def test_every_example_is_applied_and_every_rollout_example_run_to_promotion() -> None:
    """Every file of examples/ is a case of ``test_example_applies_and_is_accepted`` (it holds a
    modelops object to be acknowledged), and every one with a Rollout is also run to promotion:
    by tests/integration/test_rollout_examples.py, or — the quick start, which needs real training
    and real model servers — by the test of ``make dev``'s loop, tests/harness/test_dev_loop.py."""
    assert [p.name for p in EXAMPLES] == sorted(p.name for p in (REPO / "examples").iterdir() if p.suffix == ".yaml")
    assert len(EXAMPLES) >= 8
    for path in EXAMPLES:
        assert any(d["apiVersion"].startswith("modelops.io/") for d in documents(path)), f"{path.name}: no object"
    with_rollouts = [p.name for p in EXAMPLES if any(d["kind"] == "Rollout" for d in documents(p))]
    runners = {"00-quickstart.yaml": REPO / "tests" / "harness" / "test_dev_loop.py"}
    default = REPO / "tests" / "integration" / "test_rollout_examples.py"
    unpromoted = [name for name in with_rollouts if f'"{name}"' not in runners.get(name, default).read_text()]
    assert with_rollouts and unpromoted == [], unpromoted


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_applies_and_is_accepted(path: Path, dyn: dynamic.DynamicClient, namespace: str,
                                         operator: object) -> None:
    applied = []
    for doc in documents(path):
        obj = apply(dyn, doc, namespace)
        assert obj.metadata.name == doc["metadata"]["name"]
        applied.append(doc)
    assert applied, f"{path} holds no object"
    for doc in applied:
        if not doc["apiVersion"].startswith("modelops.io/"):
            continue
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])

        def accepted(doc: dict = doc, resource: dynamic.Resource = resource) -> dict | None:
            obj = resource.get(name=doc["metadata"]["name"], namespace=namespace).to_dict()
            status = obj.get("status") or {}
            conditions = {c["type"]: c for c in status.get("conditions") or []}
            ok = status.get("observedGeneration") == obj["metadata"]["generation"] and "Accepted" in conditions
            return conditions["Accepted"] if ok else None

        condition = wait_for(accepted, 30, f"{doc['kind']}/{doc['metadata']['name']} to be acknowledged")
        assert condition["status"] == "True", condition["message"]
