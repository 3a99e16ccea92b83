"""The operator as the integration tier runs it: a real subprocess (``python -m modelops``) with its
own configuration, liveness and metrics ports, started and stopped (or killed) by the tests, its
log kept for the failure message, and its own metrics read back (``metrics``)."""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from localcluster.children import ChildServer
from localcluster.cluster import LocalCluster, free_port


class OperatorError(RuntimeError):
    """The operator did not come up; the message carries the tail of its log."""


class OperatorProcess(ChildServer):
    def __init__(self, cluster: LocalCluster, log_path: Path, config: dict | None = None,  # type: ignore[type-arg]
                 kubeconfig: Path | None = None, args: tuple[str, ...] = ()) -> None:
        self.cluster = cluster
        self.args = args
        self.kubeconfig = kubeconfig or cluster.kubeconfig
        self.log_path = log_path
        self.port = free_port()
        self.metrics_port = free_port()
        self.config_path = log_path.with_name("config.yaml")
        self.config_path.write_text(yaml.safe_dump(config or {}))

    def start(self, timeout: float = 60) -> OperatorProcess:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1",
               "MODELOPS_CONFIG": str(self.config_path)}
        self._spawn([sys.executable, "-m", "modelops", "--liveness", f"http://127.0.0.1:{self.port}/healthz",
                     "--metrics", f"127.0.0.1:{self.metrics_port}", *self.args], env=env)
        self._await_http(f"http://127.0.0.1:{self.port}/healthz", time.monotonic() + timeout, OperatorError,
                         "the operator")
        return self

    def stop(self) -> int | None:
        return self._stop_group(timeout=20)

    def metrics(self) -> dict[str, float]:
        """The operator's own Prometheus metrics, ``name{labels}`` -> value."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        found: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                found[name] = float(value)
        return found

    def reconciled(self, kind: str) -> int:
        """Distinct objects of ``kind`` reconciled since this process started."""
        return int(self.metrics().get(f'modelops_objects_reconciled{{kind="{kind}"}}', 0))

    def stored(self, kind: str) -> int:
        """Objects of ``kind`` the operator's watch store holds."""
        return int(self.metrics().get(f'modelops_store_objects{{kind="{kind}"}}', 0))
