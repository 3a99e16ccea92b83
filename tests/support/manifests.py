"""Reads the repository's manifests (examples, invalid cases) and applies them like a user would:
server-side apply, the way GitOps tools and `kubectl apply --server-side` do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from kubernetes import dynamic
from kubernetes.client.rest import ApiException

REPO = Path(__file__).resolve().parents[2]
FIELD_MANAGER = "modelops-tests"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def expectation(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect:"):
            return line.removeprefix("# expect:").strip()
    raise AssertionError(f"{path} has no '# expect:' line")


def apply(dyn: dynamic.DynamicClient, doc: dict[str, Any], namespace: str) -> Any:
    resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    ns = namespace if resource.namespaced else None
    return resource.server_side_apply(body=doc, namespace=ns, field_manager=FIELD_MANAGER,
                                      force_conflicts=True)


def rejection_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body)["message"])
    except (ValueError, KeyError, TypeError):
        return str(error.body)
