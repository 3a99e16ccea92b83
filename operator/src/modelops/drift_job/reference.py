"""The reference side of a run: find it, summarise it once into a stored sketch, reuse it.

Owns the three reference sources and the sketch store:

- ``spec.reference.snapshotUri``: a Parquet file or directory (or a ``.csv`` file), local or on an
  object store; features by their plain names, the prediction as ``__prediction__`` (or ``score``)
  and a label as ``__label__`` (or ``label``) when present;
- ``spec.reference.window``: the sink's logged traffic of that length ending where the current
  window starts (same namespace, model and version), with labels joined;
- neither: the training data snapshot of the served ModelVersion's lineage (``lineage.data.uri``)
  — training–serving skew by default.

The summary (one ``core.drift`` reference sketch per feature and for the prediction, the row count,
a bounded row sample for the HTML report, the labelled rows for performance drift) is stored at
``<reports>/_sketches/<ns>/<monitor>/<key>.json``, ``key`` the hash of the reference's identity
(source, its files and sizes or the logged window's bounds, the features, types and slices); a
later run (or another shard) with the same identity loads it instead of reading the reference.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modelops.api.driftmonitor import PREDICTION_FEATURE, DriftMonitorSpec, FeatureType
from modelops.drift_job.artifacts import Artifacts
from modelops.drift_job.cluster import Served
from modelops.drift_job.labelling import labelled_rows
from modelops.drift_job.logs import iter_tables, label_files, open_store, storage_options, window_files
from modelops.drift_job.planning import TimeWindow, sketch_key
from modelops.drift_job.sketching import (
    DEFAULT_SAMPLE_ROWS,
    LABEL_COLUMNS,
    SNAPSHOT_PREDICTION_COLUMNS,
    Labelled,
    SketchRef,
    build_reference,
    numeric_values,
    prediction_type,
    sample_rows,
    sketch_from_dict,
    standard_columns,
)
from modelops.logsink.layout import PREDICTIONS, Store

logger = logging.getLogger(__name__)
FORMAT = "modelops.io/drift-reference/v1"


class ReferenceUnavailable(RuntimeError):
    """No usable reference (a clear one-line error, exit 1)."""


@dataclass
class ReferenceSummary:
    key: str
    source: str  # a sentence: where the reference came from
    sketches: dict[str, SketchRef]
    prediction: FeatureType | None
    rows: int
    sample: list[dict[str, Any]] = field(default_factory=list)
    labelled: Labelled = field(default_factory=Labelled)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "key": self.key, "source": self.source, "rows": self.rows,
            "prediction": self.prediction.value if self.prediction else None,
            "sketches": {name: s.to_dict() for name, s in sorted(self.sketches.items())},
            "sample": self.sample, "labelled": self.labelled.to_dict(),
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ReferenceSummary:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a stored drift reference: format {data.get('format')!r}")
        return ReferenceSummary(
            key=str(data["key"]), source=str(data["source"]), rows=int(data["rows"]),
            prediction=FeatureType(data["prediction"]) if data.get("prediction") else None,
            sketches={name: sketch_from_dict(s) for name, s in data["sketches"].items()},
            sample=list(data["sample"]), labelled=Labelled.from_dict(data["labelled"]),
        )


@dataclass(frozen=True)
class ReferencePlan:
    """Where the reference comes from: a snapshot URI, or a logged window."""

    snapshot: str | None
    window: TimeWindow | None
    description: str


def plan_reference(spec: DriftMonitorSpec, served: Served, reference_window: TimeWindow | None) -> ReferencePlan:
    ref = spec.reference
    if ref is not None and ref.snapshot_uri:
        return ReferencePlan(ref.snapshot_uri, None, f"snapshot {ref.snapshot_uri}")
    if ref is not None and ref.window:
        assert reference_window is not None
        span = f"{reference_window.start.isoformat()} .. {reference_window.end.isoformat()}"
        return ReferencePlan(None, reference_window, f"logged traffic {span}")
    uri = served.training_data
    if not uri:
        raise ReferenceUnavailable(f"spec.reference is absent and ModelVersion {served.name} names no training data "
                              "(spec.lineage.data.uri): nothing to compare with")
    return ReferencePlan(uri, None, f"training data {uri} (lineage of ModelVersion {served.name})")


def _snapshot_dataset(uri: str) -> tuple[ds.Dataset, list[tuple[str, int]]]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri, **storage_options(uri))
    if not fs.exists(path):
        raise ReferenceUnavailable(f"reference snapshot {uri} does not exist")
    fmt = "csv" if path.endswith(".csv") else "parquet"
    if fs.isdir(path):
        files = sorted(p for p in fs.find(path) if p.endswith((".parquet", ".csv"))
                       and not any(part[:1] in ("_", ".") for part in p[len(path):].split("/") if part))
        fmt = "csv" if files and all(f.endswith(".csv") for f in files) else "parquet"
    else:
        files = [path]
    if not files:
        raise ReferenceUnavailable(f"reference snapshot {uri} holds no Parquet or CSV file")
    identity = [(f, int(fs.size(f))) for f in files]
    from pyarrow import fs as pafs

    filesystem = pafs.PyFileSystem(pafs.FSSpecHandler(fs))
    return ds.dataset(files, filesystem=filesystem, format=fmt), identity


def identity(spec: DriftMonitorSpec, plan: ReferencePlan, served: Served, files: Sequence[Any]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "snapshot": plan.snapshot,
        "window": None if plan.window is None else plan.window.to_status(),
        "served": [served.model, served.version] if plan.window is not None else None,
        "files": list(files),
        "features": sorted((f.name, f.type.value) for f in spec.features),
        "slices": sorted(spec.slices),
    }


def _summarise(table: pa.Table, spec: DriftMonitorSpec, logged: bool, key: str, source: str,
               labelled: Labelled) -> ReferenceSummary:
    names = [f.name for f in spec.features]
    prediction = prediction_type(table, logged)
    columns = standard_columns(table, names, prediction, logged)
    kinds = {f.name: f.type for f in spec.features}
    if prediction is not None:
        kinds[PREDICTION_FEATURE] = prediction
    sketches = {name: build_reference(kinds[name], column) for name, column in columns.items()}
    rng = np.random.default_rng(0)
    keys = [int(k) for k in rng.permutation(table.num_rows)] if table.num_rows else []
    _, sample = sample_rows(columns, keys, DEFAULT_SAMPLE_ROWS)
    return ReferenceSummary(key, source, sketches, prediction, table.num_rows, sample, labelled)


def _snapshot_labelled(table: pa.Table, slices: Sequence[str]) -> Labelled:
    label = next((c for c in LABEL_COLUMNS if c in table.column_names), None)
    score = next((c for c in SNAPSHOT_PREDICTION_COLUMNS if c in table.column_names), None)
    if label is None or score is None:
        return Labelled()
    labels, scores = numeric_values(table.column(label)), numeric_values(table.column(score))
    keep = np.flatnonzero(np.isin(labels, (0.0, 1.0)) & (scores >= 0) & (scores <= 1))
    out = Labelled(keys=keep.tolist(), labels=labels[keep].tolist(), scores=scores[keep].tolist())
    for name in slices:
        if name in table.column_names:
            values = pc.cast(table.column(name), pa.string()).take(pa.array(keep)).to_pylist()
            out.slices[name] = ["" if v is None else v for v in values]
    return out


def _read_logged(store: Store, served: Served, namespace: str, window: TimeWindow,
                 spec: DriftMonitorSpec) -> tuple[pa.Table, Labelled]:
    files = window_files(store, PREDICTIONS, namespace, served.model, served.version, window)
    columns = [*(f.name for f in spec.features), *spec.slices]
    tables = list(iter_tables(store, files, window, columns))
    if not tables:
        return pa.table({}), Labelled()
    table = pa.concat_tables(tables, promote_options="permissive")
    labels = label_files(store, namespace, served.model, served.version, window)
    return table, labelled_rows(store, labels, table, spec.slices)


def load_or_build(artifacts: Artifacts, logs_url: str, namespace: str, monitor: str, spec: DriftMonitorSpec,
                  served: Served, reference_window: TimeWindow | None) -> ReferenceSummary:
    """The stored summary of this reference, built and stored first if there is none."""
    plan = plan_reference(spec, served, reference_window)
    dataset = None
    files: list[Any] = []
    if plan.snapshot is not None:
        dataset, files = _snapshot_dataset(plan.snapshot)
    key = sketch_key(identity(spec, plan, served, files))
    parts = ("_sketches", namespace, monitor, f"{key}.json")
    if artifacts.exists(*parts):
        try:
            return ReferenceSummary.from_dict(artifacts.read_json(*parts))
        except (ValueError, KeyError) as error:
            logger.warning("stored reference sketch %s unusable (%s): rebuilding it", artifacts.uri(*parts), error)
    if dataset is not None:
        wanted = [f.name for f in spec.features] + list(SNAPSHOT_PREDICTION_COLUMNS) + list(LABEL_COLUMNS)
        wanted += list(spec.slices)
        present = [c for c in dict.fromkeys(wanted) if c in dataset.schema.names]
        table = dataset.to_table(columns=present)
        summary = _summarise(table, spec, False, key, plan.description, _snapshot_labelled(table, spec.slices))
    else:
        assert plan.window is not None
        table, labelled = _read_logged(open_store(logs_url), served, namespace, plan.window, spec)
        summary = _summarise(table, spec, True, key, plan.description, labelled)
    artifacts.write_json(summary.to_dict(), *parts)
    logger.info("reference summarised: %s, %d rows, stored at %s", plan.description, summary.rows,
                artifacts.uri(*parts))
    return summary
