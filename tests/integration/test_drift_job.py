"""The drift job as a process (``python -m modelops.drift_job``) against real parts: the log sink
receives real KServe logger events and writes Parquet; a ModelVersion and DriftMonitors exist on
the local control plane (the operator is not running: the job alone writes the status); the job
reads both and writes its status, which must carry the numbers ``core.drift`` gives on the same
rows, the right verdicts (Drift for a shifted reference, NoDrift for an unshifted one, Inconclusive
and exit 3 on too little data), an HTML report, and the same results from 3 shards as from 1. The
S3 test runs the sink and the job against a real S3-compatible server (moto's server mode)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from kubernetes import client, dynamic

from localcluster.cluster import LocalCluster
from localcluster.logsink_server import LogSinkServer
from localcluster.s3_server import S3Server
from tests.support import drift_job as dj
from tests.support.kube import Namespace, scratch_namespace
from tests.support.logsink import predictions
from tests.support.waiting import wait_for

API = "modelops.io/v1alpha1"
STATISTICS = ("psi", "ks", "js", "wasserstein", "nullRate", "schema")
# Performance metrics refuse a verdict while their noise floor is over a third of the 0.05 threshold:
# with every call labelled, 3000 per side brings AUC's and accuracy's floors to about 0.013.
CURRENT_ROWS, REFERENCE_ROWS, SMALL_ROWS, LABELLED = 3000, 4000, 30, 3000


@dataclass
class Scenario:
    ns: Namespace
    logs: Path
    kubeconfig: str
    current: list[dj.Row]
    same: list[dj.Row]      # the training snapshot: the current traffic's distribution
    shifted: list[dj.Row]   # a snapshot of another distribution
    snapshots: dict[str, Path]
    labelled_reference: list[tuple[float, int, str]]  # (score, label, merchant) of labelled calls
    labelled_current: list[tuple[float, int, str]]

    def status(self, monitor: str) -> dict[str, Any]:
        obj = self.ns.get(API, "DriftMonitor", monitor)
        assert obj is not None
        return dict(obj.get("status") or {})

    def run(self, monitor: str, **kwargs: Any) -> Any:
        return dj.run_job(self.ns.name, monitor, str(self.logs), self.kubeconfig, **kwargs)


@pytest.fixture(scope="module")
def scenario(cluster: LocalCluster, api: client.ApiClient, dyn: dynamic.DynamicClient,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """One namespace; version 3 served CURRENT_ROWS calls in the last hour (unshifted) and as many
    shifted ones 2.5–3.5 hours ago (the margins let the 2h windows slide while the tests run);
    version 4 served SMALL_ROWS calls; two reference snapshots; labels for LABELLED calls of each."""
    tmp = tmp_path_factory.mktemp("drift-job")
    now = datetime.now(UTC)
    with scratch_namespace(api) as name:
        current = dj.rows(CURRENT_ROWS, seed=1)
        earlier = dj.rows(CURRENT_ROWS, seed=2, shift=1.0)
        small = dj.rows(SMALL_ROWS, seed=3)
        spacing = timedelta(hours=1) / CURRENT_ROWS
        traffic = dj.calls(current, now - timedelta(minutes=61), spacing, namespace=name)
        traffic += dj.calls(earlier, now - timedelta(hours=3, minutes=30), spacing, namespace=name)
        v4 = dj.calls(small, now - timedelta(minutes=30), timedelta(seconds=10), namespace=name)
        v4 = [dj.replace_version(c, "4", "fraud-v4") for c in v4]
        with LogSinkServer(tmp / "sink", config={"flushInterval": "200ms"}) as sink:
            dj.post_traffic(sink.url, traffic + v4)
            total = len(traffic) + len(v4)
            wait_for(lambda: predictions(sink.store).num_rows >= total or None, 120, "every call in Parquet")
            # Labels: the earlier traffic's follow its scores (a useful model), the current ones are
            # coin flips (the model stopped working): performance drift.
            rng = np.random.default_rng(5)
            ref_labels = [int(rng.uniform() < r.score) for r in earlier[:LABELLED]]
            cur_labels = [int(rng.uniform() < 0.5) for _ in current[:LABELLED]]
            dj.label_calls(sink.url, traffic[CURRENT_ROWS:CURRENT_ROWS + LABELLED], ref_labels)
            dj.label_calls(sink.url, traffic[:LABELLED], cur_labels)
        same, shifted = dj.rows(REFERENCE_ROWS, seed=10), dj.rows(REFERENCE_ROWS, seed=11, shift=1.0)
        snapshots = {"same": dj.write_snapshot(tmp / "snapshots" / "train.parquet", same),
                     "shifted": dj.write_snapshot(tmp / "snapshots" / "shifted.parquet", shifted)}
        ns = Namespace(dyn, api, name)
        ns.apply(dj.model_version(training_data=str(snapshots["same"])))
        ns.apply(dj.model_version("fraud-v4", version="4", training_data=str(snapshots["same"])))
        yield Scenario(ns, sink.store, str(cluster.kubeconfig), current, same, shifted, snapshots,
                       [(r.score, v, r.merchant) for r, v in zip(earlier, ref_labels, strict=False)],
                       [(r.score, v, r.merchant) for r, v in zip(current, cur_labels, strict=False)])


def assert_values_equal_the_engine(status: dict[str, Any], expected: dict[tuple[str, str], float | None]) -> None:
    got = dj.results_by_key(status)
    assert set(got) == set(expected), set(got) ^ set(expected)
    for key, value in expected.items():
        if value is None:
            assert "value" not in got[key], key
        else:
            assert math.isclose(got[key]["value"], value, rel_tol=1e-9, abs_tol=1e-12), (key, got[key], value)


def test_unshifted_traffic_against_the_training_data_is_no_drift(scenario: Scenario) -> None:
    """No spec.reference: the ModelVersion's lineage names the training snapshot (training-serving skew)."""
    scenario.ns.apply(dj.drift_monitor("skew", reference=None, statistics=STATISTICS))
    scenario.ns.resource(API, "DriftMonitor").status.patch(  # the operator's keys, which the job must keep
        name="skew", namespace=scenario.ns.name, content_type="application/merge-patch+json",
        body={"status": {"observedGeneration": 1, "conditions": [
            {"type": "Accepted", "status": "True", "reason": "Valid", "message": "ok",
             "lastTransitionTime": "2026-12-01T00:00:00Z"}]}})
    done = scenario.run("skew")
    assert done.returncode == 0, done.stderr
    status = scenario.status("skew")
    assert (status["verdict"], status["drifted"], status["consecutiveDrifted"]) == ("NoDrift", False, 0), status
    assert (status["rowsSeen"], status["referenceRows"], status["servedModelVersion"]) == (
        CURRENT_ROWS, REFERENCE_ROWS, "fraud-v3")
    assert "training data" in status["message"] and "Evidently" in status["message"]
    assert_values_equal_the_engine(status, dj.engine_values(scenario.same, scenario.current, STATISTICS))
    assert all(r["verdict"] != "Drift" for r in status["results"])
    start, end = (datetime.fromisoformat(status["window"][k]) for k in ("start", "end"))
    assert end - start == timedelta(hours=2)
    # The operator's keys are kept (when an operator runs in the session it may have rewritten them
    # itself), and the job owns none of them.
    assert status["observedGeneration"] == 1 and any(c["type"] == "Accepted" for c in status["conditions"])
    monitor = scenario.ns.get(API, "DriftMonitor", "skew")
    assert monitor is not None
    job_fields = [m["fieldsV1"].get("f:status", {}) for m in monitor["metadata"]["managedFields"]
                  if m["manager"] == "modelops-drift-job"]
    assert job_fields and all("f:conditions" not in f and "f:observedGeneration" not in f for f in job_fields)
    report = Path(status["reportUri"])
    assert report.is_file() and "Drifted Columns" in report.read_text()  # Evidently's DataDriftPreset
    assert f"rows={CURRENT_ROWS}" in done.stderr and "verdict=NoDrift" in done.stderr  # the one INFO line


def test_a_shifted_snapshot_is_drift_and_runs_count_up(scenario: Scenario) -> None:
    scenario.ns.apply(dj.drift_monitor("shifted", reference={"snapshotUri": str(scenario.snapshots["shifted"])},
                                       statistics=STATISTICS))
    first = scenario.run("shifted")
    assert first.returncode == 0, first.stderr
    status = scenario.status("shifted")
    assert (status["verdict"], status["drifted"], status["consecutiveDrifted"]) == ("Drift", True, 1)
    results = dj.results_by_key(status)
    for key in (("amount", "psi"), ("amount", "ks"), ("merchant", "psi"), ("__prediction__", "psi")):
        assert results[key]["verdict"] == "Drift" and results[key]["drifted"] is True, results[key]
    assert results[("amount", "ks")]["pValue"] < 1e-6
    assert_values_equal_the_engine(status, dj.engine_values(scenario.shifted, scenario.current, STATISTICS))
    second = scenario.run("shifted")
    assert second.returncode == 0, second.stderr
    assert scenario.status("shifted")["consecutiveDrifted"] == 2
    sketches = list((scenario.logs / "_reports" / "_sketches" / scenario.ns.name / "shifted").iterdir())
    assert len(sketches) == 1  # summarised once, reused by the second run


def test_a_logged_window_reference_reads_the_traffic_before_the_window(scenario: Scenario) -> None:
    scenario.ns.apply(dj.drift_monitor("window", reference={"window": "2h"}, statistics=STATISTICS))
    done = scenario.run("window")
    assert done.returncode == 0, done.stderr
    status = scenario.status("window")
    assert status["referenceRows"] == CURRENT_ROWS and status["rowsSeen"] == CURRENT_ROWS
    assert status["verdict"] == "Drift"  # the earlier traffic was shifted
    assert "logged traffic" in status["message"]


def test_labels_give_performance_drift_overall_and_per_slice(scenario: Scenario) -> None:
    monitor = dj.drift_monitor("perf", reference={"window": "2h"}, statistics=("psi",))
    monitor["spec"]["slices"] = ["merchant"]
    scenario.ns.apply(monitor)
    done = scenario.run("perf")
    assert done.returncode == 0, done.stderr
    status = scenario.status("perf")
    results = dj.results_by_key(status)
    expected = dj.performance_values(scenario.labelled_reference, scenario.labelled_current, slices=True)
    assert {k for k in results if k[0].startswith("__performance__")} == set(expected)
    for key, value in expected.items():
        if value is None:
            assert "value" not in results[key] and results[key]["verdict"] == "Inconclusive", results[key]
        else:
            assert math.isclose(results[key]["value"], value, rel_tol=1e-9, abs_tol=1e-12), (key, results[key])
    auc = results[("__performance__", "auc")]
    assert auc["verdict"] == "Drift" and auc["value"] > 0.1  # from about 0.7 to about 0.5
    assert ("__performance__:merchant=grocery", "accuracy") in results


def test_too_little_data_is_inconclusive_with_exit_code_3(scenario: Scenario) -> None:
    scenario.ns.apply(dj.drift_monitor("small", reference=None, statistics=STATISTICS,
                                       model_ref={"kind": "ModelVersion", "name": "fraud-v4"}))
    done = scenario.run("small")
    assert done.returncode == 3, (done.returncode, done.stderr)
    status = scenario.status("small")
    assert (status["verdict"], status["drifted"], status["rowsSeen"]) == ("Inconclusive", False, SMALL_ROWS)
    assert "too little data" in status["message"] and status["consecutiveDrifted"] == 0


def test_three_shards_as_three_processes_equal_one(scenario: Scenario) -> None:
    for name in ("single", "sharded"):
        scenario.ns.apply(dj.drift_monitor(name, reference={"snapshotUri": str(scenario.snapshots["shifted"])},
                                           statistics=STATISTICS))
    single = scenario.run("single")
    assert single.returncode == 0, single.stderr
    shards = dj.run_shards(scenario.ns.name, "sharded", str(scenario.logs), scenario.kubeconfig, 3, "run-3")
    assert [s.returncode for s in shards] == [0, 0, 0], [s.stderr for s in shards]
    partials = scenario.logs / "_reports" / "_partials" / scenario.ns.name / "sharded" / "run-3"
    assert sorted(p.name for p in partials.iterdir()) == ["shard-0.json", "shard-1.json", "shard-2.json"]
    one, three = scenario.status("single"), scenario.status("sharded")
    assert (one["rowsSeen"], one["verdict"]) == (three["rowsSeen"], three["verdict"])
    a, b = dj.results_by_key(one), dj.results_by_key(three)
    assert set(a) == set(b)
    for key in a:
        assert (a[key]["verdict"], a[key]["threshold"]) == (b[key]["verdict"], b[key]["threshold"])
        if "value" in a[key]:
            assert math.isclose(a[key]["value"], b[key]["value"], rel_tol=1e-9, abs_tol=1e-12), key
    assert Path(three["reportUri"]).name == "run-3.html"


def test_a_rollout_ref_follows_the_rollout_s_stable_version(scenario: Scenario) -> None:
    scenario.ns.apply(dj.rollout("fraud", target="fraud-v3"))
    scenario.ns.apply(dj.drift_monitor("follow", reference=None, statistics=("psi",),
                                       model_ref={"kind": "Rollout", "name": "fraud"}))
    unserved = scenario.run("follow")  # no status.stable yet: nothing serves, a clear one-line error
    assert unserved.returncode == 1
    assert "serves no stable version yet" in unserved.stderr.strip().splitlines()[-1]
    assert "Traceback" not in unserved.stderr
    scenario.ns.resource(API, "Rollout").status.patch(
        name="fraud", namespace=scenario.ns.name, content_type="application/merge-patch+json",
        body={"status": {"stable": "fraud-v3"}})
    done = scenario.run("follow")
    assert done.returncode == 0, done.stderr
    status = scenario.status("follow")
    assert (status["servedModelVersion"], status["rowsSeen"], status["verdict"]) == ("fraud-v3", CURRENT_ROWS,
                                                                                    "NoDrift")


def test_a_missing_monitor_exits_2_with_one_line(scenario: Scenario) -> None:
    done = scenario.run("nobody")
    assert done.returncode == 2
    expected = f"modelops-drift-job: DriftMonitor {scenario.ns.name}/nobody not found"
    assert done.stderr.strip().splitlines()[-1] == expected
    assert "Traceback" not in done.stderr


def test_logs_on_s3(cluster: LocalCluster, api: client.ApiClient, dyn: dynamic.DynamicClient,
                    tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with scratch_namespace(api) as name, S3Server(tmp_path / "s3") as s3:
        fs = fsspec.filesystem("s3", use_listings_cache=False, skip_instance_cache=True, **s3.storage_options)
        fs.mkdir("prediction-logs")
        current = dj.rows(400, seed=21)
        config = {"store": {"url": "s3://prediction-logs/prod", "options": s3.storage_options},
                  "flushInterval": "200ms"}
        with LogSinkServer(tmp_path / "sink", config=config) as sink:
            dj.post_traffic(sink.url, dj.calls(current, now - timedelta(minutes=50), timedelta(seconds=5),
                                               namespace=name))
            base = f"prediction-logs/prod/predictions/namespace={name}"
            wait_for(lambda: sum(1 for p in fs.find(base) if p.endswith(".parquet")) > 0 or None, 60, "objects")
        reference = dj.rows(REFERENCE_ROWS, seed=22)
        snapshot = dj.write_snapshot(tmp_path / "train.parquet", reference)
        fs.put(str(snapshot), "prediction-logs/snapshots/train.parquet")
        ns = Namespace(dyn, api, name)
        ns.apply(dj.model_version(training_data="s3://prediction-logs/snapshots/train.parquet"))
        ns.apply(dj.drift_monitor("s3", reference=None, statistics=STATISTICS))
        done = dj.run_job(name, "s3", "s3://prediction-logs/prod", cluster.kubeconfig, env=s3.env)
        assert done.returncode == 0, done.stderr
        obj = ns.get(API, "DriftMonitor", "s3")
        assert obj is not None
        status = obj["status"]
        assert (status["rowsSeen"], status["referenceRows"], status["verdict"]) == (400, REFERENCE_ROWS, "NoDrift")
        assert_values_equal_the_engine(status, dj.engine_values(reference, current, STATISTICS))
        assert status["reportUri"].startswith("s3://prediction-logs/prod/_reports/")
        assert fs.exists(status["reportUri"].removeprefix("s3://"))
        assert os.environ.get("AWS_ENDPOINT_URL") is None  # the endpoint reached the job through its env only
