"""The role a ModelVersion has, derived from the Rollouts that name it (the ModelVersion
reconciler is the single writer of ``status.role``; Rollouts only say who is stable/candidate)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from modelops.api.modelversion import Role


def role_of(name: str, rollouts: Iterable[Mapping[str, Any]]) -> tuple[Role, list[str]]:
    """The role and the Rollouts that give it; a candidate anywhere wins over previous."""
    best, holders = Role.NONE, []
    rank = {Role.CHAMPION: 3, Role.CANDIDATE: 2, Role.PREVIOUS: 1, Role.NONE: 0}
    for rollout in rollouts:
        status = rollout.get("status") or {}
        spec = rollout.get("spec") or {}
        rollout_name = str((rollout.get("metadata") or {}).get("name"))
        if status.get("stable") == name:
            role = Role.CHAMPION
        elif status.get("candidate") == name or (spec.get("target") == name and status.get("stable") != name):
            role = Role.CANDIDATE
        elif name in (status.get("warm") or []):
            role = Role.PREVIOUS
        else:
            continue
        holders.append(rollout_name)
        if rank[role] > rank[best]:
            best = role
    return best, sorted(holders)
