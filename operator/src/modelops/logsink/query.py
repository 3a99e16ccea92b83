"""Reading the store back: predictions by request id, or by an entity key within a time range.
Used by ``modelops trace`` and by the sink itself to join labels that arrive after their
predictions were written.

Owns the read path and its pruning; every read goes through ``pyarrow.dataset`` with filters, so
pyarrow skips row groups by their statistics:

- **by id** (:meth:`Finder.by_ids`): the ``index`` dataset (a file per week once compacted, sorted
  by request id) answers which partition holds each id — pyarrow reads each file's footer and only
  the row group whose id range covers the id — then only those hour directories are read;
- **by key** (:meth:`Finder.by_key`): only the hour directories inside the range (and the namespace
  and model, when given) are listed; a first scan reads the key column, id and time only, and the
  full rows are then read from the partitions that matched.

Rows come back as dicts (partition values included, ``input.*`` columns as stored), one per
(request id, instance) even if a compaction was interrupted half-way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modelops.logsink.layout import INDEX, LABELS, PARTITION_KEYS, PREDICTIONS, Store, week_days
from modelops.logsink.parquet import INDEX_SCHEMA, INPUT_PREFIX

PARTITION_SCHEMA = pa.schema([(key, pa.string()) for key in PARTITION_KEYS])
Partition = tuple[str, str, str, str, str]


def _date(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%d")


class Finder:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.filesystem = store.arrow_filesystem()

    def _dataset(self, files: list[str], base: str, partitioning: pa.Schema, schema: pa.Schema | None) -> ds.Dataset:
        part = ds.partitioning(partitioning, flavor="hive")
        if schema is None:
            probe = ds.dataset(files, filesystem=self.filesystem, format="parquet")
            schema = pa.unify_schemas([f.physical_schema for f in probe.get_fragments()],
                                      promote_options="permissive")
            schema = pa.unify_schemas([schema, partitioning])
        return ds.dataset(files, filesystem=self.filesystem, format="parquet", partitioning=part,
                          partition_base_dir=base, schema=schema)

    # -- by id -----------------------------------------------------------------------------------

    def locate(self, ids: Sequence[str], since: datetime | None = None,
               until: datetime | None = None) -> list[Partition]:
        """The partitions holding these request ids, from the index."""
        first, last = _date(since), _date(until)

        def inside(lo: str, hi: str) -> bool:
            return (first is None or hi >= first) and (last is None or lo <= last)

        root = self.store.join(INDEX)
        files: list[str] = []
        for directory in self.store.subdirs(root, "date"):
            date = self.store.partition_values(directory)["date"]
            if inside(date, date):
                files += self.store.files(directory)
        for directory in self.store.subdirs(root, "week"):
            days = week_days(self.store.partition_values(directory)["week"])
            if inside(days[0], days[-1]):
                files += self.store.files(directory)
        if not files or not ids:
            return []
        dataset = ds.dataset(files, filesystem=self.filesystem, format="parquet", schema=INDEX_SCHEMA)
        table = dataset.to_table(filter=pc.field("request_id").isin(list(ids)), columns=list(PARTITION_KEYS))
        return sorted(set(zip(*(table.column(k).to_pylist() for k in PARTITION_KEYS), strict=True)))

    def read(self, partitions: Iterable[Partition], where: pc.Expression,
             kind: str = PREDICTIONS) -> list[dict[str, Any]]:
        """Rows of these partitions matching ``where``, deduplicated, oldest first."""
        files = [f for p in partitions for f in self.store.files(self.store.partition(kind, *p))]
        if not files:
            return []
        dataset = self._dataset(files, self.store.join(kind), PARTITION_SCHEMA, None)
        rows = dataset.to_table(filter=where).to_pylist()
        unique: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            unique.setdefault((row.get("request_id"), row.get("instance"), row.get("label_time")), row)
        return sorted(unique.values(), key=lambda r: (r.get("time") or r.get("label_time"), r.get("instance") or 0))

    def by_ids(self, ids: Sequence[str], since: datetime | None = None,
               until: datetime | None = None) -> list[dict[str, Any]]:
        partitions = self.locate(ids, since, until)
        return self.read(partitions, pc.field("request_id").isin(list(ids))) if partitions else []

    # -- by key ----------------------------------------------------------------------------------

    def partitions_between(self, since: datetime, until: datetime, namespace: str | None = None,
                           model: str | None = None, kind: str = PREDICTIONS) -> list[str]:
        """Hour directories whose hour overlaps [since, until]."""
        first, last = since.astimezone(UTC), until.astimezone(UTC)
        lo, hi = (first.strftime("%Y-%m-%d"), first.strftime("%H")), (last.strftime("%Y-%m-%d"), last.strftime("%H"))
        out = []
        for ns_dir in self.store.subdirs(self.store.join(kind), "namespace"):
            if namespace is not None and self.store.partition_values(ns_dir)["namespace"] != namespace:
                continue
            for model_dir in self.store.subdirs(ns_dir, "model"):
                if model is not None and self.store.partition_values(model_dir)["model"] != model:
                    continue
                for version_dir in self.store.subdirs(model_dir, "version"):
                    for date_dir in self.store.subdirs(version_dir, "date"):
                        date = self.store.partition_values(date_dir)["date"]
                        if not lo[0] <= date <= hi[0]:
                            continue
                        for hour_dir in self.store.subdirs(date_dir, "hour"):
                            if lo <= (date, self.store.partition_values(hour_dir)["hour"]) <= hi:
                                out.append(hour_dir)
        return out

    def by_key(self, column: str, value: Any, since: datetime, until: datetime, *, namespace: str | None = None,
               model: str | None = None) -> list[dict[str, Any]]:
        """Predictions whose input ``column`` equals ``value`` (compared as text) within [since, until]."""
        directories = self.partitions_between(since, until, namespace, model)
        files = [f for d in directories for f in self.store.files(d)]
        if not files:
            return []
        field = INPUT_PREFIX + column
        narrow = pa.schema([("request_id", pa.string()), ("instance", pa.int32()),
                            ("time", pa.timestamp("us", tz="UTC")), (field, pa.string())])
        dataset = self._dataset(files, self.store.join(PREDICTIONS), PARTITION_SCHEMA,
                                pa.unify_schemas([narrow, PARTITION_SCHEMA]))
        where = ((pc.field(field) == str(value)) & (pc.field("time") >= pa.scalar(since, narrow.field("time").type))
                 & (pc.field("time") <= pa.scalar(until, narrow.field("time").type)))
        hits = dataset.to_table(filter=where, columns=["request_id", "instance", *PARTITION_KEYS])
        if hits.num_rows == 0:
            return []
        wanted = set(zip(hits.column("request_id").to_pylist(), hits.column("instance").to_pylist(), strict=True))
        partitions = set(zip(*(hits.column(k).to_pylist() for k in PARTITION_KEYS), strict=True))
        rows = self.read(sorted(partitions), pc.field("request_id").isin(sorted({i for i, _ in wanted})))
        return [row for row in rows if (row["request_id"], row["instance"]) in wanted]

    # -- labels ----------------------------------------------------------------------------------

    def labels_for(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        """Labels stored for one prediction (any arrival date from the prediction's on)."""
        version_dir = self.store.partition(LABELS, row["namespace"], row["model"], row["version"], "x", "x")
        version_dir = version_dir.rsplit("/", 2)[0]
        partitions: list[Partition] = []
        for date_dir in self.store.subdirs(version_dir, "date"):
            date = self.store.partition_values(date_dir)["date"]
            if date >= row["date"]:
                for hour_dir in self.store.subdirs(date_dir, "hour"):
                    partitions.append((row["namespace"], row["model"], row["version"], date,
                                       self.store.partition_values(hour_dir)["hour"]))
        if not partitions:
            return []
        where = pc.field("request_id") == row["request_id"]
        return [r for r in self.read(partitions, where, kind=LABELS)
                if r.get("instance") in (None, row.get("instance"))]

