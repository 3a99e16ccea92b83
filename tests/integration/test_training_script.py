"""The example training image's script (examples/training/train.py), run as the operator runs
it: the operator creates the MLflow run and logs the hyperparameters as params, then the
container attaches to that run with only MLFLOW_TRACKING_URI / MLFLOW_RUN_ID / MODELOPS_* set.

Real MLflow server, real scikit-learn training, real artifact upload through the server. No
Kubernetes cluster is needed (these tests never request `cluster`)."""

from __future__ import annotations

import joblib
import pytest

from localcluster.mlflow_server import MLflowServer
from tests.support.train_script import HYPERPARAMETERS, Trained, list_artifacts, local_artifact, train


@pytest.fixture(scope="module")
def good(mlflow_server: MLflowServer) -> Trained:
    return train(mlflow_server)


def test_good_model_attaches_to_the_operators_run(mlflow_server: MLflowServer, good: Trained) -> None:
    assert good.proc.returncode == 0, good.proc.stderr[-3000:]
    run = good.run
    assert run.status == "FINISHED"
    assert run.end_time_ms is not None
    assert run.metrics["auc"] > 0.9
    assert 0.0 <= run.metrics["fpr"] <= 1.0
    assert run.metrics["accuracy"] > 0.9
    assert run.metrics["train_seconds"] > 0
    # The operator's params are untouched; the script only added what the run lacked.
    for key, value in HYPERPARAMETERS.items():
        assert run.params[key] == value
    assert "learning_rate" not in run.params and "n_estimators" not in run.params
    assert run.params["subsample"] == "1.0"  # a default the operator did not pass
    assert run.params["dataset"] == "sklearn.datasets.load_breast_cancer"
    assert run.tags["modelops.io/seed"] == "42"

    # The model sits where KServe's sklearn server loads it: <artifact_uri>/model/model.joblib.
    assert list_artifacts(mlflow_server, good.run_id, "model") == ["model/model.joblib"]
    assert "signature.json" in list_artifacts(mlflow_server, good.run_id)
    model_file = local_artifact(mlflow_server, good.artifact_uri, "model/model.joblib")
    assert model_file.is_file()
    model = joblib.load(model_file)
    assert model.n_features_in_ == 30
    assert model.get_params()["learning_rate"] == 0.1


def test_same_seed_same_metrics(mlflow_server: MLflowServer, good: Trained) -> None:
    again = train(mlflow_server)
    assert again.proc.returncode == 0, again.proc.stderr[-3000:]
    assert again.run_id != good.run_id
    for metric in ("auc", "fpr", "accuracy", "recall"):
        assert again.run.metrics[metric] == good.run.metrics[metric], metric


def test_degraded_labels_make_a_bad_model(mlflow_server: MLflowServer, good: Trained) -> None:
    bad = train(mlflow_server, extra_env={"MODELOPS_TRAIN_DEGRADE": "0.5"})
    assert bad.proc.returncode == 0, bad.proc.stderr[-3000:]
    assert bad.run.status == "FINISHED"
    assert bad.run.metrics["auc"] < 0.75
    assert bad.run.metrics["auc"] < good.run.metrics["auc"] - 0.2
    assert bad.run.params["train_label_flip_fraction"] == "0.5"


def test_hp_env_vars_without_json(mlflow_server: MLflowServer) -> None:
    """Without MODELOPS_HYPERPARAMETERS the per-name MODELOPS_HP_* variables are read."""
    hp = {"maxDepth": "2", "nEstimators": "20"}
    trained = train(mlflow_server, hyperparameters=hp, extra_env={"MODELOPS_HYPERPARAMETERS": ""})
    assert trained.proc.returncode == 0, trained.proc.stderr[-3000:]
    model = joblib.load(local_artifact(mlflow_server, trained.artifact_uri, "model/model.joblib"))
    assert model.get_params()["max_depth"] == 2
    assert model.get_params()["n_estimators"] == 20


def test_bad_hyperparameter_fails_the_run(mlflow_server: MLflowServer) -> None:
    trained = train(mlflow_server, hyperparameters={"maxDepth": "deep"})
    assert trained.proc.returncode != 0
    assert "maxDepth" in trained.proc.stderr
    assert trained.run.status == "FAILED"
    assert "auc" not in trained.run.metrics
