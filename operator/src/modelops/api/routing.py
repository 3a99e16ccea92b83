"""Rollout traffic routing (``spec.trafficRouting``): exactly one router — a Gateway API
HTTPRoute with its parent Gateways, an Istio VirtualService with its hosts and gateways, or KServe's
own InferenceService canary fields — and the objects each router is allowed to write. The CEL rule
and the pydantic validator share ``ROUTER_MESSAGE``."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from modelops.api.common import (
    Name,
    ShortName,
    SpecModel,
    cel,
    count_set,
    exactly_one_rule,
    validations,
)

ROUTER_MESSAGE = "spec.trafficRouting: exactly one of gatewayAPI, istio, kserve must be set"


class ParentRef(SpecModel):
    """A Gateway (or other parent) the HTTPRoute attaches to."""

    name: Name = Field(description="Name of the Gateway, e.g. inference-gateway.")
    namespace: ShortName | None = Field(None, description="Namespace of the Gateway. Absent: the Rollout's namespace.")
    section_name: ShortName | None = Field(
        None, description="Listener of the Gateway to attach to, e.g. https. Absent: every listener."
    )


class GatewayAPIRouting(SpecModel):
    """Split traffic with a Gateway API HTTPRoute (backendRefs weights; RequestMirror filter for shadow)."""

    http_route: Name = Field(description="Name of the HTTPRoute the operator manages, e.g. fraud-detector.")
    parent_refs: list[ParentRef] = Field(
        min_length=1, max_length=16, description="Gateways the HTTPRoute attaches to (HTTPRoute spec.parentRefs)."
    )
    port: int = Field(80, ge=1, le=65535, description="Port of the predictor Services the route sends to. Default 80.")


class IstioRouting(SpecModel):
    """Split traffic with an Istio VirtualService (route weights; mirror + mirrorPercentage for shadow)."""

    virtual_service: Name = Field(description="Name of the VirtualService the operator manages, e.g. fraud-detector.")
    host: str = Field(
        min_length=1,
        max_length=253,
        description="Host clients call, e.g. fraud-detector.ml.example.com (VirtualService hosts).",
    )
    gateways: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list,
        max_length=16,
        description="Istio gateways, e.g. [istio-system/ingress]. Absent: mesh-internal traffic only.",
    )
    port: int = Field(80, ge=1, le=65535, description="Port of the predictor Services the route sends to. Default 80.")


class KServeRouting(SpecModel):
    """Split traffic with KServe's canary fields (canaryTrafficPercent). Cannot mirror: no shadow steps."""

    inference_service: Name = Field(description="Name of the InferenceService whose canary fields are driven.")


class TrafficRouting(SpecModel):
    """The traffic router: exactly one of gatewayAPI, istio, kserve."""

    model_config = ConfigDict(
        json_schema_extra=validations(cel(exactly_one_rule("gatewayAPI", "istio", "kserve"), ROUTER_MESSAGE))
    )

    gateway_api: GatewayAPIRouting | None = Field(None, alias="gatewayAPI", description="Gateway API HTTPRoute router.")
    istio: IstioRouting | None = Field(None, description="Istio VirtualService router.")
    kserve: KServeRouting | None = Field(None, description="KServe canary-fields router (no shadow).")

    @model_validator(mode="after")
    def _exactly_one(self) -> TrafficRouting:
        if count_set(self.gateway_api, self.istio, self.kserve) != 1:
            raise ValueError(ROUTER_MESSAGE)
        return self
