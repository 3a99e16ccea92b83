"""The audit trail in ``status.history``: every transition with time, from, to, reason and actor,
bounded at 100 entries with the oldest summarised rather than dropped.

Owns appending and bounding. An auditor asking "how many times was this model rolled back last
quarter" must still get an answer after the 101st transition, so the entries pushed out are folded
into one summary entry at the front (reason ``HistorySummarised``) that keeps their count, their
time span and how often each reason occurred. The summary's message is written in a fixed format
and read back when it is folded again, so counts survive any number of foldings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from modelops.api.rollout import HistoryEntry
from modelops.core.conditions import format_time

MAX_ENTRIES = 100
SUMMARY_REASON = "HistorySummarised"
OPERATOR = "operator"
_COUNT = re.compile(r"^(\d+) earlier transitions")
_REASON = re.compile(r"([A-Za-z][A-Za-z0-9]*)×(\d+)")


def entry(
    time: datetime, from_: str | None, to: str, reason: str, actor: str, message: str | None = None
) -> HistoryEntry:
    return HistoryEntry(time=time, from_=from_, to=to, reason=reason, actor=actor, message=message)


def _folded(item: HistoryEntry) -> tuple[int, Counter[str]]:
    """(transitions, reasons) an entry stands for: 1 and its reason, or what a summary records."""
    if item.reason != SUMMARY_REASON or not item.message:
        return 1, Counter({item.reason: 1})
    count = _COUNT.match(item.message)
    reasons = Counter({name: int(times) for name, times in _REASON.findall(item.message)})
    return (int(count.group(1)) if count else max(1, sum(reasons.values()))), reasons


def summarise(items: Sequence[HistoryEntry]) -> HistoryEntry:
    """One entry standing for ``items`` (oldest first), summaries among them included."""
    total, reasons = 0, Counter[str]()
    for item in items:
        count, found = _folded(item)
        total += count
        reasons.update(found)
    first, last = items[0], items[-1]
    listed = ", ".join(f"{name}×{times}" for name, times in sorted(reasons.items()))
    message = (
        f"{total} earlier transitions, {format_time(first.time)} to {format_time(last.time)}, "
        f"summarised to keep the last {MAX_ENTRIES - 1}: {listed}"
    )
    return HistoryEntry(
        time=first.time, from_=first.from_, to=last.to, reason=SUMMARY_REASON, actor=OPERATOR, message=message[:4096]
    )


def append(
    history: Sequence[HistoryEntry], new: Sequence[HistoryEntry], *, limit: int = MAX_ENTRIES
) -> list[HistoryEntry]:
    """``history`` + ``new``, at most ``limit`` entries: the oldest folded into one summary."""
    combined = [*history, *new]
    if len(combined) <= limit:
        return combined
    keep = limit - 1
    return [summarise(combined[: len(combined) - keep]), *combined[len(combined) - keep :]]


def spec_actor(managed_fields: Sequence[Mapping[str, Any]] | None, default: str = "spec") -> str:
    """Who last changed ``spec``: the field manager (``kubectl-patch``, ``kubectl``, ``argocd-controller``,
    ``helm``...) of the newest ``metadata.managedFields`` entry that owns a field under ``spec``.

    The API server stamps an entry's ``time`` whenever that manager changes one of its fields, so
    the newest entry owning spec fields is the best answer the object itself holds; a manager that
    owns spec fields but last changed only its labels can be named instead of the true author, which
    the audit trail accepts (the API server's audit log has the rest)."""
    best: tuple[str, str] | None = None
    for entry in managed_fields or ():
        if entry.get("subresource"):
            continue  # status writes (the operator itself) are not spec changes
        fields = entry.get("fieldsV1")
        if not isinstance(fields, Mapping) or "f:spec" not in fields:
            continue
        time, manager = str(entry.get("time") or ""), str(entry.get("manager") or "")
        if manager and (best is None or time >= best[0]):
            best = (time, manager)
    return best[1][:253] if best is not None else default
