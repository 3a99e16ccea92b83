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
    def __init__(self, status: Mapping[str, Any], generation: int | None, now: datetime) -> None:
        self.data: dict[str, Any] = dict(status)
        self.data["observedGeneration"] = generation
        self.generation = generation
        self.now = now
        self.events: list[Event] = []

    def condition(self, type: str, status: ConditionStatus | bool, reason: str, message: str,
                  event: str | None = None) -> None:
        value: ConditionStatus = ("True" if status else "False") if isinstance(status, bool) else status
        old = get_condition(self.data.get("conditions"), type)
        self.data["conditions"] = set_condition(
            self.data.get("conditions"), type=type, status=value, reason=reason, message=message,
            observed_generation=self.generation, now=self.now,
        )
        if event and (old is None or old.get("status") != value or old.get("reason") != reason):
            self.events.append(Event(event, reason, message))


def status_patch(stored: Mapping[str, Any], planned: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) from ``stored`` to ``planned``, top-level keys only: a
    changed or new key carries its planned value; a key ``planned`` drops, or sets to None, is
    deleted (None). Plans start from a copy of the stored status and are its only writer, so a
    key they leave out is one they mean to remove (a ModelVersion's ``url`` once it stops
    serving); without the deletion a merge patch would keep the stale value forever. Empty: no
    write at all."""
    patch: dict[str, Any] = {key: value for key, value in planned.items()
                             if value is not None and stored.get(key) != value}
    patch.update({key: None for key in stored if planned.get(key) is None})
    return patch
