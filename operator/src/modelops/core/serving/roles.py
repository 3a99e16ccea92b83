"""The role a ModelVersion has, derived from the Rollouts that name it (the ModelVersion
reconciler is the single writer of ``status.role``; Rollouts only say who is stable, candidate,
warm or retired), and whether a Rollout's kserve router serves it instead of its own
InferenceService."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from modelops.api.modelversion import Role
from modelops.core.conditions import get_condition

RANK = {Role.CHAMPION: 4, Role.CANDIDATE: 3, Role.PREVIOUS: 2, Role.ARCHIVED: 1, Role.NONE: 0}


def refused(rollout: Mapping[str, Any]) -> bool:
    """Has the Rollout refused its current spec (``Accepted=False`` for this generation)? A refused
    Rollout moves nothing, so its ``spec.target`` gives no role; what its status says still holds."""
    status = rollout.get("status") or {}
    generation = (rollout.get("metadata") or {}).get("generation")
    accepted = get_condition(status.get("conditions"), "Accepted")
    return accepted is not None and accepted.get("status") == "False" \
        and accepted.get("observedGeneration") == generation


def _role_in(name: str, rollout: Mapping[str, Any]) -> Role:
    status = rollout.get("status") or {}
    spec = rollout.get("spec") or {}
    if status.get("stable") == name:
        return Role.CHAMPION
    # The target: spec.target, or (without it) the version spec.targetFrom follows (status.followed).
    target = spec.get("target") or (status.get("followed") or {}).get("modelVersion")
    targeted = target == name and status.get("stable") != name and not refused(rollout)
    if status.get("candidate") == name or targeted:
        return Role.CANDIDATE
    if name in (status.get("warm") or []):
        return Role.PREVIOUS
    if name in (status.get("retired") or []):
        return Role.ARCHIVED
    return Role.NONE


def role_of(name: str, rollouts: Iterable[Mapping[str, Any]], previous: str | None = None) -> tuple[Role, list[str]]:
    """The role and the Rollouts that hold the version (it must not be deleted while any does).
    The strongest role wins (champion anywhere beats candidate elsewhere); ``archived`` — retired
    by ``keepWarm`` — holds nothing: the version stops serving and may be deleted.

    ``archived`` is sticky: ``status.retired`` keeps only the newest names (``RETIRED_KEPT``), so a
    version that falls off that list would otherwise read as named by no Rollout and be served
    again. ``previous`` is the version's own ``status.role``; once ``archived``, it stays so until
    a Rollout names it again (target, stable, candidate or warm)."""
    best: Role = Role.ARCHIVED if previous == Role.ARCHIVED.value else Role.NONE
    holders: list[str] = []
    for rollout in rollouts:
        role = _role_in(name, rollout)
        if role in (Role.NONE, Role.ARCHIVED):
            if RANK[role] > RANK[best]:
                best = role
            continue
        holders.append(str((rollout.get("metadata") or {}).get("name")))
        if RANK[role] > RANK[best]:
            best = role
    return best, sorted(holders)


def kserve_router_of(name: str, rollouts: Iterable[Mapping[str, Any]]) -> tuple[str, str] | None:
    """(Rollout, InferenceService) when a Rollout with the kserve router names this version as
    target, stable, candidate or warm: that InferenceService deploys it (as its predictor or a
    canary), so the version must not get one of its own."""
    for rollout in rollouts:
        kserve = ((rollout.get("spec") or {}).get("trafficRouting") or {}).get("kserve") or {}
        if kserve.get("inferenceService") and _role_in(name, rollout) in (
            Role.CHAMPION, Role.CANDIDATE, Role.PREVIOUS
        ):
            return str((rollout.get("metadata") or {}).get("name")), str(kserve["inferenceService"])
    return None
