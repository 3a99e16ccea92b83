"""The serving loop on real parts, for the e2e tier: the prediction-log sink the operator's
InferenceServices log to, models trained by examples/training/train.py, ModelVersions serving them,
KServe played with real model servers (hack/localcluster/kserve_player.py) and real load
(hack/localcluster/load.py) on a Rollout's route.

- ``sink_port`` (session): a loopback port Prometheus scrapes from its start; the operator fixture
  points every InferenceService's logger at it, so the integration tier (which starts no sink)
  renders the same URL the e2e tier serves.
- ``log_sink`` (session): the real ``modelops.logsink`` on that port, reading ModelVersion
  signatures from the local cluster.
- ``Loop``: a test's namespace with a running ``KServePlayer``; ``model_version`` applies a
  ModelVersion serving a trained model's artifact (its ``file://`` URI under MLflow's artifact
  store), ``load`` starts a ``LoadDriver`` on a Rollout. ``close`` stops every server it started.
- ``ANALYSIS`` (the loop's Rollout analysis), ``retraining_spec`` (a TrainingRun spec of the loop,
  registered under an alias a Rollout follows) and ``training_data_snapshot`` (train.py's data set
  as a drift reference, columns named as the sink logs them).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from localcluster.cluster import LocalCluster
from localcluster.kserve_player import KServePlayer
from localcluster.load import LoadDriver, dataset
from localcluster.logsink_server import LogSinkServer
from localcluster.mlflow_server import MLflowServer
from modelops.core.artifacts import fetchable
from modelops.registry.records import RunInfo
from tests.support.manifests import apply
from tests.support.prometheus_fixtures import ExporterPorts
from tests.support.rollouts import Env
from tests.support.train_script import HYPERPARAMETERS, Trained, local_artifact, operator_creates_run, train
from tests.support.training import training_run
from tests.support.waiting import wait_for

API = "modelops.io/v1alpha1"
# The analysis of the loop's Rollouts: every 2 s over the last 10 s of real traffic.
ANALYSIS: dict[str, Any] = {"interval": "2s", "window": "10s", "inconclusiveLimit": 20, "checks": [
    {"name": "error-rate", "builtin": "errorRate", "max": 0.05},
    {"name": "latency-p99", "builtin": "latencyP99", "max": 2.0},
]}


@pytest.fixture(scope="session")
def sink_port(exporter_ports: ExporterPorts) -> int:
    return exporter_ports.lend()


@pytest.fixture(scope="session")
def log_sink(sink_port: int, cluster: LocalCluster,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogSinkServer]:
    config = {"flushInterval": "200ms", "pairTimeout": "1s", "signatures": {"source": "kubernetes"}}
    with LogSinkServer(tmp_path_factory.mktemp("logsink"), port=sink_port, config=config,
                       env={"KUBECONFIG": str(cluster.kubeconfig)}) as sink:
        yield sink


def corrupt_run(server: MLflowServer) -> RunInfo:
    """An MLflow run whose logged ``model/model.joblib`` is not a model (what a broken upload leaves)."""
    run = operator_creates_run(server, HYPERPARAMETERS, seed=1)
    path = local_artifact(server, run.artifact_uri, "model/model.joblib")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"xnot a pickle")
    return run


def trained(server: MLflowServer, degrade: float = 0.0) -> Trained:
    """A model trained by train.py against the real MLflow (``degrade``: share of labels flipped)."""
    result = train(server, extra_env={"MODELOPS_TRAIN_DEGRADE": str(degrade)})
    assert result.proc.returncode == 0, result.proc.stderr[-3000:]
    return result


def retraining_spec(model: str, alias: str = "challenger") -> dict[str, Any]:
    """A TrainingRun spec of the loop: train.py on the breast-cancer data (gated on auc and fpr) on
    the cpu pool, its passing version registered under ``alias`` and served by one replica."""
    spec: dict[str, Any] = training_run("unused", model=model, nodePool="cpu",
                                        resources={"cpu": "1", "memory": "1Gi"})["spec"]
    spec["register"] = {"format": "sklearn", "alias": alias,
                        "modelVersionTemplate": {"serving": {"minReplicas": 1}}}
    return spec


def training_data_snapshot(path: Path) -> Path:
    """The data set train.py trains on (and the load driver draws from, unshifted) as a Parquet
    snapshot, its columns named as the sink logs the positional inputs: ``0`` ... ``29``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, _ = dataset(0.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({str(i): rows[:, i] for i in range(rows.shape[1])}), str(path))
    return path


class Loop:
    def __init__(self, env: Env, mlflow_server: MLflowServer, sink: LogSinkServer, directory: Path) -> None:
        self.env, self.mlflow_server, self.sink = env, mlflow_server, sink
        self.lines: list[str] = []
        self.player = KServePlayer(env.dyn, env.namespace, directory, artifact_root=mlflow_server.artifact_root,
                                   mlflow_url=mlflow_server.url, out=self.lines.append)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.player.run, args=(self._stop, 0.3), daemon=True)
        self._thread.start()
        self.drivers: list[LoadDriver] = []

    def model_version(self, name: str, model: str, version: str, model_run: Trained | RunInfo,
                      mode: str | None = None) -> str:
        """Register the run's model in MLflow (as a TrainingRun does: MLflow's own artifact URI, the run
        linked), then the ModelVersion serving the same bytes by their file:// URI, which adopts that
        registry version through the run."""
        registry = MlflowClient(tracking_uri=self.mlflow_server.url, registry_uri=self.mlflow_server.url)
        try:
            registry.get_registered_model(model)
        except MlflowException:
            registry.create_registered_model(model)
        registered = registry.create_model_version(model, f"{model_run.artifact_uri}/model", run_id=model_run.run_id)
        assert str(registered.version) == version, (registered.version, version)
        uri = fetchable(f"{model_run.artifact_uri}/model", self.mlflow_server.artifact_root.as_uri())
        assert uri is not None
        apply(self.env.dyn, {
            "apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name},
            "spec": {"model": model, "version": version, "artifact": {"storageUri": uri, "format": "sklearn"},
                     "lineage": {"mlflowRunId": model_run.run_id},
                     "serving": {"minReplicas": 1, **({"deploymentMode": mode} if mode else {})}},
        }, self.env.namespace)
        return name

    def wait_ready(self, name: str, timeout: float = 120) -> dict[str, Any]:
        try:
            return wait_for(lambda: (s := (self.env.mv(name).get("status") or {})).get("ready") is True and s,
                            timeout, f"ModelVersion {name} Ready")
        except AssertionError as error:
            isvcs = [(i["metadata"]["name"], i.get("status")) for i in
                     self.env.isvcs.get(namespace=self.env.namespace).to_dict()["items"]]
            raise AssertionError(f"{error}\nstatus: {self.env.mv(name).get('status')}\nInferenceServices: {isvcs}"
                                 f"\nplayer: {self.lines[-10:]}") from None

    def load(self, rollout: str, *, rate: float = 20.0, label_delay: float = 1.5, shift: float = 0.0) -> LoadDriver:
        driver = LoadDriver(self.env.dyn, self.env.namespace, rollout, self.player.endpoint, self.sink.url,
                            rate=rate, label_delay=label_delay, shift=shift, out=self.lines.append).start()
        self.drivers.append(driver)
        return driver

    def close(self) -> None:
        for driver in self.drivers:
            driver.stop()
        self._stop.set()
        self._thread.join(timeout=10)
        self.player.close()


class Models:
    """Two models of one data set, trained once a session: ``good`` and ``weak`` (40% of its
    training labels flipped, so its predictions are worse and diverge)."""

    def __init__(self, server: MLflowServer) -> None:
        self.good = trained(server)
        self.weak = trained(server, degrade=0.4)


@pytest.fixture(scope="session")
def trained_models(mlflow_server: MLflowServer) -> Models:
    return Models(mlflow_server)


@pytest.fixture()
def loop(rollout_env: Env, mlflow_server: MLflowServer, log_sink: LogSinkServer, tmp_path: Path) -> Iterator[Loop]:
    started = Loop(rollout_env, mlflow_server, log_sink, tmp_path / "served")
    try:
        yield started
    finally:
        started.close()
