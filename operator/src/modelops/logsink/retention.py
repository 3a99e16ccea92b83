"""Retention: date partitions older than ``retentionDays`` are deleted, predictions, labels and the
index alike (a deleted prediction must not stay findable by id).

Owns the cut-off and the deletion. A date is kept while any of it is younger than the retention:
with ``retentionDays: 90`` on 2026-12-01 the oldest date kept is 2026-09-03 (90 dates). An index week goes
with its last day (until then it may name a few deleted predictions, which a lookup then does
not find).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from modelops.logsink.layout import INDEX, LABELS, PREDICTIONS, Store, week_days


def cutoff(now: datetime, days: int) -> str:
    """The oldest date (``YYYY-MM-DD``, UTC) kept."""
    return (now - timedelta(days=days - 1)).strftime("%Y-%m-%d")


def expired_dates(store: Store, now: datetime, days: int) -> list[str]:
    """Every ``date=`` directory older than the retention, and every index week wholly older."""
    oldest = cutoff(now, days)
    dates = [d for kind in (PREDICTIONS, LABELS) for v in store.walk(kind, depth=3) for d in store.subdirs(v, "date")]
    dates += store.subdirs(store.join(INDEX), "date")
    expired = [d for d in dates if store.partition_values(d)["date"] < oldest]
    weeks = store.subdirs(store.join(INDEX), "week")
    expired += [w for w in weeks if week_days(store.partition_values(w)["week"])[-1] < oldest]
    return sorted(expired)


def apply(store: Store, now: datetime, days: int) -> list[str]:
    """Delete what :func:`expired_dates` lists; returns it."""
    expired = expired_dates(store, now, days)
    for directory in expired:
        store.remove_tree(directory)
    return expired
