"""Helpers for the log sink's tests: the pinned KServe fixture, posting events over real HTTP,
and reading the store back with pyarrow (as any consumer of the store would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import yaml

from localcluster.cluster import LocalCluster
from localcluster.kserve_logger import Call, Message, messages

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "kserve_logger_v0.20.0.yaml"


def kserve_fixture() -> dict[str, Any]:
    """The KServe v0.20.0 logger facts and events pinned from its Go source."""
    return yaml.safe_load(FIXTURE.read_text())


def fixture_event(name: str) -> dict[str, Any]:
    return next(e for e in kserve_fixture()["events"] if e["name"] == name)


def post(url: str, headers: dict[str, str], body: bytes, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one POST; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post_json(url: str, payload: Any, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, _, body = post(url, headers, json.dumps(payload).encode())
    return status, json.loads(body) if body else None


def post_all(url: str, events: Iterable[Message], workers: int = 8) -> list[int]:
    """Post events concurrently (a pool of connections, like KServe's logger workers); statuses in order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda m: post(url, m[0], m[1])[0], events))


def loan_call(loan: str, *, when: datetime | None = None, namespace: str = "demo", modelversion: str = "fraud-v3",
              version: str = "3", stage: str | None = "fraud/canary-5", answered: bool = True, score: float = 0.8,
              amount: float = 1200.5, call_id: str | None = None, **extra: Any) -> Call:
    """One loan decision as a KServe v1 call: features amount, age, loan_id (and ``extra``)."""
    return Call(
        id=call_id or str(uuid.uuid4()), namespace=namespace, modelversion=modelversion, model="fraud", version=version,
        stage=stage, time=when or datetime.now(UTC) - timedelta(seconds=1),
        request={"instances": [{"amount": amount, "age": 34, "loan_id": loan, **extra}]},
        response={"predictions": [[round(1 - score, 6), score]]} if answered else None,
    )


def call_events(calls: Iterable[Call]) -> list[Message]:
    return [message for call in calls for message in messages(call)]


def predictions(store: Path) -> pa.Table:
    """Every prediction row in a local store, partition columns included (hive discovery)."""
    root = store / "predictions"
    if not root.exists():
        return pa.table({"request_id": pa.array([], pa.string())})
    return ds.dataset(str(root), format="parquet", partitioning="hive").to_table()


def rows_by_id(store: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in predictions(store).to_pylist():
        out.setdefault(row["request_id"], []).append(row)
    return out


def metric_value(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` in a /metrics page."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        return response.read().decode()


def trace(cluster: LocalCluster, *args: str, plugin: bool = False,
          store: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``modelops trace ARGS`` (or ``kubectl-modelops trace``) against the local cluster, the sink's store
    named by ``MODELOPS_LOGSINK_STORE``."""
    command = [str(Path(sys.executable).parent / "kubectl-modelops")] if plugin else \
        [sys.executable, "-m", "modelops.cli.main"]
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    if store is not None:
        env["MODELOPS_LOGSINK_STORE"] = str(store)
    return subprocess.run([*command, "trace", *args], capture_output=True, text=True, timeout=120, env=env)
