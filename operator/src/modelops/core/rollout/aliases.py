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

``registry_status`` decides what the status says after the writes: ``status.registry`` and the
``RegistrySynced`` condition (the reconciler only carries the writes out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelops.core.drafting import StatusDraft
from modelops.core.intents import Event
from modelops.core.rollout.actions import CHALLENGER, CHAMPION, AliasMove, VersionTag
from modelops.core.rollout.types import IN_FLIGHT

PENDING_KEPT = 10
REGISTRY_SYNCED = "RegistrySynced"
# A registry write that failed is tried again this soon (traffic and status never wait for it).
REGISTRY_RETRY_SECONDS = 30.0


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
    """What a reconcile managed to write: the aliases now recorded, the tags still pending, and
    what failed (MLflow's words)."""

    aliases: Mapping[str, str | None]
    pending: Sequence[VersionTag]
    problems: Sequence[str] = ()


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


def registry_status(status: Mapping[str, Any], outcome: RegistryOutcome | None, *, generation: int | None,
                    now: datetime) -> tuple[dict[str, Any], list[Event], float | None]:
    """The status after the registry writes (``outcome``; None: no MLflow configured):
    ``status.registry`` as MLflow now has it and the ``RegistrySynced`` condition — a Warning Event
    only when it turns False — and how soon to retry what failed."""
    draft = StatusDraft(status, generation, now)
    if outcome is None:
        draft.condition(REGISTRY_SYNCED, "Unknown", "MLflowNotConfigured",
                        "the operator has no MLflow server configured; aliases and tags are not written")
        return draft.data, draft.events, None
    recorded = recorded_status(outcome)
    if recorded:
        draft.data["registry"] = recorded
    else:
        draft.data.pop("registry", None)
    if outcome.problems:
        draft.condition(REGISTRY_SYNCED, False, "RegistryWriteFailed", "; ".join(outcome.problems)[:4096],
                        event="Warning", event_reason="RegistryNotSynced")
        return draft.data, draft.events, REGISTRY_RETRY_SECONDS
    champion = outcome.aliases.get(CHAMPION)
    draft.condition(REGISTRY_SYNCED, True, "Synced",
                    f"MLflow alias champion -> {champion}" if champion else "nothing to record yet")
    return draft.data, draft.events, None
