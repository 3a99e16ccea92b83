"""The repository's examples as test input: the first example object of each modelops kind."""

from __future__ import annotations

from typing import Any

from tests.support.manifests import REPO, documents

KINDS = ["TrainingRun", "ModelVersion", "Rollout", "DriftMonitor"]


def example_of(kind: str) -> dict[str, Any]:
    for path in sorted((REPO / "examples").glob("*.yaml")):
        for doc in documents(path):
            if doc["kind"] == kind and doc["apiVersion"].startswith("modelops.io/"):
                return doc
    raise AssertionError(f"no example of {kind}")


