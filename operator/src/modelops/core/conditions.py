"""Status conditions, the Kubernetes way: one entry per type, and a ``lastTransitionTime`` that
moves only when the status flips (True/False/Unknown), never when only the reason or message
changes. Argo Rollouts and the apimachinery ``meta.SetStatusCondition`` behave the same, and it
is what lets an SRE read "Ready=False since 14:02" and trust the time.

Pure: the current time is an argument, conditions are plain dicts as they sit in ``status``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

ConditionStatus = Literal["True", "False", "Unknown"]


def format_time(now: datetime) -> str:
    """RFC 3339 in UTC with second precision, as metav1.Time serialises."""
    return now.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object) -> datetime | None:
    """The inverse of ``format_time`` for what the API server stores; None for anything else.
    A time without a zone is taken as UTC (the API server never writes one, but humans do)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def set_condition(
    conditions: Sequence[Mapping[str, Any]] | None,
    *,
    type: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    observed_generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Return a new list with ``type`` set; other conditions are kept in their order."""
    result: list[dict[str, Any]] = []
    found = False
    for existing in conditions or ():
        if existing.get("type") != type:
            result.append(dict(existing))
            continue
        found = True
        flipped = existing.get("status") != status
        transition = format_time(now) if flipped else existing.get("lastTransitionTime") or format_time(now)
        result.append(_condition(type, status, reason, message, observed_generation, transition))
    if not found:
        result.append(_condition(type, status, reason, message, observed_generation, format_time(now)))
    return result


def get_condition(conditions: Sequence[Mapping[str, Any]] | None, type: str) -> Mapping[str, Any] | None:
    for condition in conditions or ():
        if condition.get("type") == type:
            return condition
    return None


def _condition(
    type: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    observed_generation: int | None,
    transition: str,
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": type,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
    }
    if observed_generation is not None:
        condition["observedGeneration"] = observed_generation
    return condition
