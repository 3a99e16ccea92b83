"""What each traffic router can do, and which steps of a Rollout it cannot run.

Owns the capability table of the three routers and the check that turns a spec the chosen router
cannot carry out into problems for an ``InvalidSpec`` condition. This is not an admission rule
(the CRD cannot know the router's limits from the object's shape alone, see api/rollout.py); the
operator refuses such a spec with a condition that says why, and never half-runs it.

The features, and how each router provides them:

=================  ==========================================  =======================================
feature            gatewayAPI (HTTPRoute)                      istio (VirtualService)
=================  ==========================================  =======================================
weights            ``backendRefs[].weight``                    ``route[].weight``
mirror (shadow)    ``RequestMirror`` filter with ``percent``   ``mirror`` + ``mirrorPercentage``
                   (GEP-3171)
header variant     a rule matching ``x-modelops-variant``      an ``http[].match`` on the same header
=================  ==========================================  =======================================

``kserve`` (one InferenceService's canary fields: ``spec.canary[].trafficPercent`` in Standard
mode, ``canaryTrafficPercent`` in Serverless) splits by weight only: KServe has no shadow or mirror
(kserve#2978, open) and no header match on its canary split.

**A/B test on kserve: allowed, with a note.** An ``abTest`` step needs a weighted split and
per-version metrics, and KServe gives both: the arms are told apart by the version label of the
metrics, not by a header. What is missing is the tester's convenience of forcing a variant with
``x-modelops-variant``; refusing the whole rollout for that would be wrong, hiding it would be
wrong too, so ``notes`` says it and the machine puts it in the ``Accepted`` condition's message.
A ``shadow`` step on kserve, by contrast, cannot be carried out at all and is a problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from modelops.api.rollout import RolloutSpec
from modelops.api.routing import TrafficRouting

VARIANT_HEADER = "x-modelops-variant"
"""The header a tester sets to ``candidate`` or ``stable`` to force a variant (routers that can)."""

STAGE_HEADER = "x-modelops-stage"
"""The header the routers that can set one put on every request they route: the Rollout and its
step (``fraud-detector/canary-5``, or ``fraud-detector/stable`` with no rollout in flight).
KServe's request logger forwards it (``metadataHeaders``) into every logged record, so a
prediction names the rollout stage it was served in, next to its model and version."""


class Router(StrEnum):
    GATEWAY_API = "gatewayAPI"
    ISTIO = "istio"
    KSERVE = "kserve"


class Feature(StrEnum):
    WEIGHTS = "weights"
    MIRROR = "mirror"
    HEADER_VARIANT = "headerVariant"


@dataclass(frozen=True)
class Capabilities:
    """What one router can do. ``how`` says by which mechanism (for messages and the README's
    support matrix); ``missing`` says why a feature is absent."""

    router: Router
    features: frozenset[Feature]
    how: Mapping[Feature, str]
    missing: Mapping[Feature, str]

    def can(self, feature: Feature) -> bool:
        return feature in self.features


CAPABILITIES: Mapping[Router, Capabilities] = MappingProxyType(
    {
        Router.GATEWAY_API: Capabilities(
            router=Router.GATEWAY_API,
            features=frozenset(Feature),
            how=MappingProxyType(
                {
                    Feature.WEIGHTS: "HTTPRoute backendRefs weights",
                    Feature.MIRROR: "HTTPRoute RequestMirror filter with percent (GEP-3171)",
                    Feature.HEADER_VARIANT: f"HTTPRoute rule matching the {VARIANT_HEADER} header",
                }
            ),
            missing=MappingProxyType({}),
        ),
        Router.ISTIO: Capabilities(
            router=Router.ISTIO,
            features=frozenset(Feature),
            how=MappingProxyType(
                {
                    Feature.WEIGHTS: "VirtualService route weights",
                    Feature.MIRROR: "VirtualService mirror + mirrorPercentage",
                    Feature.HEADER_VARIANT: f"VirtualService match on the {VARIANT_HEADER} header",
                }
            ),
            missing=MappingProxyType({}),
        ),
        Router.KSERVE: Capabilities(
            router=Router.KSERVE,
            features=frozenset({Feature.WEIGHTS}),
            how=MappingProxyType(
                {Feature.WEIGHTS: "InferenceService canary trafficPercent (canaryTrafficPercent in Serverless mode)"}
            ),
            missing=MappingProxyType(
                {
                    Feature.MIRROR: "KServe has no shadow/mirror, kserve#2978",
                    Feature.HEADER_VARIANT: "KServe's canary split is by weight only, with no header match",
                }
            ),
        ),
    }
)


def router_of(routing: TrafficRouting) -> Router:
    """The router a spec chose (the model guarantees exactly one is set)."""
    if routing.gateway_api is not None:
        return Router.GATEWAY_API
    if routing.istio is not None:
        return Router.ISTIO
    return Router.KSERVE


def capabilities_of(spec: RolloutSpec) -> Capabilities:
    return CAPABILITIES[router_of(spec.traffic_routing)]


def _alternatives(feature: Feature) -> str:
    able = [router.value for router, caps in CAPABILITIES.items() if caps.can(feature)]
    return " or ".join(able)


def check(spec: RolloutSpec) -> list[str]:
    """Problems that make the spec impossible for its router, one per step, each naming the step:
    ``spec.steps[0].shadow: the kserve router cannot mirror traffic (...); use gatewayAPI or istio``."""
    caps = capabilities_of(spec)
    problems: list[str] = []
    for index, step in enumerate(spec.steps):
        if step.shadow is not None and not caps.can(Feature.MIRROR):
            problems.append(
                f"spec.steps[{index}].shadow: the {caps.router.value} router cannot mirror traffic "
                f"({caps.missing[Feature.MIRROR]}); use {_alternatives(Feature.MIRROR)}"
            )
    return problems


def notes(spec: RolloutSpec) -> list[str]:
    """What the router leaves out without making the spec impossible (see the module docstring)."""
    caps = capabilities_of(spec)
    found: list[str] = []
    for index, step in enumerate(spec.steps):
        if step.ab_test is not None and not caps.can(Feature.HEADER_VARIANT):
            found.append(
                f"spec.steps[{index}].abTest: the {caps.router.value} router cannot force a variant with the "
                f"{VARIANT_HEADER} header ({caps.missing[Feature.HEADER_VARIANT]}); the test runs on the weighted "
                "split alone"
            )
    return found
