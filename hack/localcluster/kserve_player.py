"""Plays KServe's controller for one namespace of the local cluster, with real model servers: for
every predictor of every InferenceService the operator creates, a real ``ServedModel`` (KServe's
sklearnserver behind KServe's agent, which logs to the prediction-log sink: model_servers.py), and
the InferenceService status KServe writes, only once that server really answers.

What it owns:

- **Which predictors run.** A per-ModelVersion InferenceService has one (``spec.predictor``); the
  kserve router's shared one has its main predictor and one per ``spec.canary[]`` entry, each named
  by its ``name``. Each is keyed by (InferenceService, predictor name, storageUri): a promotion that
  renames the main predictor to a canary's name finds that canary's server already running, as
  KServe's "promote a canary without restart" does. A predictor no InferenceService names any more
  is stopped; so is everything when the player closes.
- **Where its model is read from** (:func:`local_model_dir`): a local path or ``file://`` URI as is;
  ``mlflow-artifacts:/<path>`` under the MLflow server's ``--artifacts-destination``; ``models:/name/N``
  and ``models:/name@alias`` through the real MLflow server's registry (its download URI), then as
  above. Any other scheme (``s3://``, ``gs://``) cannot be read here: with ``play_unreadable`` (the
  ``serve`` command, for the examples' remote URIs) such a predictor gets the played Ready status
  of serving.py, with no server behind it; without it (the tests), it stays not Ready, as a Pod
  whose storage initializer cannot fetch would.
- **The status KServe writes**: the main predictor Ready → ``ready_status`` with ``url`` = the
  agent's loopback URL (what the predictor Service routes to); a model that fails to load → Ready
  False, ``activeModelState: FailedToLoad`` and ``lastFailureInfo`` with the server's last error
  line (KServe's format, as core.serving.readiness reads it); ``canaryStatuses`` with each canary's
  real readiness and the spec's ``trafficPercent``. Nothing is written while a server is starting.
- **Service endpoints**: ``service_url("<isvc>-predictor")`` (a per-ModelVersion InferenceService's
  predictor Service) or ``service_url("<isvc>-<name>-predictor")`` (a named variant of a shared one)
  is the agent URL behind that Service, as kube-proxy would resolve it: the load driver (load.py)
  sends its requests there.

Servers start and stop on worker threads, so one slow model never holds up the others' status.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import dynamic

from localcluster.model_servers import ModelServerError, ServedModel
from localcluster.serving import ISVC_API, MERGE_PATCH, ready_status, tick_until

PREDICTOR_SUFFIX = "-predictor"


@dataclass(frozen=True)
class Variant:
    """One predictor of one InferenceService: what a Deployment of KServe's would run."""

    isvc: str
    predictor: str  # "" for the unnamed main predictor of a per-ModelVersion InferenceService
    storage_uri: str
    canary: bool

    @property
    def service(self) -> str:
        """The Service KServe puts in front of it (``<isvc>-predictor``, ``<isvc>-<name>-predictor``)."""
        return f"{self.isvc}-{self.predictor}{PREDICTOR_SUFFIX}" if self.predictor else f"{self.isvc}{PREDICTOR_SUFFIX}"


def variants(isvc: Mapping[str, Any]) -> list[tuple[Variant, dict[str, Any]]]:
    """Every predictor of ``isvc`` with the manifest ``ServedModel`` takes for it (the
    InferenceService with that predictor as its own: its name, annotations and logger)."""
    metadata, spec = isvc["metadata"], isvc.get("spec") or {}
    found: list[tuple[Variant, dict[str, Any]]] = []
    entries = [(spec.get("predictor") or {}, False)] + [(c.get("predictor") or {}, True) for c in spec.get("canary")
                                                         or []]
    for predictor, canary in entries:
        uri = (predictor.get("model") or {}).get("storageUri")
        if not uri:
            continue
        name = str(predictor.get("name") or "")
        manifest = {"metadata": {"name": metadata["name"], "namespace": metadata.get("namespace", "default"),
                                 "annotations": dict(metadata.get("annotations") or {})},
                    "spec": {"predictor": dict(predictor)}}
        found.append((Variant(metadata["name"], name, str(uri), canary), manifest))
    return found


def local_model_dir(uri: str, *, artifact_root: Path | None, mlflow_url: str | None) -> str | None:
    """Where the model of ``uri`` lies on this machine, or None when it cannot be read here."""
    if uri.startswith("models:/") and mlflow_url:
        source = _registry_source(mlflow_url, uri.removeprefix("models:/"))
        return None if source is None else local_model_dir(source, artifact_root=artifact_root, mlflow_url=None)
    if uri.startswith("mlflow-artifacts:"):
        if artifact_root is None:
            return None
        rest = uri.removeprefix("mlflow-artifacts:")
        if rest.startswith("//"):
            rest = rest[2:].partition("/")[2]
        uri = str(artifact_root / rest.lstrip("/"))
    if uri.startswith("file://"):
        uri = urllib.parse.unquote(urllib.parse.urlparse(uri).path)
    if uri.startswith("/") and Path(uri).exists():
        return uri
    return None


def _registry_source(mlflow_url: str, reference: str) -> str | None:
    """The artifact URI of ``name/N`` or ``name@alias`` in the MLflow registry (MLflow's REST API)."""
    name, at, alias = reference.partition("@")
    if at:
        query = urllib.parse.urlencode({"name": name, "alias": alias})
        path = f"/api/2.0/mlflow/registered-models/alias?{query}"
    else:
        name, _, version = reference.rpartition("/")
        path = "/api/2.0/mlflow/model-versions/get?" + urllib.parse.urlencode({"name": name, "version": version})
    try:
        with urllib.request.urlopen(mlflow_url.rstrip("/") + path, timeout=10) as response:
            found = json.load(response)["model_version"]
    except (OSError, KeyError, ValueError):
        return None
    return str(found.get("source") or "") or None


def failure_status(url: str, message: str, at: str) -> dict[str, Any]:
    """The status KServe writes when the predictor's model does not load (core.serving.readiness)."""
    status = ready_status(url, at=at)
    status["conditions"] = [
        {"type": "PredictorReady", "status": "False", "reason": "ModelLoadFailed", "lastTransitionTime": at},
        {"type": "Ready", "status": "False", "reason": "PredictorNotReady", "lastTransitionTime": at}]
    status["modelStatus"] = {"states": {"activeModelState": "FailedToLoad", "targetModelState": "Loaded"},
                             "transitionStatus": "BlockedByFailedLoad",
                             "lastFailureInfo": {"reason": "ModelLoadFailed", "message": message, "exitCode": 1}}
    return status


def last_error(error: BaseException) -> str:
    """The model server's own last error line from a start failure (its log tail), else the error."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"Error|Exception", line)]
    return (errors or lines or [type(error).__name__])[-1][:500]


@dataclass
class _Running:
    variant: Variant
    served: ServedModel | None = None  # set once it answers
    failed: str | None = None
    played: bool = False  # no server: the storageUri cannot be read here (play_unreadable)
    future: Future[None] | None = field(default=None, repr=False)


class KServePlayer:
    """``with KServePlayer(dyn, "demo", directory, ...) as player: player.run(stop)``"""

    def __init__(self, dyn: dynamic.DynamicClient, namespace: str, directory: Path, *,
                 artifact_root: Path | None = None, mlflow_url: str | None = None, play_unreadable: bool = False,
                 out: Callable[[str], None] = print, workers: int = 4) -> None:
        self.namespace, self.directory = namespace, Path(directory)
        self.artifact_root, self.mlflow_url, self.play_unreadable = artifact_root, mlflow_url, play_unreadable
        self.out = out
        self.isvcs = dyn.resources.get(api_version=ISVC_API[0], kind=ISVC_API[1])
        self.running: dict[Variant, _Running] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kserve-player")

    # -- endpoints ----------------------------------------------------------------------------

    def service_url(self, service: str) -> str | None:
        """The agent URL behind a predictor Service, when that predictor's server answers."""
        with self._lock:
            for entry in self.running.values():
                if entry.variant.service == service and entry.served is not None:
                    return entry.served.url
        return None

    def endpoint(self, service: str) -> tuple[str, str] | None:
        """(agent URL, model name) behind a predictor Service: what the load driver sends to."""
        with self._lock:
            for entry in self.running.values():
                if entry.variant.service == service and entry.served is not None:
                    return entry.served.url, entry.served.name
        return None

    def served(self) -> dict[str, ServedModel]:
        """Every answering server, by its Service name."""
        with self._lock:
            return {e.variant.service: e.served for e in self.running.values() if e.served is not None}

    # -- one pass -----------------------------------------------------------------------------

    def tick(self) -> list[str]:
        lines: list[str] = []
        isvcs = list(self.isvcs.get(namespace=self.namespace).to_dict()["items"])
        wanted: dict[Variant, dict[str, Any]] = {}
        for isvc in isvcs:
            for variant, manifest in variants(isvc):
                wanted[variant] = manifest
        with self._lock:
            gone = [v for v in self.running if v not in wanted]
            for variant in gone:
                entry = self.running.pop(variant)
                self._pool.submit(self._stop, entry)
                lines.append(f"InferenceService {variant.isvc}: predictor {variant.predictor or 'main'} stopped")
            for variant, manifest in wanted.items():
                if variant not in self.running:
                    lines.append(self._start(variant, manifest))
        for isvc in isvcs:
            line = self._write_status(isvc)
            if line:
                lines.append(line)
        for line in lines:
            self.out(line)
        return lines

    def _start(self, variant: Variant, manifest: dict[str, Any]) -> str:
        entry = self.running[variant] = _Running(variant)
        name = f"{variant.isvc}/{variant.predictor or 'main'}"
        model_dir = local_model_dir(variant.storage_uri, artifact_root=self.artifact_root, mlflow_url=self.mlflow_url)
        if model_dir is None:
            if self.play_unreadable:
                entry.played = True
                return f"InferenceService {name}: {variant.storage_uri} cannot be read here: Ready status played"
            entry.failed = (f"storage URI {variant.storage_uri} cannot be fetched here (only local paths, file://, "
                            "mlflow-artifacts: and models: URIs are)")
            return f"InferenceService {name}: {entry.failed}"
        manifest["spec"]["predictor"]["model"] = {**manifest["spec"]["predictor"]["model"], "storageUri": model_dir}
        directory = self.directory / f"{variant.isvc}-{variant.predictor or 'main'}-{len(self.running)}"
        entry.future = self._pool.submit(self._serve, entry, manifest, directory)
        return f"InferenceService {name}: starting KServe's sklearnserver + agent on {model_dir}"

    def _serve(self, entry: _Running, manifest: dict[str, Any], directory: Path) -> None:
        served = ServedModel(manifest, directory)
        try:
            served.start()
        except ModelServerError as error:
            entry.failed = last_error(error)
            self.out(f"InferenceService {entry.variant.isvc}: model failed to load: {entry.failed}")
            return
        with self._lock:
            if self.running.get(entry.variant) is entry:
                entry.served = served
                self.out(f"InferenceService {entry.variant.isvc}/{entry.variant.predictor or 'main'}: serving at "
                         f"{served.url}")
                return
        served.stop()  # the InferenceService went while it started

    def _stop(self, entry: _Running) -> None:
        if entry.future is not None:
            entry.future.result()
        if entry.served is not None:
            entry.served.stop()

    def _write_status(self, isvc: Mapping[str, Any]) -> str | None:
        name = isvc["metadata"]["name"]
        with self._lock:
            states = {v: e for v, e in self.running.items() if v.isvc == name}
        main = next((e for v, e in states.items() if not v.canary), None)
        if main is None:
            return None
        status = isvc.get("status") or {}
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch: dict[str, Any] = {}
        url = main.served.url if main.served is not None else \
            f"http://{name}.{self.namespace}.example.com" if main.played else None
        if url is not None:
            if not _says(status, True, url):
                patch.update(ready_status(url, at=at))
        elif main.failed is not None:
            if not _says(status, False, None):
                patch.update(failure_status(f"http://{name}.{self.namespace}.example.com", main.failed, at))
        else:
            return None  # still starting: KServe writes nothing Ready yet
        wanted = [{"name": v.predictor, "ready": e.served is not None or e.played,
                   "trafficPercent": _percent(isvc, v.predictor)} for v, e in states.items() if v.canary]
        reported = [{key: entry.get(key) for key in ("name", "ready", "trafficPercent")}
                    for entry in status.get("canaryStatuses") or []]
        if reported != wanted:
            patch["canaryStatuses"] = wanted or None
        if not patch:
            return None
        self.isvcs.status.patch(name=name, namespace=self.namespace, body={"status": patch}, content_type=MERGE_PATCH)
        ready = "Ready" if "conditions" not in patch else (
            "Ready at " + str(url) if url is not None else f"FailedToLoad: {main.failed}")
        return f"InferenceService {name}: KServe status written: {ready}"

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        tick_until(self.tick, self.out, stop, interval)

    def close(self) -> None:
        with self._lock:
            entries = list(self.running.values())
            self.running.clear()
        for entry in entries:
            self._pool.submit(self._stop, entry)
        self._pool.shutdown(wait=True)

    def __enter__(self) -> KServePlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _percent(isvc: Mapping[str, Any], predictor: str) -> int:
    for canary in (isvc.get("spec") or {}).get("canary") or []:
        if (canary.get("predictor") or {}).get("name") == predictor:
            return int(canary.get("trafficPercent") or 0)
    return 0


def _says(status: Mapping[str, Any], ready: bool, url: str | None) -> bool:
    """Whether ``status`` already says Ready (at ``url``) or already says not Ready."""
    is_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    states = (status.get("modelStatus") or {}).get("states") or {}
    if ready:
        return is_ready and states.get("activeModelState") in (None, "Loaded") and status.get("url") == url
    return not is_ready and states.get("activeModelState") == "FailedToLoad"
