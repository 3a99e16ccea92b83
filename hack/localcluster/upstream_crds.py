"""Reads the upstream CRDs modelops talks to (KServe, Gateway API, Istio, Prometheus Operator)
from those projects' Go modules in the module cache.

They are never copied into this repository: the module cache is the pinned, checksummed source
(``go mod download`` verifies it against the checksum database), and the pin lives in versions.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from localcluster import versions
from localcluster.building import module_dir

# (module, files inside the module, kinds to keep). The Gateway API directory also holds a
# ValidatingAdmissionPolicy, and Istio's file holds every Istio CRD: keep only what we use.
SOURCES: list[tuple[tuple[str, str], list[str], set[str]]] = [
    (
        versions.KSERVE_MODULE,
        [
            "config/crd/full/serving.kserve.io_inferenceservices.yaml",
            "config/crd/full/serving.kserve.io_servingruntimes.yaml",
            "config/crd/full/serving.kserve.io_clusterservingruntimes.yaml",
        ],
        {"InferenceService", "ServingRuntime", "ClusterServingRuntime"},
    ),
    (
        versions.GATEWAY_API_MODULE,
        [
            "config/crd/standard/gateway.networking.k8s.io_gatewayclasses.yaml",
            "config/crd/standard/gateway.networking.k8s.io_gateways.yaml",
            "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
            "config/crd/standard/gateway.networking.k8s.io_referencegrants.yaml",
        ],
        {"GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"},
    ),
    (
        versions.ISTIO_API_MODULE,
        ["kubernetes/customresourcedefinitions.gen.yaml"],
        {"VirtualService", "DestinationRule", "Gateway"},
    ),
    (
        versions.PROMETHEUS_OPERATOR_MODULE,
        [
            "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
            "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        ],
        {"PrometheusRule", "ServiceMonitor"},
    ),
]


def upstream_crds() -> Iterator[dict[str, Any]]:
    for (module, version), files, kinds in SOURCES:
        root = module_dir(module, version)
        for relative in files:
            path = root / relative
            if not path.exists():
                raise FileNotFoundError(f"{module}@{version} has no {relative}")
            for doc in yaml.safe_load_all(path.read_text()):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                if doc["spec"]["names"]["kind"] in kinds:
                    yield doc


def own_crds(repo_root: Path) -> Iterator[dict[str, Any]]:
    for path in sorted((repo_root / "crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield doc
