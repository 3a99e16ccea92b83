"""Traffic routers (gatewayAPI HTTPRoute, istio VirtualService, kserve InferenceService): golden
files for every step kind's split, the rules each object follows, reading a split back from
objects written by the API server or by hand, KServe readiness and problems, and properties that
hold for any split and any readiness: the object reads back as the split it was built from,
served weights sum to 100, no backend is listed at weight 0, a mirror never changes the served
weights, and released() is 100% stable with no candidate and no owner.

Golden files live in tests/unit/golden/route-*.yaml. ``UPDATE_GOLDEN=1`` rewrites them from the
code; review the diff by eye before committing it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from modelops.api.config import NodePool, ServingSettings
from modelops.api.modelversion import ModelVersionSpec
from modelops.api.rollout import RolloutSpec
from modelops.api.routing import GatewayAPIRouting, IstioRouting, KServeRouting, TrafficRouting
from modelops.core.rollout.capabilities import STAGE_HEADER, VARIANT_HEADER, Feature
from modelops.core.rollout.traffic import ALL_CANDIDATE, ALL_STABLE, Split, safe_split
from modelops.core.serving.inference import desired_predictor, predictor_service_name
from modelops.routers.choosing import router_for
from modelops.routers.gateway_api import GatewayAPIRouter
from modelops.routers.interface import Backend, RouteTarget, TrafficRouter, labels, owner_reference
from modelops.routers.istio import IstioRouter
from modelops.routers.kserve import KServeRouter, predictor_readiness
from tests.support.golden import GOLDEN, assert_golden

NAMESPACE = "ml"
UID = "5b0e4d9a-3c2f-4e8b-9a71-2d6c8f0e1a3b"
LOG_SINK = "http://modelops-logsink.modelops.svc.cluster.local:8080"
CPU = NodePool.model_validate({"nodeSelector": {"modelops.io/pool": "cpu"}})
SETTINGS = ServingSettings.model_validate({"logSinkUrl": LOG_SINK})

STAGE_FILTER = {
    "type": "RequestHeaderModifier",
    "requestHeaderModifier": {"set": [{"name": "x-modelops-stage", "value": "fraud-detector/stable"}]},
}


def backend(name: str, version: str, *, min_replicas: int = 1, max_replicas: int | None = 4,
            mode: str | None = "Standard") -> Backend:
    spec = ModelVersionSpec.model_validate({
        "model": "fraud-detector",
        "version": version,
        "artifact": {"storageUri": f"s3://models/fraud-detector/{version}/", "format": "sklearn"},
        "serving": {"resources": {"cpu": "500m", "memory": "1Gi"}, "minReplicas": min_replicas,
                    "maxReplicas": max_replicas, "deploymentMode": mode},
    })
    predictor = desired_predictor(spec=spec, storage_uri=spec.artifact.storage_uri, pool=CPU, settings=SETTINGS)
    return Backend(model_version=name, service=predictor_service_name(name), predictor_name=name,
                   predictor=predictor, deployment_mode=mode)


STABLE = backend("fraud-detector-v3", "3", min_replicas=2)
CANDIDATE = backend("fraud-detector-v4", "4")
WARM = (backend("fraud-detector-v1", "1"), backend("fraud-detector-v2", "2", min_replicas=3, max_replicas=6))

GATEWAY_ROUTING = GatewayAPIRouting.model_validate({
    "httpRoute": "fraud-detector",
    "parentRefs": [{"name": "inference-gateway", "namespace": "gateways", "sectionName": "https"},
                   {"name": "internal-gateway"}],
    "port": 80,
})
ISTIO_ROUTING = IstioRouting.model_validate({
    "virtualService": "fraud-detector", "host": "fraud-detector.ml.example.com",
    "gateways": ["istio-system/ingress", "mesh"], "port": 8080,
})
KSERVE_ROUTING = KServeRouting.model_validate({"inferenceService": "fraud-detector"})

# mypy checks these against the Protocol (the routers are also returned as TrafficRouter by
# router_for, which mypy checks inside the package).
GATEWAY: TrafficRouter = GatewayAPIRouter(GATEWAY_ROUTING)
ISTIO: TrafficRouter = IstioRouter(ISTIO_ROUTING)
KSERVE: TrafficRouter = KServeRouter(KSERVE_ROUTING)
ROUTERS: dict[str, TrafficRouter] = {"gateway-api": GATEWAY, "istio": ISTIO, "kserve": KSERVE}
MESH_ROUTERS = ("gateway-api", "istio")


def target(split: Split, *, candidate: Backend | None = CANDIDATE, warm: tuple[Backend, ...] = (),
           stable: Backend = STABLE) -> RouteTarget:
    return RouteTarget(namespace=NAMESPACE, rollout="fraud-detector", rollout_uid=UID, model="fraud-detector",
                       stable=stable, candidate=candidate, split=split, warm=warm)


# The split of every step kind, as the Rollout machine hands it to a router.
STEP_TARGETS: dict[str, RouteTarget] = {
    "stable": target(ALL_STABLE, candidate=None),
    "shadow-100": target(Split(100, 0, 100)),
    "shadow-20": target(Split(100, 0, 20)),
    "canary-5": target(Split(95, 5)),
    "canary-25": target(Split(75, 25)),
    "abtest-50": target(Split(50, 50)),
    "full": target(ALL_CANDIDATE),
}
KSERVE_STEPS = [name for name in STEP_TARGETS if not name.startswith("shadow")]


def _desired(router: TrafficRouter, t: RouteTarget) -> Callable[[], dict[str, Any]]:
    return lambda: router.desired(t)


def _released(router: TrafficRouter, warm: tuple[Backend, ...] = ()) -> Callable[[], dict[str, Any]]:
    return lambda: router.released(target(Split(75, 25), warm=warm))


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    **{f"route-gateway-api-{step}": _desired(GATEWAY, t) for step, t in STEP_TARGETS.items()},
    "route-gateway-api-released": _released(GATEWAY),
    **{f"route-istio-{step}": _desired(ISTIO, t) for step, t in STEP_TARGETS.items()},
    "route-istio-released": _released(ISTIO),
    **{f"route-kserve-{step}": _desired(KSERVE, STEP_TARGETS[step]) for step in KSERVE_STEPS},
    "route-kserve-warm": _desired(KSERVE, target(Split(75, 25), warm=WARM)),
    "route-kserve-released": _released(KSERVE, WARM),
}


def _split_rule(route: dict[str, Any]) -> dict[str, Any]:
    rules = route["spec"]["rules"] if route["kind"] == "HTTPRoute" else route["spec"]["http"]
    (rule,) = [r for r in rules if r["name"] == "split"]
    return dict(rule)


def _served(route: dict[str, Any]) -> list[tuple[str, int]]:
    """(backend, weight) of the split rule, whichever router built it."""
    if route["kind"] == "InferenceService":
        spec = route["spec"]
        canaries = [(c["predictor"]["name"], c["trafficPercent"]) for c in spec.get("canary", [])]
        return [(spec["predictor"]["name"], 100 - sum(share for _, share in canaries)), *canaries]
    rule = _split_rule(route)
    if route["kind"] == "HTTPRoute":
        return [(ref["name"], ref["weight"]) for ref in rule["backendRefs"]]
    return [(dest["destination"]["host"], dest["weight"]) for dest in rule["route"]]


def _rule_names(route: dict[str, Any]) -> list[str]:
    rules = route["spec"]["rules"] if route["kind"] == "HTTPRoute" else route["spec"]["http"]
    return [r["name"] for r in rules]


# -- golden files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_route_matches_golden(case: str) -> None:
    route = CASES[case]()
    assert_golden(case, route)


@pytest.mark.parametrize("case", sorted(CASES))
def test_route_is_plain_json_without_yaml_aliases(case: str) -> None:
    route = CASES[case]()
    assert json.loads(json.dumps(route, allow_nan=False)) == route
    assert "&id" not in yaml.safe_dump(route) and "*id" not in yaml.safe_dump(route)


def test_every_golden_file_has_a_case() -> None:
    """A golden file left behind by a renamed case would never be checked again."""
    assert {p.stem for p in GOLDEN.glob("route-*.yaml")} == set(CASES)


# -- the interface ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("router", "api_version", "kind", "deploys"),
    [
        (GATEWAY, "gateway.networking.k8s.io/v1", "HTTPRoute", False),
        (ISTIO, "networking.istio.io/v1", "VirtualService", False),
        (KSERVE, "serving.kserve.io/v1beta1", "InferenceService", True),
    ],
)
def test_router_identity(router: TrafficRouter, api_version: str, kind: str, deploys: bool) -> None:
    assert (router.api_version, router.kind, router.name, router.deploys_backends) == (
        api_version, kind, "fraud-detector", deploys)
    route = router.desired(STEP_TARGETS["canary-5"])
    assert (route["apiVersion"], route["kind"], route["metadata"]["name"]) == (api_version, kind, "fraud-detector")
    assert route["metadata"]["namespace"] == NAMESPACE


@pytest.mark.parametrize("name", sorted(ROUTERS))
def test_desired_is_owned_and_labelled_released_has_no_owner_key(name: str) -> None:
    router = ROUTERS[name]
    t = STEP_TARGETS["canary-25"]
    desired, released = router.desired(t), router.released(t)
    assert desired["metadata"]["ownerReferences"] == [owner_reference(t)]
    assert desired["metadata"]["ownerReferences"][0]["uid"] == UID
    # No key at all, not an empty list: server-side apply then drops the field this manager owned.
    assert "ownerReferences" not in released["metadata"]
    assert desired["metadata"]["labels"] == released["metadata"]["labels"] == labels(t)


@pytest.mark.parametrize(
    ("spec", "router_type"),
    [
        ({"gatewayAPI": {"httpRoute": "r", "parentRefs": [{"name": "gw"}]}}, GatewayAPIRouter),
        ({"istio": {"virtualService": "r", "host": "r.example.com"}}, IstioRouter),
        ({"kserve": {"inferenceService": "r"}}, KServeRouter),
    ],
)
def test_router_for_picks_the_section_that_is_set(spec: dict[str, Any], router_type: type) -> None:
    rollout = RolloutSpec.model_validate(
        {"model": "m", "target": "m-v1", "trafficRouting": spec, "steps": [{"full": {}}]})
    router = router_for(rollout)
    assert isinstance(router, router_type)
    assert router.name == "r"
    assert router.capabilities.router.value == next(iter(spec))


def test_router_for_refuses_a_spec_without_a_router() -> None:
    routing = TrafficRouting.model_construct(gateway_api=None, istio=None, kserve=None)
    broken = RolloutSpec.model_construct(model="m", target="m-v1", traffic_routing=routing, steps=[])
    with pytest.raises(ValueError, match="exactly one of gatewayAPI, istio, kserve"):
        router_for(broken)


@pytest.mark.parametrize("name", sorted(ROUTERS))
def test_traffic_for_a_missing_candidate_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="no candidate backend"):
        ROUTERS[name].desired(target(Split(75, 25), candidate=None))


def test_kserve_refuses_a_mirror() -> None:
    assert not KSERVE.capabilities.can(Feature.MIRROR)
    with pytest.raises(ValueError, match="kserve#2978"):
        KSERVE.desired(target(Split(100, 0, 20)))


# -- Gateway API -----------------------------------------------------------------------------------


def test_gateway_parent_refs_leave_group_and_kind_to_the_api() -> None:
    route = GATEWAY.desired(STEP_TARGETS["stable"])
    assert route["spec"]["parentRefs"] == [
        {"name": "inference-gateway", "namespace": "gateways", "sectionName": "https"},
        {"name": "internal-gateway"},
    ]


@pytest.mark.parametrize(
    ("step", "names"),
    [
        ("stable", ["split"]),
        ("shadow-100", ["candidate-variant", "stable-variant", "split"]),
        ("canary-5", ["candidate-variant", "stable-variant", "split"]),
        ("full", ["candidate-variant", "split"]),  # 0% stable: no forced route onto it
    ],
)
@pytest.mark.parametrize("name", MESH_ROUTERS)
def test_variant_rules_exist_only_while_they_are_safe(name: str, step: str, names: list[str]) -> None:
    assert _rule_names(ROUTERS[name].desired(STEP_TARGETS[step])) == names


@pytest.mark.parametrize("name", MESH_ROUTERS)
def test_in_flight_candidate_without_traffic_gets_only_the_stable_variant(name: str) -> None:
    """A candidate at 0% and no mirror may not be Ready: forcing requests onto it would fail them."""
    route = ROUTERS[name].desired(target(ALL_STABLE))
    assert _rule_names(route) == ["stable-variant", "split"]
    assert CANDIDATE.service not in json.dumps(route)


def test_gateway_variant_rules_match_the_header_exactly() -> None:
    rules = GATEWAY.desired(STEP_TARGETS["canary-5"])["spec"]["rules"]
    assert rules[0] == {
        "name": "candidate-variant",
        "matches": [{"headers": [{"type": "Exact", "name": VARIANT_HEADER, "value": "candidate"}]}],
        "backendRefs": [{"name": CANDIDATE.service, "port": 80, "weight": 100}],
        "filters": [STAGE_FILTER],
    }
    assert rules[1]["matches"][0]["headers"][0]["value"] == "stable"
    assert rules[1]["backendRefs"] == [{"name": STABLE.service, "port": 80, "weight": 100}]
    assert "matches" not in rules[2]


@pytest.mark.parametrize(
    ("step", "refs"),
    [
        ("stable", [("fraud-detector-v3-predictor", 100)]),
        ("shadow-20", [("fraud-detector-v3-predictor", 100)]),
        ("canary-5", [("fraud-detector-v3-predictor", 95), ("fraud-detector-v4-predictor", 5)]),
        ("full", [("fraud-detector-v4-predictor", 100)]),
    ],
)
def test_gateway_split_rule_omits_weight_zero_backends(step: str, refs: list[tuple[str, int]]) -> None:
    assert _served(GATEWAY.desired(STEP_TARGETS[step])) == refs


def test_gateway_mirror_is_a_request_mirror_filter_with_percent() -> None:
    rule = _split_rule(GATEWAY.desired(STEP_TARGETS["shadow-20"]))
    assert rule["filters"] == [STAGE_FILTER, {
        "type": "RequestMirror",
        "requestMirror": {"backendRef": {"name": CANDIDATE.service, "port": 80}, "percent": 20},
    }]
    assert _split_rule(GATEWAY.desired(STEP_TARGETS["canary-5"]))["filters"] == [STAGE_FILTER]


def test_every_rule_and_route_names_the_rollout_stage_in_a_header() -> None:
    """KServe's logger forwards the header (metadataHeaders) into each logged prediction."""
    staged = dataclasses.replace(STEP_TARGETS["canary-5"], stage="canary-5")
    value = f"{staged.rollout}/canary-5"
    for rule in GATEWAY.desired(staged)["spec"]["rules"]:
        assert rule["filters"][0]["requestHeaderModifier"]["set"] == [{"name": STAGE_HEADER, "value": value}]
    for route in ISTIO.desired(staged)["spec"]["http"]:
        assert route["headers"] == {"request": {"set": {STAGE_HEADER: value}}}


def _http_route(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "spec": {"rules": list(rules)}}


def _ref(name: str, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "port": 80, **extra}
    if weight is not None:
        ref["weight"] = weight
    return ref


S, C = STABLE.service, CANDIDATE.service
DEFAULTED_MATCH = [{"path": {"type": "PathPrefix", "value": "/"}}]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # Weights are proportions: 1/1 is 50/50, 1/2 rounds to 33/67, absent weight is 1.
        ({"name": "split", "backendRefs": [_ref(S, 1), _ref(C, 1)]}, Split(50, 50)),
        ({"name": "split", "backendRefs": [_ref(S, 1), _ref(C, 2)]}, Split(33, 67)),
        ({"name": "split", "backendRefs": [_ref(S), _ref(C)]}, Split(50, 50)),
        ({"name": "split", "backendRefs": [_ref(S, 3)]}, ALL_STABLE),
        ({"name": "split", "backendRefs": [_ref(S, 990), _ref(C, 10)]}, Split(99, 1)),
        # Several refs to one Service add up; a weight-0 foreign backend is harmless.
        ({"name": "split", "backendRefs": [_ref(S, 40), _ref(S, 40), _ref(C, 20), _ref("other", 0)]}, Split(80, 20)),
        # The API server's defaults (group, kind, a PathPrefix / match) change nothing.
        ({"name": "split", "matches": DEFAULTED_MATCH,
          "backendRefs": [_ref(S, 9, group="", kind="Service"), _ref(C, 1, group="", kind="Service")]}, Split(90, 10)),
        # A hand-written route without rule names: the catch-all rule.
        ({"matches": DEFAULTED_MATCH, "backendRefs": [_ref(S, 75), _ref(C, 25)]}, Split(75, 25)),
        ({"backendRefs": [_ref(S, 75), _ref(C, 25)]}, Split(75, 25)),
        # Mirror: percent, fraction, or neither (the API mirrors everything then).
        ({"name": "split", "backendRefs": [_ref(S, 100)], "filters": [
            {"type": "RequestMirror", "requestMirror": {"backendRef": _ref(C), "percent": 30}}]}, Split(100, 0, 30)),
        ({"name": "split", "backendRefs": [_ref(S, 100)], "filters": [
            {"type": "RequestMirror", "requestMirror": {"backendRef": _ref(C), "fraction": {"numerator": 1,
                                                                                              "denominator": 8}}}]},
         Split(100, 0, 13)),
        ({"name": "split", "backendRefs": [_ref(S, 100)], "filters": [
            {"type": "RequestMirror", "requestMirror": {"backendRef": _ref(C), "fraction": {"numerator": 5}}}]},
         Split(100, 0, 5)),
        ({"name": "split", "backendRefs": [_ref(S, 100)], "filters": [
            {"type": "RequestMirror", "requestMirror": {"backendRef": _ref(C)}}]}, Split(100, 0, 100)),
        # A mirror aimed elsewhere is not the candidate's shadow.
        ({"name": "split", "backendRefs": [_ref(S, 100)], "filters": [
            {"type": "RequestMirror", "requestMirror": {"backendRef": _ref("other"), "percent": 30}}]}, ALL_STABLE),
    ],
)
def test_gateway_observed_split(rule: dict[str, Any], expected: Split) -> None:
    variant = {"name": "candidate-variant", "matches": [{"headers": [{"name": VARIANT_HEADER, "value": "candidate"}]}],
               "backendRefs": [_ref(C, 1)]}
    assert GATEWAY.observed_split(_http_route(variant, rule), STEP_TARGETS["canary-5"]) == expected


@pytest.mark.parametrize(
    "obj",
    [
        None,
        {},
        _http_route(),
        # Only header rules: no rule carries the split.
        _http_route({"matches": [{"headers": [{"name": VARIANT_HEADER, "value": "stable"}]}],
                     "backendRefs": [_ref(S, 1)]}),
        # A backend this Rollout does not know carries weight.
        _http_route({"name": "split", "backendRefs": [_ref(S, 50), _ref("someone-else", 50)]}),
        # The same Service name in another namespace is another backend.
        _http_route({"name": "split", "backendRefs": [_ref(S, 50), _ref(C, 50, namespace="elsewhere")]}),
        _http_route({"name": "split", "backendRefs": [_ref(S, 50), _ref(C, 50, kind="ServiceImport",
                                                                         group="multicluster.x-k8s.io")]}),
        # Nothing served at all.
        _http_route({"name": "split", "backendRefs": [_ref(S, 0)]}),
        _http_route({"name": "split", "backendRefs": []}),
    ],
)
def test_gateway_observed_split_is_none_when_it_cannot_say(obj: dict[str, Any] | None) -> None:
    assert GATEWAY.observed_split(obj, STEP_TARGETS["canary-5"]) is None


def test_gateway_without_candidate_counts_candidate_weight_as_foreign() -> None:
    route = GATEWAY.desired(STEP_TARGETS["canary-25"])
    assert GATEWAY.observed_split(route, STEP_TARGETS["stable"]) is None
    assert GATEWAY.observed_split(GATEWAY.desired(STEP_TARGETS["shadow-20"]), STEP_TARGETS["stable"]) == ALL_STABLE


# -- Istio -----------------------------------------------------------------------------------------


def test_istio_hosts_gateways_and_fully_qualified_destinations() -> None:
    route = ISTIO.desired(STEP_TARGETS["canary-5"])
    assert route["spec"]["hosts"] == ["fraud-detector.ml.example.com"]
    assert route["spec"]["gateways"] == ["istio-system/ingress", "mesh"]
    http = route["spec"]["http"]
    assert http[0] == {
        "name": "candidate-variant",
        "match": [{"headers": {VARIANT_HEADER: {"exact": "candidate"}}}],
        "route": [{"destination": {"host": "fraud-detector-v4-predictor.ml.svc.cluster.local",
                                   "port": {"number": 8080}}, "weight": 100}],
        "headers": {"request": {"set": {STAGE_HEADER: "fraud-detector/stable"}}},
    }
    assert http[1]["match"] == [{"headers": {VARIANT_HEADER: {"exact": "stable"}}}]
    assert "match" not in http[2]


def test_istio_gateways_are_omitted_when_the_spec_has_none() -> None:
    router = IstioRouter(IstioRouting.model_validate({"virtualService": "v", "host": "h.example.com"}))
    spec = router.desired(STEP_TARGETS["stable"])["spec"]
    assert "gateways" not in spec
    assert spec["http"][0]["route"] == [
        {"destination": {"host": "fraud-detector-v3-predictor.ml.svc.cluster.local", "port": {"number": 80}},
         "weight": 100}]


def test_istio_mirror_and_percentage() -> None:
    rule = _split_rule(ISTIO.desired(STEP_TARGETS["shadow-20"]))
    assert rule["mirror"] == {"host": "fraud-detector-v4-predictor.ml.svc.cluster.local", "port": {"number": 8080}}
    assert rule["mirrorPercentage"] == {"value": 20.0}
    assert "mirror" not in _split_rule(ISTIO.desired(STEP_TARGETS["abtest-50"]))


def _vs(*routes: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "spec": {"http": list(routes)}}


def _dest(host: str, weight: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"destination": {"host": host}}
    if weight is not None:
        entry["weight"] = weight
    return entry


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"name": "split", "route": [_dest(S, 1), _dest(f"{C}.ml", 3)]}, Split(25, 75)),
        ({"name": "split", "route": [_dest(f"{S}.ml.svc", 60), _dest(f"{C}.ml.svc.cluster.local", 40)]},
         Split(60, 40)),
        # A lone destination without weight gets everything (Istio's rule).
        ({"name": "split", "route": [_dest(S)]}, ALL_STABLE),
        ({"route": [_dest(C)]}, ALL_CANDIDATE),
        ({"name": "split", "route": [_dest(S, 100)], "mirror": {"host": C}, "mirrorPercentage": {"value": 12.5}},
         Split(100, 0, 13)),
        ({"name": "split", "route": [_dest(S, 100)], "mirror": {"host": C}, "mirrorPercent": 7}, Split(100, 0, 7)),
        ({"name": "split", "route": [_dest(S, 100)], "mirror": {"host": C}}, Split(100, 0, 100)),
        ({"name": "split", "route": [_dest(S, 100)],
          "mirrors": [{"destination": {"host": "other"}, "percentage": {"value": 50}},
                      {"destination": {"host": C}, "percentage": {"value": 40}}]}, Split(100, 0, 40)),
        ({"name": "split", "route": [_dest(S, 100)], "mirrors": [{"destination": {"host": C}}]}, Split(100, 0, 100)),
        ({"name": "split", "route": [_dest(S, 100)], "mirror": {"host": "other"}}, ALL_STABLE),
    ],
)
def test_istio_observed_split(route: dict[str, Any], expected: Split) -> None:
    variant = {"name": "candidate-variant", "match": [{"headers": {VARIANT_HEADER: {"exact": "candidate"}}}],
               "route": [_dest(C)]}
    assert ISTIO.observed_split(_vs(variant, route), STEP_TARGETS["canary-5"]) == expected


@pytest.mark.parametrize(
    "obj",
    [
        None,
        _vs(),
        _vs({"match": [{"uri": {"prefix": "/v2"}}], "route": [_dest(S)]}),
        _vs({"name": "split", "route": [_dest(S, 50), _dest("someone-else", 50)]}),
        _vs({"name": "split", "route": [_dest(S, 50), _dest(f"{C}.other-namespace.svc.cluster.local", 50)]}),
        _vs({"name": "split", "route": [_dest(S), _dest(C)]}),
    ],
)
def test_istio_observed_split_is_none_when_it_cannot_say(obj: dict[str, Any] | None) -> None:
    assert ISTIO.observed_split(obj, STEP_TARGETS["canary-5"]) is None


# -- KServe ----------------------------------------------------------------------------------------


def test_kserve_metadata_is_minimal() -> None:
    meta = KSERVE.desired(STEP_TARGETS["canary-5"])["metadata"]
    assert meta["annotations"] == {
        "serving.kserve.io/deploymentMode": "Standard", "modelops.io/model": "fraud-detector"}


def test_kserve_stable_is_the_named_main_predictor() -> None:
    spec = KSERVE.desired(STEP_TARGETS["stable"])["spec"]
    assert list(spec) == ["predictor"]
    assert spec["predictor"] == {"name": "fraud-detector-v3", **STABLE.predictor}
    assert spec["predictor"]["maxReplicas"] == 4


def test_kserve_canaries_have_fixed_replicas_within_the_stables() -> None:
    spec = KSERVE.desired(target(Split(75, 25), warm=WARM))["spec"]
    assert [(c["predictor"]["name"], c["trafficPercent"]) for c in spec["canary"]] == [
        ("fraud-detector-v4", 25), ("fraud-detector-v1", 0), ("fraud-detector-v2", 0)]
    for canary in spec["canary"]:
        predictor = canary["predictor"]
        assert not {"maxReplicas", "scaleTarget", "scaleMetric", "autoScaling"} & set(predictor)
        assert 1 <= predictor["minReplicas"] <= spec["predictor"]["minReplicas"]
        assert predictor["model"]["storageUri"].startswith("s3://models/fraud-detector/")
    # v2 asks for 3 replicas; KServe refuses more than the stable's 2 on a canary.
    assert spec["canary"][2]["predictor"]["minReplicas"] == 2


def test_kserve_canary_model_names_the_container_kserve_runs_it_in() -> None:
    """KServe v0.20.0's CRD requires spec.canary[].predictor.model.name (and only there); any name
    but KServe's own would rename the container its injectors look for."""
    spec = KSERVE.desired(target(Split(75, 25), warm=WARM))["spec"]
    assert {c["predictor"]["model"]["name"] for c in spec["canary"]} == {"kserve-container"}
    assert "name" not in spec["predictor"]["model"]
    assert "name" not in CANDIDATE.predictor["model"]


def test_kserve_canary_gets_a_replica_even_when_its_version_asks_for_none() -> None:
    idle = dataclasses.replace(CANDIDATE, predictor={**CANDIDATE.predictor, "minReplicas": 0})
    spec = KSERVE.desired(target(Split(95, 5), candidate=idle))["spec"]
    assert spec["canary"][0]["predictor"]["minReplicas"] == 1


def test_kserve_warm_versions_that_serve_again_are_not_duplicated() -> None:
    warm = (CANDIDATE, STABLE, WARM[0], WARM[0])
    names = [c["predictor"]["name"] for c in KSERVE.desired(target(Split(75, 25), warm=warm))["spec"]["canary"]]
    assert names == ["fraud-detector-v4", "fraud-detector-v1"]


def test_kserve_released_keeps_warm_versions_and_drops_the_candidate() -> None:
    spec = KSERVE.released(target(Split(0, 100), warm=WARM))["spec"]
    assert spec["predictor"]["name"] == "fraud-detector-v3"
    assert [(c["predictor"]["name"], c["trafficPercent"]) for c in spec["canary"]] == [
        ("fraud-detector-v1", 0), ("fraud-detector-v2", 0)]
    assert "canary" not in KSERVE.released(STEP_TARGETS["full"])["spec"]


def _isvc(predictor: str, canaries: list[tuple[str, int]], reported: list[tuple[str, int]] | None = None,
          ) -> dict[str, Any]:
    obj: dict[str, Any] = {"spec": {"predictor": {"name": predictor},
                                    "canary": [{"predictor": {"name": n}, "trafficPercent": p} for n, p in canaries]}}
    if reported is not None:
        obj["status"] = {"canaryStatuses": [{"name": n, "ready": True, "trafficPercent": p} for n, p in reported]}
    return obj


V1, V3, V4 = "fraud-detector-v1", "fraud-detector-v3", "fraud-detector-v4"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_isvc(V3, []), ALL_STABLE),
        (_isvc(V3, [(V4, 30), (V1, 0)]), Split(70, 30)),
        # KServe's status is what it applies: it wins for a canary the spec still lists.
        (_isvc(V3, [(V4, 30)], reported=[(V4, 10)]), Split(90, 10)),
        (_isvc(V3, [(V4, 30)], reported=[(V1, 50)]), Split(70, 30)),
        (_isvc(V3, [(V4, 100)]), ALL_CANDIDATE),
        # Just promoted by a rename: the candidate is the main predictor.
        (_isvc(V4, [(V3, 0)]), ALL_CANDIDATE),
        (None, None),
        ({}, None),
        # Another version serves: this Rollout's split is not what the object applies.
        (_isvc("someone-else", [(V4, 30)]), None),
        (_isvc(V3, [(V4, 30), (V1, 10)]), None),
        (_isvc(V3, [(V4, 80), (V1, 30)]), None),
    ],
)
def test_kserve_observed_split(obj: dict[str, Any] | None, expected: Split | None) -> None:
    assert KSERVE.observed_split(obj, STEP_TARGETS["canary-5"]) == expected


def _ready_isvc(*, condition: str | None = "True", active: str | None = None,
                canary: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if condition is not None:
        status["conditions"] = [{"type": "PredictorReady", "status": condition, "reason": "MinimumReplicasAvailable"}]
    if active is not None:
        status["modelStatus"] = {"transitionStatus": "UpToDate", "states": {"activeModelState": active},
                                 "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "no such file"}}
    if canary is not None:
        status["canaryStatuses"] = [canary]
    return {"metadata": {"name": "fraud-detector"},
            "spec": {"predictor": {"name": V3}, "canary": [{"predictor": {"name": V4}, "trafficPercent": 5}]},
            "status": status}


@pytest.mark.parametrize(
    ("isvc", "predictor", "ready", "reason"),
    [
        (None, V3, False, "NotDeployed"),
        (_ready_isvc(), V3, True, "Ready"),
        (_ready_isvc(active="Loaded"), V3, True, "Ready"),
        (_ready_isvc(active="Loading"), V3, False, "ModelNotLoaded"),
        (_ready_isvc(active="FailedToLoad"), V3, False, "ModelNotLoaded"),
        (_ready_isvc(condition="False"), V3, False, "NotReady"),
        (_ready_isvc(condition=None), V3, False, "Pending"),
        (_ready_isvc(), V1, False, "NotDeployed"),
        (_ready_isvc(), V4, False, "Pending"),
        (_ready_isvc(canary={"name": V4, "ready": False, "trafficPercent": 5}), V4, False, "NotReady"),
        (_ready_isvc(canary={"name": V4, "ready": True, "trafficPercent": 5}), V4, True, "Ready"),
        (_ready_isvc(canary={"name": V4, "ready": True, "trafficPercent": 5,
                             "modelStatus": {"transitionStatus": "InProgress",
                                             "states": {"activeModelState": "Loading"}}}), V4, False, "ModelNotLoaded"),
        # A status entry for a canary the spec no longer lists is a leftover, not a deployment.
        (_ready_isvc(canary={"name": V1, "ready": True, "trafficPercent": 0}), V1, False, "NotDeployed"),
        ({"spec": "garbage", "status": ["garbage"]}, V3, False, "NotDeployed"),
        ({"spec": {"predictor": {"name": V3}}, "status": {"conditions": "garbage"}}, V3, False, "Pending"),
    ],
)
def test_predictor_readiness(isvc: dict[str, Any] | None, predictor: str, ready: bool, reason: str) -> None:
    got_ready, got_reason, message = predictor_readiness(isvc, predictor)
    assert (got_ready, got_reason) == (ready, reason), message
    assert message
    if reason == "ModelNotLoaded" and "FailedToLoad" in message:
        assert "no such file" in message


@pytest.mark.parametrize(
    ("mode", "refused"),
    [("Serverless", True), ("Knative", True), ("ModelMesh", True), ("Standard", False), ("RawDeployment", False),
     (None, False)],
)
def test_kserve_problems_for_deployment_modes(mode: str | None, refused: bool) -> None:
    candidate = dataclasses.replace(CANDIDATE, deployment_mode=mode)
    problems = KSERVE.problems(target(Split(95, 5), candidate=candidate))
    if not refused:
        assert problems == []
        return
    (problem,) = problems
    assert problem.startswith(f"spec.trafficRouting.kserve: ModelVersion fraud-detector-v4 is {mode}; ")
    assert "spec.serving.deploymentMode: Standard" in problem and "gatewayAPI/istio" in problem


def test_kserve_problem_message_for_serverless_is_the_documented_one() -> None:
    stable = dataclasses.replace(STABLE, deployment_mode="Serverless")
    assert KSERVE.problems(target(ALL_STABLE, candidate=None, stable=stable)) == [
        "spec.trafficRouting.kserve: ModelVersion fraud-detector-v3 is Serverless; the kserve router drives "
        "KServe's Standard-mode canary fields (spec.canary[]), whose named predictors allow an instant rollback "
        "to a warm version; set spec.serving.deploymentMode: Standard or use gatewayAPI/istio"]


def test_kserve_problems_name_each_version_once_and_cover_warm_ones() -> None:
    serverless = dataclasses.replace(WARM[0], deployment_mode="Serverless")
    problems = KSERVE.problems(target(Split(95, 5), warm=(serverless, serverless)))
    assert len(problems) == 1 and "ModelVersion fraud-detector-v1 is Serverless" in problems[0]


def test_kserve_problem_for_a_stable_without_replicas_only_when_canaries_are_needed() -> None:
    idle = dataclasses.replace(STABLE, predictor={**STABLE.predictor, "minReplicas": 0})
    assert KSERVE.problems(target(ALL_STABLE, candidate=None, stable=idle)) == []
    (problem,) = KSERVE.problems(target(Split(95, 5), stable=idle))
    assert "fraud-detector-v3 has minReplicas 0" in problem


@pytest.mark.parametrize("name", MESH_ROUTERS)
def test_mesh_routers_have_no_problems(name: str) -> None:
    serverless = dataclasses.replace(CANDIDATE, deployment_mode="Serverless")
    assert ROUTERS[name].problems(target(Split(95, 5), candidate=serverless)) == []


# -- properties ------------------------------------------------------------------------------------


@st.composite
def safe_targets(draw: st.DrawFn, *, mirror: bool = True) -> RouteTarget:
    """What the Rollout machine hands a router: a wanted split made safe for a readiness."""
    candidate_weight = draw(st.integers(0, 100))
    wanted = Split(100 - candidate_weight, candidate_weight, draw(st.integers(0, 100)) if mirror else 0)
    has_candidate = draw(st.booleans())
    choice = safe_split(wanted if has_candidate else ALL_STABLE, stable_ready=draw(st.booleans()),
                        candidate_ready=has_candidate and draw(st.booleans()))
    assume(choice.split is not None)
    assert choice.split is not None
    warm = WARM[: draw(st.integers(0, len(WARM)))]
    return target(choice.split, candidate=CANDIDATE if has_candidate else None, warm=warm)


def _routers_for(t: RouteTarget) -> list[TrafficRouter]:
    return [GATEWAY, ISTIO] if t.split.mirror else [GATEWAY, ISTIO, KSERVE]


@given(safe_targets())
def test_property_round_trip(t: RouteTarget) -> None:
    for router in _routers_for(t):
        assert router.observed_split(router.desired(t), t) == t.split


@given(safe_targets())
def test_property_served_weights_sum_to_100_and_none_is_zero(t: RouteTarget) -> None:
    for router in _routers_for(t):
        served = _served(router.desired(t))
        assert sum(weight for _, weight in served) == 100
        if router is KSERVE:
            # Warm versions are deployed at 0% on purpose; only the candidate's canary serves.
            assert all(weight == 0 for _, weight in served[2 if t.candidate else 1:])
        else:
            assert all(weight > 0 for _, weight in served)


@given(safe_targets())
def test_property_only_backends_with_traffic_are_routed_to(t: RouteTarget) -> None:
    """A candidate with no weight and no mirror may be not Ready: nothing in a mesh route sends it
    a request (not the split, not the mirror, not the header-forced variant)."""
    for router in (GATEWAY, ISTIO):
        route = router.desired(t)
        if t.split.candidate == 0 and t.split.mirror == 0:
            assert CANDIDATE.service not in json.dumps(route)
        if t.split.stable == 0:
            assert [name for name, _ in _served(route)] == [
                CANDIDATE.service if router is GATEWAY else f"{CANDIDATE.service}.ml.svc.cluster.local"]


@given(safe_targets(), st.integers(0, 100))
def test_property_mirror_never_changes_the_served_weights(t: RouteTarget, mirror: int) -> None:
    assume(t.candidate is not None)
    mirrored = dataclasses.replace(t, split=Split(t.split.stable, t.split.candidate, mirror))
    for router in (GATEWAY, ISTIO):
        assert _served(router.desired(mirrored)) == _served(router.desired(t))
        assert router.observed_split(router.desired(mirrored), t) == mirrored.split
    if mirror:
        with pytest.raises(ValueError, match="kserve#2978"):
            KSERVE.desired(mirrored)


@given(safe_targets())
def test_property_released_is_all_stable_without_candidate_or_owner(t: RouteTarget) -> None:
    for router in ROUTERS.values():
        released = router.released(t)
        assert router.observed_split(released, t) == ALL_STABLE
        assert "ownerReferences" not in released["metadata"]
        assert CANDIDATE.service not in json.dumps(released)
        assert CANDIDATE.predictor_name not in json.dumps(released)
        assert _served(released)[0][1] == 100
        if router is KSERVE:
            assert [c["predictor"]["name"] for c in released["spec"].get("canary", [])] == [
                w.predictor_name for w in t.warm]
        else:
            assert _rule_names(released) == ["split"]
