"""Real model servers behind KServe's real agent, logging to the real prediction-log sink.

Models trained by the example training script (examples/training/train.py) against the real MLflow
server; served from the MLflow server's artifact store by KServe's sklearnserver (v0.20.0, in its
runtime's virtualenv) behind KServe's agent built from KServe's Go module, configured from the
InferenceService modelops' own core.serving makes for the ModelVersion; v1 ``predict`` calls over
HTTP; the sink's Parquet read back with pyarrow. No Kubernetes cluster is needed. Nothing is mocked.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from localcluster.kserve_logger import Call, messages
from localcluster.logsink_server import LogSinkServer
from localcluster.mlflow_server import MLflowServer
from localcluster.model_servers import ServedModel
from modelops.api.config import ServingSettings
from modelops.api.modelversion import ModelVersionSpec
from modelops.core.artifacts import fetchable
from modelops.core.serving.inference import desired_inference_service
from tests.support.logsink import metric_value, rows_by_id, scrape
from tests.support.train_script import Trained, local_artifact, train
from tests.support.waiting import wait_for

NAMESPACE = "demo"
STAGE = "X-Modelops-Stage"
FEATURES = [str(name) for name in load_breast_cancer().feature_names]
# Rows of the data set the model was trained on: the first ten of each class.
_DATA = load_breast_cancer()
ROWS = np.concatenate([_DATA.data[_DATA.target == 0][:10], _DATA.data[_DATA.target == 1][:10]])


def _trained(server: MLflowServer, **env: str) -> Trained:
    trained = train(server, extra_env=env)
    assert trained.proc.returncode == 0, trained.proc.stderr[-3000:]
    return trained


@pytest.fixture(scope="module")
def good(mlflow_server: MLflowServer) -> Trained:
    return _trained(mlflow_server)


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogSinkServer]:
    # The signature names positional inputs (as the ModelVersion's spec.signature would, in a cluster).
    names = {"cancer-v1": FEATURES, "cancer-v2": FEATURES}
    config = {"flushInterval": "200ms", "pairTimeout": "1s", "signatures": {"source": "static", "static": names}}
    with LogSinkServer(tmp_path_factory.mktemp("logsink"), config=config) as started:
        yield started


def inference_service(server: MLflowServer, trained: Trained, name: str, version: str, sink_url: str) -> dict[str, Any]:
    """The InferenceService the operator would make for the ModelVersion of ``trained``."""
    # What the run registers is an mlflow-artifacts:/ URI; the operator serves the URI of the same bytes
    # under the server's --artifacts-destination (core/artifacts.py), here a file:// URI.
    storage_uri = fetchable(f"{trained.artifact_uri}/model", server.artifact_root.as_uri())
    assert storage_uri is not None and storage_uri.startswith("file:///"), storage_uri
    spec = ModelVersionSpec.model_validate({
        "model": "cancer", "version": version, "artifact": {"storageUri": storage_uri, "format": "sklearn"},
        "lineage": {"mlflowRunId": trained.run_id}})
    settings = ServingSettings(log_sink_url=sink_url)
    return desired_inference_service(name=name, namespace=NAMESPACE, uid=str(uuid.uuid4()), spec=spec,
                                     storage_uri=storage_uri, pool=None, settings=settings)


@pytest.fixture(scope="module")
def served(mlflow_server: MLflowServer, good: Trained, sink: LogSinkServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedModel]:
    isvc = inference_service(mlflow_server, good, "cancer-v1", "1", sink.url)
    with ServedModel(isvc, tmp_path_factory.mktemp("cancer-v1")) as started:
        yield started


def local_scores(server: MLflowServer, trained: Trained, rows: np.ndarray) -> list[float]:
    """What the trained model itself says: ``predict_proba`` of the positive class, in this process."""
    model = joblib.load(local_artifact(server, trained.artifact_uri, "model/model.joblib"))
    return [float(p) for p in model.predict_proba(rows)[:, 1]]


def logged(sink: LogSinkServer, ids: list[str], complete: bool = True) -> dict[str, list[dict[str, Any]]]:
    """The sink's Parquet rows of the calls ``ids``, once every one of them is there."""
    def probe() -> dict[str, list[dict[str, Any]]] | None:
        rows = rows_by_id(sink.store)
        found = {i: rows[i] for i in ids if i in rows}
        if len(found) < len(ids) or (complete and any(r["status"] != "complete" for v in found.values() for r in v)):
            return None
        return found
    return wait_for(probe, 30, f"Parquet rows of {len(ids)} calls in {sink.store}")


def test_predictions_through_the_agent_are_the_trained_models_own(mlflow_server: MLflowServer, good: Trained,
                                                                   served: ServedModel) -> None:
    status, answer = served.predict(ROWS.tolist())
    assert status == 200, answer
    probabilities = answer["predictions"]
    assert [len(p) for p in probabilities] == [2] * len(ROWS)
    assert [p[1] for p in probabilities] == pytest.approx(local_scores(mlflow_server, good, ROWS), abs=1e-12)
    # A good model: malignant rows (the data set's class 0) score high, benign ones low.
    assert all(p[1] > 0.5 for p in probabilities[:10]) and all(p[1] < 0.5 for p in probabilities[10:])


def test_every_call_is_logged_as_parquet_rows_naming_model_version_stage_and_request(
        mlflow_server: MLflowServer, good: Trained, served: ServedModel, sink: LogSinkServer) -> None:
    stages = {0: "cancer/canary-10", 4: "cancer/canary-10", 8: "cancer/stable", 12: "cancer/stable"}
    calls = {str(uuid.uuid4()): (ROWS[i:i + 4], stage) for i, stage in stages.items()}
    answers = {}
    for call_id, (rows, stage) in calls.items():
        status, answers[call_id] = served.predict(rows.tolist(), {"Ce-Id": call_id, STAGE: stage})
        assert status == 200, answers[call_id]

    found = logged(sink, list(calls))
    for call_id, (rows, stage) in calls.items():
        logged_rows = sorted(found[call_id], key=lambda r: r["instance"])
        assert [r["instance"] for r in logged_rows] == [0, 1, 2, 3]
        expected = local_scores(mlflow_server, good, rows)
        for row, sent, score, answered in zip(logged_rows, rows, expected, answers[call_id]["predictions"],
                                              strict=True):
            assert (row["model"], str(row["version"]), row["modelversion"]) == ("cancer", "1", "cancer-v1")
            assert (row["stage"], row["request_id"], row["status"]) == (stage, call_id, "complete")
            assert (row["namespace"], row["inference_service"], row["component"]) == (NAMESPACE, "cancer-v1",
                                                                                     "predictor")
            assert row["source"] == served.pod_name
            assert [row[f"input.{name}"] for name in FEATURES] == pytest.approx(list(sent), abs=0)
            assert row["score"] == pytest.approx(score, abs=1e-12)
            assert json.loads(row["prediction"]) == answered
            assert 0.0 <= row["latency_seconds"] < 10.0
    # Everything the agent posted was a logged call (its readiness probes are answered, never logged).
    assert metric_value(scrape(sink.url), "modelops_logsink_rejected_total") == 0


def test_the_agent_names_a_call_that_came_without_an_id(served: ServedModel, sink: LogSinkServer) -> None:
    before = set(rows_by_id(sink.store))
    row = ROWS[3:4]
    status, _ = served.predict(row.tolist(), {STAGE: "cancer/shadow"})
    assert status == 200

    def new_call() -> list[dict[str, Any]] | None:
        fresh = [rows[0] for call_id, rows in rows_by_id(sink.store).items() if call_id not in before]
        return fresh if fresh and fresh[0]["status"] == "complete" else None
    (logged_row,) = wait_for(new_call, 30, "the row of a call without Ce-Id")
    assert uuid.UUID(logged_row["request_id"]).version == 4  # the agent's own id (handler.go:210-213)
    assert logged_row["stage"] == "cancer/shadow"
    assert logged_row["input.mean radius"] == row[0][0]


def test_a_call_the_model_server_refuses_is_logged_as_its_request_alone(served: ServedModel,
                                                                        sink: LogSinkServer) -> None:
    call_id = str(uuid.uuid4())
    status, answer = served.predict([[1.0, 2.0, 3.0]], {"Ce-Id": call_id, STAGE: "cancer/canary-10"})
    assert status == 500, answer  # three features where the model takes thirty
    assert "30 features" in answer["error"]
    (row,) = logged(sink, [call_id], complete=False)[call_id]
    assert (row["status"], row["score"], row["prediction"]) == ("request_only", None, None)
    assert (row["modelversion"], row["stage"]) == ("cancer-v1", "cancer/canary-10")


def test_two_versions_served_side_by_side_each_log_their_own(mlflow_server: MLflowServer, good: Trained,
                                                             served: ServedModel, sink: LogSinkServer,
                                                             tmp_path: Path) -> None:
    # A genuinely different model: half of its training labels flipped.
    degraded = _trained(mlflow_server, MODELOPS_TRAIN_DEGRADE="0.5")
    isvc = inference_service(mlflow_server, degraded, "cancer-v2", "2", sink.url)
    with ServedModel(isvc, tmp_path / "cancer-v2") as second:
        assert second.url != served.url
        ids = {str(uuid.uuid4()): served, str(uuid.uuid4()): second}
        for call_id, pair in ids.items():
            status, _ = pair.predict(ROWS.tolist(), {"Ce-Id": call_id, STAGE: "cancer/ab-50"})
            assert status == 200
        found = logged(sink, list(ids))

    for call_id, pair in ids.items():
        trained = good if pair is served else degraded
        version = "1" if pair is served else "2"
        rows = sorted(found[call_id], key=lambda r: r["instance"])
        assert {(r["modelversion"], str(r["version"]), r["source"]) for r in rows} == {
            (pair.name, version, pair.pod_name)}
        assert [r["score"] for r in rows] == pytest.approx(local_scores(mlflow_server, trained, ROWS), abs=1e-12)
    good_scores = [r["score"] for r in found[next(iter(ids))]]
    bad_scores = [r["score"] for r in found[list(ids)[1]]]
    assert good_scores != pytest.approx(bad_scores, abs=0.05)


class _Recorder(ThreadingHTTPServer):
    """A loopback HTTP server that keeps every POST it is sent (headers as they came, body) and answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.received.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_the_played_logger_sends_what_the_real_agent_sends(mlflow_server: MLflowServer, good: Trained,
                                                           tmp_path: Path) -> None:
    """localcluster.kserve_logger plays KServe's logger where the sink's tests need every byte under
    control (malformed events, replays, crashes, 60 000 calls a run): its events must be the agent's."""
    recorder = _Recorder()
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    try:
        sink_url = f"http://127.0.0.1:{recorder.server_address[1]}"
        isvc = inference_service(mlflow_server, good, "cancer-v1", "1", sink_url)
        with ServedModel(isvc, tmp_path / "cancer-v1") as served:
            call_id = str(uuid.uuid4())
            status, answer = served.predict(ROWS[:2].tolist(), {"Ce-Id": call_id, STAGE: "cancer/canary-10"})
            assert status == 200
            real = wait_for(lambda: recorder.received if len(recorder.received) == 2 else None, 30,
                            "the agent's two events")
    finally:
        recorder.shutdown()
        recorder.server_close()

    played = messages(Call(id=call_id, namespace=NAMESPACE, modelversion="cancer-v1", model="cancer", version="1",
                           stage="cancer/canary-10", inference_service="cancer-v1", time=datetime.now(UTC),
                           request={"instances": ROWS[:2].tolist()}, response=answer))
    by_type = {headers["Ce-Type"]: (headers, body) for headers, body in real}
    transport = {"Host", "User-Agent", "Content-Length", "Accept-Encoding"}
    for played_headers, played_body in played:
        real_headers, real_body = by_type[played_headers["Ce-Type"]]
        assert set(real_headers) - transport == set(played_headers)  # the same names, spelled the same way
        for name in ("Ce-Time", "Ce-Recordedtime"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z", real_headers[name]), real_headers[name]
        differs = {"Ce-Time", "Ce-Recordedtime", "Ce-Source"}  # when, and the Pod's name
        assert {k: v for k, v in real_headers.items() if k in played_headers and k not in differs} == \
            {k: v for k, v in played_headers.items() if k not in differs}
        assert real_headers["Ce-Source"] == served.pod_name
        assert json.loads(real_body) == json.loads(played_body)
