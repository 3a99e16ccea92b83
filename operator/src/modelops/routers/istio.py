"""The Istio router: one ``networking.istio.io/v1`` VirtualService per Rollout.

Owns the VirtualService named by ``spec.trafficRouting.istio.virtualService`` in the Rollout's
namespace, written against istio.io/api v1.32.0. Fields, and why:

- ``spec.hosts``: ``[istio.host]``, the host clients call; ``spec.gateways`` from the spec when
  given, omitted otherwise (Istio's default is then ``mesh``: sidecars only).
- ``spec.http``, each route named, in this order (Istio takes the *first* route that matches, so
  here the order matters: the header-forced variants must precede the catch-all):

  1. ``candidate-variant``: ``match`` header ``x-modelops-variant`` exact ``candidate`` → the
     candidate. Only while the candidate has weight or mirror: it is Ready then, and only then.
  2. ``stable-variant``: the same header, exact ``stable`` → the stable, while a candidate is in
     flight.
  3. ``split``: no match; ``route`` destinations with ``weight`` = the split's percentages. A
     destination at weight 0 is left out rather than listed with weight 0, as on the HTTPRoute:
     every destination listed receives requests, and a candidate still deploying is not named
     where a proxy would have to resolve it; a lone destination still says ``weight: 100`` so that
     the object reads as the split it carries. Shadow traffic
     is ``mirror`` + ``mirrorPercentage`` on this route: the mirror is part of the route, never a
     destination, so it cannot change the served weights.

Destinations are ``{host: <service>.<namespace>.svc.cluster.local, port: {number}}``: the fully
qualified name, because Istio resolves a short name relative to the *VirtualService's* namespace
and the Rollout must not depend on where a reader assumes that is.

``observed_split`` reads the ``split`` route (or, for an object written by hand, the first route
without a ``match``), sums weights per Service (any spelling of its host: short, namespaced or
fully qualified; a lone destination without ``weight`` gets everything, Istio's rule), normalises
them (Istio weights are relative proportions), and reads the mirror aimed at the candidate from
``mirror`` + ``mirrorPercentage`` (the legacy integer ``mirrorPercent`` too; absent: 100%, Istio's
default) or from the newer ``mirrors`` list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from modelops.api.routing import IstioRouting
from modelops.core.rollout.capabilities import CAPABILITIES, STAGE_HEADER, VARIANT_HEADER, Capabilities, Router
from modelops.core.rollout.traffic import ALL_STABLE, Split
from modelops.routers.interface import Backend, RouteTarget, labels, owner_reference
from modelops.routers.reading import as_list, as_mapping, percent, positive_int, split_from_weights
from modelops.routers.rules import (
    CANDIDATE_VARIANT,
    SPLIT,
    STABLE_VARIANT,
    check_target,
    has_candidate_variant,
    in_flight,
)

API_VERSION = "networking.istio.io/v1"
KIND = "VirtualService"
CLUSTER_DOMAIN = "svc.cluster.local"


def service_host(service: str, namespace: str) -> str:
    return f"{service}.{namespace}.{CLUSTER_DOMAIN}"


class IstioRouter:
    """Splits traffic with a VirtualService (see the module docstring)."""

    # The Protocol's read-only properties, as plain attributes: they never change for a router.
    capabilities: Capabilities = CAPABILITIES[Router.ISTIO]
    api_version: str = API_VERSION
    kind: str = KIND
    deploys_backends: bool = False

    def __init__(self, routing: IstioRouting) -> None:
        self._routing = routing
        self.name: str = routing.virtual_service

    def desired(self, target: RouteTarget) -> dict[str, Any]:
        check_target(target)
        return self._virtual_service(target, owned=True)

    def released(self, target: RouteTarget) -> dict[str, Any]:
        return self._virtual_service(dataclasses.replace(target, candidate=None, split=ALL_STABLE), owned=False)

    def problems(self, target: RouteTarget) -> list[str]:
        return []

    def observed_split(self, obj: Mapping[str, Any] | None, target: RouteTarget) -> Split | None:
        if not isinstance(obj, Mapping):
            return None
        route = _split_route(as_list(as_mapping(obj.get("spec")).get("http")))
        if route is None:
            return None
        namespace = target.namespace
        candidate = target.candidate
        destinations = as_list(route.get("route"))
        stable_weight = candidate_weight = other_weight = 0
        for destination in destinations:
            default = 100 if len(destinations) == 1 else 0
            weight = positive_int(destination.get("weight", default))
            host = as_mapping(destination.get("destination")).get("host")
            if _is_service(host, target.stable.service, namespace):
                stable_weight += weight
            elif candidate is not None and _is_service(host, candidate.service, namespace):
                candidate_weight += weight
            else:
                other_weight += weight
        mirror = _mirror_percent(route, candidate.service, namespace) if candidate is not None else 0
        return split_from_weights(stable_weight, candidate_weight, other_weight, mirror)

    # ------------------------------------------------------------------------------ building

    def _virtual_service(self, target: RouteTarget, *, owned: bool) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": target.namespace, "labels": labels(target)}
        if owned:
            metadata["ownerReferences"] = [owner_reference(target)]
        spec: dict[str, Any] = {"hosts": [self._routing.host]}
        if self._routing.gateways:
            spec["gateways"] = list(self._routing.gateways)
        spec["http"] = self._routes(target)
        return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}

    def _routes(self, target: RouteTarget) -> list[dict[str, Any]]:
        routes = []
        if has_candidate_variant(target) and target.candidate is not None:
            routes.append(self._variant_route(CANDIDATE_VARIANT, "candidate", target.candidate, target.namespace))
        if in_flight(target):
            routes.append(self._variant_route(STABLE_VARIANT, "stable", target.stable, target.namespace))
        routes.append(self._split_route(target))
        # The stage header on every route; Istio sends mirrored copies with the route's headers.
        for route in routes:
            route["headers"] = {"request": {"set": {STAGE_HEADER: target.stage_value}}}
        return routes

    def _variant_route(self, name: str, variant: str, backend: Backend, namespace: str) -> dict[str, Any]:
        return {
            "name": name,
            "match": [{"headers": {VARIANT_HEADER: {"exact": variant}}}],
            "route": [{"destination": self._destination(backend, namespace), "weight": 100}],
        }

    def _split_route(self, target: RouteTarget) -> dict[str, Any]:
        split = target.split
        weighted = [(target.stable, split.stable)]
        if target.candidate is not None:
            weighted.append((target.candidate, split.candidate))
        route: dict[str, Any] = {
            "name": SPLIT,
            "route": [
                {"destination": self._destination(backend, target.namespace), "weight": weight}
                for backend, weight in weighted
                if weight > 0
            ],
        }
        if split.mirror > 0 and target.candidate is not None:
            route["mirror"] = self._destination(target.candidate, target.namespace)
            route["mirrorPercentage"] = {"value": float(split.mirror)}
        return route

    def _destination(self, backend: Backend, namespace: str) -> dict[str, Any]:
        return {"host": service_host(backend.service, namespace), "port": {"number": self._routing.port}}


# ------------------------------------------------------------------------------------ reading





def _split_route(routes: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    named = [route for route in routes if route.get("name") == SPLIT]
    if named:
        return named[0]
    # A VirtualService written by hand: the first route without a match catches every request.
    catch_all = [route for route in routes if not route.get("match")]
    return catch_all[0] if catch_all else None


def _is_service(host: Any, service: str, namespace: str) -> bool:
    """Every spelling Istio resolves to the Service ``service`` of the VirtualService's namespace."""
    return host in (service, f"{service}.{namespace}", f"{service}.{namespace}.svc", service_host(service, namespace))


def _share(value: Any) -> int | None:
    number = as_mapping(value).get("value")
    if isinstance(number, int | float) and not isinstance(number, bool):
        return percent(number)
    return None


def _mirror_percent(route: Mapping[str, Any], service: str, namespace: str) -> int:
    if _is_service(as_mapping(route.get("mirror")).get("host"), service, namespace):
        share = _share(route.get("mirrorPercentage"))
        if share is not None:
            return share
        legacy = route.get("mirrorPercent")
        if isinstance(legacy, int) and not isinstance(legacy, bool):
            return percent(legacy)
        return 100
    for mirror in as_list(route.get("mirrors")):
        if _is_service(as_mapping(mirror.get("destination")).get("host"), service, namespace):
            share = _share(mirror.get("percentage"))
            return 100 if share is None else share
    return 0
