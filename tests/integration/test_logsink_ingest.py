"""The log sink as a real process over real HTTP: KServe's CloudEvents in both content modes become
Parquet that pyarrow reads back with the right partitions and values; calls pair in either order
and a lone request is written alone after the timeout; bad input gets a 4xx naming what is wrong,
is counted, and never stops the sink; labels join their predictions; tokens guard what they guard.
No Kubernetes cluster is needed (no test here requests ``cluster``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds

from localcluster.kserve_logger import Call, messages, structured
from localcluster.logsink_server import LogSinkServer
from tests.support.logsink import (
    call_events,
    fixture_event,
    loan_call,
    metric_value,
    post,
    post_all,
    post_json,
    predictions,
    rows_by_id,
    scrape,
)
from tests.support.waiting import wait_for

SIGNATURE = {"static": {"fraud-v3": ["amount", "age", "loan_id"]}, "source": "static"}


def test_binary_and_structured_events_become_partitioned_parquet(tmp_path: Path) -> None:
    when = datetime(2026, 11, 30, 10, 15, 4, 123456, tzinfo=UTC)
    binary = loan_call("L-1", when=when, score=0.9)
    positional = Call(id=str(uuid.uuid4()), namespace="demo", modelversion="fraud-v3", model="fraud", version="3",
                      stage="fraud/shadow", time=when + timedelta(hours=1), latency=0.25,
                      request={"instances": [[80.0, 51, "L-2"], [99.5, 23, "L-3"]]},
                      response={"predictions": [[0.7, 0.3], [0.4, 0.6]]})
    with LogSinkServer(tmp_path, config={"signatures": SIGNATURE}) as sink:
        events = messages(binary) + [structured(m) for m in messages(positional)]
        events += [(fixture_event(n)["headers"], fixture_event(n)["body"].encode())
                   for n in ("v1-request-binary", "v1-response-binary")]
        assert post_all(sink.url, events) == [200] * len(events)
    rows = rows_by_id(sink.store)
    (one,) = rows[binary.id]
    assert (one["namespace"], one["model"], one["version"], one["date"], one["hour"]) == \
        ("demo", "fraud", 3, "2026-11-30", 10)
    assert (one["modelversion"], one["stage"], one["status"], one["inference_service"]) == \
        ("fraud-v3", "fraud/canary-5", "complete", "fraud-v3")
    assert (one["input.amount"], one["input.age"], one["input.loan_id"]) == (1200.5, 34, "L-1")
    assert (one["prediction"], one["score"], one["latency_seconds"]) == ("[0.1,0.9]", 0.9, 0.012)
    assert one["time"] == when
    batch = sorted(rows[positional.id], key=lambda r: r["instance"])
    assert [(r["hour"], r["instance"], r["input.loan_id"], r["input.amount"], r["score"]) for r in batch] == \
        [(11, 0, "L-2", 80.0, 0.3), (11, 1, "L-3", 99.5, 0.6)]
    assert [r["latency_seconds"] for r in batch] == [0.25, 0.25] and batch[0]["stage"] == "fraud/shadow"
    pinned = rows["7f9c2ba4-e88f-4e0a-9f6a-2c1d3e4f5a6b"]
    assert {(r["model"], r["modelversion"], r["input.loan_id"]) for r in pinned} == \
        {("fraud-detector", "fraud-detector-v3", "L-1234"), ("fraud-detector", "fraud-detector-v3", "L-5678")}
    files = {p.relative_to(sink.store).parent.as_posix() for p in (sink.store / "predictions").rglob("*.parquet")}
    assert "predictions/namespace=demo/model=fraud/version=3/date=2026-11-30/hour=10" in files
    assert "predictions/namespace=demo/model=fraud-detector/version=3/date=2026-11-30/hour=10" in files


def test_pairing_in_either_order_and_a_lone_request_after_the_timeout(tmp_path: Path) -> None:
    reversed_call, failed_call = loan_call("L-10"), loan_call("L-11", answered=False)
    with LogSinkServer(tmp_path, config={"pairTimeout": "1s", "flushInterval": "200ms"}) as sink:
        request, response = messages(reversed_call)
        assert post(sink.url, *response)[0] == 200
        assert post(sink.url, *request)[0] == 200
        assert post(sink.url, *messages(failed_call)[0])[0] == 200
        # KServe logs no response for a failed call: after the timeout it counts as unanswered (500).
        wait_for(lambda: metric_value(scrape(sink.url), "modelops_requests_total", code="500",
                                      modelversion="fraud-v3") == 1, 20, "the lone request counted as code 500")
        page = scrape(sink.url)
        assert metric_value(page, "modelops_requests_total", code="200") == 1
        assert metric_value(page, "modelops_request_duration_seconds_count") == 1
        assert metric_value(page, "modelops_prediction_score_count", stage="fraud/canary-5") == 1
    rows = rows_by_id(sink.store)
    assert rows[reversed_call.id][0]["status"] == "complete"
    assert rows[reversed_call.id][0]["prediction"] == "[0.2,0.8]"
    (lone,) = rows[failed_call.id]
    assert (lone["status"], lone["prediction"], lone["response_time"], lone["input.loan_id"]) == \
        ("request_only", None, None, "L-11")


def test_bad_input_is_refused_named_counted_and_never_stops_the_sink(tmp_path: Path) -> None:
    good = fixture_event("v1-request-binary")
    headers = dict(good["headers"])
    cases = [
        ({k: v for k, v in headers.items() if k != "Ce-Id"}, good["body"].encode(), 400, "ce-id", "malformed"),
        ({**headers, "Ce-Type": "com.example.click"}, good["body"].encode(), 400, "com.example.click",
         "unknown_type"),
        ({**headers, "Ce-Time": "last tuesday"}, good["body"].encode(), 400, "ce-time", "malformed"),
        ({**headers, "Content-Type": "text/csv"}, b"amount,age\n1,2\n", 415, "text/csv", "not_json"),
        (headers, b"\x89PNG\r\n\x1a\n", 400, "data: not JSON", "not_json"),
        (headers, b'{"query": "what is this"}', 422, "neither `instances` (v1) nor `inputs` (v2)", "bad_payload"),
        ({"Content-Type": "application/json"}, b'{"instances": [[1]]}', 415, "not a CloudEvent", "malformed"),
        (headers, b'{"instances": [' + b"1," * 700_000 + b"1]}", 413, "over the limit", "too_large"),
    ]
    with LogSinkServer(tmp_path, config={"maxBodyBytes": 1_000_000}) as sink:
        for sent_headers, body, status, named, _reason in cases:
            got, _, answer = post(sink.url, sent_headers, body)
            assert got == status, (named, answer)
            assert named in json.loads(answer)["error"], answer
        page = scrape(sink.url)
        for reason in {case[4] for case in cases}:
            expected = sum(1 for case in cases if case[4] == reason)
            assert metric_value(page, "modelops_logsink_rejected_total", reason=reason) == expected, reason
        assert post(sink.url, headers, good["body"].encode())[0] == 200  # still serving
        assert sink.proc is not None and sink.proc.poll() is None
    assert list(rows_by_id(sink.store)) == [good["headers"]["Ce-Id"]]


def test_labels_join_by_id_and_by_key_and_count_outcomes(tmp_path: Path) -> None:
    old = datetime.now(UTC) - timedelta(days=20)
    first, second, loan = loan_call("L-20"), loan_call("L-21", modelversion="fraud-v4", version="4"), "L-22"
    earlier = loan_call(loan, when=old, stage="fraud/stable")
    with LogSinkServer(tmp_path, config={"flushInterval": "200ms"}) as sink:
        assert set(post_all(sink.url, call_events([first, second, earlier]))) == {200}
        wait_for(lambda: ds.dataset(str(sink.store / "predictions"), partitioning="hive").count_rows() == 3, 20,
                 "the three calls in Parquet")  # labels weeks later join predictions already on disk
        status, answer = post_json(f"{sink.url}/labels", {"labels": [
            {"requestId": first.id, "metric": "conversion", "outcome": "success", "label": {"repaid": True}},
            {"requestId": second.id, "metric": "conversion", "outcome": "failure"},
            {"key": {"column": "loan_id", "value": loan}, "from": (old - timedelta(hours=1)).isoformat(),
             "label": "defaulted", "metric": "conversion", "outcome": "failure"},
        ]})
        assert status == 200, answer
        assert [(lb["requestId"], lb["modelversion"]) for lb in answer["labels"]] == \
            [(first.id, "fraud-v3"), (second.id, "fraud-v4"), (earlier.id, "fraud-v3")]
        status, refused = post_json(f"{sink.url}/labels", {"labels": [
            {"requestId": first.id, "label": 1}, {"requestId": "no-such-call", "label": 1}]})
        assert status == 422
        assert refused["problems"] == [{"index": 1, "error": "requestId 'no-such-call': no prediction"}]
        status, refused = post_json(f"{sink.url}/labels", {"labels": [{"requestId": first.id, "outcome": "yes"}]})
        assert status == 400 and "labels[0].outcome" in refused["error"]
        page = scrape(sink.url)
        assert metric_value(page, "modelops_outcomes_total", modelversion="fraud-v3", outcome="success",
                            metric="conversion", stage="fraud/canary-5") == 1
        assert metric_value(page, "modelops_outcomes_total", modelversion="fraud-v3", outcome="failure",
                            stage="fraud/stable") == 1
        assert metric_value(page, "modelops_outcomes_total", modelversion="fraud-v4", outcome="failure") == 1
    labels = ds.dataset(str(sink.store / "labels"), partitioning="hive").to_table().to_pylist()
    assert sorted((lb["request_id"], lb["outcome"], lb["label"]) for lb in labels) == sorted([
        (first.id, "success", '{"repaid":true}'), (second.id, "failure", None), (earlier.id, "failure", '"defaulted"')])
    assert {lb["version"] for lb in labels if lb["request_id"] == second.id} == {4}


def test_bearer_token_on_labels_and_optionally_on_ingest(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cr3t\n")
    call = loan_call("L-30")
    request, response = messages(call)
    with LogSinkServer(tmp_path / "sink", config={"auth": {"tokenFile": str(token_file), "ingest": True}}) as sink:
        assert post(sink.url, *request)[0] == 401
        assert post(sink.url, {**request[0], "Authorization": "Bearer wrong"}, request[1])[0] == 401
        for headers, body in (request, response):
            assert post(sink.url, {**headers, "Authorization": "Bearer s3cr3t"}, body)[0] == 200
        assert post_json(f"{sink.url}/labels", {"labels": [{"requestId": call.id, "label": 1}]})[0] == 401
        assert post_json(f"{sink.url}/labels", {"labels": [{"requestId": call.id, "label": 1}]}, "s3cr3t")[0] == 200
        assert metric_value(scrape(sink.url), "modelops_logsink_rejected_total", reason="unauthorized") == 3
    assert predictions(sink.store).num_rows == 1
