"""Traffic routers: the adapters that turn a Rollout's split into the one Kubernetes object that
carries it, and read the split back from that object.

The package owns one router per choice of ``spec.trafficRouting`` (``choosing.router_for`` picks
it), each a pure implementation of ``interface.TrafficRouter``: it builds and parses dicts, and
the Rollout reconciler does every read and server-side apply.

- ``gateway_api``: a ``gateway.networking.k8s.io/v1`` HTTPRoute (backendRefs weights,
  ``RequestMirror`` filter for shadow);
- ``istio``: a ``networking.istio.io/v1`` VirtualService (route weights, ``mirror`` +
  ``mirrorPercentage`` for shadow);
- ``kserve``: a ``serving.kserve.io/v1beta1`` InferenceService whose Standard-mode canary fields
  carry the split and which also deploys the versions, plus ``predictor_readiness`` for the
  ModelVersion reconciler.

It also owns the vocabulary the three share, kept here so that they cannot drift apart: the names
of the route rules, when the header-forced variant rules exist, and how relative weights read
back from an object become a ``Split``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelops.core.rollout.traffic import Split
from modelops.routers.interface import RouteTarget

# Rule / route names. Gateway API picks the most specific match whatever the order, Istio the
# first match in order; both orders put the header-forced variants first so the object reads the
# same way to a human and to either implementation.
CANDIDATE_VARIANT = "candidate-variant"
STABLE_VARIANT = "stable-variant"
SPLIT = "split"


def check_target(target: RouteTarget) -> None:
    """Refuse a target no router can describe: traffic for a candidate that does not exist.
    ``core.rollout.intents.Route`` already rules this out; a router must not guess a backend."""
    if target.candidate is None and (target.split.candidate or target.split.mirror):
        raise ValueError(f"no candidate backend, but the split gives it traffic: {target.split.describe()}")


def has_candidate_variant(target: RouteTarget) -> bool:
    """The ``x-modelops-variant: candidate`` rule exists only while the candidate receives served or
    mirrored traffic: the split is safe then (only Ready backends get weight), so the candidate is
    Ready and forcing requests onto it cannot send them to a backend that fails them."""
    return target.candidate is not None and (target.split.candidate > 0 or target.split.mirror > 0)


def in_flight(target: RouteTarget) -> bool:
    """The ``x-modelops-variant: stable`` rule exists while a rollout is in flight (the target
    names a candidate), so testers can compare the two, and only while the stable serves: a split
    with 0% stable means the stable is not Ready (or the full step runs), and a forced request must
    never reach a backend the split itself keeps traffic away from."""
    return target.candidate is not None and target.split.stable > 0


def percent(value: float) -> int:
    """Round half up to an integer percentage 0-100 (Python's ``round`` rounds half to even, which
    would make 12.5 and 13.5 read back differently for no reason a reader could see)."""
    return max(0, min(100, int(value + 0.5)))


def split_from_weights(stable: float, candidate: float, other: float, mirror: int) -> Split | None:
    """The split served by relative weights (Gateway API and Istio weights are proportions, not
    percentages: 1/1 is 50/50), rounded so that the two percentages sum to 100. None when a backend
    that is neither stable nor candidate carries weight, or when nothing does: the object then
    applies a split this Rollout did not describe, and the reconciler must not pretend otherwise."""
    total = stable + candidate + other
    if other > 0 or total <= 0:
        return None
    candidate_percent = percent(100 * candidate / total)
    return Split(100 - candidate_percent, candidate_percent, mirror)


# Tolerant readers of objects read back from the API server: a route edited by hand may hold any
# shape, and reading it must give "cannot say" (None, 0, empty), never an exception.


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list (anything else in it, or a non-list, is ignored)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def positive_int(value: Any, *, at_most: int | None = None) -> int:
    """A positive integer weight or percentage as written; 0 for anything else (bool included)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value if at_most is None or value <= at_most else 0
    return 0
