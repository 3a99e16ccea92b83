"""Router capabilities: what gatewayAPI, istio and kserve can do, and the problems and notes a spec
gets when its router cannot do a step."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.api.rollout import RolloutSpec
from modelops.core.rollout.capabilities import (
    CAPABILITIES,
    VARIANT_HEADER,
    Feature,
    Router,
    capabilities_of,
    check,
    notes,
    router_of,
)

ROUTERS: dict[Router, dict[str, Any]] = {
    Router.GATEWAY_API: {"gatewayAPI": {"httpRoute": "fraud", "parentRefs": [{"name": "gw"}]}},
    Router.ISTIO: {"istio": {"virtualService": "fraud", "host": "fraud.example.com"}},
    Router.KSERVE: {"kserve": {"inferenceService": "fraud"}},
}
SHADOW = {"shadow": {"mirrorPercent": 100, "duration": "10m"}}
CANARY = {"canary": {"weight": 5, "duration": "5m"}}
AB = {"abTest": {"weight": 50, "metric": "conversion", "minSamples": 100, "maxDuration": "1h"}}


def spec(router: Router, *steps: dict[str, Any]) -> RolloutSpec:
    return RolloutSpec.model_validate(
        {"model": "fraud", "target": "fraud-v2", "trafficRouting": ROUTERS[router], "steps": list(steps)}
    )


@pytest.mark.parametrize(
    ("router", "weights", "mirror", "header"),
    [
        (Router.GATEWAY_API, True, True, True),
        (Router.ISTIO, True, True, True),
        (Router.KSERVE, True, False, False),
    ],
)
def test_the_capability_table(router: Router, weights: bool, mirror: bool, header: bool) -> None:
    caps = CAPABILITIES[router]
    assert caps.router is router
    assert (caps.can(Feature.WEIGHTS), caps.can(Feature.MIRROR), caps.can(Feature.HEADER_VARIANT)) == (
        weights, mirror, header
    )
    # Every feature is either explained (how) or excused (missing), never silently absent.
    for feature in Feature:
        assert (feature in caps.how) is caps.can(feature)
        assert (feature in caps.missing) is not caps.can(feature)


@pytest.mark.parametrize("router", list(Router))
def test_router_of(router: Router) -> None:
    given = spec(router, CANARY)
    assert router_of(given.traffic_routing) is router
    assert capabilities_of(given) is CAPABILITIES[router]


@pytest.mark.parametrize("router", [Router.GATEWAY_API, Router.ISTIO])
def test_mesh_and_gateway_routers_run_every_step(router: Router) -> None:
    given = spec(router, SHADOW, CANARY, AB, {"pause": {}}, {"full": {}})
    assert check(given) == []
    assert notes(given) == []


def test_kserve_refuses_shadow_naming_each_step() -> None:
    found = check(spec(Router.KSERVE, SHADOW, CANARY, {"name": "second-look", **SHADOW}))
    assert found == [
        "spec.steps[0].shadow: the kserve router cannot mirror traffic (KServe has no shadow/mirror, "
        "kserve#2978); use gatewayAPI or istio",
        "spec.steps[2].shadow: the kserve router cannot mirror traffic (KServe has no shadow/mirror, "
        "kserve#2978); use gatewayAPI or istio",
    ]


def test_kserve_runs_an_ab_test_on_weights_and_says_what_is_missing() -> None:
    given = spec(Router.KSERVE, CANARY, AB, {"full": {}})
    assert check(given) == []
    (note,) = notes(given)
    assert note.startswith("spec.steps[1].abTest: the kserve router cannot force a variant")
    assert VARIANT_HEADER in note
