"""Pure planning of one drift run: which time windows, which partitions and files, which shard
reads which file, which stored sketch a reference maps to, and the run's identity.

Owns every decision of the job that needs no I/O, so it is tested without a store or a cluster:

- ``current_window``: the last ``spec.window`` ending at ``now`` (seconds, UTC); ``reference_window``:
  a logged-traffic reference of its own length ending where the current window starts;
- ``hours_of`` / ``partition_in_window``: the sink's hive partitions (``date=YYYY-MM-DD/hour=HH``,
  UTC) that overlap a window — partitions are pruned by directory name before any file is opened;
- ``shard_files``: the deterministic split of the sorted file list among ``N`` shards (round
  robin over the sorted list: every file in exactly one shard, sizes within one of each other);
- ``sketch_key``: the content hash naming a stored reference sketch (its identity: where the
  reference comes from, the features and their types, the sketch settings);
- ``run_id``: ``MODELOPS_RUN_ID``, else the Job's name (``JOB_NAME``), else a timestamp.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class TimeWindow:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"empty window: {self.start.isoformat()} .. {self.end.isoformat()}")

    def to_status(self) -> dict[str, str]:
        return {"start": rfc3339(self.start), "end": rfc3339(self.end)}


def rfc3339(when: datetime) -> str:
    """``2026-12-01T20:00:00Z`` (UTC, whole seconds: what Kubernetes writes)."""
    return when.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_window(now: datetime, length: timedelta) -> TimeWindow:
    """The last ``length`` of traffic, ending at ``now`` truncated to the second."""
    end = now.astimezone(UTC).replace(microsecond=0)
    return TimeWindow(end - length, end)


def reference_window(current: TimeWindow, length: timedelta) -> TimeWindow:
    """Logged traffic of ``length`` ending where the current window starts."""
    return TimeWindow(current.start - length, current.start)


def hours_of(window: TimeWindow) -> list[tuple[str, str]]:
    """Every (date, hour) partition overlapping ``[start, end)``, oldest first."""
    hour = window.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    while hour < window.end:
        out.append((hour.strftime("%Y-%m-%d"), hour.strftime("%H")))
        hour += timedelta(hours=1)
    return out


def partition_in_window(date: str, hour: str | None, window: TimeWindow) -> bool:
    """Whether a ``date=`` directory (``hour`` None) or a ``date=/hour=`` partition overlaps the window."""
    try:
        day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return False
    if hour is None:
        start, length = day, timedelta(days=1)
    else:
        if not hour.isdigit():
            return False
        start, length = day + timedelta(hours=int(hour)), timedelta(hours=1)
    return start < window.end and start + length > window.start


def shard_files(files: Sequence[T], shards: int, index: int) -> list[T]:
    """Shard ``index``'s share of ``files`` (sorted first): every ``shards``-th file from ``index``."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    if not 0 <= index < shards:
        raise ValueError(f"shard index {index} is outside 0..{shards - 1}")
    return list(sorted(files)[index::shards])  # type: ignore[type-var]


def sketch_key(identity: Mapping[str, Any]) -> str:
    """A short content hash of a reference's identity (key order does not matter)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def run_id(env: Mapping[str, str], now: datetime) -> str:
    """The run's id: ``MODELOPS_RUN_ID``, else the Job name ``JOB_NAME``, else ``run-<UTC time>``."""
    for name in ("MODELOPS_RUN_ID", "JOB_NAME"):
        value = env.get(name, "").strip()
        if value:
            return value
    return "run-" + now.astimezone(UTC).strftime("%Y%m%dt%H%M%Sz")
