"""The Helm charts: they lint, render, and every rendered object is accepted by the real API server
(server-side apply, dry run); the CRD chart carries exactly crds/; the ClusterRoles are least
privilege (no wildcards, no Secrets) and *sufficient*: the operator, running with nothing but the
chart's ServiceAccount token, reconciles a TrainingRun and a ModelVersion, and the log sink with
its own reads ModelVersion signatures. Both talk to the API server through a recording proxy
(tests/support/api_recorder.py), so every permission a ClusterRole grants is checked to have been
used, or is listed with the reason no test uses it. The sink's Pod passes the restricted Pod Security
Standard as the API server enforces it, and the operator's configuration points KServe's logger at it."""

from __future__ import annotations

import copy
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, dynamic

from localcluster.building import ensure_helm
from localcluster.cluster import LocalCluster
from localcluster.kserve_logger import Call, messages
from localcluster.logsink_server import LogSinkServer
from localcluster.mlflow_server import MLflowServer
from localcluster.operator_config import operator_config
from modelops.logsink.config import load as load_sink_config
from tests.support.api_recorder import RecordingProxy, unexercised
from tests.support.chart import CHART, CRD_CHART, apply_rbac, render
from tests.support.drift import JOB_MANAGER, job_status
from tests.support.kserve_status import ready_status
from tests.support.logsink import metric_value, post_all, rows_by_id, scrape
from tests.support.manifests import REPO, documents
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def helm() -> Path:
    return ensure_helm()


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
              "config": {"mlflow": {"trackingUri": "http://mlflow:5000"}, "nodePools": {"cpu": {}}},
              "grafanaDashboard": {"enabled": True}}
    docs = render(helm, CHART, namespace, values, tmp_path)
    kinds = sorted(doc["kind"] for doc in docs)
    # Every object the chart can render (the dashboard is opt-in: enabled here).
    assert kinds == ["ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "ConfigMap",
                     "ConfigMap", "ConfigMap", "Deployment", "Deployment", "PersistentVolumeClaim", "PrometheusRule",
                     "Service", "Service", "ServiceAccount", "ServiceAccount", "ServiceMonitor", "ServiceMonitor"]
    for doc in docs:
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        resource.server_side_apply(body=doc, namespace=namespace if resource.namespaced else None,
                                   field_manager="chart-test", dry_run="All")
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "modelops")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert container["image"].endswith("@sha256:" + "a" * 64)
    assert "--namespace=team-a" in container["args"]
    assert "--metrics=0.0.0.0:8081" in container["args"]
    assert {"name": "metrics", "containerPort": 8081} in container["ports"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    config = yaml.safe_load(next(d for d in docs if d["metadata"]["name"] == "modelops-config")["data"]["config.yaml"])
    assert config["mlflow"]["trackingUri"] == "http://mlflow:5000"


def test_cluster_role_is_least_privilege(helm: Path) -> None:
    roles = [d for d in render(helm, CHART, "modelops") if d["kind"] == "ClusterRole"]
    assert sorted(r["metadata"]["name"] for r in roles) == ["modelops", "modelops-logsink"]
    for role in roles:
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], rule
            assert "secrets" not in rule["resources"]
    sink = next(r for r in roles if r["metadata"]["name"] == "modelops-logsink")
    assert sink["rules"] == [{"apiGroups": ["modelops.io"], "resources": ["modelversions"], "verbs": ["get"]}]


# Permissions of the operator's ClusterRole that the RBAC test below does not use, and why.
OPERATOR_RULES_NOT_EXERCISED: dict[str, str] = {
    "core/namespaces list": "kopf lists namespaces only to resolve globs in watchNamespaces; the test watches all",
    "core/namespaces watch": "as above",
    "modelops.io/modelversions create": "a TrainingRun registers its ModelVersion once training ends "
                                        "(test_trainingrun, under the admin identity: playing the container here "
                                        "would double this test's time)",
    "serving.kserve.io/inferenceservices delete": "a retired (archived) version's InferenceService is deleted "
                                                  "(test_modelversion, under the admin identity)",
    "modelops.io/driftmonitors get": "the operator reads DriftMonitors from its watch; it holds get because the "
                                     "drift job's Role grants it (Kubernetes lets only a holder grant a permission)",
}


def _token_kubeconfig(api: client.ApiClient, cluster: LocalCluster, namespace: str, account: str,
                      path: Path, proxy: RecordingProxy | None = None) -> Path:
    """A kubeconfig with a token of ``account``: straight to the API server, or through ``proxy``."""
    token = client.CoreV1Api(api).create_namespaced_service_account_token(
        account, namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    if proxy is not None:
        return proxy.kubeconfig(token, path)
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
        docs = [d for d in render(helm, CHART, namespace) if not d["metadata"]["name"].startswith("modelops-logsink")]
        apply_rbac(dyn, docs, namespace, f"modelops-{namespace}")
        account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
        assert cluster.pki is not None
        proxy = RecordingProxy(cluster.server, cluster.pki.ca_cert).start()
        kubeconfig = _token_kubeconfig(api, cluster, namespace, account, tmp_path / "sa-kubeconfig", proxy)
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
            # A Rollout through Gateway API, and one through Istio: the route objects are written under the SA.
            _route_written(dyn, namespace, "04-rollout-gateway-api.yaml", "fraud-detector-v3",
                           ("gateway.networking.k8s.io/v1", "HTTPRoute", "fraud-detector"))
            _route_written(dyn, namespace, "05-rollout-istio.yaml", "recommender-v8",
                           ("networking.istio.io/v1", "VirtualService", "recommender"))
            _drift_monitor_works(dyn, namespace)
        finally:
            restricted.stop()
            proxy.stop()
        # RBAC denials read `User "system:serviceaccount:..." cannot <verb> resource ...`; other 403s
        # (a namespace of an earlier test being terminated) are not about the chart.
        log = (tmp_path / "operator.log").read_text()
        denials = [line for line in log.splitlines() if "system:serviceaccount:" in line and "cannot" in line]
        assert denials == [], "\n".join(denials)
        # Every permission the ClusterRole grants was used by the operator above, but those listed
        # (with why) in OPERATOR_RULES_NOT_EXERCISED: a new grant no test uses fails here, and so
        # does a listed one that is now used (take it off the list).
        role = next(d for d in docs if d["kind"] == "ClusterRole")
        assert proxy.recorded(), "the proxy saw no request: the operator did not go through it"
        unused = unexercised(role["rules"], proxy.recorded())
        print("ClusterRole permissions no request used:", *unused, sep="\n  ")
        assert unused == sorted(OPERATOR_RULES_NOT_EXERCISED), unused
    finally:
        operator.start()


def _drift_monitor_works(dyn: dynamic.DynamicClient, namespace: str) -> None:
    """Example 07's DriftMonitor, on its ModelVersion, under the SA: its CronJob, the drift job's
    ServiceAccount/Role/RoleBinding and its PrometheusRule applied; drift reported as the job does
    creates a retraining TrainingRun; alerts disabled delete the PrometheusRule."""
    docs = documents(REPO / "examples" / "07-driftmonitor.yaml")
    version = next(d for d in docs if d["kind"] == "ModelVersion")
    version["spec"]["model"] = f"rbac-drift-{namespace}"
    monitor = next(d for d in docs if d["kind"] == "DriftMonitor")
    monitor["spec"]["modelRef"] = {"kind": "ModelVersion", "name": version["metadata"]["name"]}
    monitor["spec"]["retrain"]["after"] = 1
    monitor["spec"]["retrain"]["template"]["spec"]["model"] = f"rbac-drift-{namespace}"
    name = monitor["metadata"]["name"]
    monitors = dyn.resources.get(api_version=monitor["apiVersion"], kind="DriftMonitor")

    def refused(kind: str) -> bool:
        conditions = (monitors.get(name=name, namespace=namespace).to_dict().get("status") or {}).get("conditions")
        return any(c["type"] == "Accepted" and c["reason"] == "ModelRefNotFound" and f"{kind} " in c["message"]
                   for c in conditions or [])

    # A reference to nothing yet (a ModelVersion, then a Rollout) is looked up, found absent, refused.
    monitors.server_side_apply(body=monitor, namespace=namespace, field_manager="chart-test")
    wait_for(lambda: refused("ModelVersion"), 60, "the monitor refused: its ModelVersion does not exist yet")
    absent = copy.deepcopy(monitor)
    absent["spec"]["modelRef"] = {"kind": "Rollout", "name": f"absent-{namespace}"}
    monitors.server_side_apply(body=absent, namespace=namespace, field_manager="chart-test")
    wait_for(lambda: refused("Rollout"), 60, "the monitor refused: its Rollout does not exist")
    # The version's lineage names a TrainingRun that does not exist (looked up: LineageComplete=False).
    version["spec"]["lineage"] = {"trainingRun": f"absent-{namespace}"}
    for doc in (version, monitor):
        dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"]).server_side_apply(
            body=doc, namespace=namespace, field_manager="chart-test")
    rules = dyn.resources.get(api_version="monitoring.coreos.com/v1", kind="PrometheusRule")
    wait_for(lambda: rules.get(name=f"{name}-drift", namespace=namespace), 60, "the PrometheusRule, under the SA")
    cron_jobs = dyn.resources.get(api_version="batch/v1", kind="CronJob")
    wait_for(lambda: cron_jobs.get(name=f"{name}-drift", namespace=namespace), 60, "the CronJob, under the SA")
    monitors.status.patch(name=name, namespace=namespace, body={"status": job_status(consecutive=1)},
                          content_type="application/merge-patch+json", field_manager=JOB_MANAGER)
    runs = dyn.resources.get(api_version="modelops.io/v1alpha1", kind="TrainingRun")
    wait_for(lambda: runs.get(namespace=namespace, label_selector=f"modelops.io/drift-monitor={name}").items, 60,
             "the retraining TrainingRun, created under the SA")
    monitor["spec"]["alerts"]["enabled"] = False
    monitors.server_side_apply(body=monitor, namespace=namespace, field_manager="chart-test")

    def rule_gone() -> bool:
        return not [r for r in rules.get(namespace=namespace).to_dict()["items"]
                    if r["metadata"]["name"] == f"{name}-drift"]

    wait_for(rule_gone, 60, "the PrometheusRule deleted under the SA once alerts are disabled")


def _route_written(dyn: dynamic.DynamicClient, namespace: str, example: str, target: str,
                   route: tuple[str, str, str]) -> None:
    """Apply an example Rollout (and its ModelVersions) targeting ``target``, play KServe making that
    version Ready, and wait for the operator to write ``route`` (apiVersion, kind, name)."""
    for doc in documents(REPO / "examples" / example):
        doc["spec"]["model"] = f"rbac-{example.split('-', 1)[0]}-{namespace}"
        if doc["kind"] == "Rollout":
            doc["spec"]["target"] = target
        dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"]).server_side_apply(
            body=doc, namespace=namespace, field_manager="chart-test")
    isvcs = dyn.resources.get(api_version="serving.kserve.io/v1beta1", kind="InferenceService")
    wait_for(lambda: isvcs.get(name=target, namespace=namespace), 60, f"the {target} ISVC")
    isvcs.status.patch(name=target, namespace=namespace, body={"status": ready_status(f"http://{target}")},
                       content_type="application/merge-patch+json")
    routes = dyn.resources.get(api_version=route[0], kind=route[1])
    wait_for(lambda: routes.get(name=route[2], namespace=namespace), 60, f"the {route[1]}, written under the SA")


def _sink(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith("modelops-logsink"))


def test_the_operator_points_kserves_logger_at_the_charts_sink(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, CHART, "ml-platform")
    operator_config = yaml.safe_load(next(d for d in docs if d["metadata"]["name"] == "modelops-config")
                                     ["data"]["config.yaml"])
    service = _sink(docs, "Service")
    port = service["spec"]["ports"][0]
    assert operator_config["serving"]["logSinkUrl"] == f"http://{service['metadata']['name']}.ml-platform.svc:{port['port']}"
    sink_config = tmp_path / "sink.yaml"
    sink_config.write_text(_sink(docs, "ConfigMap")["data"]["config.yaml"])
    loaded = load_sink_config(sink_config)  # the sink would start with it
    assert loaded.port == port["port"] and loaded.store.url.startswith("/var/lib/modelops-logsink/")
    monitor = _sink(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [{"port": port["name"], "path": "/metrics", "interval": "15s",
                                             "honorLabels": True}]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["spec"]["selector"].items()
    pod = _sink(docs, "Deployment")["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert _sink(docs, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    claim = _sink(docs, "PersistentVolumeClaim")["metadata"]["name"]
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim
    # Set by hand, the URL is kept; without the sink, nothing is added.
    values = {"config": {"serving": {"logSinkUrl": "http://elsewhere:9000"}}}

    def operator_yaml(rendered: list[dict[str, Any]]) -> str:
        return str(next(d for d in rendered if d["metadata"]["name"] == "modelops-config")["data"]["config.yaml"])

    assert "elsewhere:9000" in operator_yaml(render(helm, CHART, "ml-platform", values, tmp_path))
    without = render(helm, CHART, "ml-platform", {"logsink": {"enabled": False}}, tmp_path)
    assert not [d for d in without if d["metadata"]["name"].startswith("modelops-logsink")]
    assert "logSinkUrl" not in operator_yaml(without)


def test_the_sink_runs_from_its_own_image_when_given(helm: Path, tmp_path: Path) -> None:
    def images(values: dict[str, Any]) -> dict[str, str]:
        return {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
                for d in render(helm, CHART, "ml", values, tmp_path) if d["kind"] == "Deployment"}

    assert images({}) == {"modelops": "ghcr.io/modelops/modelops:0.1.0",
                          "modelops-logsink": "ghcr.io/modelops/modelops:0.1.0"}
    lean = {"logsink": {"image": {"repository": "ghcr.io/modelops/modelops-logsink", "digest": "sha256:" + "b" * 64}}}
    assert images(lean)["modelops-logsink"] == "ghcr.io/modelops/modelops-logsink@sha256:" + "b" * 64
    assert images({"logsink": {"image": {"repository": "r/sink"}}})["modelops-logsink"] == "r/sink:0.1.0"


def test_the_sinks_pod_passes_the_restricted_pod_security_standard(helm: Path, api: client.ApiClient,
                                                                   namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.patch_namespace(namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    for deployment in (d for d in render(helm, CHART, namespace) if d["kind"] == "Deployment"):
        template = deployment["spec"]["template"]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": deployment["metadata"]["name"],
                                                               "labels": template["metadata"]["labels"]},
               "spec": template["spec"]}
        core.create_namespaced_pod(namespace, pod, dry_run="All")  # PodSecurity admission enforces here
    privileged = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "control"},
                  "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}}
    try:
        core.create_namespaced_pod(namespace, privileged, dry_run="All")
    except client.ApiException as error:
        assert error.status == 403 and "restricted" in error.body
    else:
        raise AssertionError("the namespace does not enforce the restricted standard: the test proves nothing")


def test_the_sink_reads_signatures_with_only_the_charts_rbac(
    helm: Path, api: client.ApiClient, dyn: dynamic.DynamicClient, cluster: LocalCluster, namespace: str,
    tmp_path: Path,
) -> None:
    docs = [d for d in render(helm, CHART, namespace) if d["metadata"]["name"].startswith("modelops-logsink")]
    apply_rbac(dyn, docs, namespace, f"modelops-logsink-{namespace}")
    mv = next(d for d in documents(REPO / "examples" / "02-modelversion-cpu.yaml") if d["kind"] == "ModelVersion")
    mv["spec"]["model"] = f"sig-{namespace}"
    mv["spec"]["serving"]["enabled"] = False
    dyn.resources.get(api_version=mv["apiVersion"], kind=mv["kind"]).server_side_apply(
        body=mv, namespace=namespace, field_manager="chart-test")
    assert cluster.pki is not None
    proxy = RecordingProxy(cluster.server, cluster.pki.ca_cert).start()
    kubeconfig = _token_kubeconfig(api, cluster, namespace, "modelops-logsink", tmp_path / "sink-kubeconfig", proxy)
    call = Call(id="sig-1", namespace=namespace, modelversion=mv["metadata"]["name"], model=mv["spec"]["model"],
                version="1", request={"instances": [[12.5, "grocery", 14]]}, response={"predictions": [0.1]},
                time=datetime.now(UTC))
    try:
        with LogSinkServer(tmp_path / "sink", config={"signatures": {"source": "kubernetes"}},
                           env={"KUBECONFIG": str(kubeconfig)}) as sink:
            assert post_all(sink.url, messages(call)) == [200, 200]
            assert metric_value(scrape(sink.url), "modelops_logsink_signature_errors_total") == 0
    finally:
        proxy.stop()
    # The sink's one permission is the one it used.
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert unexercised(role["rules"], proxy.recorded()) == []
    (row,) = rows_by_id(sink.store)["sig-1"]
    assert (row["input.amount"], row["input.merchant_category"], row["input.hour_of_day"]) == (12.5, "grocery", 14)
