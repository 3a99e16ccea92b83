"""TrainingRun against real parts: the local control plane (real scheduler and Job controller on
kwok GPU nodes), the operator as a subprocess, and a real `mlflow server`.

The test plays the training container: it reads the environment the operator put on the Job,
runs the real example training script (examples/training/train.py) with it against the real
MLflow server, then relabels the held Pod so kwok lets it finish.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from localcluster.mlflow_server import MLflowServer
from localcluster.nodepools import POOL_LABEL
from tests.support.manifests import apply
from tests.support.names import unique
from tests.support.operator import OperatorProcess
from tests.support.training import Env, example_training_run, play_container, training_run
from tests.support.waiting import wait_for


@pytest.fixture()
def env(training_env: Env) -> Env:
    return training_env


def test_example_run_on_gpu_pool_is_tracked_gated_and_registered(
    env: Env, mlflow: MlflowClient, mlflow_server: MLflowServer
) -> None:
    model = unique("fraud")
    doc = example_training_run(model)
    doc["spec"].setdefault("register", {})["alias"] = "challenger"  # for a Rollout's spec.targetFrom
    name, spec = doc["metadata"]["name"], doc["spec"]
    apply(env.dyn, doc, env.namespace)

    # The Job: deterministic name, owned by the run, placed by the real scheduler on a GPU node.
    job_name = wait_for(lambda: env.status(name).get("job"), 60, "status.job")
    job = env.batch.read_namespaced_job(job_name, env.namespace)
    owner = job.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("TrainingRun", name, True)
    assert job.metadata.managed_fields[0].manager == "modelops"
    assert job.spec.backoff_limit == spec["maxRetries"] and job.spec.active_deadline_seconds == 7200
    pod = env.running_pod(name)
    node = env.core.read_node(pod.spec.node_name)
    assert node.metadata.labels[POOL_LABEL] == "gpu-a100"
    limits = pod.spec.containers[0].resources.limits
    assert limits["nvidia.com/gpu"] == "1"
    assert env.wait_phase(name, "Running")["attempts"] == 1

    # The MLflow run was created first and carries the reproducibility record.
    status = env.status(name)
    run_id = status["mlflow"]["runId"]
    job_env = {e.name: e.value for e in job.spec.template.spec.containers[0].env}
    assert job_env["MLFLOW_RUN_ID"] == run_id and job_env["MODELOPS_SEED"] == str(spec["seed"])
    run = mlflow.get_run(run_id)
    assert mlflow.get_experiment(run.info.experiment_id).name == spec["tracking"]["experiment"]
    tags = run.data.tags
    assert tags["modelops.code.commit"] == spec["code"]["commit"]
    assert tags["mlflow.source.git.commit"] == spec["code"]["commit"]
    assert tags["modelops.data.version"] == spec["data"]["version"]
    assert tags["modelops.image"] == spec["image"] and tags["modelops.image.pinned"] == "true"
    assert tags["modelops.seed"] == str(spec["seed"]) and tags["modelops.node_pool"] == "gpu-a100"
    assert tags["modelops.gpu.type"] == "NVIDIA-A100-SXM4-80GB" and tags["modelops.gpu.count"] == "1"
    assert run.data.params["learningRate"] == spec["hyperparameters"]["learningRate"]
    reproducible = env.condition(name, "Reproducible")
    assert reproducible is not None and reproducible["status"] == "True"

    # Play the container, then let the Pod finish: the real Job controller marks the Job Complete.
    play_container(env, name, mlflow_server)
    env.release(pod, "succeed")
    status = env.wait_phase(name, "Succeeded", timeout=90)

    assert status["metrics"]["auc"] >= 0.9 and status["metrics"]["fpr"] <= 0.02
    assert all(gate["passed"] for gate in status["evaluation"])
    versions = mlflow.search_model_versions(f"name='{model}'")
    assert len(versions) == 1 and versions[0].run_id == run_id
    mv_name = status["modelVersion"]
    assert mv_name == f"{model}-v{versions[0].version}"
    mv = env.mvs.get(name=mv_name, namespace=env.namespace).to_dict()
    assert not mv["metadata"].get("ownerReferences"), "a ModelVersion is a record, never a child of the run"
    assert mv["metadata"]["labels"]["team"] == "fraud"
    assert mv["spec"]["lineage"] == {"trainingRun": name, "mlflowRunId": run_id, "image": spec["image"],
                                     "data": spec["data"], "code": spec["code"]}
    # MLflow records its own mlflow-artifacts:/ URI; the ModelVersion serves the same files from the
    # server's artifacts destination (mlflow.artifactsDestination), a URI KServe fetches.
    registry_source = f"{run.info.artifact_uri}/model"
    served = f"{mlflow_server.artifact_root.as_uri()}/{registry_source.removeprefix('mlflow-artifacts:/')}"
    assert versions[0].source == registry_source
    assert mv["spec"]["artifact"] == {"storageUri": served, "format": "sklearn"}
    assert (Path(served.removeprefix("file://")) / "model.joblib").is_file(), "the files are where it is served from"
    assert mv["spec"]["serving"]["nodePool"] == "gpu-a100" and mv["spec"]["serving"]["resources"]["gpus"] == 1
    assert mv["spec"]["metrics"]["auc"] == status["metrics"]["auc"]
    assert mlflow.get_model_version(model, versions[0].version).tags["modelops.io/modelversion"] == mv_name
    # register.alias: the alias names the new version once its ModelVersion exists.
    assert wait_for(lambda: str(mlflow.get_model_version_by_alias(model, "challenger").version), 30,
                    "alias challenger") == str(versions[0].version)
    reasons = {e.reason for e in env.events(name)}
    assert {"JobCreated", "Running", "Registered"} <= reasons
    assert [e.message for e in env.events(name) if e.type == "Warning"] == []

    # Deleting the run never takes the registered model with it.
    env.runs.delete(name=name, namespace=env.namespace)
    wait_for(lambda: not [r for r in env.runs.get(namespace=env.namespace).to_dict()["items"]
                          if r["metadata"]["name"] == name], 30, "the TrainingRun to go")
    time.sleep(2)  # the garbage collector has had its chance
    assert env.mvs.get(name=mv_name, namespace=env.namespace).metadata.name == mv_name


def test_failing_gate_rejects_and_registers_nothing(
    env: Env, mlflow: MlflowClient, mlflow_server: MLflowServer
) -> None:
    model, name = unique("churn"), "train-bad"
    apply(env.dyn, training_run(name, model=model, gates=[
        {"metric": "auc", "op": ">=", "threshold": 0.97},
        {"metric": "calibration", "op": "<=", "threshold": 0.1},
    ]), env.namespace)
    pod = env.running_pod(name)
    play_container(env, name, mlflow_server, degrade=0.45)
    env.release(pod, "succeed")
    status = env.wait_phase(name, "Rejected", timeout=90)

    assert "auc" in status["message"] and "fails >= 0.97" in status["message"]
    assert "calibration was not logged" in status["message"]
    assert mlflow.search_model_versions(f"name='{model}'") == []
    assert not [mv for mv in env.mvs.get(namespace=env.namespace).to_dict()["items"]
                if mv["spec"]["model"] == model]
    run = mlflow.get_run(status["mlflow"]["runId"])
    assert run.data.tags["modelops.outcome"] == "rejected"
    assert any(e.reason == "Rejected" and e.type == "Warning" for e in env.events(name))


def test_operator_restart_mid_run_makes_no_second_job_or_run(
    env: Env, mlflow: MlflowClient, mlflow_server: MLflowServer, operator: OperatorProcess
) -> None:
    model, name = unique("restart"), "train-restart"
    apply(env.dyn, training_run(name, model=model), env.namespace)
    pod = env.running_pod(name)
    env.wait_phase(name, "Running")
    uid = env.run(name)["metadata"]["uid"]

    operator.stop()
    operator.start()
    time.sleep(3)  # the daemon resumes and reconciles at once

    jobs = env.batch.list_namespaced_job(env.namespace, label_selector=f"modelops.io/trainingrun={name}").items
    assert len(jobs) == 1
    experiment = mlflow.get_experiment_by_name(f"exp-{model}")
    runs = mlflow.search_runs([experiment.experiment_id], filter_string=f"tags.`modelops.io/uid` = '{uid}'")
    assert len(runs) == 1
    assert len(env.pods(name)) == 1

    play_container(env, name, mlflow_server)
    env.release(pod, "succeed")
    env.wait_phase(name, "Succeeded", timeout=90)
    assert len(mlflow.search_model_versions(f"name='{model}'")) == 1


def test_pod_failing_every_attempt_ends_failed_with_the_reason(env: Env, mlflow: MlflowClient) -> None:
    name = "train-crash"
    apply(env.dyn, training_run(name, model=unique("crash"), maxRetries=1), env.namespace)
    released: set[str] = set()

    def fail_new_pods() -> bool:
        for pod in env.pods(name):
            if pod.status.phase == "Running" and pod.metadata.name not in released:
                env.release(pod, "fail", "CUDA error: out of memory")
                released.add(pod.metadata.name)
        return env.status(name).get("phase") == "Failed"

    # The Job controller waits ~10 s before the retry: maxRetries=1 means two attempts.
    wait_for(fail_new_pods, 120, "the run to fail after maxRetries+1 attempts")
    status = env.status(name)
    assert len(released) == 2 and status["attempts"] == 2
    assert "failed after 2 attempt(s)" in status["message"]
    assert "exit code 1" in status["message"] and "CUDA error: out of memory" in status["message"]
    assert mlflow.get_run(status["mlflow"]["runId"]).info.status == "FAILED"
    assert any(e.reason == "BackoffLimitExceeded" for e in env.events(name))


def test_unknown_node_pool_is_a_condition_not_a_crash(env: Env) -> None:
    name = "train-nopool"
    apply(env.dyn, training_run(name, model=unique("nopool"), nodePool="tpu-v5"), env.namespace)
    accepted = wait_for(lambda: (c := env.condition(name, "Accepted")) and c["status"] == "False" and c,
                        30, "Accepted=False")
    assert accepted["reason"] == "UnknownNodePool"
    assert "tpu-v5" in accepted["message"] and "gpu-a100" in accepted["message"]
    assert env.status(name)["phase"] == "Pending" and not env.status(name).get("job")
    assert env.batch.list_namespaced_job(env.namespace).items == []
    assert any(e.reason == "UnknownNodePool" and e.type == "Warning" for e in env.events(name))


def test_image_by_tag_is_not_reproducible(env: Env) -> None:
    name = "train-tag"
    apply(env.dyn, training_run(name, model=unique("tag"), image="registry.example/train:latest"), env.namespace)
    condition = wait_for(lambda: env.condition(name, "Reproducible"), 30, "the Reproducible condition")
    assert condition["status"] == "False" and condition["reason"] == "ImageNotPinned"
    assert "pin it by digest" in condition["message"]
    # Not pinned is a warning, not a stop: the Job is still created.
    wait_for(lambda: env.status(name).get("job"), 30, "the Job")


def test_pending_for_lack_of_gpus_is_reported(env: Env) -> None:
    name = "train-toobig"
    apply(env.dyn, training_run(name, model=unique("toobig"), resources={"gpus": 16}), env.namespace)
    condition = wait_for(lambda: (c := env.condition(name, "Scheduled")) and c["status"] == "False" and c,
                         60, "Scheduled=False after pendingTimeout")
    assert condition["reason"] == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in condition["message"]
    assert env.status(name)["phase"] == "Pending"
    assert any(e.reason == "Unschedulable" and e.type == "Warning" for e in env.events(name))


def test_job_deleted_from_under_the_run_fails_it(env: Env, mlflow: MlflowClient) -> None:
    name = "train-deleted"
    apply(env.dyn, training_run(name, model=unique("deleted")), env.namespace)
    env.running_pod(name)
    env.batch.delete_namespaced_job(env.status(name)["job"], env.namespace, propagation_policy="Background")
    status = env.wait_phase(name, "Failed")
    assert "was deleted before it finished" in status["message"]
    assert env.condition(name, "Completed")["reason"] == "JobDeleted"
    assert mlflow.get_run(status["mlflow"]["runId"]).info.status == "KILLED"


def test_timeout_stops_the_attempt(env: Env) -> None:
    name = "train-slow"
    apply(env.dyn, training_run(name, model=unique("slow"), timeout="3s"), env.namespace)
    status = env.wait_phase(name, "Failed", timeout=90)
    assert env.condition(name, "Completed")["reason"] == "Timeout"
    assert "exceeded spec.timeout (3s, retries included)" in status["message"]
    assert any(e.reason == "Timeout" for e in env.events(name))


def test_name_taken_by_another_record_gets_a_deterministic_alternative(
    env: Env, mlflow: MlflowClient, mlflow_server: MLflowServer
) -> None:
    """A hand-written record holds the name the run's version would get: the run's ModelVersion
    takes a deterministic alternative, and the hand-written one is left alone."""
    model, name = unique("taken"), "train-taken"
    foreign = {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
        "metadata": {"name": f"{model}-v2"},
        "spec": {"model": model, "version": "hand-made",
                 "artifact": {"storageUri": "s3://elsewhere/model", "format": "sklearn"},
                 "serving": {"enabled": False}},
    }
    apply(env.dyn, foreign, env.namespace)
    # The hand-written record is registered first (MLflow version 1), so the run's will be 2.
    mvs = env.mvs
    wait_for(lambda: (mvs.get(name=f"{model}-v2", namespace=env.namespace).to_dict().get("status") or {})
             .get("registry", {}).get("version") == "1", 30, "the hand-written record registered as version 1")
    apply(env.dyn, training_run(name, model=model), env.namespace)
    pod = env.running_pod(name)
    play_container(env, name, mlflow_server)
    env.release(pod, "succeed")
    status = env.wait_phase(name, "Succeeded", timeout=90)

    run_id = status["mlflow"]["runId"]
    assert status["modelVersion"] == f"{model}-v2-{run_id[:8]}"
    ours = env.mvs.get(name=status["modelVersion"], namespace=env.namespace).to_dict()
    assert ours["spec"]["lineage"]["mlflowRunId"] == run_id and ours["spec"]["version"] == "2"
    untouched = env.mvs.get(name=f"{model}-v2", namespace=env.namespace).to_dict()
    assert untouched["spec"]["artifact"]["storageUri"] == "s3://elsewhere/model"
