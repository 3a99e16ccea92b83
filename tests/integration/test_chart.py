"""The Helm charts: they lint, render, and every rendered object is accepted by the real API server
(server-side apply, dry run); the CRD chart carries exactly crds/; the ClusterRole is least
privilege (no wildcards, no Secrets) and is *sufficient*: the operator, running with nothing but
the chart's ServiceAccount token, reconciles a TrainingRun and a ModelVersion."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, dynamic

from localcluster.building import ensure_helm
from localcluster.cluster import LocalCluster
from localcluster.mlflow_server import MLflowServer
from localcluster.operator_config import operator_config
from tests.integration.conftest import OperatorProcess
from tests.integration.kserve_status import ready_status
from tests.integration.manifests import REPO, documents
from tests.integration.waiting import wait_for

CHART = REPO / "charts" / "modelops"
CRD_CHART = REPO / "charts" / "modelops-crds"


@pytest.fixture(scope="module")
def helm() -> Path:
    return ensure_helm()


def render(helm: Path, chart: Path, namespace: str, values: dict[str, Any] | None = None,
           tmp: Path | None = None) -> list[dict[str, Any]]:
    cmd = [str(helm), "template", "modelops", str(chart), "--namespace", namespace]
    if values is not None and tmp is not None:
        path = tmp / "values.yaml"
        path.write_text(yaml.safe_dump(values))
        cmd += ["-f", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_charts_lint(helm: Path) -> None:
    for chart in (CHART, CRD_CHART):
        result = subprocess.run([str(helm), "lint", "--strict", str(chart)], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


def test_values_schema_rejects_a_bad_digest(helm: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"image": {"repository": "r", "digest": "latest"}}))
    result = subprocess.run([str(helm), "template", "x", str(CHART), "-f", str(path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "digest" in result.stderr


def test_crd_chart_is_exactly_crds(helm: Path) -> None:
    rendered = {doc["metadata"]["name"]: doc for doc in render(helm, CRD_CHART, "default")}
    committed = {doc["metadata"]["name"]: doc
                 for path in sorted((REPO / "crds").glob("*.yaml")) for doc in documents(path)}
    assert rendered == committed


def test_rendered_chart_is_accepted_by_the_api_server(helm: Path, dyn: dynamic.DynamicClient,
                                                      namespace: str, tmp_path: Path) -> None:
    values = {"image": {"digest": "sha256:" + "a" * 64}, "watchNamespaces": ["team-a"],
              "config": {"mlflow": {"trackingUri": "http://mlflow:5000"}, "nodePools": {"cpu": {}}}}
    docs = render(helm, CHART, namespace, values, tmp_path)
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "ServiceAccount"]
    for doc in docs:
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        resource.server_side_apply(body=doc, namespace=namespace if resource.namespaced else None,
                                   field_manager="chart-test", dry_run="All")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert container["image"].endswith("@sha256:" + "a" * 64)
    assert "--namespace=team-a" in container["args"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    config = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["config.yaml"])
    assert config["mlflow"]["trackingUri"] == "http://mlflow:5000"


def test_cluster_role_is_least_privilege(helm: Path) -> None:
    role = next(d for d in render(helm, CHART, "modelops") if d["kind"] == "ClusterRole")
    for rule in role["rules"]:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
        assert "secrets" not in rule["resources"]


def _token_kubeconfig(api: client.ApiClient, cluster: LocalCluster, namespace: str, account: str,
                      path: Path) -> Path:
    token = client.CoreV1Api(api).create_namespaced_service_account_token(
        account, namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    admin["users"] = [{"name": "chart-sa", "user": {"token": token}}]
    admin["contexts"][0]["context"]["user"] = "chart-sa"
    path.write_text(yaml.safe_dump(admin))
    return path


def test_operator_works_with_only_the_charts_rbac(
    helm: Path, api: client.ApiClient, dyn: dynamic.DynamicClient, cluster: LocalCluster, namespace: str,
    mlflow_server: MLflowServer, tmp_path: Path, operator: OperatorProcess,
) -> None:
    # The shared operator (admin) is stopped so only the ServiceAccount's one acts.
    operator.stop()
    try:
        docs = render(helm, CHART, namespace)
        for doc in docs:
            if doc["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
                if doc["kind"] != "ServiceAccount":
                    doc["metadata"]["name"] = f"modelops-{namespace}"
                    if doc["kind"] == "ClusterRoleBinding":
                        doc["roleRef"]["name"] = f"modelops-{namespace}"
                resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
                resource.server_side_apply(body=doc, namespace=namespace if resource.namespaced else None,
                                           field_manager="chart-test")
        account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
        kubeconfig = _token_kubeconfig(api, cluster, namespace, account, tmp_path / "sa-kubeconfig")
        config = operator_config(mlflow_server.url, mlflow_artifacts=mlflow_server.artifact_root.as_uri())
        restricted = OperatorProcess(cluster, tmp_path / "operator.log", config, kubeconfig=kubeconfig)
        restricted.start()
        try:
            mv = next(d for d in documents(REPO / "examples" / "02-modelversion-cpu.yaml")
                      if d["kind"] == "ModelVersion")
            mv["spec"]["model"] = f"rbac-{namespace}"
            tr = next(d for d in documents(REPO / "examples" / "01-trainingrun-gpu.yaml")
                      if d["kind"] == "TrainingRun")
            tr["spec"]["model"] = f"rbac-train-{namespace}"
            for doc in (mv, tr):
                dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"]).server_side_apply(
                    body=doc, namespace=namespace, field_manager="chart-test")
            isvcs = dyn.resources.get(api_version="serving.kserve.io/v1beta1", kind="InferenceService")
            wait_for(lambda: isvcs.get(namespace=namespace).to_dict()["items"], 60, "the ISVC, made under the SA")
            mvs = dyn.resources.get(api_version="modelops.io/v1alpha1", kind="ModelVersion")
            wait_for(lambda: (mvs.get(name=mv["metadata"]["name"], namespace=namespace).to_dict().get("status")
                              or {}).get("registry"), 60, "the ModelVersion's status, written under the SA")
            trs = dyn.resources.get(api_version="modelops.io/v1alpha1", kind="TrainingRun")
            wait_for(lambda: (trs.get(name=tr["metadata"]["name"], namespace=namespace).to_dict().get("status")
                              or {}).get("phase") == "Running", 60, "the TrainingRun running, under the SA")
            events = client.CoreV1Api(api).list_namespaced_event(namespace).items
            assert any(e.reason == "JobCreated" for e in events)
            # A Rollout through Gateway API: the HTTPRoute is written under the SA too.
            rollout_docs = documents(REPO / "examples" / "04-rollout-gateway-api.yaml")
            for doc in rollout_docs:
                doc["spec"]["model"] = f"rbac-route-{namespace}"
                if doc["kind"] == "Rollout":
                    doc["spec"]["target"] = "fraud-detector-v3"
                dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"]).server_side_apply(
                    body=doc, namespace=namespace, field_manager="chart-test")
            wait_for(lambda: isvcs.get(name="fraud-detector-v3", namespace=namespace), 60, "the v3 ISVC")
            isvcs.status.patch(name="fraud-detector-v3", namespace=namespace,
                               body={"status": ready_status("http://fraud-detector-v3")},
                               content_type="application/merge-patch+json")
            routes = dyn.resources.get(api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute")
            wait_for(lambda: routes.get(name="fraud-detector", namespace=namespace), 60,
                     "the HTTPRoute, written under the SA")
        finally:
            restricted.stop()
        # RBAC denials read `User "system:serviceaccount:..." cannot <verb> resource ...`; other 403s
        # (a namespace of an earlier test being terminated) are not about the chart.
        log = (tmp_path / "operator.log").read_text()
        denials = [line for line in log.splitlines() if "system:serviceaccount:" in line and "cannot" in line]
        assert denials == [], "\n".join(denials)
    finally:
        operator.start()
