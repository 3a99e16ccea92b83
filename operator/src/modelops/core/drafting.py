"""A status being planned: conditions set the Kubernetes way (core.conditions) and the Events
their transitions cause — an Event only when a condition's status or reason flips, so planning
the same thing again posts nothing new — and the merge patch that turns the stored status into
the planned one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelops.core.conditions import ConditionStatus, get_condition, set_condition
from modelops.core.intents import Event


class StatusDraft:
    """The status a plan writes, started from the stored one. Every condition is judged against the
    STORED condition of its type, however often a plan sets it: a condition set True and then False
    within one plan, over a stored False, has not flipped (same transition time, no Event). The
    whole status describes this generation, so every kept condition carries it too."""

    def __init__(self, status: Mapping[str, Any], generation: int | None, now: datetime) -> None:
        self.data: dict[str, Any] = dict(status)
        self.data["observedGeneration"] = generation
        self.generation = generation
        self.now = now
        self.events: list[Event] = []
        self._stored = [dict(c) for c in status.get("conditions") or [] if isinstance(c, Mapping)]
        self._evented: dict[str, Event] = {}
        if self._stored and generation is not None:
            self.data["conditions"] = [{**c, "observedGeneration": generation} for c in self._stored]

    def condition(self, type: str, status: ConditionStatus | bool, reason: str, message: str,
                  event: str | None = None, event_reason: str | None = None) -> None:
        value: ConditionStatus = ("True" if status else "False") if isinstance(status, bool) else status
        old = get_condition(self._stored, type)
        entry = set_condition([old] if old is not None else [], type=type, status=value, reason=reason,
                              message=message, observed_generation=self.generation, now=self.now)[0]
        conditions = [dict(c) for c in self.data.get("conditions") or []]
        for index, existing in enumerate(conditions):
            if existing.get("type") == type:
                conditions[index] = entry
                break
        else:
            conditions.append(entry)
        self.data["conditions"] = conditions
        earlier = self._evented.pop(type, None)
        if earlier is not None and earlier in self.events:
            self.events.remove(earlier)  # the last word of this plan on a condition is the one said
        if event and (old is None or old.get("status") != value or old.get("reason") != reason):
            self._evented[type] = Event(event, event_reason or reason, message)
            self.events.append(self._evented[type])


def status_patch(stored: Mapping[str, Any], planned: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) from ``stored`` to ``planned``: a changed or new key carries
    its planned value; a key ``planned`` drops, or sets to None, is deleted (None) — at every depth,
    because a merge patch MERGES nested objects: ``{"registry": {"champion": "v2"}}`` over a stored
    ``challenger`` would keep it. Plans start from a copy of the stored status and are its only
    writer, so a key they leave out is one they mean to remove (a ModelVersion's ``url`` once it
    stops serving, a Rollout's ``registry.challenger`` once the alias is gone); without the deletion
    a merge patch would keep the stale value forever. Lists are replaced whole, as merge patches
    do. Empty: no write at all."""
    patch: dict[str, Any] = {}
    for key, value in planned.items():
        old = stored.get(key)
        if value is None or old == value:
            continue
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            nested = status_patch(old, value)
            if nested:
                patch[key] = nested
        else:
            patch[key] = value
    patch.update({key: None for key in stored if planned.get(key) is None})
    return patch
