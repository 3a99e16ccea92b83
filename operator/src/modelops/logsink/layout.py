"""The store's layout, and the one door to it (fsspec).

Owns where every file goes and how a file is written once and never changed; every other module
(writing, compaction, retention, queries) asks here.

```
<store>/predictions/namespace=<ns>/model=<model>/version=<version>/date=YYYY-MM-DD/hour=HH/<file>.parquet
<store>/labels/     namespace=<ns>/model=<model>/version=<version>/date=YYYY-MM-DD/hour=HH/<file>.parquet
<store>/index/date=YYYY-MM-DD/<file>.parquet      request_id -> namespace, model, version, date, hour
<store>/index/week=YYYY-Www/<file>.parquet          the same, for a closed ISO week (one file)
```

Hive-style directories (values URI-encoded, as pyarrow's hive partitioning decodes them); dates and
hours in UTC, of the prediction's ``ce-time`` for predictions and of the label's arrival for labels.
``index`` is what makes ``modelops trace <request-id>`` fast without a time range: one file per
closed week (per day and per hour before that), sorted by request id, whose row-group statistics
let pyarrow skip all but one row group per file — a lookup reads ~15 footers and ~15 row groups of
ids for 90 days, then one hour directory, instead of every prediction file.

File names: ``part-<flush>.parquet`` (one per partition per flush: a redone flush after a crash
writes the same names, and skips files already there), ``compact-<digest>.parquet`` (hour
compaction), index files ``h<HH>-part-<flush>``, ``h<HH>-compact-<digest>``,
``day-compact-<digest>`` and ``week-compact-<digest>``. A file is written to a hidden temporary
name, fsynced and renamed on a local disk; an object store's PUT is atomic already. Names
starting with ``_`` or ``.`` are invisible to pyarrow's dataset discovery (manifests, temporaries).
"""

from __future__ import annotations

import os
import posixpath
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

PREDICTIONS, LABELS, INDEX = "predictions", "labels", "index"
PARTITION_KEYS = ("namespace", "model", "version", "date", "hour")


def iso_week(date: str) -> str:
    """``2026-09-02`` -> ``2026-W36`` (ISO weeks run Monday to Sunday)."""
    year, week, _ = datetime.strptime(date, "%Y-%m-%d").isocalendar()
    return f"{year}-W{week:02d}"


def week_days(week: str) -> list[str]:
    """The seven dates of an ISO week, Monday first."""
    monday = datetime.strptime(week + "-1", "%G-W%V-%u")
    return [(monday + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(7)]
COMPRESSION = "zstd"


def date_hour(micros: int) -> tuple[str, str]:
    when = datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
    return when.strftime("%Y-%m-%d"), when.strftime("%H")


def encode(value: str) -> str:
    return quote(value, safe="")


def decode(segment: str) -> tuple[str, str]:
    """``"model=fraud%2Fdetector"`` -> ``("model", "fraud/detector")``."""
    key, _, value = segment.partition("=")
    return key, unquote(value)


class Store:
    """One store (a local directory or an object store prefix) and its layout."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url
        options = dict(options or {})
        if "://" in url and not url.startswith("file://"):
            # A long-running sink lists directories other writers (compaction, retention, a second
            # sink) change: a cached listing would hide their objects, or show deleted ones.
            options.setdefault("use_listings_cache", False)
        self.fs, root = fsspec.core.url_to_fs(url, **options)
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.local = "file" in protocols or "local" in protocols
        self.root = root.rstrip("/")
        if self.local:
            os.makedirs(self.root, exist_ok=True)

    # -- paths ---------------------------------------------------------------------------------

    def join(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def partition(self, kind: str, namespace: str, model: str, version: str, date: str, hour: str) -> str:
        values = (namespace, model, version, date, hour)
        return self.join(kind, *(f"{k}={encode(v)}" for k, v in zip(PARTITION_KEYS, values, strict=True)))

    def index_dir(self, date: str) -> str:
        return self.join(INDEX, f"date={date}")

    def week_dir(self, week: str) -> str:
        return self.join(INDEX, f"week={week}")

    def relative(self, path: str) -> str:
        return posixpath.relpath(path, self.root)

    @staticmethod
    def partition_values(directory: str) -> dict[str, str]:
        return dict(decode(part) for part in directory.split("/") if "=" in part)

    # -- files ---------------------------------------------------------------------------------

    def makedirs(self, directory: str) -> None:
        """Local directories exist before files go in; object stores have no directories."""
        if self.local:
            os.makedirs(directory, exist_ok=True)

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def files(self, directory: str) -> list[str]:
        """Visible Parquet files directly in ``directory`` (none if it does not exist)."""
        try:
            entries = self.fs.ls(directory, detail=False)
        except FileNotFoundError:
            return []
        return sorted(p for p in entries if p.endswith(".parquet") and posixpath.basename(p)[:1] not in ("_", "."))

    def subdirs(self, directory: str, key: str) -> list[str]:
        """Child directories ``key=...`` of ``directory``."""
        try:
            entries = self.fs.ls(directory, detail=True)
        except FileNotFoundError:
            return []
        names = (e["name"].rstrip("/") for e in entries if e.get("type") == "directory")
        return sorted(n for n in names if posixpath.basename(n).startswith(key + "="))

    def walk(self, kind: str, depth: int = 5) -> Iterator[str]:
        """Every partition directory of ``kind`` down to ``depth`` keys (5: hours)."""
        level = [self.join(kind)]
        for key in PARTITION_KEYS[:depth]:
            level = [child for parent in level for child in self.subdirs(parent, key)]
        yield from level

    def write_table(self, path: str, table: pa.Table, *, row_group_size: int = 65536) -> int:
        """Write ``table`` to ``path`` once: 0 if a file is already there (a redone flush), else its size."""
        if self.fs.exists(path):
            return 0
        directory = posixpath.dirname(path)
        if self.local:
            os.makedirs(directory, exist_ok=True)
            temporary = posixpath.join(directory, f".{posixpath.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
            with self.fs.open(temporary, "wb") as handle:
                pq.write_table(table, handle, compression=COMPRESSION, row_group_size=row_group_size)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        else:
            with self.fs.open(path, "wb") as handle:
                pq.write_table(table, handle, compression=COMPRESSION, row_group_size=row_group_size)
        return int(self.fs.size(path))

    def remove(self, paths: list[str]) -> None:
        for path in paths:
            try:
                self.fs.rm(path)
            except FileNotFoundError:
                pass

    def remove_tree(self, directory: str) -> None:
        try:
            self.fs.rm(directory, recursive=True)
        except FileNotFoundError:
            pass

    def arrow_filesystem(self) -> pafs.FileSystem:
        """For reads: pyarrow's own local filesystem on a local store (its reads are faster than
        through Python), fsspec wrapped for pyarrow anywhere else."""
        if self.local:
            return pafs.LocalFileSystem()
        return pafs.PyFileSystem(pafs.FSSpecHandler(self.fs))
