"""The route rules every router writes, so the three cannot drift apart: the rule names, when the
header-forced variant rules exist (``has_candidate_variant``, ``in_flight``), and the refusal of a
target no router can describe (``check_target``)."""

from __future__ import annotations

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
