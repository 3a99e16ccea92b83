"""Which router a Rollout uses: the one whose section of ``spec.trafficRouting`` is set.

The API guarantees exactly one is (a CEL rule and a pydantic validator); a spec that breaks that
anyway is refused here with the API's own message rather than routed by a guess.
"""

from __future__ import annotations

from modelops.api.rollout import RolloutSpec
from modelops.api.routing import ROUTER_MESSAGE
from modelops.routers.gateway_api import GatewayAPIRouter
from modelops.routers.interface import TrafficRouter
from modelops.routers.istio import IstioRouter
from modelops.routers.kserve import KServeRouter


def router_for(spec: RolloutSpec) -> TrafficRouter:
    routing = spec.traffic_routing
    if routing.gateway_api is not None:
        return GatewayAPIRouter(routing.gateway_api)
    if routing.istio is not None:
        return IstioRouter(routing.istio)
    if routing.kserve is not None:
        return KServeRouter(routing.kserve)
    raise ValueError(ROUTER_MESSAGE)
