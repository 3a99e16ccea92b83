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

The server runs in its own process group (``start_new_session``) and is stopped by signalling
the whole group (SIGTERM, then SIGKILL), also when startup fails; ``PR_SET_PDEATHSIG`` makes the
``mlflow`` process die with the test runner even if that is SIGKILLed. If the server does not
come up, the fixture raises with the log tail: never a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType

from localcluster.cluster import die_with_parent, free_port


class MLflowServerError(RuntimeError):
    """The MLflow server did not start; the message carries the tail of its log."""


def mlflow_executable() -> Path:
    exe = Path(sys.executable).parent / "mlflow"
    if not exe.exists():
        raise MLflowServerError(f"no `mlflow` next to {sys.executable}: install the [dev] extra")
    return exe


class MLflowServer:
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
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                # SIGTERM, not SIGKILL: uvicorn then stops its own worker too.
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_ready(self, started: float) -> None:
        assert self.proc is not None
        deadline = started + self.startup_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MLflowServerError(f"mlflow server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        self._probe_api()
                        return
                    last_error = f"/health answered {response.status}"
            except (OSError, urllib.error.URLError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise MLflowServerError(
            f"mlflow server not healthy at {self.url}/health within {self.startup_timeout:.0f}s "
            f"({last_error}):\n{self.log_tail()}"
        )

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

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    def stop(self, timeout: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the group id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        # uvicorn workers outlive the CLI for a moment: wait for the whole group, then force it.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(pgid):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def __enter__(self) -> MLflowServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
