"""Parquet writing: what a flush's pairs and labels become as Arrow tables, and one flush written.

Owns the columns of the three datasets (see layout.py for where they go):

- **predictions**, one row per instance of a call: ``request_id``, ``instance``, ``time`` (the
  request's ce-time; a lone response's own), ``response_time``, ``latency_seconds`` (response minus
  request ce-time: both stamped by the same KServe agent, so no clock skew between machines and no
  queueing in the logger's worker pool counts), ``modelversion``, ``stage``, ``inference_service``,
  ``component``, ``endpoint``, ``source`` (the predictor Pod), ``status`` (``complete``,
  ``request_only``, ``response_only``), ``prediction`` (JSON text of the output), ``score``, and one
  ``input.<feature>`` column per feature; namespace, model, version, date and hour are the
  partition directories;
- **index**, one row per call: ``request_id``, ``namespace``, ``model``, ``version``, ``date``,
  ``hour`` (the partition holding it), sorted by request id;
- **labels**: ``request_id``, ``instance``, ``modelversion``, ``stage``, ``label`` (JSON text),
  ``metric``, ``outcome``, ``label_time``, ``received_time``, ``key_column``, ``key_value``.

A feature column takes the type pyarrow infers for its values in that file (int64, double, string,
bool); values of mixed kinds are stored as their JSON text. Readers unify files' schemas.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from modelops.logsink.layout import LABELS, PREDICTIONS, Store, date_hour
from modelops.logsink.records import Label, Pair

INPUT_PREFIX = "input."
TIMESTAMP = pa.timestamp("us", tz="UTC")
FIXED = pa.schema([
    ("request_id", pa.string()), ("instance", pa.int32()), ("time", TIMESTAMP), ("response_time", TIMESTAMP),
    ("latency_seconds", pa.float64()), ("modelversion", pa.string()), ("stage", pa.string()),
    ("inference_service", pa.string()), ("component", pa.string()), ("endpoint", pa.string()),
    ("source", pa.string()), ("status", pa.string()), ("prediction", pa.string()), ("score", pa.float64()),
])
INDEX_SCHEMA = pa.schema([
    ("request_id", pa.string()), ("namespace", pa.string()), ("model", pa.string()), ("version", pa.string()),
    ("date", pa.string()), ("hour", pa.string()),
])
LABEL_SCHEMA = pa.schema([
    ("request_id", pa.string()), ("instance", pa.int32()), ("modelversion", pa.string()), ("stage", pa.string()),
    ("label", pa.string()), ("metric", pa.string()), ("outcome", pa.string()), ("label_time", TIMESTAMP),
    ("received_time", TIMESTAMP), ("key_column", pa.string()), ("key_value", pa.string()),
])
DATA_ROW_GROUP = 65536
INDEX_ROW_GROUP = 8192

PartitionKey = tuple[str, str, str, str, str]  # namespace, model, version, date, hour


def feature_array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values],
                        pa.string())


def _status(pair: Pair) -> str:
    return "complete" if pair.complete else "request_only" if pair.request is not None else "response_only"


def predictions_table(pairs: Iterable[Pair]) -> pa.Table:
    """One row per instance. Built a column at a time (one comprehension each): a flush is on the
    sink's busiest path, and row-by-row appends cost five times as much."""
    rows = [(pair, i) for pair in pairs for i in range(pair.instances())]
    firsts = [pair.first for pair, _ in rows]
    responses = [pair.response for pair, _ in rows]
    outputs = [(r.outputs[i] if r is not None and r.outputs and i < len(r.outputs) else (None, None))
               for r, (_, i) in zip(responses, rows, strict=True)]
    features = [(pair.request.features[i] if pair.request is not None and pair.request.features
                 and i < len(pair.request.features) else {}) for pair, i in rows]
    columns: dict[str, list[Any]] = {
        "request_id": [f.id for f in firsts],
        "instance": [i for _, i in rows],
        "time": [f.time_us for f in firsts],
        "response_time": [r.time_us if r is not None else None for r in responses],
        "latency_seconds": [pair.latency for pair, _ in rows],
        "modelversion": [f.modelversion for f in firsts],
        "stage": [f.stage for f in firsts],
        "inference_service": [f.inference_service for f in firsts],
        "component": [f.component for f in firsts],
        "endpoint": [f.endpoint for f in firsts],
        "source": [f.source for f in firsts],
        "status": [_status(pair) for pair, _ in rows],
        "prediction": [o[0] for o in outputs],
        "score": [o[1] for o in outputs],
    }
    arrays = [pa.array(columns[f.name], f.type) for f in FIXED]
    names = list(FIXED.names)
    for name in sorted({key for row in features for key in row}):
        arrays.append(feature_array([row.get(name) for row in features]))
        names.append(INPUT_PREFIX + name)
    return pa.Table.from_arrays(arrays, names=names)


def index_table(pairs: Iterable[Pair]) -> pa.Table:
    rows = sorted((p.id, p.first.namespace, p.first.model, p.first.version, *date_hour(p.first.time_us))
                  for p in pairs)
    return pa.Table.from_arrays([pa.array([r[i] for r in rows], pa.string()) for i in range(len(INDEX_SCHEMA))],
                                schema=INDEX_SCHEMA)


def labels_table(labels: Iterable[Label]) -> pa.Table:
    rows = [(lb.request_id, lb.instance, lb.modelversion, lb.stage, lb.label, lb.metric, lb.outcome,
             lb.label_time_us, lb.received_us, lb.key_column, lb.key_value) for lb in labels]
    return pa.Table.from_arrays([pa.array([r[i] for r in rows], f.type) for i, f in enumerate(LABEL_SCHEMA)],
                                schema=LABEL_SCHEMA)


@dataclass
class FlushResult:
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    rows: int = 0
    directories: set[str] = field(default_factory=set)  # partitions written into (compaction candidates)


def write_flush(store: Store, flush: int, pairs: list[Pair], labels: list[Label]) -> FlushResult:
    """Write one flush: one predictions file per partition, one index file per (date, hour), one
    labels file per partition. Deterministic names: redoing a flush writes only what is missing."""
    result = FlushResult()
    name = f"part-{flush:012d}.parquet"
    by_partition: dict[PartitionKey, list[Pair]] = defaultdict(list)
    by_hour: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for pair in pairs:
        first = pair.first
        date, hour = date_hour(first.time_us)
        by_partition[(first.namespace, first.model, first.version, date, hour)].append(pair)
        by_hour[(date, hour)].append(pair)
    for key, group in sorted(by_partition.items()):
        table = predictions_table(group)
        _write(store, result, store.partition(PREDICTIONS, *key), name, table, DATA_ROW_GROUP)
    for (date, hour), group in sorted(by_hour.items()):
        _write(store, result, store.index_dir(date), f"h{hour}-{name}", index_table(group), INDEX_ROW_GROUP)
    by_label: dict[PartitionKey, list[Label]] = defaultdict(list)
    for label in labels:
        date, hour = date_hour(label.received_us)
        by_label[(label.namespace, label.model, label.version, date, hour)].append(label)
    for key, group_labels in sorted(by_label.items()):
        _write(store, result, store.partition(LABELS, *key), name, labels_table(group_labels), DATA_ROW_GROUP)
    return result


def _write(store: Store, result: FlushResult, directory: str, name: str, table: pa.Table, row_group: int) -> None:
    path = f"{directory}/{name}"
    size = store.write_table(path, table, row_group_size=row_group)
    result.files.append(path)
    result.bytes += size
    if directory.startswith(store.join(PREDICTIONS) + "/"):
        result.rows += table.num_rows
    result.directories.add(directory)
