"""What the MLflow Model Registry should say about a Rollout, and the writes that get it there.

Owns the aliases' rule and the bookkeeping of registry writes that have not happened yet. The
aliases are *level-based*: ``champion`` names the registry version of ``status.stable``;
``challenger`` names the candidate's while a rollout is in flight and nothing otherwise. Each
reconcile compares that with ``status.registry`` (what MLflow was last told) and writes only the
difference. So a transition whose MLflow call failed (MLflow down) is not lost and does not hold
up the status write that records the transition: the difference simply stays until a later
reconcile closes it. Traffic never waits for MLflow.

The tags on a failed candidate are *edge-triggered* (they record one event: why it was rolled
back), so a batch that could not be written is queued in ``status.registry.pendingTags`` and
retried on every reconcile, bounded so a long MLflow outage cannot grow the status without limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelops.core.rollout.intents import CHALLENGER, CHAMPION, AliasMove, VersionTag
from modelops.core.rollout.machine import IN_FLIGHT

PENDING_KEPT = 10


def desired_aliases(status: Mapping[str, Any]) -> dict[str, str | None]:
    """alias -> ModelVersion name (None: the alias must not exist) for a Rollout's status."""
    in_flight = status.get("phase") in {phase.value for phase in IN_FLIGHT}
    candidate = status.get("candidate") if in_flight else None
    return {CHAMPION: status.get("stable") or None, CHALLENGER: candidate or None}


def recorded_aliases(status: Mapping[str, Any]) -> dict[str, str | None]:
    registry = status.get("registry") or {}
    return {CHAMPION: registry.get("champion") or None, CHALLENGER: registry.get("challenger") or None}


def alias_writes(model: str, status: Mapping[str, Any]) -> list[AliasMove]:
    """The alias moves still to make: desired minus recorded. ``champion`` first, so a promotion
    that is interrupted between the two writes leaves the new champion set, never none."""
    desired, recorded = desired_aliases(status), recorded_aliases(status)
    return [
        AliasMove(model, alias, desired[alias])
        for alias in (CHAMPION, CHALLENGER)
        if desired[alias] != recorded[alias]
    ]


@dataclass(frozen=True)
class RegistryOutcome:
    """What a reconcile managed to write: the aliases now recorded and the tags still pending."""

    aliases: Mapping[str, str | None]
    pending: Sequence[VersionTag]


def recorded_status(outcome: RegistryOutcome) -> dict[str, Any]:
    """``status.registry`` for an outcome (JSON-ready; absent keys for absent aliases)."""
    data: dict[str, Any] = {}
    if outcome.aliases.get(CHAMPION):
        data["champion"] = outcome.aliases[CHAMPION]
    if outcome.aliases.get(CHALLENGER):
        data["challenger"] = outcome.aliases[CHALLENGER]
    if outcome.pending:
        data["pendingTags"] = [
            {"modelVersion": tag.model_version, "tags": dict(tag.tags)} for tag in outcome.pending[-PENDING_KEPT:]
        ]
    return data


def pending_tags(model: str, status: Mapping[str, Any]) -> list[VersionTag]:
    """Tags queued by an earlier reconcile (status.registry.pendingTags)."""
    registry = status.get("registry") or {}
    found: list[VersionTag] = []
    for item in registry.get("pendingTags") or []:
        if isinstance(item, Mapping) and item.get("modelVersion"):
            found.append(VersionTag(model, str(item["modelVersion"]), dict(item.get("tags") or {})))
    return found
