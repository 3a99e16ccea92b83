"""``localcluster serve``: plays, for one namespace of the local cluster, the parts of serving that no
real controller plays there, so a Rollout goes through its steps in ``make dev`` as it would in a
cluster with KServe, a gateway and model servers.

- **KServe**: every InferenceService whose status is not Ready gets the status KServe writes once
  its predictor is up and its model Loaded (``ready_status``, KServe's own format), so the
  ModelVersions become Ready. An InferenceService with ``spec.canary[]`` (the kserve router's
  shared one) also gets ``status.canaryStatuses``: every canary ``ready: true`` with the
  ``trafficPercent`` of its spec, kept in step as the operator moves the split (the router reads
  the reported share as the one KServe applies).
- **The gateway, the mesh and the model servers**: for every Rollout, a ``DataPlane`` on the
  object its ``status.route`` names (``HTTPRoute/…``, ``VirtualService/…``, ``InferenceService/…``)
  sends ``rate`` requests a second by the weights that object really carries, and records what
  each ModelVersion of the Rollout's model answered in one ``MetricsExporter`` that Prometheus
  scrapes, where the operator's analysis reads it. Every version is ``GOOD`` unless named with
  ``bad`` (half its requests fail: the analysis rolls it back) or ``better`` (three times the
  conversions: an A/B test finds it better). ``GOOD`` scores centre on 0.1, not 0.3, so that
  example 04's own ``fraud-score-mean`` check (0.001-0.2) passes; divergence compares versions
  with each other, so the centre matters to no built-in check.

``Serving.tick()`` does one pass (new Rollouts and InferenceServices are picked up at the next
one) and reports one line per change it made, and one per new split a data plane applies;
``run()`` ticks every second until stopped.

**How the dev Prometheus finds the exporter.** ``serve`` runs in its own process, and a
``PrometheusServer`` changes its targets only from the process that owns it (``add_target``
rewrites its whole targets file). So ``dev`` registers a few free loopback ports as targets
before anyone needs them and records them, with Prometheus' URL, in ``DIR/serve.json``
(``record_dev_ports``); ``serve`` listens on the first port of that list it can bind
(``start_dev_exporter``). One writer of the targets file, no file races, the target is known from
Prometheus' start (scraped within a second of ``serve`` listening, not 2-6 s later), and several
``serve`` processes (one per namespace) each get a port. A ``serve`` that stops leaves a target
that is down until the next ``serve``; counters that restart at zero are what ``rate()`` handles.
``dev`` deletes the file when it stops, so ``serve`` against a stopped ``dev`` says so.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import dynamic

from localcluster.dataplane import ROUTE_API_VERSIONS, Behaviour, DataPlane, Seen
from localcluster.exporter import MetricsExporter

MODELVERSION_API = ("modelops.io/v1alpha1", "ModelVersion")
ROLLOUT_API = ("modelops.io/v1alpha1", "Rollout")
ISVC_API = ("serving.kserve.io/v1beta1", "InferenceService")
MERGE_PATCH = "application/merge-patch+json"
DEV_RECORD = "serve.json"
DEV_EXPORTER_PORTS = 4

GOOD = Behaviour(error_rate=0.0, latency=0.02, score=0.1, conversion=0.10)
BAD = Behaviour(error_rate=0.5, latency=0.02, score=0.1, conversion=0.10)
BETTER = Behaviour(error_rate=0.0, latency=0.02, score=0.1, conversion=0.30)


# -- KServe ------------------------------------------------------------------------------------


def ready_status(url: str, *, at: str = "2026-11-25T12:00:00Z") -> dict[str, Any]:
    """An InferenceService status as KServe writes it when the predictor is up and loaded."""
    return {
        "url": url,
        "conditions": [
            {"type": "PredictorReady", "status": "True", "lastTransitionTime": at},
            {"type": "IngressReady", "status": "True", "lastTransitionTime": at},
            {"type": "Ready", "status": "True", "lastTransitionTime": at},
        ],
        "modelStatus": {"states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
                        "transitionStatus": "UpToDate"},
    }


def _is_ready(status: Mapping[str, Any]) -> bool:
    """Ready the way the operator reads it: the Ready condition True and the model, if reported, Loaded."""
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    states = (status.get("modelStatus") or {}).get("states") or {}
    return ready and states.get("activeModelState") in (None, "Loaded")


def _canary_statuses(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"name": (canary.get("predictor") or {}).get("name"), "ready": True,
             "trafficPercent": int(canary.get("trafficPercent") or 0)} for canary in spec.get("canary") or []]


def played_status(isvc: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any] | None:
    """The status patch KServe would write for ``isvc`` now, or None when its status already says it."""
    status = isvc.get("status") or {}
    wanted = _canary_statuses(isvc.get("spec") or {})
    reported = [{key: entry.get(key) for key in ("name", "ready", "trafficPercent")}
                for entry in status.get("canaryStatuses") or []]
    ready = _is_ready(status)
    if ready and reported == wanted:
        return None
    metadata = isvc["metadata"]
    at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch: dict[str, Any] = {} if ready else ready_status(f"http://{metadata['name']}.{metadata['namespace']}.example.com",
                                                          at=at)
    if reported != wanted:
        patch["canaryStatuses"] = wanted or None  # None: a merge patch removes the field
    return patch


def _describe_status(name: str, patch: Mapping[str, Any]) -> str:
    parts = []
    if "conditions" in patch:
        parts.append("Ready, model Loaded")
    if "canaryStatuses" in patch:
        canaries = patch["canaryStatuses"] or []
        parts.append("canaries " + (", ".join(f"{c['name']} ready at {c['trafficPercent']}%" for c in canaries)
                                    if canaries else "none"))
    return f"InferenceService {name}: KServe status written: {'; '.join(parts)}"


# -- the data planes ---------------------------------------------------------------------------


def describe_split(seen: Seen) -> str:
    served = ", ".join(f"{version} {percent}%" for version, percent in seen.weights)
    mirror = f" + mirror {seen.mirror[1]}% to {seen.mirror[0]}" if seen.mirror else ""
    return served + mirror


@dataclass
class _Plane:
    route: str  # "Kind/name"
    model: str
    plane: DataPlane
    printed: int = 0  # splits already reported


class Serving:
    """``with Serving(dyn, exporter, "demo", bad={"fraud-v4"}) as serving: serving.run(stop)``"""

    def __init__(
        self,
        dyn: dynamic.DynamicClient,
        exporter: MetricsExporter,
        namespace: str,
        *,
        bad: Iterable[str] = (),
        better: Iterable[str] = (),
        rate: float = 400.0,
        out: Callable[[str], None] = print,
    ) -> None:
        self.dyn, self.exporter, self.namespace = dyn, exporter, namespace
        self.bad, self.better = set(bad), set(better)
        self.rate = rate
        self.out = out
        self.isvcs = dyn.resources.get(api_version=ISVC_API[0], kind=ISVC_API[1])
        self.versions = dyn.resources.get(api_version=MODELVERSION_API[0], kind=MODELVERSION_API[1])
        self.rollouts = dyn.resources.get(api_version=ROLLOUT_API[0], kind=ROLLOUT_API[1])
        self.planes: dict[str, _Plane] = {}  # by Rollout name

    def behaviour(self, version: str) -> Behaviour:
        return BAD if version in self.bad else BETTER if version in self.better else GOOD

    def _label(self, version: str) -> str:
        return "bad" if version in self.bad else "better" if version in self.better else "good"

    def _list(self, resource: Any) -> list[dict[str, Any]]:
        return list(resource.get(namespace=self.namespace).to_dict()["items"])

    def tick(self) -> list[str]:
        """One pass over the namespace; returns (and reports through ``out``) what changed."""
        lines: list[str] = []
        for isvc in self._list(self.isvcs):
            patch = played_status(isvc)
            if patch is not None:
                name = isvc["metadata"]["name"]
                self.isvcs.status.patch(name=name, namespace=self.namespace, body={"status": patch},
                                        content_type=MERGE_PATCH)
                lines.append(_describe_status(name, patch))
        by_model: dict[str, list[str]] = {}
        for version in self._list(self.versions):
            by_model.setdefault((version.get("spec") or {}).get("model", ""), []).append(version["metadata"]["name"])
        rollouts = {r["metadata"]["name"]: r for r in self._list(self.rollouts)}
        for name in sorted(set(self.planes) - set(rollouts)):
            self._stop(name)
            lines.append(f"Rollout {name}: gone, its data plane stopped")
        for name, rollout in sorted(rollouts.items()):
            lines += self._serve(name, rollout, by_model)
        for line in lines:
            self.out(line)
        return lines

    def _serve(self, name: str, rollout: Mapping[str, Any], by_model: Mapping[str, list[str]]) -> list[str]:
        lines: list[str] = []
        route = (rollout.get("status") or {}).get("route") or ""
        model = (rollout.get("spec") or {}).get("model") or ""
        kind, _, route_name = route.partition("/")
        current = self.planes.get(name)
        if current is not None and (current.route, current.model) != (route, model):
            self._stop(name)
            lines.append(f"Rollout {name}: its route is now {route or 'none'}, the data plane on {current.route} "
                         "stopped")
            current = None
        if current is None:
            if kind not in ROUTE_API_VERSIONS or not route_name or not model:
                return lines  # the operator has not written a route yet
            versions = sorted(by_model.get(model, []))
            plane = DataPlane(self.dyn, self.exporter, self.namespace, model,
                              (ROUTE_API_VERSIONS[kind], kind, route_name),
                              {version: self.behaviour(version) for version in versions}, rate=self.rate)
            plane.__enter__()
            current = self.planes[name] = _Plane(route, model, plane)
            served = ", ".join(f"{version} {self._label(version)}" for version in versions) or "no versions yet"
            lines.append(f"Rollout {name}: data plane on {route}, {self.rate:g} requests/s ({served})")
        for version in sorted(by_model.get(model, [])):
            if current.plane.add(version, self.behaviour(version)):
                lines.append(f"Rollout {name}: {version} answers as {self._label(version)}")
        splits = current.plane.splits()
        for seen in splits[current.printed:]:
            lines.append(f"{route}: serves {describe_split(seen)}")
        current.printed = len(splits)
        return lines

    def _stop(self, name: str) -> None:
        entry = self.planes.pop(name, None)
        if entry is not None:
            entry.plane.__exit__(None, None, None)

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        tick_until(self.tick, self.out, stop, interval)

    def close(self) -> None:
        for name in list(self.planes):
            self._stop(name)

    def __enter__(self) -> Serving:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- dev's Prometheus --------------------------------------------------------------------------


def record_dev_ports(directory: Path, prometheus_url: str, ports: list[int]) -> Path:
    """Written by ``dev`` once its Prometheus scrapes ``127.0.0.1:<port>`` for every port."""
    path = directory / DEV_RECORD
    path.write_text(json.dumps({"prometheus": prometheus_url, "exporterPorts": ports}, indent=2))
    return path


def start_dev_exporter(directory: Path) -> tuple[MetricsExporter, str | None]:
    """An exporter on the first free port ``dev`` registered with its Prometheus, and that
    Prometheus' URL; with no ``dev`` recorded in ``directory``, an exporter on any port and None
    (nobody scrapes it). Raises ``OSError`` if every registered port is taken."""
    path = directory / DEV_RECORD
    if not path.exists():
        return MetricsExporter().start(), None
    record = json.loads(path.read_text())
    for port in record["exporterPorts"]:
        try:
            return MetricsExporter(int(port)).start(), str(record["prometheus"])
        except OSError:
            continue  # another serve (or another program) has it
    raise OSError(f"every exporter port in {path} is taken ({record['exporterPorts']}): "
                  f"stop another `serve`, or restart `dev`")


def tick_until(tick: Callable[[], object], out: Callable[[str], object], stop: threading.Event,
               interval: float) -> None:
    """Call ``tick`` every ``interval`` seconds until ``stop`` is set. An error is reported through
    ``out`` (once while it repeats) and the next tick tries again: the API server may be restarting."""
    last = ""
    while True:
        try:
            tick()
            last = ""
        except Exception as error:  # keep playing; the user sees the error
            message = f"{type(error).__name__}: {error}".splitlines()[0]
            if message != last:
                out(f"error (retrying every {interval:g}s): {message}")
            last = message
        if stop.wait(interval):
            return
