"""The regulator's question on real parts: a ModelVersion on the real API server, the sink reading
its signature from there (positional inputs become named columns), predictions spread over 100
days, and ``modelops trace`` (and ``kubectl modelops trace``) finding the one from 90 days ago by
request id and by the loan id alone, down to the training data version, code commit and image."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubernetes import dynamic

from localcluster.cluster import LocalCluster
from localcluster.kserve_logger import Call
from localcluster.logsink_server import LogSinkServer
from tests.support.logsink import call_events, post_all, rows_by_id, trace

LINEAGE = {
    "trainingRun": "fraud-train-2026-08-01",
    "data": {"uri": "s3://ml-data/loans/train/", "version": "2026-07-31"},
    "code": {"repo": "https://github.com/acme/loan-model", "commit": "9b2e4c1d7a3f5e6b8c0d1e2f3a4b5c6d7e8f9a0b"},
    "image": "ghcr.io/acme/loan-train@sha256:" + "4f1c" * 16,
}


def modelversion(name: str) -> dict[str, object]:
    return {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion", "metadata": {"name": name},
        "spec": {
            "model": "loans", "version": "7",
            "artifact": {"storageUri": "s3://ml-models/loans/7/", "format": "sklearn"},
            "lineage": LINEAGE,
            "signature": {"inputs": [{"name": "amount", "type": "double"}, {"name": "income", "type": "double"},
                                     {"name": "loan_id", "type": "string"}],
                          "outputs": [{"name": "score", "type": "double"}]},
            "serving": {"enabled": False},
        },
    }


def test_trace_a_90_day_old_decision_to_its_training_data(tmp_path: Path, cluster: LocalCluster,
                                                           dyn: dynamic.DynamicClient, namespace: str) -> None:
    dyn.resources.get(api_version="modelops.io/v1alpha1", kind="ModelVersion").server_side_apply(
        body=modelversion("loans-v7"), namespace=namespace, field_manager="test")
    now = datetime.now(UTC)
    decision_time = now - timedelta(days=90, hours=3)

    def call(loan: str, when: datetime, score: float, stage: str = "loans/stable") -> Call:
        return Call(id=str(uuid.uuid4()), namespace=namespace, modelversion="loans-v7", model="loans", version="7",
                    stage=stage, time=when, request={"instances": [[25000.0, 41000.0, loan]]},
                    response={"predictions": [[1 - score, score]]})

    denied = call("L-2026-0815", decision_time, 0.93, stage="loans/canary-25")
    others = [call(f"L-{day:03d}-{i}", now - timedelta(days=day, minutes=7 * i), 0.1)
              for day in range(0, 100, 3) for i in range(4)]
    store = tmp_path / "sink" / "store"
    with LogSinkServer(tmp_path / "sink", config={"signatures": {"source": "kubernetes"}},
                       env={"KUBECONFIG": str(cluster.kubeconfig)}) as sink:
        assert set(post_all(sink.url, call_events([*others, denied]))) == {200}
    (row,) = rows_by_id(store)[denied.id]
    assert (row["input.amount"], row["input.income"], row["input.loan_id"]) == (25000.0, 41000.0, "L-2026-0815")
    assert f"date={decision_time:%Y-%m-%d}" in str(next(store.glob(f"predictions/*/*/*/date={decision_time:%Y-%m-%d}")))

    by_id = trace(cluster, denied.id, "--store", str(store))
    assert by_id.returncode == 0, by_id.stderr
    text = by_id.stdout
    for expected in (f"Prediction    {denied.id}", f"ModelVersion {namespace}/loans-v7", "(model loans version 7)",
                     "stage       loans/canary-25", "loan_id=L-2026-0815", "amount=25000.0", "score 0.93",
                     f"TrainingRun   {namespace}/fraud-train-2026-08-01 (deleted)",
                     "Data          s3://ml-data/loans/train/ version 2026-07-31",
                     f"Code          {LINEAGE['code']['repo']} @ {LINEAGE['code']['commit']}",
                     f"Image         {LINEAGE['image']}"):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert f"{decision_time:%Y-%m-%dT%H:%M}" in text

    by_key = trace(cluster, "--key", "loan_id=L-2026-0815", "--since", "91d", "--until", "89d",
                   "-n", namespace, "-o", "json", plugin=True, store=store)
    assert by_key.returncode == 0, by_key.stderr
    document = json.loads(by_key.stdout)
    (found,) = document["predictions"]
    assert (found["requestId"], found["stage"], found["modelversion"]) == (denied.id, "loans/canary-25", "loans-v7")
    lineage = document["lineage"][f"{namespace}/loans-v7"]
    assert lineage["modelVersion"]["spec"]["lineage"] == LINEAGE

    outside = trace(cluster, "--key", "loan_id=L-2026-0815", "--since", "30d", "--store", str(store), "--no-lineage")
    assert outside.returncode == 1 and "no prediction found" in outside.stderr
    unknown = trace(cluster, str(uuid.uuid4()), "--store", str(store))
    assert unknown.returncode == 1 and "no prediction found" in unknown.stderr
    bad = trace(cluster, "--key", "loan_id", "--since", "2d", "--store", str(store))
    assert bad.returncode == 2 and "COLUMN=VALUE" in bad.stderr
