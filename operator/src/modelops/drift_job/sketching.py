"""Sketching columns: reference sketches built once from a reference table, current-window counts
updated from Arrow tables, and a shard's ``Partial`` (mergeable by addition) handed to the merger.

Owns the conversion of Arrow columns into what ``core.drift``'s sketches take (float64 arrays
with NaN for nulls; value counts with names as ``str(value)``), the standard column names of a
run (feature names as the DriftMonitor spells them, the prediction as ``__prediction__``), the
bounded row sample behind the HTML report, and the labelled rows behind performance drift.

Mergeability: windows add exactly (``core.drift`` sketches); the report sample is a bottom-k
sample by a hash of (request id, instance), so the union of shards' samples cut back to k rows is
exactly the single-pod sample; labelled rows concatenate (sorted by key before use). A run split
into shards therefore gives the single-pod results, whatever the split.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelops.api.driftmonitor import PREDICTION_FEATURE, FeatureType
from modelops.core.drift.sketch_categorical import CategoricalReference, CategoricalWindow
from modelops.core.drift.sketch_numeric import NumericReference, NumericWindow
from modelops.logsink.parquet import INPUT_PREFIX

FloatArray = npt.NDArray[np.float64]
SketchRef = NumericReference | CategoricalReference
SketchWindow = NumericWindow | CategoricalWindow
DEFAULT_SAMPLE_ROWS = 10_000
PARTIAL_FORMAT = "modelops.io/drift-partial/v1"
LABEL_COLUMNS = ("__label__", "label")
SNAPSHOT_PREDICTION_COLUMNS = (PREDICTION_FEATURE, "score")


def numeric_values(column: pa.ChunkedArray | pa.Array) -> FloatArray:
    """A column as float64 with NaN for nulls; text that is not a number becomes NaN too."""
    kind = column.type
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind) \
            or pa.types.is_decimal(kind):
        cast = pc.cast(column, pa.float64())
    else:
        try:
            cast = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return np.full(len(column), np.nan)
    return np.asarray(cast.fill_null(math.nan).to_numpy(zero_copy_only=False), dtype=np.float64)


def value_counts(column: pa.ChunkedArray | pa.Array) -> tuple[list[str], list[int], int]:
    """(names as ``str(value)``, counts, nulls) of a column."""
    nulls = column.null_count
    counted = pc.value_counts(column.drop_null() if isinstance(column, pa.ChunkedArray) else pc.drop_null(column))
    names = [str(v) for v in counted.field("values").to_pylist()]
    return names, [int(c) for c in counted.field("counts").to_pylist()], int(nulls)


def is_numeric_type(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))


def standard_columns(table: pa.Table, features: Sequence[str], prediction: FeatureType | None,
                     logged: bool) -> dict[str, pa.ChunkedArray]:
    """Feature name → column, plus ``__prediction__`` when ``prediction`` is set. ``logged``: the
    sink's layout (``input.<f>``, ``score``/``prediction``); else a snapshot's plain names."""
    out: dict[str, pa.ChunkedArray] = {}
    for name in features:
        column = INPUT_PREFIX + name if logged else name
        if column in table.column_names:
            out[name] = table.column(column)
    if prediction is not None:
        if logged:
            source = "score" if prediction == FeatureType.NUMERIC else "prediction"
        else:
            source = next((c for c in SNAPSHOT_PREDICTION_COLUMNS if c in table.column_names), "")
        if source in table.column_names:
            out[PREDICTION_FEATURE] = table.column(source)
    return out


def prediction_type(table: pa.Table, logged: bool) -> FeatureType | None:
    """How the prediction is sketched, decided once from the reference: numeric from the sink's
    ``score`` (or a snapshot's numeric ``__prediction__``/``score``), categorical from the
    prediction text; None when the reference has no prediction at all."""
    if logged:
        if "score" in table.column_names and table.column("score").null_count < table.num_rows:
            return FeatureType.NUMERIC
        if "prediction" in table.column_names and table.column("prediction").null_count < table.num_rows:
            return FeatureType.CATEGORICAL
        return None
    for name in SNAPSHOT_PREDICTION_COLUMNS:
        if name in table.column_names:
            return FeatureType.NUMERIC if is_numeric_type(table.column(name).type) else FeatureType.CATEGORICAL
    return None


def build_reference(kind: FeatureType, column: pa.ChunkedArray) -> SketchRef:
    if kind == FeatureType.NUMERIC:
        return NumericReference.build(numeric_values(column))
    names, counts, nulls = value_counts(column)
    return CategoricalReference.from_counts(names, counts, nulls=nulls)


def update_window(window: SketchWindow, column: pa.ChunkedArray) -> None:
    if isinstance(window, NumericWindow):
        window.update(numeric_values(column))
    else:
        names, counts, nulls = value_counts(column)
        window.update_counts(names, counts, nulls=nulls)


def sketch_to_dict(sketch: SketchRef) -> dict[str, Any]:
    return sketch.to_dict()


def sketch_from_dict(data: Mapping[str, Any]) -> SketchRef:
    if data.get("type") == "numeric":
        return NumericReference.from_dict(dict(data))
    return CategoricalReference.from_dict(data)


def window_from_dict(data: Mapping[str, Any], reference: SketchRef) -> SketchWindow:
    if isinstance(reference, NumericReference):
        return NumericWindow.from_dict(dict(data), reference)
    return CategoricalWindow.from_dict(data, reference)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


@dataclass
class Sample:
    """A bottom-k sample of rows: the k rows with the smallest key (a hash), mergeable exactly."""

    limit: int
    keys: list[int] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, keys: Sequence[int], rows: Sequence[dict[str, Any]]) -> None:
        pairs = sorted(zip([*self.keys, *keys], [*self.rows, *rows], strict=True), key=lambda p: p[0])
        kept = pairs[: self.limit]
        self.keys = [k for k, _ in kept]
        self.rows = [r for _, r in kept]

    def merge(self, other: Sample) -> Sample:
        out = Sample(self.limit, list(self.keys), list(self.rows))
        out.add(other.keys, other.rows)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "keys": self.keys, "rows": self.rows}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Sample:
        return Sample(int(data["limit"]), [int(k) for k in data["keys"]], list(data["rows"]))


def row_keys(table: pa.Table) -> list[int]:
    """A stable hash of (request id, instance) per row: the sample's order."""
    ids = table.column("request_id").to_pylist() if "request_id" in table.column_names else [""] * table.num_rows
    inst = table.column("instance").to_pylist() if "instance" in table.column_names else [0] * table.num_rows
    return [zlib.crc32(f"{i}\x00{n}".encode()) for i, n in zip(ids, inst, strict=True)]


def sample_rows(columns: Mapping[str, pa.ChunkedArray], keys: Sequence[int],
                limit: int) -> tuple[list[int], list[dict[str, Any]]]:
    """The ``limit`` rows of a batch with the smallest keys, as plain dicts of the standard columns."""
    order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")[:limit].tolist()
    if not order:
        return [], []
    taken = {name: column.take(pa.array(order, pa.int64())).to_pylist() for name, column in columns.items()}
    rows = [{name: _plain(values[j]) for name, values in taken.items()} for j in range(len(order))]
    return [keys[i] for i in order], rows


@dataclass
class Labelled:
    """Labelled predictions for performance drift: (key, label, score, slice values) per row."""

    keys: list[int] = field(default_factory=list)
    labels: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    slices: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def extend(self, other: Labelled) -> None:
        self.keys += other.keys
        self.labels += other.labels
        self.scores += other.scores
        for name, values in other.slices.items():
            self.slices.setdefault(name, []).extend(values)

    def ordered(self) -> Labelled:
        """Sorted by key (then label, score): the same rows in the same order however they were split."""
        order = sorted(range(len(self.labels)), key=lambda i: (self.keys[i], self.labels[i], self.scores[i]))
        return Labelled([self.keys[i] for i in order], [self.labels[i] for i in order],
                        [self.scores[i] for i in order],
                        {name: [values[i] for i in order] for name, values in self.slices.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"keys": self.keys, "labels": self.labels, "scores": self.scores, "slices": self.slices}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Labelled:
        return Labelled([int(k) for k in data["keys"]], [float(v) for v in data["labels"]],
                        [float(v) for v in data["scores"]], {k: [str(x) for x in v] for k, v in data["slices"].items()})


@dataclass
class Partial:
    """One shard's sketch of its files: windows per feature, rows, observed input types, the report
    sample and the labelled rows. ``merge`` adds two; ``to_dict``/``from_dict`` carry it between pods."""

    windows: dict[str, SketchWindow]
    rows: int = 0
    observed: dict[str, list[str]] = field(default_factory=dict)
    sample: Sample = field(default_factory=lambda: Sample(DEFAULT_SAMPLE_ROWS))
    labelled: Labelled = field(default_factory=Labelled)
    files: int = 0

    def observe(self, types: Mapping[str, str]) -> None:
        for name, kind in types.items():
            seen = self.observed.setdefault(name, [])
            if kind not in seen:
                seen.append(kind)
                seen.sort()

    def merge(self, other: Partial) -> Partial:
        if set(self.windows) != set(other.windows):
            raise ValueError("partials sketch different features")
        merged = Partial({name: self.windows[name].merge(other.windows[name])  # type: ignore[arg-type]
                          for name in self.windows},
                         rows=self.rows + other.rows, sample=self.sample.merge(other.sample),
                         files=self.files + other.files)
        merged.observe({})
        for source in (self.observed, other.observed):
            for name, kinds in source.items():
                for kind in kinds:
                    merged.observe({name: kind})
        merged.labelled.extend(self.labelled)
        merged.labelled.extend(other.labelled)
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PARTIAL_FORMAT,
            "rows": self.rows,
            "files": self.files,
            "windows": {name: w.to_dict() for name, w in sorted(self.windows.items())},
            "observed": self.observed,
            "sample": self.sample.to_dict(),
            "labelled": self.labelled.to_dict(),
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any], references: Mapping[str, SketchRef]) -> Partial:
        if data.get("format") != PARTIAL_FORMAT:
            raise ValueError(f"not a drift partial: format {data.get('format')!r}")
        windows = {name: window_from_dict(w, references[name]) for name, w in data["windows"].items()}
        return Partial(windows, rows=int(data["rows"]), observed={k: list(v) for k, v in data["observed"].items()},
                       sample=Sample.from_dict(data["sample"]), labelled=Labelled.from_dict(data["labelled"]),
                       files=int(data.get("files", 0)))
