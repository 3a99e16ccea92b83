"""A real MLflow tracking server + Model Registry on loopback, for the tests and ``make dev``.

``MLflowServer`` starts ``mlflow server`` (the one installed next to this Python) with a sqlite
backend and proxied artifact serving on a free loopback port:

* ``--serve-artifacts --artifacts-destination file://<tmp>/artifacts``: new experiments get
  ``mlflow-artifacts:/`` artifact URIs, so a separate process (the training script, as a pod in a
  cluster would) uploads artifacts *through the server* with only ``MLFLOW_TRACKING_URI`` set;
* ``--allowed-hosts 127.0.0.1:<port>,localhost:<port>``: MLflow 3's security middleware checks
  the Host header (``/health`` is exempt, so readiness also probes one API call);
* ``--workers 1`` and ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``: one uvicorn worker and no
  Huey job consumers (GenAI job runners this project does not use; they cost ~4 s of startup
  and seven processes).

It is a ``children.ChildServer``: its own process group, stopped as a group (SIGTERM, then
SIGKILL), also when startup fails, and dying with the test runner even if that is SIGKILLed. If
the server does not come up, the fixture raises with the log tail: never a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from localcluster.children import ChildServer
from localcluster.cluster import free_port


class MLflowServerError(RuntimeError):
    """The MLflow server did not start; the message carries the tail of its log."""


def mlflow_executable() -> Path:
    exe = Path(sys.executable).parent / "mlflow"
    if not exe.exists():
        raise MLflowServerError(f"no `mlflow` next to {sys.executable}: install the [dev] extra")
    return exe


class MLflowServer(ChildServer):
    """``with MLflowServer(directory) as server: server.url``"""

    def __init__(self, directory: Path, *, startup_timeout: float = 120.0) -> None:
        self.directory = Path(directory)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.artifact_root = self.directory / "artifacts"
        self.backend_uri = f"sqlite:///{self.directory / 'mlflow.db'}"
        self.log_path = self.directory / "mlflow-server.log"
        self.startup_timeout = startup_timeout
        self.startup_seconds: float | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            str(mlflow_executable()),
            "server",
            "--backend-store-uri", self.backend_uri,
            "--serve-artifacts",
            "--artifacts-destination", self.artifact_root.as_uri(),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--workers", "1",
            "--allowed-hosts", f"127.0.0.1:{self.port},localhost:{self.port}",
        ]  # fmt: skip

    def start(self) -> MLflowServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.artifact_root.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "PYTHONUNBUFFERED": "1",
        }
        # The server must not inherit a client configuration from the caller's environment.
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
            env.pop(key, None)
        started = time.monotonic()
        # SIGTERM to the group (uvicorn's worker is a child of the CLI): both stop cleanly.
        self._spawn(self.command(), env=env, cwd=self.directory)
        try:
            self._await_http(f"{self.url}/health", started + self.startup_timeout, MLflowServerError,
                             "mlflow server")
            self._probe_api()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _probe_api(self) -> None:
        """``/health`` skips the Host-header check; one real API call proves the rest works."""
        query = urllib.parse.urlencode({"experiment_name": "Default"})
        try:
            with urllib.request.urlopen(f"{self.url}/api/2.0/mlflow/experiments/get-by-name?{query}", timeout=5) as r:
                json.load(r)
        except urllib.error.HTTPError as exc:
            raise MLflowServerError(
                f"mlflow server is healthy but its API refused a request: HTTP {exc.code} "
                f"{exc.read()[:500]!r}\n{self.log_tail()}"
            ) from exc

    def stop(self, timeout: float = 15.0) -> None:
        self._stop_group(timeout)
