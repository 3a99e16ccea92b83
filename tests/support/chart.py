"""The Helm charts as the tests see them: rendered with the project's helm (``localcluster.building
.ensure_helm``) into plain dicts, with the values a test gives; their RBAC applied to the cluster
(``apply_rbac``) to run a process under the chart's ServiceAccount."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes import dynamic

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "modelops"
CRD_CHART = REPO / "charts" / "modelops-crds"


def render(helm: Path, chart: Path, namespace: str, values: dict[str, Any] | None = None,
           tmp: Path | None = None) -> list[dict[str, Any]]:
    """``helm template modelops CHART`` in ``namespace`` with ``values`` (written under ``tmp``)."""
    cmd = [str(helm), "template", "modelops", str(chart), "--namespace", namespace]
    if values is not None and tmp is not None:
        path = tmp / "values.yaml"
        path.write_text(yaml.safe_dump(values))
        cmd += ["-f", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The single rendered object of ``kind`` (named ``name``, when given)."""
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} rendered"
    return found[0]


def apply_rbac(dyn: dynamic.DynamicClient, docs: list[dict[str, Any]], namespace: str, role: str) -> None:
    """Apply the ServiceAccount, Roles and bindings among ``docs``, the cluster-wide ones named
    ``role`` (tests share one cluster: each needs names of its own)."""
    for doc in docs:
        if doc["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
            if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                doc["metadata"]["name"] = role
                if doc["kind"] == "ClusterRoleBinding":
                    doc["roleRef"]["name"] = role
            resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            resource.server_side_apply(body=doc, namespace=namespace if resource.namespaced else None,
                                       field_manager="chart-test")
