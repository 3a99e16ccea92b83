"""Reading the prediction-log sink's store: the partitions of one model version in a time window,
the feature/score columns of their files, and the labels joined to them.

Owns the I/O against the store (``modelops.logsink.layout.Store``, fsspec: a local directory or
``s3://…``; S3 endpoint and credentials from the usual ``AWS_*`` environment, as the sink uses).
Directories are pruned by ``date=``/``hour=`` name (``planning.partition_in_window``) before any
file is listed; rows are then filtered on their own ``time`` (the request's ce-time), so a window
that starts mid-hour reads exactly its rows. Files are read one at a time through pyarrow (column
projection + filter), each yielding Arrow tables the sketches consume, so memory stays one file.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from modelops.drift_job.planning import TimeWindow, partition_in_window
from modelops.logsink.layout import LABELS, Store, encode
from modelops.logsink.parquet import INPUT_PREFIX, TIMESTAMP

SCORE, PREDICTION, TIME = "score", "prediction", "time"


def storage_options(url: str) -> dict[str, Any]:
    """fsspec options for ``url``: for ``s3://``, the endpoint and region from ``AWS_ENDPOINT_URL`` /
    ``AWS_DEFAULT_REGION`` (credentials are read from the environment by botocore itself)."""
    if not url.startswith(("s3://", "s3a://")):
        return {}
    client: dict[str, str] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if endpoint:
        client["endpoint_url"] = endpoint
    if region:
        client["region_name"] = region
    return {"client_kwargs": client} if client else {}


def open_store(url: str) -> Store:
    return Store(url, storage_options(url))


def version_dir(store: Store, kind: str, namespace: str, model: str, version: str) -> str:
    return store.join(kind, f"namespace={encode(namespace)}", f"model={encode(model)}", f"version={encode(version)}")


def window_files(store: Store, kind: str, namespace: str, model: str, version: str,
                 window: TimeWindow) -> list[str]:
    """Parquet files of the hour partitions overlapping ``window``, sorted (pruned by name first)."""
    files: list[str] = []
    base = version_dir(store, kind, namespace, model, version)
    for date_dir in store.subdirs(base, "date"):
        date = store.partition_values(date_dir)["date"]
        if not partition_in_window(date, None, window):
            continue
        for hour_dir in store.subdirs(date_dir, "hour"):
            if partition_in_window(date, store.partition_values(hour_dir)["hour"], window):
                files += store.files(hour_dir)
    return sorted(files)


def file_schema(store: Store, path: str) -> pa.Schema:
    with store.fs.open(path, "rb") as handle:
        return pq.read_schema(handle)


def observed_types(schema: pa.Schema) -> dict[str, str]:
    """Input column name (without ``input.``) → Arrow type name, as the schema check compares them."""
    return {f.name[len(INPUT_PREFIX):]: str(f.type) for f in schema if f.name.startswith(INPUT_PREFIX)}


def read_window_file(store: Store, path: str, window: TimeWindow, features: Sequence[str],
                     schema: pa.Schema | None = None) -> pa.Table:
    """One predictions file's rows inside ``window``: ``request_id``, ``instance``, ``score``,
    ``prediction`` and the ``input.<feature>`` columns the file has (absent ones are left out)."""
    schema = schema if schema is not None else file_schema(store, path)
    wanted = ["request_id", "instance", SCORE, PREDICTION, *(INPUT_PREFIX + f for f in features)]
    columns = [c for c in dict.fromkeys(wanted) if c in schema.names]
    dataset = ds.dataset(path, filesystem=store.arrow_filesystem(), format="parquet", schema=schema)
    if TIME not in schema.names:
        return dataset.to_table(columns=columns)
    start, end = pa.scalar(window.start, TIMESTAMP), pa.scalar(window.end, TIMESTAMP)
    where = (pc.field(TIME) >= start) & (pc.field(TIME) < end)
    return dataset.to_table(columns=columns, filter=where)


def label_files(store: Store, namespace: str, model: str, version: str, since: TimeWindow) -> list[str]:
    """Label files of the version received from the window's start on (labels arrive after predictions)."""
    base = version_dir(store, LABELS, namespace, model, version)
    out: list[str] = []
    for date_dir in store.subdirs(base, "date"):
        date = store.partition_values(date_dir)["date"]
        if date >= since.start.strftime("%Y-%m-%d"):
            for hour_dir in store.subdirs(date_dir, "hour"):
                out += store.files(hour_dir)
    return sorted(out)


def label_value(text: str | None) -> float | None:
    """A stored label (JSON text) as a binary outcome 0/1, or None when it is not one."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and value in (0, 1):
        return float(value)
    if isinstance(value, str) and value.lower() in ("0", "1", "true", "false"):
        return 1.0 if value.lower() in ("1", "true") else 0.0
    return None


def labels_by_request(store: Store, files: Sequence[str], request_ids: set[str]) -> dict[tuple[str, int | None], float]:
    """(request id, instance or None for the whole call) → binary label, for the requests given;
    the latest-received label wins when a prediction was labelled twice."""
    out: dict[tuple[str, int | None], tuple[Any, float]] = {}
    if not files or not request_ids:
        return {}
    ids = pa.array(sorted(request_ids), pa.string())
    for path in files:
        table = ds.dataset(path, filesystem=store.arrow_filesystem(), format="parquet").to_table(
            columns=["request_id", "instance", "label", "received_time"], filter=pc.field("request_id").isin(ids))
        for row in table.to_pylist():
            value = label_value(row["label"])
            if value is None:
                continue
            key = (row["request_id"], row["instance"])
            if key not in out or row["received_time"] >= out[key][0]:
                out[key] = (row["received_time"], value)
    return {k: v for k, (_, v) in out.items()}


def iter_tables(store: Store, files: Sequence[str], window: TimeWindow, features: Sequence[str]) -> Iterator[pa.Table]:
    for path in files:
        table = read_window_file(store, path, window, features)
        if table.num_rows:
            yield table


def join_path(root: str, *parts: str) -> str:
    """``root`` (a local path or URL) joined with ``parts``."""
    return posixpath.join(root.rstrip("/"), *parts)
