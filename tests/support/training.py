"""TrainingRuns as the integration tests drive them: the manifest of a run (the example's, or one
with chosen gates), the test namespace's view of runs, Jobs, Pods and Events, and playing the
training container — the real examples/training/train.py run with the environment the operator
put on the Job, then the held Pod relabelled so kwok lets it finish (hack/localcluster/stages)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from kubernetes import client, dynamic

from localcluster.mlflow_server import MLflowServer
from localcluster.nodepools import OUTCOME_LABEL, OUTCOME_MESSAGE_ANNOTATION
from tests.support.manifests import REPO, documents
from tests.support.waiting import wait_for

DIGEST_IMAGE = "registry.example/fraud-train@sha256:" + "ab" * 32
TRAIN_SCRIPT = REPO / "examples" / "training" / "train.py"


def training_run(name: str, *, model: str, gates: list[dict[str, Any]] | None = None,
                 **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": name},
        "spec": {
            "model": model,
            "image": DIGEST_IMAGE,
            "command": ["python", "/app/train.py"],
            "hyperparameters": {"learningRate": "0.1", "nEstimators": "60", "maxDepth": "3"},
            "seed": 7,
            "data": {"uri": "pkg://sklearn.datasets/breast_cancer", "version": "sklearn-1.x"},
            "code": {"repo": "https://github.com/acme/fraud-model", "commit": "9b2e4c1d" * 5},
            "resources": {"cpu": "2", "memory": "4Gi", "gpus": 1},
            "nodePool": "gpu-a100",
            "tracking": {"experiment": f"exp-{model}"},
            "evaluation": gates if gates is not None else [
                {"metric": "auc", "op": ">=", "threshold": 0.9},
                {"metric": "fpr", "op": "<=", "threshold": 0.2},
            ],
            "register": {"format": "sklearn", "modelVersionTemplate": {
                "metadata": {"labels": {"team": "fraud"}},
                "serving": {"nodePool": "cpu", "minReplicas": 1}}},
            **spec,
        },
    }
    return body



class Env:
    def __init__(self, dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str) -> None:
        self.dyn, self.namespace = dyn, namespace
        self.core, self.batch = client.CoreV1Api(api), client.BatchV1Api(api)
        self.runs = dyn.resources.get(api_version="modelops.io/v1alpha1", kind="TrainingRun")
        self.mvs = dyn.resources.get(api_version="modelops.io/v1alpha1", kind="ModelVersion")
        self.patience = 60.0  # seconds for the operator's part of a step; the chaos tier raises it

    def run(self, name: str) -> dict[str, Any]:
        return self.runs.get(name=name, namespace=self.namespace).to_dict()

    def status(self, name: str) -> dict[str, Any]:
        return self.run(name).get("status") or {}

    def wait_phase(self, name: str, phase: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for(lambda: (s := self.status(name)).get("phase") == phase and s, timeout,
                        f"TrainingRun {name} to reach {phase} (status: {self.status(name)})")

    def condition(self, name: str, type: str) -> dict[str, Any] | None:
        for condition in self.status(name).get("conditions") or []:
            if condition["type"] == type:
                return condition
        return None

    def pods(self, name: str) -> list[Any]:
        return self.core.list_namespaced_pod(self.namespace, label_selector=f"modelops.io/trainingrun={name}").items

    def running_pod(self, name: str) -> Any:
        def running() -> Any:
            return next((p for p in self.pods(name) if p.status.phase == "Running"), None)
        return wait_for(running, self.patience, f"a Running training Pod of {name}")

    def release(self, pod: Any, outcome: str, message: str | None = None) -> None:
        meta: dict[str, Any] = {"labels": {OUTCOME_LABEL: outcome}}
        if message:
            meta["annotations"] = {OUTCOME_MESSAGE_ANNOTATION: message}
        self.core.patch_namespaced_pod(pod.metadata.name, self.namespace, {"metadata": meta})

    def events(self, name: str) -> list[Any]:
        return self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name},involvedObject.kind=TrainingRun").items


def play_container(env: Env, name: str, mlflow_server: MLflowServer, degrade: float = 0.0) -> None:
    """Run the real training script with the environment the operator gave the Job's container."""
    # status.job follows the Job's creation in the same reconcile; an operator killed between the
    # two writes it on its next one, while the Pod already runs.
    job_name = wait_for(lambda: env.status(name).get("job"), env.patience, f"status.job of {name}")
    job = env.batch.read_namespaced_job(job_name, env.namespace)
    container = job.spec.template.spec.containers[0]
    job_env = {e.name: e.value for e in container.env}
    assert job_env["MLFLOW_TRACKING_URI"] == mlflow_server.url
    child_env = {**os.environ, **job_env, "MODELOPS_TRAIN_DEGRADE": str(degrade)}
    result = subprocess.run([sys.executable, str(TRAIN_SCRIPT)], env=child_env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def play_to_success(env: Env, name: str, mlflow_server: MLflowServer, timeout: float = 180) -> dict[str, Any]:
    """Play a run's container to its end (the real train.py, then the held Pod released): the run's
    status once it Succeeded (gated and registered)."""
    pod = env.running_pod(name)
    play_container(env, name, mlflow_server)
    env.release(pod, "succeed")
    return env.wait_phase(name, "Succeeded", timeout=timeout)


def example_training_run(model: str) -> dict[str, Any]:
    """examples/01-trainingrun-gpu.yaml itself, with a model name of its own for this test."""
    (doc,) = [d for d in documents(REPO / "examples" / "01-trainingrun-gpu.yaml") if d["kind"] == "TrainingRun"]
    doc["spec"]["model"] = model
    return doc


