"""Compaction: the small files of a closed hour become one, sorted by request id.

Owns when a partition is closed and how its files are merged without ever showing a reader a
half-written file or losing a row:

1. ``_compaction.json`` (names of the inputs and of the output) is written into the directory;
2. the output is written (atomically, see layout.py), rows sorted by request id (and instance), so
   the row-group statistics of a large hour let pyarrow skip most of it for one id;
3. the inputs are deleted; 4. the manifest is deleted.

A crash between 2 and 3 leaves both the inputs and the output visible for a moment; the manifest
says which is which, and :func:`recover` (run before any compaction, and at start) finishes the
job: output present -> delete the inputs left; output absent -> drop the manifest. Readers
deduplicate by (request id, instance) anyway, so even that moment never shows a row twice.

An hour is closed ``grace`` after its end. Prediction and label hours merge into
``compact-<digest>.parquet``. The index goes up in tiers: an hour's files into ``h<HH>-compact-...``
once the hour is closed, a day's into ``day-compact-...`` once the day is, and a whole ISO week's
into ``index/week=YYYY-Www/week-compact-...`` once the week is: about one index file per week
(each row written three times in all), which keeps ``modelops trace <id>`` to ~15 file reads for
90 days. The manifest names inputs and output relative to the store, so a merge may span directories.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelops.logsink.layout import INDEX, Store, iso_week, week_days
from modelops.logsink.parquet import DATA_ROW_GROUP, INDEX_ROW_GROUP

log = logging.getLogger(__name__)
MANIFEST = "_compaction.json"


def _digest(names: Iterable[str]) -> str:
    return hashlib.sha1("\n".join(sorted(names)).encode()).hexdigest()[:16]


def _read(store: Store, path: str) -> pa.Table:
    with store.fs.open(path, "rb") as handle:
        return pq.read_table(handle)


def recover(store: Store, directory: str) -> None:
    """Finish (or forget) a compaction a crash interrupted whose output goes to ``directory``."""
    manifest = posixpath.join(directory, MANIFEST)
    if not store.exists(manifest):
        return
    with store.fs.open(manifest, "rb") as handle:
        plan = json.load(handle)
    if store.exists(store.join(plan["output"])):
        store.remove([store.join(path) for path in plan["inputs"]])
        log.info("compaction into %s finished after a restart", directory)
    store.remove([manifest])


def merge(store: Store, directory: str, inputs: list[str], output_name: str, row_group: int) -> int:
    """Merge ``inputs`` (paths anywhere in the store) into ``directory/output_name``, sorted by
    request id; returns how many files were merged."""
    recover(store, directory)
    output = posixpath.join(directory, output_name)
    manifest = posixpath.join(directory, MANIFEST)
    store.makedirs(directory)
    with store.fs.open(manifest, "wb") as handle:
        handle.write(json.dumps({"inputs": [store.relative(p) for p in inputs],
                                 "output": store.relative(output)}).encode())
    tables = [_read(store, path) for path in inputs]
    table = pa.concat_tables(tables, promote_options="permissive")
    keys = [("request_id", "ascending")] + ([("instance", "ascending")] if "instance" in table.column_names else [])
    table = table.take(pc.sort_indices(table, sort_keys=keys))
    store.write_table(output, table, row_group_size=row_group)
    store.remove(inputs)
    store.remove([manifest])
    return len(inputs)


def hour_closed(date: str, hour: str, now: datetime, grace: timedelta) -> bool:
    start = datetime.strptime(f"{date} {hour}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    return now >= start + timedelta(hours=1) + grace


def compact_partition(store: Store, directory: str, now: datetime, grace: timedelta) -> tuple[int, bool]:
    """Compact one predictions/labels hour directory if closed: (files merged, settled). A directory
    is *settled* when closed and holding at most one file: nothing more to do unless written again."""
    values = store.partition_values(directory)
    if not hour_closed(values["date"], values["hour"], now, grace):
        return 0, False
    files = store.files(directory)
    if len(files) < 2:
        recover(store, directory)
        return 0, True
    return merge(store, directory, files, f"compact-{_named(files)}.parquet", DATA_ROW_GROUP), True


def _named(paths: list[str]) -> str:
    return _digest(posixpath.basename(p) for p in paths)


def compact_week(store: Store, week: str, now: datetime, grace: timedelta) -> tuple[int, bool]:
    """Merge a closed ISO week's index (its day directories, and a week file of an earlier merge)
    into one week file; the emptied day directories are removed."""
    days = week_days(week)
    if not hour_closed(days[-1], "23", now, grace):
        return 0, False
    directory = store.week_dir(week)
    recover(store, directory)
    day_dirs = [store.index_dir(day) for day in days]
    inputs = [f for d in day_dirs for f in store.files(d)]
    merged = 0
    if inputs:
        inputs += store.files(directory)
        merged = merge(store, directory, inputs, f"week-compact-{_named(inputs)}.parquet", INDEX_ROW_GROUP)
    for day_dir in day_dirs:
        if store.exists(day_dir) and not store.files(day_dir):
            store.remove_tree(day_dir)
    return merged, True


def compact_index(store: Store, directory: str, now: datetime, grace: timedelta) -> tuple[int, bool]:
    """Compact one index date directory: closed hours into one file each, a closed day into one
    file, and a closed week (this day's) into one file for the whole week."""
    date = store.partition_values(directory)["date"]
    week = iso_week(date)
    if hour_closed(week_days(week)[-1], "23", now, grace):
        return compact_week(store, week, now, grace)
    files = store.files(directory)
    merged = 0
    if hour_closed(date, "23", now, grace):
        if len(files) > 1:
            merged = merge(store, directory, files, f"day-compact-{_named(files)}.parquet", INDEX_ROW_GROUP)
        else:
            recover(store, directory)
        return merged, False  # not settled: its week closes later
    by_hour: dict[str, list[str]] = {}
    for path in files:
        name = posixpath.basename(path)
        if name.startswith("h"):
            by_hour.setdefault(name[1:3], []).append(path)
    for hour, paths in sorted(by_hour.items()):
        if len(paths) > 1 and hour_closed(date, hour, now, grace):
            merged += merge(store, directory, paths, f"h{hour}-compact-{_named(paths)}.parquet", INDEX_ROW_GROUP)
    return merged, False


def compact(store: Store, directory: str, now: datetime, grace: timedelta) -> tuple[int, bool]:
    """Compact whatever ``directory`` is (an index date, or a predictions/labels hour)."""
    if directory.startswith(store.join(INDEX) + "/"):
        return compact_index(store, directory, now, grace)
    return compact_partition(store, directory, now, grace)


def recent_directories(store: Store, now: datetime, days: int) -> set[str]:
    """Partition directories of the last ``days`` days (what a restart must look at again)."""
    cutoff = (now - timedelta(days=days)).strftime("%Y-%m-%d")
    found: set[str] = set()
    for kind in ("predictions", "labels"):
        for version_dir in store.walk(kind, depth=3):
            for date_dir in store.subdirs(version_dir, "date"):
                if store.partition_values(date_dir)["date"] >= cutoff:
                    found.update(store.subdirs(date_dir, "hour"))
    for date_dir in store.subdirs(store.join(INDEX), "date"):
        if store.partition_values(date_dir)["date"] >= cutoff:
            found.add(date_dir)
    return found
