"""Reading a route object the way its implementation applies it, for the load driver (load.py): which
predictor Services get which share of the requests, which Service gets a mirrored copy of what
share, and which stage header the route sets on them.

- **HTTPRoute** (a Gateway API implementation): the rule named ``split``: its ``backendRefs`` (Service
  name, ``weight``, default 1), its ``RequestMirror`` filter (``backendRef.name``, ``percent``,
  default 100) and its ``RequestHeaderModifier`` ``set`` entries.
- **VirtualService** (Istio): the http route named ``split``: ``route[].destination.host`` (the
  Service's name is the host's first label), ``weight`` (default 100), ``mirror.host`` with
  ``mirrorPercentage.value`` (default 100), ``headers.request.set``.
- **InferenceService** (KServe's Standard-mode canary fields, the kserve router): the main predictor
  serves what the canaries' ``trafficPercent`` leave; each variant is behind the Service KServe names
  ``<isvc>-<name>-predictor``; no header is set (KServe's router has no header filter).

Only the ``split`` rule matters: the variant rules match a header the load driver never sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The apiVersion of each kind a router writes (a Rollout's ``status.route`` names only the kind).
ROUTE_API_VERSIONS = {
    "HTTPRoute": "gateway.networking.k8s.io/v1",
    "VirtualService": "networking.istio.io/v1",
    "InferenceService": "serving.kserve.io/v1beta1",
}
SPLIT = "split"


@dataclass(frozen=True)
class Split:
    """What a route applies: (Service, weight) pairs, the mirror (Service, percent), headers set."""

    backends: tuple[tuple[str, float], ...]
    mirror: tuple[str, int] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def percents(self) -> dict[str, float]:
        total = sum(weight for _, weight in self.backends)
        return {service: 100.0 * weight / total for service, weight in self.backends if weight > 0} if total else {}


def read_split(kind: str, obj: Mapping[str, Any] | None) -> Split | None:
    """The split ``obj`` (of ``kind``) applies, or None when it routes nothing."""
    if obj is None:
        return None
    spec = obj.get("spec") or {}
    if kind == "HTTPRoute":
        return _http_route(spec)
    if kind == "VirtualService":
        return _virtual_service(spec)
    if kind == "InferenceService":
        return _inference_service(obj["metadata"]["name"], spec)
    raise ValueError(f"no route reader for kind {kind}")


def _http_route(spec: Mapping[str, Any]) -> Split | None:
    rules = [r for r in spec.get("rules") or [] if r.get("name") == SPLIT]
    if not rules:
        return None
    backends = tuple((str(ref["name"]), float(ref.get("weight", 1))) for ref in rules[0].get("backendRefs") or [])
    mirror, headers = None, {}
    for item in rules[0].get("filters") or []:
        if item.get("type") == "RequestMirror":
            mirror_spec = item["requestMirror"]
            mirror = (str(mirror_spec["backendRef"]["name"]), int(mirror_spec.get("percent", 100)))
        elif item.get("type") == "RequestHeaderModifier":
            headers.update({h["name"]: h["value"] for h in item["requestHeaderModifier"].get("set") or []})
    return Split(backends, mirror, headers)


def _host_service(host: str) -> str:
    return host.split(".")[0]


def _virtual_service(spec: Mapping[str, Any]) -> Split | None:
    routes = [r for r in spec.get("http") or [] if r.get("name") == SPLIT]
    if not routes:
        return None
    route = routes[0]
    backends = tuple((_host_service(d["destination"]["host"]), float(d.get("weight", 100)))
                     for d in route.get("route") or [])
    mirror = None
    if route.get("mirror"):
        percent = (route.get("mirrorPercentage") or {}).get("value", 100)
        mirror = (_host_service(route["mirror"]["host"]), int(float(percent)))
    headers = {str(k): str(v) for k, v in (((route.get("headers") or {}).get("request") or {}).get("set")
                                             or {}).items()}
    return Split(backends, mirror, headers)


def _inference_service(name: str, spec: Mapping[str, Any]) -> Split | None:
    main = (spec.get("predictor") or {}).get("name")
    if not main:
        return Split(((f"{name}-predictor", 100.0),))
    canaries = spec.get("canary") or []
    taken = sum(int(c.get("trafficPercent") or 0) for c in canaries)
    backends = [(f"{name}-{main}-predictor", float(100 - taken))]
    backends += [(f"{name}-{c['predictor']['name']}-predictor", float(c.get("trafficPercent") or 0)) for c in canaries]
    return Split(tuple(backends))
