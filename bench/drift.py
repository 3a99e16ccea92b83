"""Benchmark: the drift engine (core.drift) against Evidently 0.7.23 on the same data.

    make bench-drift      # or: .venv/bin/python bench/drift.py --sizes 100000,1000000,5000000

Data: ``rows`` × 20 columns, reference and current of ``rows`` each (14 numeric — normal,
lognormal with 1% nulls, uniform, integer-valued, few-valued — and 6 categorical of 3 to 40
categories, dictionary-encoded as a Parquet reader hands them over; 5 columns shifted).

Every measurement runs in its own subprocess (``--worker``): wall time of the computation
(data generation and imports excluded) and peak RSS of the process (``os.wait4`` rusage).
Three runners:

- ``engine``: default mode — build the reference sketches, count the current window, judge
  psi, ks, js, wasserstein, nullRate and the own checks for every column (``verdict.evaluate``);
  also timed: the numeric sketch counting alone (the PSI/KS path, values per second per core);
- ``parity``: Evidently's default method for every column on raw data (``parity.column_drift``);
- ``evidently``: ``Report([DataDriftPreset()])`` on the same frames, killed after
  ``--evidently-timeout`` seconds.

Prints medians over ``--repeats`` (at least 3 at the smallest size; one at the larger ones for
Evidently), speed ratios, and per column whether parity mode's method, score (1e-9 relative) and
verdict equal Evidently's. numpy is single-threaded here, so values/s is per core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NUMERIC = [f"n{i:02d}" for i in range(14)]
CATEGORICAL = [f"c{i}" for i in range(6)]


Columns = tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, list[str]]]]


def make_data(rows: int, seed: int, shifted: bool) -> Columns:
    rng = np.random.default_rng(seed)
    numeric: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        shift = 0.15 if shifted and i in (0, 5, 9) else 0.0
        kind = i % 5
        if kind == 0:
            x = rng.normal(shift, 1.0, rows)
        elif kind == 1:
            x = rng.lognormal(shift, 0.8, rows)
            x[rng.random(rows) < 0.01] = np.nan
        elif kind == 2:
            x = rng.uniform(shift, 1.0 + shift, rows)
        elif kind == 3:
            x = rng.poisson(20 + 10 * shift, rows).astype(np.float64)
        else:
            x = rng.integers(0, 4, rows).astype(np.float64)
        numeric[name] = x
    categorical: dict[str, tuple[np.ndarray, list[str]]] = {}
    for i, name in enumerate(CATEGORICAL):
        k = (3, 5, 8, 12, 20, 40)[i]
        p = np.linspace(1.0, 3.0, k)
        if shifted and i in (1, 4):
            p = p[::-1]
        codes = rng.choice(k, size=rows, p=p / p.sum()).astype(np.int64)
        categorical[name] = (codes, [f"{name}_v{j}" for j in range(k)])
    return numeric, categorical


# ------------------------------------------------------------------------------ workers


def worker_engine(rows: int) -> dict[str, Any]:
    from modelops.api.driftmonitor import FeatureType
    from modelops.core.drift.sketch_categorical import CategoricalReference
    from modelops.core.drift.sketch_numeric import NumericReference
    from modelops.core.drift.verdict import FeatureSpec, evaluate

    ref_num, ref_cat = make_data(rows, 1, False)
    cur_num, cur_cat = make_data(rows, 2, True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats = ("psi", "ks", "js", "wasserstein", "nullRate")
    start = time.perf_counter()
    refs: dict[str, Any] = {n: NumericReference.build(ref_num[n]) for n in NUMERIC}
    for name in CATEGORICAL:
        codes, dictionary = ref_cat[name]
        counts = np.bincount(codes, minlength=len(dictionary))
        refs[name] = CategoricalReference.from_counts(dictionary, counts)
    built = time.perf_counter()
    wins: dict[str, Any] = {}
    for name in NUMERIC:
        wins[name] = refs[name].window().update(cur_num[name])
    counted_numeric = time.perf_counter()
    for name in CATEGORICAL:
        wins[name] = refs[name].window().update_codes(*cur_cat[name])
    specs = [FeatureSpec(n, FeatureType.NUMERIC, stats) for n in NUMERIC]
    specs += [FeatureSpec(n, FeatureType.CATEGORICAL, ("psi", "js", "nullRate")) for n in CATEGORICAL]
    evaluation = evaluate(specs, refs, wins)
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "window_seconds": end - built,  # with stored reference sketches: the per-run cost
        "numeric_count_seconds": counted_numeric - built,
        "base_rss_kb": base,
        "drifted": sorted({r.feature for r in evaluation.drifted}),
    }


def _samples(rows: int) -> tuple[dict[str, Any], dict[str, Any]]:
    ref_num, ref_cat = make_data(rows, 1, False)
    cur_num, cur_cat = make_data(rows, 2, True)
    return {**ref_num, **ref_cat}, {**cur_num, **cur_cat}


def worker_parity(rows: int, method: str | None) -> dict[str, Any]:
    from modelops.api.driftmonitor import FeatureType
    from modelops.core.drift import parity

    ref, cur = _samples(rows)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    out = {}
    for name in NUMERIC + CATEGORICAL:
        if name in NUMERIC:
            kind = FeatureType.NUMERIC
            a, b = parity.NumericSample.of(ref[name]), parity.NumericSample.of(cur[name])
            chosen = method
        else:
            kind = FeatureType.CATEGORICAL
            a, b = parity.CategoricalSample.from_codes(*ref[name]), parity.CategoricalSample.from_codes(*cur[name])
            chosen = method if method in ("psi", "jensenshannon") else None
        r = parity.column_drift(kind, a, b, method=chosen)
        out[name] = {"method": r.method, "value": r.value, "threshold": r.threshold, "drifted": r.drifted}
    return {"seconds": time.perf_counter() - start, "base_rss_kb": base, "columns": out}


def worker_evidently(rows: int, method: str | None) -> dict[str, Any]:
    import pandas as pd

    from tests.support.evidently_ref import evidently_drift

    ref, cur = _samples(rows)

    def frame(data: dict[str, Any]) -> pd.DataFrame:
        cols: dict[str, Any] = {n: data[n] for n in NUMERIC}
        for n in CATEGORICAL:
            codes, dictionary = data[n]
            cols[n] = np.asarray(dictionary, dtype=object)[codes]
        return pd.DataFrame(cols)

    ref_frame, cur_frame = frame(ref), frame(cur)
    del ref, cur
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cat_method = method if method in ("psi", "jensenshannon") else None
    start = time.perf_counter()
    result = evidently_drift(ref_frame, cur_frame, NUMERIC, CATEGORICAL, num_method=method, cat_method=cat_method)
    seconds = time.perf_counter() - start
    columns = {k: {"method": v.method, "value": v.value, "threshold": v.threshold, "drifted": v.drifted}
               for k, v in result.items()}
    return {"seconds": seconds, "base_rss_kb": base, "columns": columns}


# ------------------------------------------------------------------------------ driver


def run(runner: str, rows: int, method: str | None, timeout: float | None) -> dict[str, Any] | None:
    """One measurement in a subprocess; None when it did not finish within ``timeout``."""
    cmd = [sys.executable, __file__, "--worker", runner, "--rows", str(rows)]
    if method:
        cmd += ["--method", method]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "operator" / "src"), str(REPO)])}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline and time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return None
        time.sleep(0.05)
    if status != 0:
        raise RuntimeError(f"{runner} at {rows} rows failed with status {status}")
    assert proc.stdout is not None
    data: dict[str, Any] = json.loads(proc.stdout.read().strip().splitlines()[-1])
    data["peak_rss_mb"] = usage.ru_maxrss / 1024
    return data


def median(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def agreement(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[int, int, list[str]]:
    same, problems = 0, []
    for name, t in theirs.items():
        o = ours[name]
        close = abs(o["value"] - t["value"]) <= 1e-9 * max(abs(t["value"]), 1e-300)
        if o["method"] == t["method"] and o["drifted"] == t["drifted"] and close:
            same += 1
        else:
            problems.append(f"{name}: ours {o} vs Evidently {t}")
    return same, len(theirs), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evidently-timeout", type=float, default=600.0)
    parser.add_argument("--worker", choices=["engine", "parity", "evidently"])
    parser.add_argument("--rows", type=int)
    parser.add_argument("--method")
    args = parser.parse_args()
    if args.worker:
        work = {"engine": lambda: worker_engine(args.rows),
                "parity": lambda: worker_parity(args.rows, args.method),
                "evidently": lambda: worker_evidently(args.rows, args.method)}[args.worker]
        print(json.dumps(work()))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"drift benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
          f"({os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__})")
    print(f"20 columns (14 numeric, 6 categorical); reference and current of N rows each; "
          f"Evidently timeout {args.evidently_timeout:.0f} s\n")
    header = (f"{'rows':>9} {'runner':<10} {'wall s':>8} {'peak MB':>8} {'Mvalues/s':>10} {'vs Evidently':>13}")
    print(header)
    for rows in sizes:
        repeats = max(args.repeats, 3) if rows == sizes[0] else args.repeats
        engine = [r for r in (run("engine", rows, None, None) for _ in range(repeats)) if r]
        par = [r for r in (run("parity", rows, None, None) for _ in range(repeats)) if r]
        ev_repeats = repeats if rows == sizes[0] else 1
        evid: list[dict[str, Any]] = []
        for _ in range(ev_repeats):
            r = run("evidently", rows, None, args.evidently_timeout)
            if r is None:
                break
            evid.append(r)
        values = rows * 2 * 20
        ev_s = median(evid, "seconds") if evid else None
        for label, res in (("engine", engine), ("parity", par), ("evidently", evid)):
            if not res:
                print(f"{rows:>9} {label:<10} did not finish within {args.evidently_timeout:.0f} s")
                continue
            s = median(res, "seconds")
            ratio = f"{ev_s / s:>12.0f}x" if ev_s and label != "evidently" else f"{'':>13}"
            peak = median(res, "peak_rss_mb")
            print(f"{rows:>9} {label:<10} {s:>8.3f} {peak:>8.0f} {values / s / 1e6:>10.1f} {ratio}")
        w = median(engine, "window_seconds")
        c = median(engine, "numeric_count_seconds")
        print(f"{rows:>9} {'  engine, stored reference sketches: ':<38} {w:.3f} s"
              f"{f' ({ev_s / w:.0f}x Evidently)' if ev_s else ''}; numeric PSI/KS counting "
              f"{rows * 14 / c / 1e6:.0f} M values/s per core")
        if evid:
            same, total, problems = agreement(par[0]["columns"], evid[0]["columns"])
            print(f"{rows:>9} parity with Evidently's defaults: {same}/{total} columns identical "
                  f"(method, score within 1e-9, verdict)")
            for p in problems:
                print("          " + p)
        print(f"{rows:>9} engine flags: {', '.join(engine[0]['drifted'])}")
    # Evidently's PSI and KS modes, at the smallest size
    rows = sizes[0]
    for method in ("psi", "ks"):
        ours = run("parity", rows, method, None)
        theirs = run("evidently", rows, method, args.evidently_timeout)
        if ours and theirs:
            same, total, problems = agreement(ours["columns"], theirs["columns"])
            print(f"{rows:>9} parity, Evidently {method} mode: {same}/{total} columns identical; "
                  f"{theirs['seconds'] / ours['seconds']:.0f}x faster")
            for p in problems:
                print("          " + p)


if __name__ == "__main__":
    main()
