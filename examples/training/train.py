"""Example training container for a modelops TrainingRun.

Trains a scikit-learn GradientBoostingClassifier on the breast-cancer data set that ships
inside scikit-learn (no download), so the whole loop runs offline. The positive class is
*malignant*: ``predict`` returns 1 for malignant, ``predict_proba[:, 1]`` is its probability.

Contract with the operator (all set on the Job's container):

MLFLOW_TRACKING_URI       the tracking server (artifacts are uploaded through it)
MLFLOW_RUN_ID             the run the operator created; this script attaches to it and never
                          creates another (without it, a new run is started: local use only)
MODELOPS_SEED             seed of the split, the model and the label degradation (default 0)
MODELOPS_HYPERPARAMETERS  a JSON object of hyperparameters (preferred); otherwise each
                          MODELOPS_HP_<NAME> variable; otherwise the defaults below.
                          Names are matched without case and punctuation: learningRate,
                          learning_rate and LEARNINGRATE are the same hyperparameter.
MODELOPS_TRAIN_DEGRADE    fraction (0..1) of training labels to flip, default 0: a test uses it
                          to produce a genuinely bad model that fails the evaluation gates.

It logs the metrics ``auc``, ``fpr`` (false-positive rate at threshold 0.5), ``accuracy``,
``recall`` and ``train_seconds``; params only where the run does not have them yet (the
operator has already logged the hyperparameters it was given, and MLflow refuses to change a
param); and the model as ``model/model.joblib`` under the run's artifact URI, the layout KServe's
sklearn server loads. Any error exits non-zero, and the run is marked FAILED.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import joblib
import mlflow
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score
from sklearn.model_selection import train_test_split

# Canonical name -> (default, type). The canonical names are scikit-learn's own.
DEFAULTS: dict[str, tuple[Any, type]] = {
    "n_estimators": (100, int),
    "learning_rate": (0.1, float),
    "max_depth": (3, int),
    "subsample": (1.0, float),
    "min_samples_leaf": (1, int),
}
TEST_SIZE = 0.25


def normalise(name: str) -> str:
    """learningRate, learning_rate, LEARNING-RATE -> learningrate."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


CANONICAL = {normalise(name): name for name in DEFAULTS}


def raw_hyperparameters(environ: dict[str, str]) -> dict[str, str]:
    """The hyperparameters the operator passed, as strings keyed by their given names."""
    if blob := environ.get("MODELOPS_HYPERPARAMETERS"):
        parsed = json.loads(blob)
        if not isinstance(parsed, dict):
            raise ValueError("MODELOPS_HYPERPARAMETERS must be a JSON object")
        return {str(k): str(v) for k, v in parsed.items()}
    prefix = "MODELOPS_HP_"
    return {k[len(prefix) :]: v for k, v in environ.items() if k.startswith(prefix)}


def resolve_hyperparameters(given: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The effective hyperparameters (given values over defaults) and the names not understood."""
    effective = {name: default for name, (default, _) in DEFAULTS.items()}
    ignored = []
    for key, value in given.items():
        canonical = CANONICAL.get(normalise(key))
        if canonical is None:
            ignored.append(key)
            continue
        kind = DEFAULTS[canonical][1]
        try:
            effective[canonical] = kind(float(value)) if kind is int and float(value).is_integer() else kind(value)
        except ValueError as exc:
            raise ValueError(f"hyperparameter {key}={value!r} is not a valid {kind.__name__}") from exc
    return effective, sorted(ignored)


def load_data(seed: int, degrade: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    data = load_breast_cancer()
    x = np.asarray(data.data, dtype=np.float64)
    y = (np.asarray(data.target) == 0).astype(np.int64)  # 1 = malignant (sklearn's target 0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=TEST_SIZE, stratify=y, random_state=seed)
    if degrade > 0:
        rng = np.random.default_rng(seed)
        flip = rng.random(len(y_train)) < degrade
        y_train = np.where(flip, 1 - y_train, y_train)
    return x_train, x_test, y_train, y_test, [str(n) for n in data.feature_names]


def evaluate(model: GradientBoostingClassifier, x_test: np.ndarray, y_test: np.ndarray) -> dict[str, float]:
    scores = model.predict_proba(x_test)[:, 1]
    predicted = (scores >= 0.5).astype(np.int64)
    tn, fp, fn, tp = confusion_matrix(y_test, predicted, labels=[0, 1]).ravel()
    return {
        "auc": float(roc_auc_score(y_test, scores)),
        "fpr": float(fp / (fp + tn)) if fp + tn else 0.0,
        "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
        "accuracy": float(accuracy_score(y_test, predicted)),
    }


def env_float(environ: dict[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    return float(raw) if raw else default


def train_and_log(environ: dict[str, str], run_id: str) -> dict[str, float]:
    """Everything that can fail runs inside the MLflow run, so a failure marks it FAILED."""
    seed = int(environ.get("MODELOPS_SEED", "0") or 0)
    degrade = env_float(environ, "MODELOPS_TRAIN_DEGRADE", 0.0)
    if not 0.0 <= degrade <= 1.0:
        raise ValueError(f"MODELOPS_TRAIN_DEGRADE must be within 0..1, got {degrade}")
    hyperparameters, ignored = resolve_hyperparameters(raw_hyperparameters(environ))
    if ignored:
        print(f"train.py: ignoring hyperparameters this model does not have: {', '.join(ignored)}", file=sys.stderr)

    x_train, x_test, y_train, y_test, features = load_data(seed, degrade)
    model = GradientBoostingClassifier(random_state=seed, **hyperparameters)
    started = time.perf_counter()
    model.fit(x_train, y_train)
    metrics = evaluate(model, x_test, y_test)
    metrics["train_seconds"] = time.perf_counter() - started

    # Params the run does not have yet: effective values of the hyperparameters the operator did
    # not pass (defaults), and the data set description. What the operator logged is left alone:
    # MLflow refuses to change a param.
    existing = {normalise(k) for k in mlflow.get_run(run_id).data.params}
    extra: dict[str, Any] = {
        **hyperparameters,
        "dataset": "sklearn.datasets.load_breast_cancer",
        "test_size": TEST_SIZE,
    }
    if degrade:
        extra["train_label_flip_fraction"] = degrade
    if new_params := {k: str(v) for k, v in extra.items() if normalise(k) not in existing}:
        mlflow.log_params(new_params)
    mlflow.log_metrics(metrics)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        joblib.dump(model, model_dir / "model.joblib")
        mlflow.log_artifacts(str(model_dir), artifact_path="model")
        signature = {
            "inputs": [{"name": name, "datatype": "FP64"} for name in features],
            "outputs": [{"name": "malignant", "datatype": "INT64"}],
        }
        (Path(tmp) / "signature.json").write_text(json.dumps(signature, indent=2))
        mlflow.log_artifact(str(Path(tmp) / "signature.json"))
    return metrics


def main() -> int:
    environ = dict(os.environ)
    # Attach to the operator's run (MLFLOW_RUN_ID); leaving the block ends it FINISHED, or
    # FAILED when an exception escapes.
    with mlflow.start_run(run_id=environ.get("MLFLOW_RUN_ID") or None) as run:
        metrics = train_and_log(environ, run.info.run_id)
    summary = ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
    print(f"train.py: run {run.info.run_id} finished: {summary}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # exit non-zero with a one-line reason, after the traceback
        import traceback

        traceback.print_exc()
        print(f"train.py: failed: {exc}", file=sys.stderr)
        sys.exit(1)
