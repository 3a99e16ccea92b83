"""Running the example training script (examples/training/train.py) as the operator runs it, for the
tests that need a real trained model: the operator's part (create the MLflow run, log the
hyperparameters as params) through modelops' own MLflow client, then the container's part (the
script attaches to that run with only MLFLOW_TRACKING_URI / MLFLOW_RUN_ID / MODELOPS_* set), then
where the server put the artifacts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from localcluster.mlflow_server import MLflowServer
from modelops.registry.mlflow import MLflowClient
from modelops.registry.records import RunInfo

REPO = Path(__file__).resolve().parents[2]
TRAIN = REPO / "examples" / "training" / "train.py"
HYPERPARAMETERS = {"learningRate": "0.1", "nEstimators": "100", "maxDepth": "3"}


@dataclass
class Trained:
    run_id: str
    experiment_id: str
    artifact_uri: str
    proc: subprocess.CompletedProcess[str]
    run: RunInfo


def operator_creates_run(server: MLflowServer, hyperparameters: dict[str, str], seed: int) -> RunInfo:
    async def main() -> RunInfo:
        async with MLflowClient(server.url) as c:
            exp = await c.get_or_create_experiment("training-script")
            uid = str(uuid.uuid4())
            created = await c.create_run(
                exp,
                "train",
                {"modelops.io/uid": uid, "modelops.io/seed": str(seed), "modelops.io/image": "local/train.py"},
            )
            await c.log_params(created.run_id, hyperparameters)
            return created

    return asyncio.run(main())


def get_run(server: MLflowServer, run_id: str) -> RunInfo:
    async def main() -> RunInfo | None:
        async with MLflowClient(server.url) as c:
            return await c.get_run(run_id)

    found = asyncio.run(main())
    assert found is not None
    return found


def train(
    server: MLflowServer,
    *,
    seed: int = 42,
    hyperparameters: dict[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Trained:
    hp = HYPERPARAMETERS if hyperparameters is None else hyperparameters
    created = operator_creates_run(server, hp, seed)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELOPS_"))}
    env.update(
        {
            "MLFLOW_TRACKING_URI": server.url,
            "MLFLOW_RUN_ID": created.run_id,
            "MODELOPS_SEED": str(seed),
            "MODELOPS_HYPERPARAMETERS": json.dumps(hp),
            **{f"MODELOPS_HP_{k.upper()}": v for k, v in hp.items()},
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
    )
    proc = subprocess.run(
        [sys.executable, str(TRAIN)], env=env, capture_output=True, text=True, timeout=300, cwd=REPO, check=False
    )
    return Trained(created.run_id, created.experiment_id, created.artifact_uri, proc, get_run(server, created.run_id))


def list_artifacts(server: MLflowServer, run_id: str, path: str = "") -> list[str]:
    query = urllib.parse.urlencode({"run_id": run_id, **({"path": path} if path else {})})
    with urllib.request.urlopen(f"{server.url}/api/2.0/mlflow/artifacts/list?{query}", timeout=10) as response:
        return [f["path"] for f in json.load(response).get("files", [])]


def local_artifact(server: MLflowServer, artifact_uri: str, relative: str) -> Path:
    # mlflow-artifacts:/<experiment>/<run>/artifacts -> <artifacts-destination>/<experiment>/<run>/artifacts
    assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri
    return server.artifact_root / artifact_uri.removeprefix("mlflow-artifacts:/") / relative
