"""The drift job's pure planning (modelops.drift_job.planning): windows, partition pruning, the
shard split, sketch keys and run ids."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.drift_job.planning import (
    TimeWindow,
    current_window,
    hours_of,
    partition_in_window,
    reference_window,
    rfc3339,
    run_id,
    shard_files,
    sketch_key,
)

NOW = datetime(2026, 12, 1, 20, 17, 42, 123456, tzinfo=UTC)


def test_current_window_ends_now_to_the_second_and_the_reference_window_ends_where_it_starts() -> None:
    current = current_window(NOW, timedelta(hours=1))
    assert (current.start, current.end) == (datetime(2026, 12, 1, 19, 17, 42, tzinfo=UTC),
                                            datetime(2026, 12, 1, 20, 17, 42, tzinfo=UTC))
    reference = reference_window(current, timedelta(hours=168))
    assert reference.end == current.start and reference.start == current.start - timedelta(days=7)
    assert current.to_status() == {"start": "2026-12-01T19:17:42Z", "end": "2026-12-01T20:17:42Z"}
    assert rfc3339(NOW) == "2026-12-01T20:17:42Z"


def test_windows_refuse_naive_or_empty_bounds() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeWindow(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="empty window"):
        TimeWindow(NOW, NOW)


def test_hours_of_a_window_cover_every_overlapping_hour_across_midnight() -> None:
    window = TimeWindow(datetime(2026, 11, 30, 22, 30, tzinfo=UTC), datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    assert hours_of(window) == [("2026-11-30", "22"), ("2026-11-30", "23"), ("2026-12-01", "00")]


@pytest.mark.parametrize(("date", "hour", "inside"), [
    ("2026-12-01", "19", True),    # the window's first, partial hour
    ("2026-12-01", "18", False),   # 18:00-19:00 ends before the window starts (19:17:42)
    ("2026-12-01", "20", True),
    ("2026-12-01", "21", False),   # starts after the end
    ("2026-12-01", None, True),    # the date directory
    ("2026-11-30", None, False),
    ("2026-12-02", None, False),
    ("not-a-date", None, False),
    ("2026-12-01", "xx", False),
])
def test_partitions_are_pruned_by_their_names(date: str, hour: str | None, inside: bool) -> None:
    window = current_window(NOW, timedelta(hours=1))
    assert partition_in_window(date, hour, window) is inside


def test_a_window_ending_on_the_hour_does_not_read_the_next_hour() -> None:
    window = TimeWindow(datetime(2026, 12, 1, 18, tzinfo=UTC), datetime(2026, 12, 1, 20, tzinfo=UTC))
    assert [h for h in ("17", "18", "19", "20") if partition_in_window("2026-12-01", h, window)] == ["18", "19"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=60), st.integers(1, 9), st.randoms())
def test_shards_split_the_sorted_files_exactly_and_deterministically(files: list[str], shards: int,
                                                                     rnd: random.Random) -> None:
    parts = [shard_files(files, shards, i) for i in range(shards)]
    assert sorted(f for part in parts for f in part) == sorted(files)  # every file in exactly one shard
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    shuffled = list(files)
    rnd.shuffle(shuffled)
    assert [shard_files(shuffled, shards, i) for i in range(shards)] == parts  # listing order does not matter


def test_shard_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shard_files(["a"], 0, 0)
    with pytest.raises(ValueError, match="outside"):
        shard_files(["a"], 2, 2)


def test_sketch_key_depends_on_content_not_key_order() -> None:
    a = sketch_key({"snapshot": "s3://x/ref.parquet", "features": [["amount", "numeric"]]})
    assert a == sketch_key({"features": [["amount", "numeric"]], "snapshot": "s3://x/ref.parquet"})
    assert a != sketch_key({"snapshot": "s3://x/ref2.parquet", "features": [["amount", "numeric"]]})
    assert len(a) == 24


def test_run_id_prefers_the_operator_s_id_then_the_job_name() -> None:
    assert run_id({"MODELOPS_RUN_ID": "r1", "JOB_NAME": "job"}, NOW) == "r1"
    assert run_id({"JOB_NAME": "fraud-drift-2911"}, NOW) == "fraud-drift-2911"
    assert run_id({}, NOW) == "run-20261201t201742z"
