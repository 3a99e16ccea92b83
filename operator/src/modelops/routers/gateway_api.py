"""The Gateway API router: one ``gateway.networking.k8s.io/v1`` HTTPRoute per Rollout.

Owns the HTTPRoute named by ``spec.trafficRouting.gatewayAPI.httpRoute`` in the Rollout's
namespace, written against Gateway API v1.6.3 (standard channel). Fields, and why:

- ``spec.parentRefs``: the Rollout's parentRefs (name, namespace, sectionName). ``group`` and
  ``kind`` are left to the API's defaults (``gateway.networking.k8s.io``/``Gateway``), so a
  server-side apply never fights the defaulting over them.
- ``spec.rules``, each named (``rules[].name``, standard since v1.2), in this order:

  1. ``candidate-variant``: header ``x-modelops-variant: candidate`` → the candidate's Service.
     Only while the candidate has weight or mirror: it is Ready then, and only then.
  2. ``stable-variant``: header ``x-modelops-variant: stable`` → the stable's Service, while a
     candidate is in flight (testers compare the two).
  3. ``split``: no match (the API defaults it to ``PathPrefix /``), ``backendRefs`` with
     ``weight`` = the split's percentages. A backend at weight 0 is left out rather than listed
     with weight 0: a reference to a Service that does not exist yet (a candidate still
     deploying) makes some implementations mark the whole route ``ResolvedRefs=False``. Shadow
     traffic is a ``RequestMirror`` filter on this rule with ``percent`` (GEP-3171, standard
     since v1.3): the mirror is a filter, so it cannot change the served weights.

  Gateway API chooses the most specific match, not the first, so the order is for people.
  ``backendRefs`` are ``{name, port, weight}`` (``kind: Service`` is the default); the CRD
  requires a port for a Service reference.

``observed_split`` reads the ``split`` rule (or, for an object written by hand, the rule that
matches every request), sums weights per Service (a ``backendRef`` without ``weight`` weighs 1,
the API default), and normalises them to percentages: Gateway API weights are proportions, so
1/1 is 50/50. The mirror is the ``RequestMirror`` filter aimed at the candidate's Service:
``percent``, or ``fraction`` numerator/denominator, or 100 when it sets neither (the API's rule).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from modelops.api.routing import GatewayAPIRouting
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

API_VERSION = "gateway.networking.k8s.io/v1"
KIND = "HTTPRoute"
# The match the API server fills in for a rule or match that names no path.
DEFAULT_PATH = {"type": "PathPrefix", "value": "/"}


class GatewayAPIRouter:
    """Splits traffic with an HTTPRoute (see the module docstring)."""

    # The Protocol's read-only properties, as plain attributes: they never change for a router.
    capabilities: Capabilities = CAPABILITIES[Router.GATEWAY_API]
    api_version: str = API_VERSION
    kind: str = KIND
    deploys_backends: bool = False

    def __init__(self, routing: GatewayAPIRouting) -> None:
        self._routing = routing
        self.name: str = routing.http_route

    def desired(self, target: RouteTarget) -> dict[str, Any]:
        check_target(target)
        return self._http_route(target, owned=True)

    def released(self, target: RouteTarget) -> dict[str, Any]:
        return self._http_route(dataclasses.replace(target, candidate=None, split=ALL_STABLE), owned=False)

    def problems(self, target: RouteTarget) -> list[str]:
        return []

    def observed_split(self, obj: Mapping[str, Any] | None, target: RouteTarget) -> Split | None:
        if not isinstance(obj, Mapping):
            return None
        spec = as_mapping(obj.get("spec"))
        rule = _split_rule(as_list(spec.get("rules")))
        if rule is None:
            return None
        namespace = target.namespace
        candidate = target.candidate
        stable_weight = candidate_weight = other_weight = 0
        for ref in as_list(rule.get("backendRefs")):
            weight = positive_int(ref.get("weight", 1))
            if _is_service(ref, target.stable.service, namespace):
                stable_weight += weight
            elif candidate is not None and _is_service(ref, candidate.service, namespace):
                candidate_weight += weight
            else:
                other_weight += weight
        mirror = _mirror_percent(rule, candidate.service, namespace) if candidate is not None else 0
        return split_from_weights(stable_weight, candidate_weight, other_weight, mirror)

    # ------------------------------------------------------------------------------ building

    def _http_route(self, target: RouteTarget, *, owned: bool) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": target.namespace, "labels": labels(target)}
        if owned:
            metadata["ownerReferences"] = [owner_reference(target)]
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": metadata,
            "spec": {"parentRefs": self._parent_refs(), "rules": self._rules(target)},
        }

    def _parent_refs(self) -> list[dict[str, Any]]:
        refs = []
        for parent in self._routing.parent_refs:
            ref: dict[str, Any] = {"name": parent.name}
            if parent.namespace:
                ref["namespace"] = parent.namespace
            if parent.section_name:
                ref["sectionName"] = parent.section_name
            refs.append(ref)
        return refs

    def _rules(self, target: RouteTarget) -> list[dict[str, Any]]:
        rules = []
        if has_candidate_variant(target) and target.candidate is not None:
            rules.append(self._variant_rule(CANDIDATE_VARIANT, "candidate", target.candidate))
        if in_flight(target):
            rules.append(self._variant_rule(STABLE_VARIANT, "stable", target.stable))
        rules.append(self._split_rule(target))
        # The stage header on every rule, mirrored copies included (a rule filter, not a backend
        # one): the candidate's logged shadow traffic names its stage too.
        for rule in rules:
            stage = {"type": "RequestHeaderModifier",
                     "requestHeaderModifier": {"set": [{"name": STAGE_HEADER, "value": target.stage_value}]}}
            rule["filters"] = [stage, *rule.get("filters", [])]
        return rules

    def _variant_rule(self, name: str, variant: str, backend: Backend) -> dict[str, Any]:
        return {
            "name": name,
            "matches": [{"headers": [{"type": "Exact", "name": VARIANT_HEADER, "value": variant}]}],
            "backendRefs": [self._backend_ref(backend, 100)],
        }

    def _split_rule(self, target: RouteTarget) -> dict[str, Any]:
        split = target.split
        weighted = [(target.stable, split.stable)]
        if target.candidate is not None:
            weighted.append((target.candidate, split.candidate))
        rule: dict[str, Any] = {
            "name": SPLIT,
            "backendRefs": [self._backend_ref(backend, weight) for backend, weight in weighted if weight > 0],
        }
        if split.mirror > 0 and target.candidate is not None:
            rule["filters"] = [{
                "type": "RequestMirror",
                "requestMirror": {
                    "backendRef": {"name": target.candidate.service, "port": self._routing.port},
                    "percent": split.mirror,
                },
            }]
        return rule

    def _backend_ref(self, backend: Backend, weight: int) -> dict[str, Any]:
        return {"name": backend.service, "port": self._routing.port, "weight": weight}


# ------------------------------------------------------------------------------------ reading





def _matches_every_request(rule: Mapping[str, Any]) -> bool:
    """True for a rule with no condition beyond the defaulted ``PathPrefix /``."""
    matches = as_list(rule.get("matches"))
    return not matches or any(set(m) <= {"path"} and dict(as_mapping(m.get("path"))) in ({}, DEFAULT_PATH)
                              for m in matches)


def _split_rule(rules: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    named = [rule for rule in rules if rule.get("name") == SPLIT]
    if named:
        return named[0]
    # A route written by hand, or by a version that did not name its rules: the catch-all rule.
    catch_all = [rule for rule in rules if _matches_every_request(rule)]
    return catch_all[0] if catch_all else None


def _is_service(ref: Mapping[str, Any], service: str, namespace: str) -> bool:
    """Whether a backendRef is the Service ``service`` of ``namespace``: the same name in another
    namespace, or another kind of backend with that name, is a different backend."""
    return (
        ref.get("name") == service
        and ref.get("group", "") in ("", None)
        and ref.get("kind", "Service") in ("Service", None)
        and ref.get("namespace", namespace) in (namespace, None)
    )


def _mirror_percent(rule: Mapping[str, Any], service: str, namespace: str) -> int:
    for entry in as_list(rule.get("filters")):
        mirror = as_mapping(entry.get("requestMirror"))
        if entry.get("type") != "RequestMirror" or not _is_service(as_mapping(mirror.get("backendRef")), service,
                                                                    namespace):
            continue
        share = mirror.get("percent")
        if isinstance(share, int | float) and not isinstance(share, bool):
            return percent(share)
        fraction = as_mapping(mirror.get("fraction"))
        numerator, denominator = fraction.get("numerator"), fraction.get("denominator", 100)
        if isinstance(numerator, int) and isinstance(denominator, int) and denominator > 0:
            return percent(100 * numerator / denominator)
        # Neither percent nor fraction: the API mirrors every request.
        return 100
    return 0
