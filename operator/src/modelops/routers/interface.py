"""The interface every traffic router implements, and the data it is given.

A router turns "this split between these ModelVersions" into the one Kubernetes object that
carries it (an HTTPRoute, a VirtualService, an InferenceService's canary fields) and reads the
split back from that object. Flagger's routers are ``SetRoutes/GetRoutes/Reconcile/Finalize``;
ours are the same four ideas without the I/O, because the layers keep adapters apart from one
another (a router may not import ``modelops.k8s``): the reconciler reads and server-side applies
what a router describes (``reconcilers.routing``).

- ``desired(target)`` is SetRoutes + Reconcile: the whole object to server-side apply (field
  manager ``modelops``, owner reference to the Rollout), idempotent by construction.
- ``observed_split(obj, target)`` is GetRoutes: the split the object applies now, or None when
  it cannot say (no object, hand-edited beyond recognition).
- ``released(target)`` is Finalize: the object with 100% on stable, no candidate, no mirror and
  no owner reference, so that deleting a Rollout never leaves traffic on a candidate or on
  nothing (the object outlives the Rollout; delete it yourself when the model stops serving).
- ``problems(target)`` lists what makes the target impossible for this router beyond the
  step-kind capabilities of ``core.rollout.capabilities`` (e.g. a Serverless InferenceService
  under the kserve router); the Rollout reports them in its ``Accepted`` condition.

Invariants every implementation keeps (tests/unit/test_routers.py checks them on every router):
served weights sum to 100; a backend with weight 0 gets no request; the mirror is a filter on the
served route and never changes the served weights; the header-forced variants
(``x-modelops-variant: candidate|stable``) exist only where the router can do them, and the
candidate variant only while the candidate has weight or mirror (it is Ready then).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelops.api import API_VERSION
from modelops.core.naming import label_value
from modelops.core.rollout.capabilities import Capabilities
from modelops.core.rollout.traffic import Split

ROLLOUT_LABEL = "modelops.io/rollout"
STABLE_STAGE = "stable"
MODEL_LABEL = "modelops.io/model"
MANAGED_BY = {"app.kubernetes.io/managed-by": "modelops", "app.kubernetes.io/component": "routing"}


@dataclass(frozen=True)
class Backend:
    """One ModelVersion as a routing destination.

    ``service`` is the Kubernetes Service in front of its predictor (KServe names it
    ``<inferenceservice>-predictor``), used by gatewayAPI and istio. ``predictor`` is the KServe
    ``PredictorSpec`` that serves it (``core.serving.inference.desired_predictor``), used by the
    kserve router, which deploys the versions itself as the InferenceService's predictor and
    canaries; ``predictor_name`` is the DNS-1035 name KServe gives that variant.
    """

    model_version: str
    service: str
    predictor_name: str
    predictor: Mapping[str, Any] = field(default_factory=dict)
    deployment_mode: str | None = None


@dataclass(frozen=True)
class RouteTarget:
    """Everything a router needs to describe its object for one Rollout."""

    namespace: str
    rollout: str
    rollout_uid: str
    model: str
    stable: Backend
    candidate: Backend | None
    split: Split
    # Previous champions kept warm: the kserve router keeps them deployed as 0% canaries so a
    # rollback to one is a rename, not a new Deployment; the other routers ignore them (each
    # ModelVersion keeps its own InferenceService).
    warm: Sequence[Backend] = ()
    # The rollout stage the routed requests are served in (capabilities.STAGE_HEADER): the step
    # name while a rollout is in flight, "stable" otherwise.
    stage: str = STABLE_STAGE

    @property
    def stage_value(self) -> str:
        return f"{self.rollout}/{self.stage}"


def owner_reference(target: RouteTarget) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "name": target.rollout,
        "uid": target.rollout_uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels(target: RouteTarget) -> dict[str, str]:
    return {ROLLOUT_LABEL: label_value(target.rollout), MODEL_LABEL: target.model, **MANAGED_BY}


class TrafficRouter(Protocol):
    """What the Rollout reconciler needs of a router (one instance per Rollout spec)."""

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def api_version(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str:
        """Name of the managed object (in the Rollout's namespace)."""
        ...

    @property
    def deploys_backends(self) -> bool:
        """True when the managed object also deploys the versions (kserve): then the route must
        exist before any version can become Ready, and readiness is read from it."""
        ...

    def desired(self, target: RouteTarget) -> dict[str, Any]: ...

    def observed_split(self, obj: Mapping[str, Any] | None, target: RouteTarget) -> Split | None: ...

    def released(self, target: RouteTarget) -> dict[str, Any]: ...

    def problems(self, target: RouteTarget) -> list[str]: ...
