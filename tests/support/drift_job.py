"""Helpers for the drift job's tests: generated traffic as real KServe calls, the ModelVersion and
DriftMonitor objects it is evaluated for, running ``python -m modelops.drift_job`` as processes
(one, or N shards of an Indexed Job at once), and the engine's numbers computed directly on the
same rows — what the job's status must equal."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from localcluster.kserve_logger import Call

MODEL, VERSION, MV = "fraud", "3", "fraud-v3"
FEATURES = [{"name": "amount", "type": "numeric"}, {"name": "merchant", "type": "categorical"}]
MERCHANTS = ["grocery", "travel", "fuel", "online"]


@dataclass(frozen=True)
class Row:
    amount: float
    merchant: str
    score: float


def rows(n: int, seed: int, *, shift: float = 0.0) -> list[Row]:
    """``n`` rows: amount ~ N(100 + shift·20, 20), merchant from four (the last one favoured when
    shifted), score a logistic of the amount."""
    rng = np.random.default_rng(seed)
    amounts = rng.normal(100.0 + shift * 20.0, 20.0, n)
    weights = np.array([0.4, 0.3, 0.2, 0.1]) if not shift else np.array([0.1, 0.2, 0.2, 0.5])
    merchants = rng.choice(MERCHANTS, size=n, p=weights)
    scores = 1.0 / (1.0 + np.exp(-(amounts - 100.0) / 20.0))
    return [Row(round(float(a), 4), str(m), round(float(s), 6)) for a, m, s in zip(amounts, merchants, scores,
                                                                                  strict=True)]


def calls(data: Sequence[Row], start: datetime, spacing: timedelta, *, namespace: str) -> list[Call]:
    """One KServe v1 call per row, ``spacing`` apart from ``start``."""
    return [
        Call(id=str(uuid.uuid4()), namespace=namespace, modelversion=MV, model=MODEL, version=VERSION,
             stage=None, time=start + i * spacing,
             request={"instances": [{"amount": r.amount, "merchant": r.merchant}]},
             response={"predictions": [[round(1 - r.score, 6), r.score]]})
        for i, r in enumerate(data)
    ]


def write_snapshot(path: Path, data: Sequence[Row]) -> Path:
    """A reference snapshot as a Parquet file (plain feature names, the score as __prediction__)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"amount": [r.amount for r in data], "merchant": [r.merchant for r in data],
                             "__prediction__": [r.score for r in data]}), str(path))
    return path


def replace_version(call: Call, version: str, modelversion: str) -> Call:
    """The same call, served by another version of the model."""
    return dataclasses.replace(call, version=version, modelversion=modelversion)


def model_version(name: str = MV, *, version: str = VERSION, training_data: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": MODEL, "version": version,
        "artifact": {"storageUri": "s3://models/fraud/3", "format": "sklearn"},
        "signature": {"inputs": [{"name": "amount", "type": "double"}, {"name": "merchant", "type": "string"}]},
    }
    if training_data:
        spec["lineage"] = {"data": {"uri": training_data, "version": "2026-11-30"}}
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion", "metadata": {"name": name}, "spec": spec}


def rollout(name: str, *, target: str) -> dict[str, Any]:
    """A Rollout of the model on KServe's canary fields (the operator is not running: its status is
    whatever the test patches in)."""
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "Rollout", "metadata": {"name": name},
            "spec": {"model": MODEL, "target": target, "trafficRouting": {"kserve": {"inferenceService": MODEL}},
                     "steps": [{"canary": {"weight": 10, "duration": "10m"}}, {"full": {}}]}}


def drift_monitor(name: str, *, reference: Mapping[str, Any] | None, window: str = "2h",
                  statistics: Sequence[str] = ("psi", "ks", "js", "wasserstein", "nullRate", "schema"),
                  model_ref: Mapping[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "modelRef": dict(model_ref or {"kind": "ModelVersion", "name": MV}),
        "features": FEATURES, "statistics": list(statistics), "window": window,
    }
    if reference is not None:
        spec["reference"] = dict(reference)
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "DriftMonitor", "metadata": {"name": name}, "spec": spec}


def job_env(kubeconfig: str | Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "KUBECONFIG": str(kubeconfig),
            **(extra or {})}


def run_job(namespace: str, monitor: str, logs: str, kubeconfig: str | Path, *, reports: str | None = None,
            env: Mapping[str, str] | None = None, args: Sequence[str] = (),
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m modelops.drift_job`` as a process; its exit code, stdout and stderr."""
    command = [sys.executable, "-m", "modelops.drift_job", "--namespace", namespace, "--monitor", monitor,
               "--logs", logs, *(["--reports", reports] if reports else []), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=job_env(kubeconfig, env))


def run_shards(namespace: str, monitor: str, logs: str, kubeconfig: str | Path, shards: int, run_id: str, *,
               reports: str | None = None, timeout: float = 300) -> list[subprocess.CompletedProcess[str]]:
    """``shards`` processes at once, as an Indexed Job runs them (``JOB_COMPLETION_INDEX``, one run id)."""
    command = [sys.executable, "-m", "modelops.drift_job", "--namespace", namespace, "--monitor", monitor,
               "--logs", logs, "--shards", str(shards), *(["--reports", reports] if reports else [])]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=job_env(kubeconfig, {"JOB_COMPLETION_INDEX": str(i), "MODELOPS_RUN_ID": run_id,
                                                  "JOB_NAME": f"{monitor}-{run_id}"}))
        for i in reversed(range(shards))  # shard 0 last: it must wait for the others
    ]
    out = []
    for process in reversed(processes):
        stdout, stderr = process.communicate(timeout=timeout)
        out.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return out


def results_by_key(status: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["feature"], r["statistic"]): r for r in status.get("results") or []}


def engine_values(reference: Sequence[Row], current: Sequence[Row],
                  statistics: Sequence[str]) -> dict[tuple[str, str], float | None]:
    """(feature, statistic) → value, computed by ``core.drift`` directly on the rows (numpy arrays,
    one batch each: a path independent of the job's Arrow reading, files and batches)."""
    from modelops.api.driftmonitor import PREDICTION_FEATURE, FeatureType
    from modelops.core.drift.sketch_categorical import CategoricalReference
    from modelops.core.drift.sketch_numeric import NumericReference
    from modelops.core.drift.verdict import FeatureSpec, evaluate

    def columns(data: Sequence[Row]) -> dict[str, Any]:
        return {"amount": np.array([r.amount for r in data]),
                "merchant": np.array([r.merchant for r in data], dtype=object),
                PREDICTION_FEATURE: np.array([r.score for r in data])}

    ref, cur = columns(reference), columns(current)
    refs: dict[str, Any] = {
        "amount": NumericReference.build(ref["amount"]),
        "merchant": CategoricalReference.build(ref["merchant"]),
        PREDICTION_FEATURE: NumericReference.build(ref[PREDICTION_FEATURE]),
    }
    wins = {name: sketch.window().update(cur[name]) for name, sketch in refs.items()}
    specs = [FeatureSpec("amount", FeatureType.NUMERIC, tuple(statistics)),
             FeatureSpec("merchant", FeatureType.CATEGORICAL, tuple(statistics)),
             FeatureSpec(PREDICTION_FEATURE, FeatureType.NUMERIC, tuple(statistics))]
    evaluation = evaluate(specs, refs, wins)
    return {(r.feature, r.statistic): r.value for r in evaluation.results if r.verdict != "notApplicable"}


def post_traffic(sink_url: str, data: Sequence[Call]) -> None:
    """Every call's request and response event, posted over HTTP as KServe's agent does; all 200."""
    from tests.support.logsink import call_events, post_all

    statuses = post_all(sink_url, call_events(data))
    assert set(statuses) == {200}, sorted(set(statuses))


def label_calls(sink_url: str, chosen: Sequence[Call], labels: Sequence[int]) -> None:
    """POST /labels: one binary label per call (by its request id), as a labelling pipeline would."""
    from tests.support.logsink import post_json

    body = {"labels": [{"requestId": c.id, "label": int(v)} for c, v in zip(chosen, labels, strict=True)]}
    status, answer = post_json(f"{sink_url}/labels", body)
    assert status == 200, answer


def performance_values(ref: Sequence[tuple[float, int, str]], cur: Sequence[tuple[float, int, str]],
                       slices: bool) -> dict[tuple[str, str], float | None]:
    """(feature, metric) → degradation by ``core.drift.performance`` directly on (score, label,
    merchant) rows, overall and, with ``slices``, per merchant — the job's status names."""
    from modelops.core.drift.performance import OVERALL, Window, compare

    def window(rows: Sequence[tuple[float, int, str]], sliced: bool) -> Window:
        return Window.of([r[1] for r in rows], [r[0] for r in rows], [r[2] for r in rows] if sliced else None)

    out = {("__performance__", p.metric): p.degradation for p in compare(window(ref, False), window(cur, False))}
    if slices:
        for p in compare(window(ref, True), window(cur, True)):
            if p.slice != OVERALL:
                out[(f"__performance__:merchant={p.slice}", p.metric)] = p.degradation
    return out
