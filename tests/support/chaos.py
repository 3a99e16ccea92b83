"""What the chaos tier shares: a watch that records every state of the namespace's routes and
InferenceServices for the whole run and judges it (weights sum to 100, never weight or mirror on a
backend whose InferenceService was not Ready at that revision), and the operator's footprint read
from /proc (resident memory, file descriptors, sockets, threads). (The seeded killer of the kill
suite lives with that suite on the ``chaos-kills`` branch until it passes.)

Readiness "at that moment" is exact, not timed: every watch event carries the object's
resourceVersion, which on this control plane is etcd's global revision, so a route revision R is
judged against the newest InferenceService event with a revision below R.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, watch

# ------------------------------------------------------------------------------ the route watch

WATCHED = {
    "HTTPRoute": ("gateway.networking.k8s.io", "v1", "httproutes"),
    "InferenceService": ("serving.kserve.io", "v1beta1", "inferenceservices"),
}
PREDICTOR = "-predictor"


@dataclass(frozen=True)
class Recorded:
    revision: int
    kind: str
    name: str
    deleted: bool
    body: dict[str, Any]


def isvc_ready(body: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (body.get("status") or {}).get("conditions") or [])


def route_backends(body: dict[str, Any]) -> tuple[dict[str, int], str | None]:
    """The HTTPRoute's ``split`` rule as written: {InferenceService: weight}, and the mirrored one."""
    rules = [r for r in (body.get("spec") or {}).get("rules") or [] if r.get("name") == "split"]
    weights: dict[str, int] = {}
    mirror = None
    for rule in rules:
        for ref in rule.get("backendRefs") or []:
            weights[ref["name"].removesuffix(PREDICTOR)] = weights.get(ref["name"].removesuffix(PREDICTOR), 0) + int(
                ref.get("weight", 1))
        for item in rule.get("filters") or []:
            if item.get("type") == "RequestMirror":
                mirror = item["requestMirror"]["backendRef"]["name"].removesuffix(PREDICTOR)
    return weights, mirror


class RouteWatch:
    """``with RouteWatch(api, namespace) as seen:`` records every HTTPRoute and InferenceService
    event of the namespace; ``violations()`` judges the route states against the invariants."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.events: list[Recorded] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch, args=(kind,), name=f"chaos-watch-{kind}", daemon=True)
                         for kind in WATCHED]

    def __enter__(self) -> RouteWatch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _watch(self, kind: str) -> None:
        group, version, plural = WATCHED[kind]
        listed = self.custom.list_namespaced_custom_object(group, version, self.namespace, plural)
        revision = listed["metadata"]["resourceVersion"]
        for item in listed["items"]:
            self._record(kind, "ADDED", item)
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(self.custom.list_namespaced_custom_object, group, version,
                                           self.namespace, plural, resource_version=revision,
                                           timeout_seconds=2, allow_watch_bookmarks=True):
                    body = event["object"]
                    revision = body["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._record(kind, event["type"], body)
                    if self._stop.is_set():
                        stream.stop()
            except Exception as error:  # a 410 Gone would lose states: that is a failed recording
                self.errors.append(f"{kind} watch: {error!r}")
                return

    def _record(self, kind: str, type_: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        with self._lock:
            self.events.append(Recorded(int(meta["resourceVersion"]), kind, meta["name"], type_ == "DELETED", body))

    def route_states(self) -> int:
        return sum(1 for e in self.recorded() if e.kind == "HTTPRoute")

    def recorded(self) -> list[Recorded]:
        with self._lock:
            return sorted(self.events, key=lambda e: e.revision)

    def violations(self) -> list[str]:
        """Every route state whose weights do not sum to 100, or that gives weight (or a mirror) to
        a backend whose InferenceService was not Ready at that revision."""
        ready: dict[str, bool] = {}
        found = [f"recording incomplete: {error}" for error in self.errors]
        for event in self.recorded():
            if event.kind == "InferenceService":
                ready[event.name] = not event.deleted and isvc_ready(event.body)
                continue
            if event.deleted:
                continue
            weights, mirror = route_backends(event.body)
            if not weights:
                continue
            if sum(weights.values()) != 100:
                found.append(f"route {event.name}@{event.revision}: weights {weights} sum to {sum(weights.values())}")
            for backend in [b for b, w in weights.items() if w > 0] + ([mirror] if mirror else []):
                if not ready.get(backend, False):
                    found.append(f"route {event.name}@{event.revision}: traffic on {backend}, not Ready then "
                                 f"(weights {weights}, mirror {mirror})")
        return found


# ------------------------------------------------------------------------------ the footprint


def footprint(pid: int) -> dict[str, float]:
    """A process's resident memory (MiB), open file descriptors, sockets and threads, from /proc."""
    text = Path(f"/proc/{pid}/status").read_text()
    status = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fds = os.listdir(f"/proc/{pid}/fd")
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue  # closed while being read
    return {"rss_mib": int(status["VmRSS"].split()[0]) / 1024, "fds": len(fds), "sockets": sockets,
            "threads": int(status["Threads"])}
