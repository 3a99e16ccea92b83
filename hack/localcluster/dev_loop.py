"""The loop ``make dev`` runs live, once the stack is up (``__main__._dev`` starts the cluster, MLflow,
Prometheus, the log sink and the operator): in one namespace,

- the serving path on real parts (live_serving.py: a real KServe model server behind KServe's agent
  for every predictor, real load on every Rollout's route, labels to the sink);
- the quick start (``QuickStart``): examples/00-quickstart.yaml applied, then each of its TrainingRuns
  played in turn (playing.py; kwok only pretends to run Pods) and followed until the Rollout has
  promoted the version it registered under the alias the Rollout follows, or rolled it back;
- the view: every ``interval`` the namespace's TrainingRuns, ModelVersions, Rollouts and
  DriftMonitors read and drawn by ``modelops.cli.liveview`` (pure) through ``show`` — rich's Live
  display in a terminal, a recording console in the harness test.

Everything keeps running after the quick start, for the user to poke with kubectl, until ``stop``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any

import yaml
from kubernetes import dynamic
from kubernetes.dynamic.exceptions import ConflictError
from rich.console import RenderableType

from localcluster.live_serving import LiveServing
from localcluster.playing import REPO_ROOT, play_training
from modelops.cli.liveview import render

API = "modelops.io/v1alpha1"
KINDS = ("TrainingRun", "ModelVersion", "Rollout", "DriftMonitor")
QUICKSTART = REPO_ROOT / "examples" / "00-quickstart.yaml"
FIELD_MANAGER = "modelops-dev"
EVENTS_SHOWN = 8


class Events:
    """The latest lines of what the loop did, timestamped, shared by its threads."""

    def __init__(self, size: int = 200) -> None:
        self._lines: deque[str] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(f"{time.strftime('%H:%M:%S')} {line}")

    def tail(self, count: int = EVENTS_SHOWN) -> list[str]:
        with self._lock:
            return list(self._lines)[-count:]


def read_objects(dyn: dynamic.DynamicClient, namespace: str) -> dict[str, list[dict[str, Any]]]:
    objects = {}
    for kind in KINDS:
        items = dyn.resources.get(api_version=API, kind=kind).get(namespace=namespace).to_dict()["items"]
        objects[kind] = sorted(items, key=lambda o: (o["metadata"].get("creationTimestamp") or "",
                                                     o["metadata"]["name"]))
    return objects


class QuickStart:
    """Apply the example, then per TrainingRun: play it, wait for its ModelVersion, wait for the
    Rollout to promote it (or roll it back). ``note`` says where it is; ``done`` once all ran."""

    def __init__(self, dyn: dynamic.DynamicClient, kubeconfig: Path, namespace: str, out: Callable[[str], None],
                 log: IO[str] | None = None, example: Path = QUICKSTART, timeout: float = 600) -> None:
        self.dyn, self.kubeconfig, self.namespace, self.out, self.log = dyn, kubeconfig, namespace, out, log
        self.documents = [doc for doc in yaml.safe_load_all(example.read_text()) if doc]
        self.example, self.timeout = example, timeout
        self.note = f"applying {example.name}"
        self.done = threading.Event()
        self.promoted: list[str] = []

    def _get(self, kind: str, name: str) -> dict[str, Any]:
        resource = self.dyn.resources.get(api_version=API, kind=kind)
        items = resource.get(namespace=self.namespace, field_selector=f"metadata.name={name}").to_dict()["items"]
        return items[0] if items else {}

    def _wait(self, stop: threading.Event, what: str, check: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.timeout
        while not stop.is_set():
            try:
                found = check()
            except Exception as error:  # the API server may be busy: keep asking
                self.out(f"waiting for {what}: {type(error).__name__}: {error}".splitlines()[0])
                found = None
            if found:
                return found
            if time.monotonic() > deadline:
                self.out(f"gave up waiting for {what} after {self.timeout:.0f}s")
                return None
            stop.wait(0.5)
        return None

    def _registered(self, run: str) -> dict[str, Any] | None:
        """The run's status once it registered a ModelVersion or ended without one."""
        status = self._get("TrainingRun", run).get("status") or {}
        return status if status.get("modelVersion") or status.get("phase") in ("Rejected", "Failed") else None

    def _settled(self, rollout: str, version: str) -> dict[str, Any] | None:
        """The Rollout's status once ``version`` is its promoted stable, or was rolled back."""
        status = self._get("Rollout", rollout).get("status") or {}
        if status.get("phase") == "Promoted" and status.get("stable") == version:
            return status
        rolled_back = status.get("phase") == "RolledBack" and status.get("stable") != version
        if rolled_back and any(version in (h.get("message") or "") for h in status.get("history") or []):
            return status
        return None

    def apply(self) -> None:
        for doc in self.documents:
            resource = self.dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            resource.server_side_apply(body=doc, namespace=self.namespace, field_manager=FIELD_MANAGER,
                                       force_conflicts=True)
            self.out(f"applied {doc['kind']} {doc['metadata']['name']}")

    def run(self, stop: threading.Event) -> None:
        try:
            self._run(stop)
        except Exception as error:
            self.out(f"the quick start stopped: {type(error).__name__}: {error}".splitlines()[0])
            self.note = f"the quick start stopped: {error}".splitlines()[0]

    def _run(self, stop: threading.Event) -> None:
        self.apply()
        runs = [d["metadata"]["name"] for d in self.documents if d["kind"] == "TrainingRun"]
        rollout = next(d["metadata"]["name"] for d in self.documents if d["kind"] == "Rollout")
        for run in runs:
            if stop.is_set():
                return
            self.note = f"training {run} (playing examples/training/train.py)"
            if play_training(self.kubeconfig, self.namespace, run, out=self.out, log=self.log) != 0:
                self.note = f"{run} did not train: see the latest lines"
                return
            status = self._wait(stop, f"{run} to register", partial(self._registered, run))
            if not isinstance(status, dict) or not status.get("modelVersion"):
                self.note = f"{run} registered nothing: kubectl describe tr {run}"
                return
            version = status["modelVersion"]
            self.note = f"{run} registered {version}; Rollout {rollout} follows it"
            final = self._wait(stop, f"{rollout} to settle on {version}",
                               partial(self._settled, rollout, version))
            if not isinstance(final, dict):
                return
            outcome = "promoted" if final["phase"] == "Promoted" else "rolled back"
            self.out(f"Rollout {rollout}: {version} {outcome}")
            if outcome == "promoted":
                self.promoted.append(version)
        self.note = (f"the quick start ran: {', '.join(self.promoted) or 'nothing'} promoted. Everything keeps "
                     f"running: kubectl get modelops -n {self.namespace}; Ctrl-C stops all")
        self.done.set()


class DevLoop:
    """``DevLoop(...).run(stop)``: serving, the quick start and the view, until ``stop`` is set."""

    def __init__(self, dyn: dynamic.DynamicClient, kubeconfig: Path, namespace: str, directory: Path,
                 live: dict[str, str], show: Callable[[RenderableType], None], *, rate: float = 20.0,
                 interval: float = 1.0, log: IO[str] | None = None, example: Path = QUICKSTART) -> None:
        self.dyn, self.namespace, self.show, self.interval = dyn, namespace, show, interval
        self.events = Events()
        self.serving = LiveServing(dyn, namespace, directory / "served" / namespace, live, rate=rate,
                                   out=self.events.add)
        self.quickstart = QuickStart(dyn, kubeconfig, namespace, self.events.add, log=log, example=example)

    def ensure_namespace(self) -> None:
        namespaces = self.dyn.resources.get(api_version="v1", kind="Namespace")
        try:
            namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}})
        except ConflictError:
            pass

    def frame(self) -> RenderableType:
        try:
            objects = read_objects(self.dyn, self.namespace)
        except Exception as error:  # the API server may be busy: show the last lines, try again
            self.events.add(f"reading {self.namespace}: {type(error).__name__}: {error}".splitlines()[0])
            objects = {}
        return render(self.namespace, objects, datetime.now(UTC), self.events.tail(), note=self.quickstart.note)

    def run(self, stop: threading.Event) -> None:
        self.ensure_namespace()
        workers = [threading.Thread(target=self.serving.run, args=(stop,), name="dev-serving", daemon=True),
                   threading.Thread(target=self.quickstart.run, args=(stop,), name="dev-quickstart", daemon=True)]
        for worker in workers:
            worker.start()
        try:
            while True:
                self.show(self.frame())
                if stop.wait(self.interval):
                    break
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
            self.serving.close()
