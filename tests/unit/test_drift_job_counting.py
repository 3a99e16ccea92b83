"""Counting the current window from the sink's Parquet layout (modelops.drift_job.counting,
sketching): shards merged by addition equal the single-pod run, whatever the split; rows outside
the window and absent columns are handled; the report's sample stays bounded."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelops.api.driftmonitor import PREDICTION_FEATURE, DriftMonitorSpec, FeatureType
from modelops.drift_job.counting import count_files
from modelops.drift_job.logs import window_files
from modelops.drift_job.planning import TimeWindow, shard_files
from modelops.drift_job.reference import ReferenceSummary
from modelops.drift_job.reporting import OWN, bounded, render
from modelops.drift_job.running import judge
from modelops.drift_job.sketching import Partial, build_reference
from modelops.logsink.layout import PREDICTIONS, Store
from modelops.logsink.parquet import TIMESTAMP

START = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
WINDOW = TimeWindow(START, START + timedelta(hours=2))
SPEC = DriftMonitorSpec.model_validate({
    "modelRef": {"kind": "ModelVersion", "name": "fraud-v3"},
    "features": [{"name": "amount", "type": "numeric"}, {"name": "merchant", "type": "categorical"}],
    "statistics": ["psi", "ks", "js", "wasserstein", "nullRate", "schema"],
})


def reference(seed: int = 0) -> ReferenceSummary:
    rng = np.random.default_rng(seed)
    n = 3000
    sketches = {
        "amount": build_reference(FeatureType.NUMERIC, pa.chunked_array([rng.normal(100, 20, n)])),
        "merchant": build_reference(FeatureType.CATEGORICAL, pa.chunked_array([rng.choice(list("abcd"), n)])),
        PREDICTION_FEATURE: build_reference(FeatureType.NUMERIC, pa.chunked_array([rng.uniform(0, 1, n)])),
    }
    return ReferenceSummary("k", "test reference", sketches, FeatureType.NUMERIC, n)


def write_files(store: Store, sizes: list[int], seed: int, *, drop_merchant_in: int | None = None) -> int:
    """Prediction files in the sink's layout; each flush's rows spread over [START - 30m, END + 30m)
    (some outside the window, in hour partitions pruned or read), returns how many fall inside it."""
    rng = np.random.default_rng(seed)
    inside = 0
    for f, size in enumerate(sizes):
        offsets = rng.uniform(-1800, 9000, size)
        times = [START + timedelta(seconds=float(o)) for o in offsets]
        amounts = rng.normal(105, 20, size)
        amounts[rng.uniform(size=size) < 0.05] = np.nan
        columns = {
            "request_id": pa.array([f"r{f}-{i}" for i in range(size)]),
            "instance": pa.array([0] * size, pa.int32()),
            "time": pa.array(times, TIMESTAMP),
            "prediction": pa.array([json.dumps([0.5, 0.5])] * size),
            "score": pa.array(rng.uniform(0, 1, size)),
            "input.amount": pa.array(amounts, from_pandas=True),
        }
        if f != drop_merchant_in:
            columns["input.merchant"] = pa.array(rng.choice(list("abcde"), size))
        table = pa.table(columns)
        hours = np.array([t.strftime("%Y-%m-%d %H") for t in times])
        for key in sorted(set(hours.tolist())):  # as the sink partitions: by each row's own hour
            date, hour = key.split()
            directory = store.partition(PREDICTIONS, "demo", "fraud", "3", date, hour)
            store.write_table(f"{directory}/part-{f:012d}.parquet", table.filter(pa.array(hours == key)))
        inside += sum(1 for t in times if WINDOW.start <= t < WINDOW.end)
    return inside


def files_of(store: Store) -> list[str]:
    return window_files(store, PREDICTIONS, "demo", "fraud", "3", WINDOW)


def same_partial(a: Partial, b: Partial) -> None:
    da, db = a.to_dict(), b.to_dict()
    assert (da["rows"], da["files"], da["observed"], da["sample"]) == (db["rows"], db["files"], db["observed"],
                                                                       db["sample"])
    assert a.labelled.ordered().to_dict() == b.labelled.ordered().to_dict()
    for name, wa in da["windows"].items():
        wb = db["windows"][name]
        np.testing.assert_allclose(wa.pop("sums", []), wb.pop("sums", []), rtol=1e-12)
        assert wa == wb, name


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 400), min_size=1, max_size=7), st.integers(1, 5), st.integers(0, 10_000))
def test_shards_merged_equal_the_single_pod_run(tmp_path_factory: pytest.TempPathFactory, sizes: list[int],
                                                shards: int, seed: int) -> None:
    store = Store(str(tmp_path_factory.mktemp("store")))
    inside = write_files(store, sizes, seed, drop_merchant_in=0 if len(sizes) > 1 else None)
    ref = reference()
    files = files_of(store)
    single = count_files(store, files, WINDOW, ref, SPEC, [], sample_limit=50)
    assert single.rows == inside
    parts = [count_files(store, shard_files(files, shards, i), WINDOW, ref, SPEC, [], sample_limit=50)
             for i in range(shards)]
    merged = parts[0]
    for part in parts[1:]:  # as shard 0 does: through the JSON the shards write
        merged = merged.merge(Partial.from_dict(json.loads(json.dumps(part.to_dict())), ref.sketches))
    same_partial(single, merged)
    one = judge(SPEC, ref.prediction, ref.sketches, ref.labelled, single, {"amount": "double"}, 100)
    other = judge(SPEC, ref.prediction, ref.sketches, ref.labelled, merged, {"amount": "double"}, 100)
    assert one.outcome == other.outcome
    assert len(one.results) == len(other.results)
    for x, y in zip(one.results, other.results, strict=True):
        assert {k: v for k, v in x.items() if k not in ("value", "noiseFloor", "pValue", "message")} == \
            {k: v for k, v in y.items() if k not in ("value", "noiseFloor", "pValue", "message")}
        for key in ("value", "noiseFloor", "pValue"):
            if key in x:
                assert math.isclose(float(x[key]), float(y[key]), rel_tol=1e-9, abs_tol=1e-12), (x, y)  # type: ignore[arg-type]


def test_rows_outside_the_window_are_not_counted_and_a_missing_column_counts_as_nulls(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    inside = write_files(store, [300, 300], 3, drop_merchant_in=1)
    partial = count_files(store, files_of(store), WINDOW, reference(), SPEC, [])
    assert 0 < partial.rows == inside < 600
    merchant = partial.windows["merchant"]
    amount = partial.windows["amount"]
    assert merchant.total == amount.total == inside
    assert merchant.nulls > 0  # the file without the column
    assert partial.observed == {"amount": ["double"], "merchant": ["string"]}


def test_the_report_sample_is_bounded(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    write_files(store, [400, 400, 400], 5)
    partial = count_files(store, files_of(store), WINDOW, reference(), SPEC, [], sample_limit=100)
    assert len(partial.sample.rows) == 100 and partial.rows > 100
    assert set(partial.sample.rows[0]) == {"amount", "merchant", PREDICTION_FEATURE}
    assert len(bounded(partial.sample.rows, 30)) == 30


def test_the_own_report_lists_every_result() -> None:
    results = [{"feature": "amount", "statistic": "psi", "value": 0.3, "threshold": 0.2, "verdict": "Drift"},
               {"feature": "<merchant>", "statistic": "psi", "value": 0.01, "threshold": 0.2, "verdict": "NoDrift"}]
    report = render("t", "s", results, [], [], {}, 10)
    assert report.kind == OWN and "no rows to sample" in report.description
    assert report.html.count("<tr class=") == 2 and "&lt;merchant&gt;" in report.html
