"""ModelVersion against real parts: the local control plane with KServe's real InferenceService
CRD (its schema validates what the operator renders), the operator as a subprocess, and a real
`mlflow server`. No KServe controller runs here, so the tests write InferenceService status in
KServe's own format, as KServe would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from localcluster.cluster import LocalCluster
from localcluster.mlflow_server import MLflowServer
from tests.support.kserve_status import ready_status
from tests.support.manifests import apply
from tests.support.names import unique
from tests.support.operator import OperatorProcess
from tests.support.serving import Env, example
from tests.support.waiting import wait_for


@pytest.fixture()
def env(serving_env: Env) -> Env:
    return serving_env


def test_cpu_example_is_registered_served_and_follows_isvc_status(
    env: Env, mlflow: MlflowClient, operator: OperatorProcess, sink_port: int
) -> None:
    doc = example("02-modelversion-cpu.yaml", "ModelVersion")
    model = unique("churn")
    doc["spec"]["model"] = model
    name = doc["metadata"]["name"]
    apply(env.dyn, doc, env.namespace)

    # The InferenceService: rendered by the operator, accepted by KServe's real CRD schema.
    isvc = env.wait_isvc(name)
    owner = isvc["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("ModelVersion", name, True)
    assert isvc["metadata"]["managedFields"][0]["manager"] == "modelops"
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == doc["spec"]["artifact"]["storageUri"]
    assert predictor["model"]["modelFormat"]["name"] == doc["spec"]["artifact"]["format"]
    assert predictor["nodeSelector"] == {"modelops.io/pool": "cpu"}
    assert predictor["logger"]["url"] == f"http://127.0.0.1:{sink_port}"
    assert set(predictor["logger"]["metadataAnnotations"]) <= set(isvc["metadata"]["annotations"])
    assert isvc["metadata"]["annotations"]["modelops.io/modelversion"] == name
    assert isvc["metadata"]["annotations"]["modelops.io/version"] == doc["spec"]["version"]

    # The registry record: created once in the real MLflow registry, tagged with this object.
    registry = wait_for(lambda: env.status(name).get("registry"), 30, "status.registry")
    assert registry["name"] == model
    version = mlflow.get_model_version(model, registry["version"])
    assert version.source == doc["spec"]["artifact"]["storageUri"]
    assert version.tags["modelops.io/modelversion"] == name
    assert version.tags["modelops.io/uid"] == env.mv(name)["metadata"]["uid"]

    # Not ready until KServe says so, including the model itself.
    assert env.status(name)["ready"] is False
    loading = ready_status("http://churn.example.com")
    loading["modelStatus"]["states"]["activeModelState"] = "Loading"
    env.set_isvc_status(isvc["metadata"]["name"], loading)
    wait_for(lambda: env.status(name).get("reason") == "ModelNotLoaded", 30, "ModelNotLoaded (pod up, model not)")
    assert env.status(name)["ready"] is False
    env.set_isvc_status(isvc["metadata"]["name"], ready_status("http://churn.example.com"))
    status = wait_for(lambda: (s := env.status(name)).get("ready") is True and s, 30, "ready")
    assert status["url"] == "http://churn.example.com" and status["inferenceService"] == isvc["metadata"]["name"]

    # Restart: the registry sync adopts, never registers twice; nothing is rewritten.
    operator.stop()
    operator.start()
    time.sleep(3)
    assert len(mlflow.search_model_versions(f"name='{model}'")) == 1
    assert env.status(name)["registry"]["version"] == registry["version"]


def test_model_that_fails_to_load_reports_kserve_reason(env: Env) -> None:
    doc = example("02-modelversion-cpu.yaml", "ModelVersion")
    doc["metadata"]["name"] = name = "broken-v1"
    doc["spec"]["model"] = unique("broken")
    apply(env.dyn, doc, env.namespace)
    isvc = env.wait_isvc(name)
    failed = ready_status("http://broken.example.com")
    failed["conditions"][-1] = {"type": "Ready", "status": "False", "reason": "PredictorNotReady",
                                "lastTransitionTime": "2026-11-25T12:00:00Z"}
    failed["modelStatus"] = {
        "states": {"activeModelState": "FailedToLoad", "targetModelState": "Loaded"},
        "transitionStatus": "BlockedByFailedLoad",
        "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "Unpickling error: invalid load key 'x'",
                            "exitCode": 1},
    }
    env.set_isvc_status(isvc["metadata"]["name"], failed)
    status = wait_for(lambda: (s := env.status(name)).get("reason") == "ModelLoadFailed" and s, 30,
                      "ModelLoadFailed")
    assert status["ready"] is False and "invalid load key" in status["message"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and "Unpickling error" in ready["message"]
    assert any(e.type == "Warning" and e.reason == "ModelLoadFailed" for e in env.events(name))


def test_gpu_example_resolves_registry_uri_once(env: Env, mlflow: MlflowClient) -> None:
    doc = example("03-modelversion-gpu.yaml", "ModelVersion")
    model = unique("fraud")
    mlflow.create_registered_model(model)
    first = mlflow.create_model_version(model, "s3://models/fraud/run-a/model", run_id=None)
    mlflow.set_registered_model_alias(model, "champion", first.version)
    doc["spec"]["model"] = model
    doc["spec"]["version"] = first.version
    doc["spec"]["artifact"]["storageUri"] = f"models:/{model}@champion"
    name = doc["metadata"]["name"]
    apply(env.dyn, doc, env.namespace)

    registry = wait_for(lambda: env.status(name).get("registry", {}).get("resolvedUri"), 30, "resolution") \
        and env.status(name)["registry"]
    assert registry == {"name": model, "version": first.version, "resolvedFrom": f"models:/{model}@champion",
                        "resolvedUri": "s3://models/fraud/run-a/model"}
    isvc = env.wait_isvc(name)
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == "s3://models/fraud/run-a/model"
    assert predictor["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert predictor["nodeSelector"] == {"modelops.io/pool": "gpu-a100"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in predictor["tolerations"]
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"

    # The alias moves in MLflow: what is served must not change behind anyone's back.
    second = mlflow.create_model_version(model, "s3://models/fraud/run-b/model", run_id=None)
    mlflow.set_registered_model_alias(model, "champion", second.version)
    env.mvs.patch(name=name, namespace=env.namespace, content_type="application/merge-patch+json",
                  body={"metadata": {"labels": {"poke": "1"}}, "spec": {"serving": {"maxReplicas": 5}}})
    wait_for(lambda: env.isvc(name)["spec"]["predictor"].get("maxReplicas") == 5, 30, "the spec change applied")
    assert env.isvc(name)["spec"]["predictor"]["model"]["storageUri"] == "s3://models/fraud/run-a/model"
    assert env.status(name)["registry"]["resolvedUri"] == "s3://models/fraud/run-a/model"


def test_deleted_isvc_is_recreated_and_serving_can_be_switched_off(env: Env, mlflow: MlflowClient) -> None:
    doc = example("02-modelversion-cpu.yaml", "ModelVersion")
    doc["metadata"]["name"] = name = "toggle-v1"
    doc["spec"]["model"] = unique("toggle")
    apply(env.dyn, doc, env.namespace)
    first = env.wait_isvc(name)
    env.isvcs.delete(name=first["metadata"]["name"], namespace=env.namespace)
    recreated = wait_for(lambda: (i := env.isvc(name)) and i["metadata"]["uid"] != first["metadata"]["uid"] and i,
                         30, "the InferenceService to be recreated")
    assert recreated["spec"]["predictor"]["model"] == first["spec"]["predictor"]["model"]

    doc["spec"]["serving"]["enabled"] = False
    apply(env.dyn, doc, env.namespace)
    wait_for(lambda: env.isvc(name) is None, 30, "the InferenceService to go")
    status = wait_for(lambda: (s := env.status(name)).get("reason") == "ServingDisabled" and s, 30, "ServingDisabled")
    assert status["ready"] is False and status["registry"]["version"]
    assert env.mv(name) is not None, "switching serving off keeps the record"


def test_deletion_is_held_while_a_rollout_names_the_version(env: Env, mlflow: MlflowClient) -> None:
    doc = example("02-modelversion-cpu.yaml", "ModelVersion")
    model = unique("held")
    doc["metadata"]["name"] = name = "held-v1"
    doc["spec"]["model"] = model
    other = {**doc, "metadata": {"name": "held-v2"}, "spec": {**doc["spec"], "version": "2"}}
    apply(env.dyn, doc, env.namespace)
    apply(env.dyn, other, env.namespace)
    rollout = example("06-rollout-kserve.yaml", "Rollout")
    rollout["metadata"]["name"] = "held"
    rollout["spec"]["model"] = model
    rollout["spec"]["target"] = name
    apply(env.dyn, rollout, env.namespace)
    wait_for(lambda: env.status(name).get("servedBy") == ["held"], 30, "servedBy the Rollout")
    assert env.status(name)["role"] == "candidate"
    version = wait_for(lambda: env.status(name).get("registry", {}).get("version"), 30, "registered")

    env.mvs.delete(name=name, namespace=env.namespace)
    time.sleep(3)
    held = env.mv(name)
    assert held is not None and held["metadata"].get("deletionTimestamp"), "deletion must be held"
    wait_for(lambda: any(e.reason == "DeletionHeld" and "Rollout(s) held" in e.message for e in env.events(name)),
             30, "an Event naming the Rollout that holds it")

    env.rollouts.patch(name="held", namespace=env.namespace, content_type="application/merge-patch+json",
                       body={"spec": {"target": "held-v2"}})
    wait_for(lambda: env.mv(name) is None, 60, "the ModelVersion to go once no Rollout names it")
    wait_for(lambda: env.isvc(name) is None, 60, "its InferenceService to be garbage-collected")
    archived = mlflow.get_model_version(model, version)
    assert archived.tags.get("modelops.archived") == "true", "archived in MLflow, never deleted"


def test_lineage_cli_prints_the_whole_chain(
    env: Env, mlflow: MlflowClient, mlflow_server: MLflowServer, cluster: LocalCluster
) -> None:
    experiment = mlflow.create_experiment(unique("lineage"))
    run = mlflow.create_run(experiment, tags={"modelops.seed": "42", "modelops.node_pool": "gpu-a100"})
    mlflow.log_param(run.info.run_id, "learningRate", "0.1")
    mlflow.log_metric(run.info.run_id, "auc", 0.987)
    mlflow.set_terminated(run.info.run_id)
    doc = example("03-modelversion-gpu.yaml", "ModelVersion")
    doc["metadata"]["name"] = name = "lineage-v1"
    doc["spec"]["model"] = unique("lineage")
    doc["spec"]["artifact"]["storageUri"] = "s3://models/lineage/model"
    doc["spec"]["lineage"]["mlflowRunId"] = run.info.run_id
    doc["spec"]["lineage"]["trainingRun"] = "fraud-detector-train-2025-01-31"  # a run since deleted
    apply(env.dyn, doc, env.namespace)
    lineage = doc["spec"]["lineage"]

    result = subprocess.run(
        [sys.executable, "-m", "modelops.cli.main", "lineage", name, "-n", env.namespace,
         "--mlflow-uri", mlflow_server.url],
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"ModelVersion  {env.namespace}/{name}" in out
    assert f"TrainingRun   {env.namespace}/{lineage['trainingRun']} (deleted)" in out
    assert f"MLflow run    {run.info.run_id}" in out
    assert "learningRate=0.1" in out and "auc=0.987" in out and "modelops.seed=42" in out
    assert f"version {lineage['data']['version']}" in out
    assert lineage["code"]["commit"] in out and lineage["image"] in out
