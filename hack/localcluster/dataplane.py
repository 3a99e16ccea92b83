"""A simulated data plane for Rollouts, in the tests and in ``localcluster serve`` (``make dev``):
it plays the gateway (or mesh, or KServe) that would apply the route the operator wrote, and the
model servers behind it.

Every tick it reads the route object from the real API server — the HTTPRoute's ``split`` rule
and its ``RequestMirror`` filter, the VirtualService's ``split`` route and ``mirror``, or the
kserve InferenceService's predictor and canary ``trafficPercent`` — splits ``rate`` requests a
second between the versions by those weights, copies the mirrored share to the candidate, and
records in a ``localcluster.exporter.MetricsExporter`` (scraped by a real Prometheus) what each version answered
according to its ``Behaviour``: errors, latency, prediction scores, and A/B outcomes (for served
requests only: a mirrored response is dropped, so it converts nobody).

It never looks at the Rollout's status: what it measures is what the route really says, so a test
that checks the splits it saw checks the operator's writes, not the operator's claims. A version
gets traffic only once it has a ``Behaviour`` (given at the start, or ``add``-ed later, as
``serve`` does when a new ModelVersion of the model appears).

Counts are deterministic (fractional remainders carried from tick to tick), so the served split
matches the weights exactly and the sample-ratio check sees no mismatch that the route did not
cause; scores and conversions are random with a fixed seed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import dynamic

from localcluster.exporter import MetricsExporter

PREDICTOR_SUFFIX = "-predictor"
# The apiVersion of each kind a router writes (a Rollout's ``status.route`` names only the kind).
ROUTE_API_VERSIONS = {
    "HTTPRoute": "gateway.networking.k8s.io/v1",
    "VirtualService": "networking.istio.io/v1",
    "InferenceService": "serving.kserve.io/v1beta1",
}


@dataclass(frozen=True)
class Behaviour:
    error_rate: float = 0.0
    latency: float = 0.02
    score: float = 0.3  # centre of the prediction scores
    conversion: float = 0.1  # share of served requests that convert (the A/B metric)


@dataclass(frozen=True)
class Seen:
    """One split the route applied: served percent per version, and the mirrored percent."""

    weights: tuple[tuple[str, int], ...]
    mirror: tuple[str, int] | None

    def of(self, version: str) -> int:
        return dict(self.weights).get(version, 0)


def _version_of_service(service: str) -> str:
    return service[: -len(PREDICTOR_SUFFIX)] if service.endswith(PREDICTOR_SUFFIX) else service


def read_route(kind: str, obj: Mapping[str, Any] | None) -> Seen | None:
    """The split a route object applies, read the way its implementation would."""
    if obj is None:
        return None
    spec = obj.get("spec") or {}
    weights: dict[str, float] = {}
    mirror: tuple[str, int] | None = None
    if kind == "HTTPRoute":
        rules = [r for r in spec.get("rules") or [] if r.get("name") == "split"]
        if not rules:
            return None
        for ref in rules[0].get("backendRefs") or []:
            weights[_version_of_service(ref["name"])] = float(ref.get("weight", 1))
        for item in rules[0].get("filters") or []:
            if item.get("type") == "RequestMirror":
                target = item["requestMirror"]["backendRef"]["name"]
                mirror = (_version_of_service(target), int(item["requestMirror"].get("percent", 100)))
    elif kind == "VirtualService":
        routes = [r for r in spec.get("http") or [] if r.get("name") == "split"]
        if not routes:
            return None
        for destination in routes[0].get("route") or []:
            host = destination["destination"]["host"].split(".")[0]
            weights[_version_of_service(host)] = float(destination.get("weight", 100))
        if routes[0].get("mirror"):
            host = routes[0]["mirror"]["host"].split(".")[0]
            percentage = (routes[0].get("mirrorPercentage") or {}).get("value", 100)
            mirror = (_version_of_service(host), int(float(percentage)))
    elif kind == "InferenceService":
        canaries = spec.get("canary") or []
        taken = sum(int(c.get("trafficPercent", 0)) for c in canaries)
        weights[spec["predictor"]["name"]] = float(100 - taken)
        for canary in canaries:
            weights[canary["predictor"]["name"]] = float(canary.get("trafficPercent", 0))
    total = sum(weights.values())
    if total <= 0:
        return None
    percents = {version: round(100 * weight / total) for version, weight in weights.items() if weight > 0}
    return Seen(tuple(sorted(percents.items())), mirror)


class DataPlane:
    def __init__(
        self,
        dyn: dynamic.DynamicClient,
        exporter: MetricsExporter,
        namespace: str,
        model: str,
        route: tuple[str, str, str],
        behaviours: Mapping[str, Behaviour],
        *,
        rate: float = 400.0,
        tick: float = 0.25,
        seed: int = 7,
    ) -> None:
        api_version, self.kind, self.name = route
        self.resource = dyn.resources.get(api_version=api_version, kind=self.kind)
        self.exporter, self.namespace, self.model = exporter, namespace, model
        self.behaviours = dict(behaviours)
        self.rate, self.tick = rate, tick
        self.random = random.Random(seed)
        self.seen: list[Seen] = []
        self._carry: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dataplane-{self.name}", daemon=True)
        self.errors: list[str] = []

    def __enter__(self) -> DataPlane:
        # One health-check answer per version first, so every version's series exists before it
        # gets traffic (a rate over a window needs two samples of a series).
        for version in self.behaviours:
            self._health_check(version)
        first = self._read()  # the split before the test changes anything
        if first is not None:
            self.seen.append(first)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def behave(self, version: str, behaviour: Behaviour) -> None:
        self.behaviours[version] = behaviour

    def add(self, version: str, behaviour: Behaviour) -> bool:
        """Serve ``version`` from now on (after its health-check answer); False if it already is."""
        if version in self.behaviours:
            return False
        self.behaviours[version] = behaviour
        self._health_check(version)
        return True

    def _health_check(self, version: str) -> None:
        self.exporter.record(self.namespace, self.model, version, requests=1, scores=[self.behaviours[version].score])

    def splits(self) -> list[Seen]:
        return list(self.seen)

    def _read(self) -> Seen | None:
        try:
            items = self.resource.get(namespace=self.namespace,
                                      field_selector=f"metadata.name={self.name}").to_dict()["items"]
        except Exception as error:  # the API server restarting is not the test's failure
            self.errors.append(repr(error))
            return None
        return read_route(self.kind, items[0] if items else None)

    def _count(self, version: str, channel: str, wanted: float) -> int:
        key = (version, channel)
        total = self._carry.get(key, 0.0) + wanted
        whole = int(total)
        self._carry[key] = total - whole
        return whole

    def _answer(self, version: str, requests: int, *, served: bool) -> None:
        if requests <= 0 or version not in self.behaviours:
            return
        behaviour = self.behaviours[version]
        errors = min(requests, self._count(version, "errors" + str(served), requests * behaviour.error_rate))
        scores = [min(1.0, max(0.0, self.random.gauss(behaviour.score, 0.08))) for _ in range(requests)]
        outcomes = None
        if served:
            successes = sum(self.random.random() < behaviour.conversion for _ in range(requests))
            outcomes = {"conversion": (successes, requests - successes)}
        self.exporter.record(self.namespace, self.model, version, requests=requests, errors=errors,
                             latency=behaviour.latency, scores=scores, outcomes=outcomes)

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            seen = self._read()
            if seen is None:
                continue
            if not self.seen or self.seen[-1] != seen:
                self.seen.append(seen)
            per_tick = self.rate * self.tick
            for version, weight in seen.weights:
                self._answer(version, self._count(version, "served", per_tick * weight / 100), served=True)
            if seen.mirror is not None:
                version, percent = seen.mirror
                self._answer(version, self._count(version, "mirrored", per_tick * percent / 100), served=False)
