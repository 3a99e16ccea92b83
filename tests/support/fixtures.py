"""The fixtures of the tiers that run on real parts (integration, harness, e2e), registered once by
tests/conftest.py so every tier shares one of each: a real local control plane, a real API client,
fresh namespaces, a real MLflow server and its client, a real Prometheus, the operator running as a
real subprocess (``python -m modelops``), and each kind's view of the test namespace.

If the control plane cannot be built or started the fixture raises, and every test that needs
it errors with the component's log tail: never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, dynamic
from mlflow.tracking import MlflowClient

from localcluster.cluster import LocalCluster

# The real MLflow server fixture lives in its own module; importing it registers it here.
from localcluster.mlflow_server import MLflowServer
from localcluster.operator_config import operator_config
from localcluster.prometheus_server import PrometheusServer
from modelops.core.sharding import SHARD_LABEL
from tests.support import rollouts, serving, training
from tests.support.kube import scratch_namespace
from tests.support.mlflow_fixtures import mlflow_server  # noqa: F401
from tests.support.operator import OperatorProcess
from tests.support.prometheus_fixtures import exporter_ports, metrics_exporter, prometheus_server  # noqa: F401
from tests.support.serving_loop import log_sink, loop, sink_port, trained_models  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp("cluster")) as started:
        print(f"\nlocal cluster up in {started.startup_seconds:.1f}s at {started.server}")
        yield started


@pytest.fixture(scope="session")
def api(cluster: LocalCluster) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="session")
def dyn(api: client.ApiClient) -> dynamic.DynamicClient:
    return dynamic.DynamicClient(api)


@pytest.fixture()
def namespace(api: client.ApiClient) -> Iterator[str]:
    with scratch_namespace(api) as name:
        yield name


@pytest.fixture()
def other_namespace(api: client.ApiClient) -> Iterator[str]:
    """A second namespace, for what crosses namespaces."""
    with scratch_namespace(api) as name:
        yield name


@pytest.fixture(scope="session")
def mlflow(mlflow_server: MLflowServer) -> MlflowClient:  # noqa: F811
    """MLflow's own client on the test server: what the tests check the registry with."""
    return MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)


@pytest.fixture()
def rollout_env(dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str,
                operator: OperatorProcess) -> rollouts.Env:
    return rollouts.Env(dyn, api, namespace)


@pytest.fixture()
def training_env(dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str,
                 operator: OperatorProcess) -> training.Env:
    return training.Env(dyn, api, namespace)


@pytest.fixture()
def serving_env(dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str,
                operator: OperatorProcess) -> serving.Env:
    return serving.Env(dyn, api, namespace)


# Training Pods are held Running (our kwok stage) until a test, playing the container, relabels
# them; a short pendingTimeout lets the capacity test see the Unschedulable condition quickly; a
# short query timeout lets the analysis tests see a stopped Prometheus as Error measurements fast; a
# 2-second alias poll lets the targetFrom tests see an alias move without waiting 30 s.
# It owns the objects without a modelops.io/shard label: the sharding tests' own operators own theirs.
# The InferenceServices' logger points at the port the e2e tier's log sink listens on (``log_sink``,
# started only by the tests that serve real models; Prometheus scrapes that port from the start).
@pytest.fixture(scope="session")
def operator(cluster: LocalCluster, mlflow_server: MLflowServer,  # noqa: F811
             prometheus_server: PrometheusServer,  # noqa: F811
             sink_port: int,  # noqa: F811
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    process = OperatorProcess(cluster, tmp_path_factory.mktemp("operator") / "operator.log",
                              operator_config(mlflow_server.url, pending_timeout="3s",
                                              mlflow_artifacts=mlflow_server.artifact_root.as_uri(),
                                              log_sink_url=f"http://127.0.0.1:{sink_port}",
                                              prometheus_url=prometheus_server.url, query_timeout="2s",
                                              alias_poll_interval="2s"),
                              args=("--selector", f"!{SHARD_LABEL}"))
    process.start()
    yield process
    process.stop()
    if process.proc is not None and process.proc.returncode not in (0, -15):
        print(f"operator exited with {process.proc.returncode}:\n{process.log_tail()}")
