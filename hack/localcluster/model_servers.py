"""Real KServe model servers on loopback, each behind KServe's own agent: a predictor Pod without the Pod.

``ServedModel(isvc, directory)`` takes an InferenceService manifest (the one modelops' core.serving
makes for a ModelVersion) and starts the two containers KServe's Standard mode puts in its predictor
Pod, as local processes:

- **the model server** (``kserve-container``): KServe's sklearnserver in its runtime's virtualenv
  (kserve_runtime.py), with the ClusterServingRuntime's arguments (KServe v0.20.0
  ``config/runtimes/kserve-sklearnserver.yaml``: ``--model_name={{.Name}} --model_dir=...
  --http_port=...``) and ``--grpc_port`` (the gRPC server it always starts, on a free port here). The
  model is the predictor's ``storageUri``, a local path or ``file://`` URI (e.g. under the MLflow
  server's ``--artifacts-destination``): KServe's storage code reads it where it lies, as the storage
  initializer would link it into ``/mnt/models``. ``PREDICT_PROBA=true`` (sklearnserver/model.py:28,56,
  on by default here) makes it answer ``predict_proba`` rows, so the log sink reads a score;
- **the agent** (``kserve-agent``, built from KServe's Go module by building.py), in front of it, with
  the arguments and environment KServe gives it (see :func:`agent_arguments`): every request to
  ``served.url`` is proxied to the model server, and its request and response are posted as
  CloudEvents to the InferenceService's logger URL (the prediction-log sink).

What differs from a Pod, and why: ports are free loopback ports, not 8080/9081 (many pairs share one
host); both upstream servers bind every interface (uvicorn ``0.0.0.0``, rest/server.py:94; the agent
``:port``, main.go:450), and are only ever addressed on 127.0.0.1; each agent runs in a directory of
its own, where it puts its Unix socket (building.py says why). ``stop()`` gives the agent a second,
not its 30-second drain (main.go:98,243): a Pod's endpoints must learn it is going, a local process
has nobody to tell; the logger sends each event as it is queued, so a caller that saw its answers in
the sink loses nothing. If either process does not come up, ``start`` raises with its log tail.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from localcluster import building, kserve_runtime
from localcluster.children import ChildServer
from localcluster.cluster import free_port

# The agent's readiness probe as the kubelet sends it (agent_injector.go:423-437): the kubelet's user agent
# makes the agent answer it itself (knative's Drainer runs SERVING_READINESS_PROBE); without it the
# request would be proxied to the model server and logged like a prediction.
AGENT_PROBE_HEADERS = {"K-Network-Probe": "queue", "User-Agent": "kube-probe/1.36"}


class ModelServerError(RuntimeError):
    """A model server or agent did not start; the message carries the tail of its log."""


def pod_annotations(isvc: dict[str, Any]) -> dict[str, str]:
    """The predictor Pod's annotations: the InferenceService's, then the predictor's own on top
    (predictor.go:100,498-517; KServe's default disallowed list names none of modelops')."""
    predictor = isvc["spec"]["predictor"]
    return {**isvc["metadata"].get("annotations", {}), **predictor.get("annotations", {})}


def agent_arguments(isvc: dict[str, Any], *, pod_name: str, component_port: int) -> list[str]:
    """The agent's arguments for the predictor of ``isvc``, as KServe v0.20.0 derives them: the
    controller turns ``spec.predictor.logger`` into Pod annotations (components/component.go:60-74),
    the Pod webhook turns those into flags (webhook/admission/pod/agent_injector.go:225-315): log URL,
    the Pod's name as source, mode, InferenceService (Pod label ``serving.kserve.io/inferenceservice``),
    namespace, endpoint (the Pod label ``endpoint``: Serverless only, empty in Standard mode),
    component (Pod label ``component: predictor``, predictor.go:510), the metadata headers joined by
    commas, each metadata annotation as ``key=value`` of the Pod's annotation (a missing one is left
    out), TLS verification on; then the model server's port (agent_injector.go:317-349)."""
    meta, predictor = isvc["metadata"], isvc["spec"]["predictor"]
    args: list[str] = []
    logger = predictor.get("logger")
    if logger is not None:
        if not logger.get("url"):
            raise ModelServerError("the predictor's logger has no url (KServe would use its ConfigMap's default)")
        args += ["--log-url", logger["url"], "--source-uri", pod_name, "--log-mode", logger.get("mode") or "all",
                 "--inference-service", meta["name"], "--namespace", meta.get("namespace", "default"),
                 "--endpoint", "", "--component", "predictor"]
        if logger.get("metadataHeaders") is not None:
            args += ["--metadata-headers", ",".join(logger["metadataHeaders"])]
        if logger.get("metadataAnnotations") is not None:
            annotations = pod_annotations(isvc)
            pairs = [f"{key}={annotations[key]}" for key in logger["metadataAnnotations"] if key in annotations]
            args += ["--metadata-annotations", ",".join(pairs)]
        args += ["--logger-tls-skip-verify", "false"]
    return [*args, "--component-port", str(component_port)]


def readiness_probe(port: int) -> dict[str, Any]:
    """The probe KServe gives a model server container without one (TCP on its port,
    deployment_reconciler.go:304-333); the webhook hands it to the agent as ``SERVING_READINESS_PROBE``
    (agent_injector.go:351-373), and the agent answers its own readiness probe by running it."""
    return {"tcpSocket": {"port": port}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
            "failureThreshold": 3}


class SKLearnServer(ChildServer):
    """KServe's sklearnserver serving one model on a free loopback port."""

    def __init__(self, directory: Path, *, model_name: str, model_dir: str, predict_proba: bool = True,
                 startup_timeout: float = 120.0) -> None:
        self.directory = Path(directory)
        self.model_name = model_name
        self.model_dir = model_dir
        self.predict_proba = predict_proba
        self.port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.directory / "model-server.log"
        self.startup_timeout = startup_timeout

    def command(self, python: Path) -> list[str]:
        return [str(python), "-m", "sklearnserver", f"--model_name={self.model_name}",
                f"--model_dir={self.model_dir}", f"--http_port={self.port}", f"--grpc_port={self.grpc_port}"]

    def start(self) -> SKLearnServer:
        python = kserve_runtime.ensure_runtime()
        env = kserve_runtime.runtime_env({"PREDICT_PROBA": str(self.predict_proba).lower()})
        # KServe's v1 model-ready endpoint: 200 once the model is loaded.
        self._start(self.command(python), ready_url=f"{self.url}/v1/models/{self.model_name}", env=env,
                    timeout=self.startup_timeout, error=ModelServerError, what=f"the model server of {self.model_name}")
        return self


class KServeAgent(ChildServer):
    """KServe's agent on a free loopback port, in front of a model server on ``component_port``."""

    stop_grace = 1.0  # not its 30-second drain: see the module docstring

    def __init__(self, directory: Path, *, arguments: list[str], component_port: int,
                 startup_timeout: float = 30.0) -> None:
        self.directory = Path(directory)
        self.arguments = arguments
        self.component_port = component_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.directory / "agent.log"
        self.startup_timeout = startup_timeout

    def command(self, binary: Path) -> list[str]:
        return [str(binary), "--port", str(self.port), *self.arguments]

    def start(self) -> KServeAgent:
        binary = building.ensure_kserve_agent()
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / building.AGENT_UNIX_SOCKET).unlink(missing_ok=True)  # left by a killed agent
        env = {"SERVING_READINESS_PROBE": json.dumps(readiness_probe(self.component_port)), "PATH": "/usr/bin:/bin"}
        self._start(self.command(binary), ready_url=f"{self.url}/", headers=AGENT_PROBE_HEADERS, env=env,
                    cwd=self.directory, timeout=self.startup_timeout, error=ModelServerError, what="KServe's agent")
        return self


class ServedModel:
    """``with ServedModel(isvc, directory) as served: served.predict(instances)``"""

    def __init__(self, isvc: dict[str, Any], directory: Path, *, predict_proba: bool = True) -> None:
        self.isvc = isvc
        self.name = isvc["metadata"]["name"]
        self.namespace = isvc["metadata"].get("namespace", "default")
        self.directory = Path(directory)
        self.model_server = SKLearnServer(self.directory, model_name=self.name, predict_proba=predict_proba,
                                          model_dir=isvc["spec"]["predictor"]["model"]["storageUri"])
        self.agent: KServeAgent | None = None

    @property
    def url(self) -> str:
        """Where requests go: the agent (what the predictor Service targets in Standard mode)."""
        if self.agent is None:
            raise ModelServerError(f"{self.name} is not being served")
        return self.agent.url

    @property
    def pod_name(self) -> str:
        return f"{self.name}-predictor-{self.model_server.port}"

    def start(self) -> Self:
        try:
            self.model_server.start()
            arguments = agent_arguments(self.isvc, pod_name=self.pod_name, component_port=self.model_server.port)
            self.agent = KServeAgent(self.directory, arguments=arguments, component_port=self.model_server.port)
            self.agent.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """The agent first (nothing reaches a stopped model server through it), then the model server."""
        if self.agent is not None:
            self.agent.stop()
        self.model_server.stop()

    def predict(self, instances: list[Any], headers: dict[str, str] | None = None,
                timeout: float = 30.0) -> tuple[int, Any]:
        """One v1 ``predict`` call through the agent: (status, JSON answer)."""
        request = urllib.request.Request(
            f"{self.url}/v1/models/{self.name}:predict", data=json.dumps({"instances": instances}).encode(),
            headers={"Content-Type": "application/json", **(headers or {})}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
