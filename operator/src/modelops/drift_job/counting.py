"""Counting the current window: a shard's predictions files into a ``Partial``, and the partials
of all shards merged (the Indexed Job's shard 0 waits for them, bounded).

Owns the current side's I/O: every file of the shard is read once (projection to the monitored
columns, rows filtered to the window), its rows added to the windows over the reference's bins
(a column a file lacks counts as nulls for that file's rows), to the report sample, and — when
labels exist — to the labelled rows. Partials are stored at
``<reports>/_partials/<ns>/<monitor>/<run-id>/shard-<i>.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from modelops.api.driftmonitor import DriftMonitorSpec
from modelops.core.drift.sketch_numeric import NumericWindow
from modelops.drift_job.artifacts import Artifacts
from modelops.drift_job.labelling import labelled_rows
from modelops.drift_job.logs import file_schema, observed_types, read_window_file
from modelops.drift_job.planning import TimeWindow
from modelops.drift_job.reference import ReferenceSummary
from modelops.drift_job.sketching import (
    DEFAULT_SAMPLE_ROWS,
    Partial,
    Sample,
    row_keys,
    sample_rows,
    standard_columns,
    update_window,
)
from modelops.logsink.layout import Store

logger = logging.getLogger(__name__)


class ShardsMissing(TimeoutError):
    """Shard 0 gave up waiting for the other shards' partials."""


def count_files(store: Store, files: Sequence[str], window: TimeWindow, reference: ReferenceSummary,
                spec: DriftMonitorSpec, labels: Sequence[str], sample_limit: int = DEFAULT_SAMPLE_ROWS) -> Partial:
    """One shard's partial over ``files``."""
    windows = {name: sketch.window() for name, sketch in reference.sketches.items()}
    partial = Partial(windows, sample=Sample(sample_limit))
    names = [f.name for f in spec.features]
    for path in files:
        partial.files += 1
        schema = file_schema(store, path)
        partial.observe(observed_types(schema))
        table = read_window_file(store, path, window, [*names, *spec.slices], schema)
        if not table.num_rows:
            continue
        partial.rows += table.num_rows
        columns = standard_columns(table, names, reference.prediction, logged=True)
        for name, win in windows.items():
            if name in columns:
                update_window(win, columns[name])
            elif isinstance(win, NumericWindow):
                win.update(np.full(table.num_rows, np.nan))
            else:
                win.update_counts([], [], nulls=table.num_rows)
        keys, rows = sample_rows(columns, row_keys(table), sample_limit)
        partial.sample.add(keys, rows)
        if labels:
            partial.labelled.extend(labelled_rows(store, labels, table, spec.slices))
    return partial


def partial_parts(namespace: str, monitor: str, run: str, index: int) -> tuple[str, ...]:
    return ("_partials", namespace, monitor, run, f"shard-{index}.json")


def write_partial(artifacts: Artifacts, partial: Partial, namespace: str, monitor: str, run: str, index: int) -> str:
    return artifacts.write_json(partial.to_dict(), *partial_parts(namespace, monitor, run, index))


def gather(artifacts: Artifacts, mine: Partial, reference: ReferenceSummary, namespace: str, monitor: str,
           run: str, shards: int, timeout: float, poll: float = 1.0) -> Partial:
    """Shard 0: wait (at most ``timeout`` seconds) until every other shard's partial exists, then
    merge them all in shard order (merging is addition, so the order changes nothing but rounding)."""
    deadline = time.monotonic() + timeout
    waiting = set(range(1, shards))
    while True:
        waiting = {i for i in waiting if not artifacts.exists(*partial_parts(namespace, monitor, run, i))}
        if not waiting:
            break
        if time.monotonic() >= deadline:
            raise ShardsMissing(f"gave up after {timeout:g}s waiting for the partials of shards "
                                f"{sorted(waiting)} of run {run}")
        time.sleep(poll)
    merged = mine
    for i in range(1, shards):
        data = artifacts.read_json(*partial_parts(namespace, monitor, run, i))
        merged = merged.merge(Partial.from_dict(data, reference.sketches))
    return merged
