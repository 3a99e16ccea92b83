"""Fixtures for the integration tier: a real local control plane, a real API client, a fresh
namespace per test, and the operator running as a real subprocess (``python -m modelops``).

If the control plane cannot be built or started the fixture raises, and every test that needs
it errors with the component's log tail: never a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config, dynamic

from localcluster.cluster import LocalCluster, free_port

# The real MLflow server fixture lives in its own module; importing it registers it here.
from localcluster.mlflow_server import MLflowServer
from localcluster.operator_config import operator_config
from localcluster.prometheus_server import PrometheusServer
from tests.integration.mlflow_fixtures import mlflow_server  # noqa: F401
from tests.integration.prometheus_fixtures import exporter_ports, metrics_exporter, prometheus_server  # noqa: F401

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
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name, "labels": {"modelops.io/test": "true"}}})
    yield name
    core.delete_namespace(name, propagation_policy="Background")


class OperatorProcess:
    def __init__(self, cluster: LocalCluster, log_path: Path, config: dict | None = None,
                 kubeconfig: Path | None = None) -> None:
        self.cluster = cluster
        self.kubeconfig = kubeconfig or cluster.kubeconfig
        self.log_path = log_path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.config_path = log_path.with_name("config.yaml")
        self.config_path.write_text(yaml.safe_dump(config or {}))

    def start(self, timeout: float = 60) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1",
               "MODELOPS_CONFIG": str(self.config_path)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "modelops", "--liveness", f"http://127.0.0.1:{self.port}/healthz"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"operator exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"operator not live after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


# Training Pods are held Running (our kwok stage) until a test, playing the container, relabels
# them; a short pendingTimeout lets the capacity test see the Unschedulable condition quickly; a
# short query timeout lets the analysis tests see a stopped Prometheus as Error measurements fast.
@pytest.fixture(scope="session")
def operator(cluster: LocalCluster, mlflow_server: MLflowServer,  # noqa: F811
             prometheus_server: PrometheusServer,  # noqa: F811
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    process = OperatorProcess(cluster, tmp_path_factory.mktemp("operator") / "operator.log",
                              operator_config(mlflow_server.url, pending_timeout="3s",
                                              mlflow_artifacts=mlflow_server.artifact_root.as_uri(),
                                              log_sink_url="http://logsink.modelops.test:8080",
                                              prometheus_url=prometheus_server.url, query_timeout="2s"))
    process.start()
    yield process
    process.stop()
    if process.proc is not None and process.proc.returncode not in (0, -15):
        print(f"operator exited with {process.proc.returncode}:\n{process.log_tail()}")
