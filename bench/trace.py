"""Benchmark: ``modelops trace`` finding one prediction 90 days old among ten million, against the
peer measured in the same run on the same files: a plain pyarrow scan of the store (hive
partitioning, the same filter, no partition or index pruning — what one does with pyarrow and
nothing else).

    make bench-trace        # or: PYTHONPATH=hack .venv/bin/python bench/trace.py --rows 10000000

The store is laid out as the log sink leaves it once compaction has run (its own Store, schemas,
row-group sizes and sort order): ``predictions/namespace=/model=/version=/date=/hour=`` with one
file per hour sorted by request id, and the index with one file per closed ISO week
(``index/week=``) and per day of the current one (``index/date=``). It is generated
once into ``--data`` (default ``~/.cache/modelops/bench/trace-<rows>``) and reused; three model
versions serve one after another over ``--days`` days, 5 input features per prediction. The record
looked for is a loan decided 90 days ago. Timed, each ``--repeat`` times (medians printed):

- by request id: ``Finder.by_ids`` (the code behind ``modelops trace <id>``), and the whole CLI
  as a fresh process (``modelops trace <id> --no-lineage -o json``: interpreter start and imports
  included);
- by entity key within one day: ``Finder.by_key`` (``modelops trace --key loan_id=... --since --until``);
- the peer: ``pyarrow.dataset.dataset(store/predictions, partitioning="hive").to_table(filter=...)``
  for the id and for the key.

Target (DESIGN §6): < 2 s for the 90-day-old record among 10 M.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modelops.logsink.layout import PREDICTIONS, Store, iso_week, week_days
from modelops.logsink.parquet import DATA_ROW_GROUP, FIXED, INDEX_ROW_GROUP, INDEX_SCHEMA, INPUT_PREFIX
from modelops.logsink.query import Finder

TARGET_SECONDS = 2.0
LAYOUT = "v2"  # bump when the store layout changes: the cached data is then generated again
NAMESPACE, MODEL = "lending", "loans"
VERSIONS = ((95, "5"), (60, "6"), (30, "7"))  # (from days ago, version): one after another
TIMESTAMP = pa.timestamp("us", tz="UTC")


def version_at(days_ago: float) -> str:
    chosen = VERSIONS[0][1]
    for start, version in VERSIONS:
        if days_ago <= start:
            chosen = version
    return chosen


def hour_table(rng: np.random.Generator, start: datetime, rows: int, version: str, counter: int,
               target: dict[str, Any] | None) -> pa.Table:
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(rows)]
    seconds = np.sort(rng.uniform(0, 3600, rows))
    times = [start + timedelta(seconds=float(s)) for s in seconds]
    loans = [f"L-{counter + i:09d}" for i in range(rows)]
    scores = rng.beta(2, 5, rows)
    if target is not None:
        ids[0], times[0], loans[0] = target["id"], target["time"], target["loan"]
    latency = rng.gamma(2.0, 0.01, rows)
    columns: dict[str, Any] = {
        "request_id": pa.array(ids, pa.string()), "instance": pa.array(np.zeros(rows, np.int32)),
        "time": pa.array(times, TIMESTAMP), "response_time": pa.array(times, TIMESTAMP),
        "latency_seconds": pa.array(latency), "modelversion": pa.array([f"{MODEL}-v{version}"] * rows),
        "stage": pa.array([f"{MODEL}/stable"] * rows), "inference_service": pa.array([f"{MODEL}-v{version}"] * rows),
        "component": pa.array(["predictor"] * rows), "endpoint": pa.array([""] * rows),
        "source": pa.array([f"{MODEL}-v{version}-predictor-6d5f7c9b8-x2k4q"] * rows),
        "status": pa.array(["complete"] * rows), "prediction": pa.array([f"[{1 - s:.6f},{s:.6f}]" for s in scores]),
        "score": pa.array(scores),
    }
    table = pa.Table.from_arrays([pa.array(columns[f.name], f.type) for f in FIXED], schema=FIXED)
    features = {"amount": rng.lognormal(9, 1, rows), "income": rng.lognormal(10.5, 0.5, rows),
                "age": rng.integers(18, 90, rows), "merchant": rng.choice(["grocery", "travel", "online"], rows),
                "loan_id": np.array(loans)}
    for name, values in sorted(features.items()):
        table = table.append_column(INPUT_PREFIX + name, pa.array(values))
    return table.take(pc.sort_indices(table, [("request_id", "ascending"), ("instance", "ascending")]))


def generate(data: Path, rows: int, days: int, seed: int = 7) -> dict[str, Any]:
    """Write the store (predictions hour files and index day files) and return the target record."""
    rng = np.random.default_rng(seed)
    store = Store(str(data))
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = days * 24
    per_hour = rows // hours
    target_time = datetime.now(UTC) - timedelta(days=90, minutes=42, seconds=17)
    target = {"id": str(uuid.UUID(bytes=rng.bytes(16), version=4)), "loan": "L-TARGET-90D",
              "time": target_time}
    written, started, index_rows = 0, time.monotonic(), []
    for h in range(hours, 0, -1):
        start = end - timedelta(hours=h)
        count = per_hour + (1 if hours - h < rows - per_hour * hours else 0)
        days_ago = h / 24
        version = version_at(days_ago)
        is_target = start <= target_time < start + timedelta(hours=1)
        table = hour_table(rng, start, count, version, written, target if is_target else None)
        date, hour = start.strftime("%Y-%m-%d"), start.strftime("%H")
        directory = store.partition(PREDICTIONS, NAMESPACE, MODEL, version, date, hour)
        store.write_table(f"{directory}/compact-{uuid.uuid4().hex[:16]}.parquet", table, row_group_size=DATA_ROW_GROUP)
        index_rows.append(pa.table({"request_id": table.column("request_id"),
                                    "namespace": pa.array([NAMESPACE] * count), "model": pa.array([MODEL] * count),
                                    "version": pa.array([version] * count), "date": pa.array([date] * count),
                                    "hour": pa.array([hour] * count)}, schema=INDEX_SCHEMA))
        written += count
        week = iso_week(date)
        week_over = week_days(week)[-1] < end.strftime("%Y-%m-%d")
        if (hour == "23" and (not week_over or date == week_days(week)[-1])) or h == 1:
            # As compaction leaves it: a file per closed ISO week, a file per day of the current one.
            index = pa.concat_tables(index_rows)
            index = index.take(pc.sort_indices(index, [("request_id", "ascending")]))
            directory, tier = (store.week_dir(week), "week") if week_over else (store.index_dir(date), "day")
            store.write_table(f"{directory}/{tier}-compact-{uuid.uuid4().hex[:16]}.parquet", index,
                              row_group_size=INDEX_ROW_GROUP)
            index_rows = []
            print(f"\r  {written:,} rows written ({time.monotonic() - started:.0f}s)", end="", flush=True)
    print()
    return {"id": target["id"], "loan": target["loan"], "time": target_time.isoformat(), "rows": written}


def median_seconds(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=95)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    data = args.data or cache / "modelops" / "bench" / f"trace-{args.rows}-{args.days}d-{LAYOUT}"
    marker = data / "_generated.json"
    if marker.exists():
        target = json.loads(marker.read_text())
        print(f"store: {data} (generated earlier: {target['rows']:,} rows over {args.days} days)")
    else:
        print(f"generating {args.rows:,} predictions over {args.days} days into {data} (once)")
        target = generate(data, args.rows, args.days)
        marker.write_text(json.dumps(target))
    files = sum(1 for _ in data.rglob("*.parquet"))
    size = sum(p.stat().st_size for p in data.rglob("*.parquet"))
    when = datetime.fromisoformat(target["time"])
    print(f"{files:,} Parquet files, {size / 2**20:,.0f} MiB; looking for request {target['id']} "
          f"(loan {target['loan']}, {when:%Y-%m-%d %H:%M} UTC, {(datetime.now(UTC) - when).days} days ago)")

    finder = Finder(Store(str(data)))
    by_id, rows = median_seconds(lambda: finder.by_ids([target["id"]]), args.repeat)
    assert [r["request_id"] for r in rows] == [target["id"]], rows
    day_from, day_to = when - timedelta(hours=12), when + timedelta(hours=12)
    by_key, rows = median_seconds(lambda: finder.by_key("loan_id", target["loan"], day_from, day_to), args.repeat)
    assert [r["request_id"] for r in rows] == [target["id"]], rows
    cli = [sys.executable, "-m", "modelops.cli.main", "trace", target["id"], "--store", str(data), "--no-lineage",
           "-o", "json"]

    def run_cli() -> str:
        done = subprocess.run(cli, capture_output=True, text=True, timeout=120, check=True)
        return done.stdout

    by_cli, output = median_seconds(run_cli, args.repeat)
    assert json.loads(output)["predictions"][0]["requestId"] == target["id"]

    def scan(expression: pc.Expression) -> pa.Table:
        dataset = ds.dataset(str(data / PREDICTIONS), format="parquet", partitioning="hive")
        return dataset.to_table(filter=expression)

    peer_id, table = median_seconds(lambda: scan(pc.field("request_id") == target["id"]), args.repeat)
    assert table.num_rows == 1
    peer_key, table = median_seconds(lambda: scan(pc.field(INPUT_PREFIX + "loan_id") == target["loan"]), args.repeat)
    assert table.num_rows == 1

    print(f"\nmedian of {args.repeat} runs, {os.cpu_count()} cores, warm page cache for both sides")
    print(f"{'':52}{'modelops':>10}{'peer scan':>11}{'peer/modelops':>15}")
    print(f"{'by request id (in process)':52}{by_id:9.3f}s{peer_id:10.3f}s{peer_id / by_id:14.1f}x")
    print(f"{'by request id, a whole `modelops trace` process':52}{by_cli:9.3f}s{peer_id:10.3f}s"
          f"{peer_id / by_cli:14.1f}x")
    print(f"{'by loan id within a day (in process)':52}{by_key:9.3f}s{peer_key:10.3f}s{peer_key / by_key:14.1f}x")
    worst = max(by_id, by_cli, by_key)
    print(f"target < {TARGET_SECONDS:.0f} s for a 90-day-old record among {target['rows']:,}: "
          f"{'met' if worst < TARGET_SECONDS else 'NOT met'} (slowest {worst:.3f}s)")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
