"""The sink reads KServe's logger exactly as KServe v0.20.0 writes it: constants against the facts
pinned from KServe's Go source, every pinned event parsed and flattened, and malformed envelopes
refused with the field named."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from localcluster.kserve_logger import Call, messages, structured
from modelops.api.config import ServingSettings
from modelops.api.modelversion import ModelVersionSpec
from modelops.core.serving.inference import canonical_header, desired_predictor
from modelops.logsink import events
from modelops.logsink.events import BadEvent, parse
from modelops.logsink.payloads import request_features, response_outputs
from tests.support.logsink import fixture_event, kserve_fixture

FACTS = {fact["what"]: fact for fact in kserve_fixture()["facts"]}
EVENTS = kserve_fixture()["events"]


def fact(prefix: str) -> Any:
    return next(f["value"] for what, f in FACTS.items() if what.startswith(prefix))


def test_constants_are_kserves() -> None:
    ours = {
        "event type of a logged request": events.REQUEST_TYPE,
        "event type of a logged response": events.RESPONSE_TYPE,
        "extension attribute naming the InferenceService": events.INFERENCE_SERVICE_ATTR,
        "extension attribute naming the namespace": events.NAMESPACE_ATTR,
        "extension attribute naming the component": events.COMPONENT_ATTR,
        "extension attribute naming the endpoint": events.ENDPOINT_ATTR,
        "extension attribute carrying the forwarded request headers": events.METADATA_ATTR,
        "extension attribute carrying the forwarded annotations": events.ANNOTATIONS_ATTR,
        "extension attribute with the time the agent sent": events.RECORDED_TIME_ATTR,
    }
    assert {prefix: fact(prefix) for prefix in ours} == ours
    for item in kserve_fixture()["facts"]:
        assert item["at"] and item["quote"], item["what"]


def test_the_isvc_forwards_the_stage_header_as_kserve_matches_it() -> None:
    # KServe compares metadataHeaders with Go-canonicalised header keys (handler.go:134-137).
    assert canonical_header("x-modelops-stage") == "X-Modelops-Stage"
    spec = ModelVersionSpec.model_validate({"model": "fraud", "version": "3", "artifact": {
        "storageUri": "s3://models/fraud/3", "format": "sklearn"}})
    logger = desired_predictor(spec=spec, storage_uri="s3://m", pool=None,
                               settings=ServingSettings(log_sink_url="http://sink:8080"))["logger"]
    assert logger["metadataHeaders"] == ["X-Modelops-Stage"]
    forwarded = json.loads(fixture_event("v1-request-binary")["headers"]["Ce-Metadata"])
    assert list(forwarded) == logger["metadataHeaders"]


@pytest.mark.parametrize("event", EVENTS, ids=[e["name"] for e in EVENTS])
def test_pinned_events_parse(event: dict[str, Any]) -> None:
    parsed = parse(event["headers"], event["body"].encode())
    expect = event["expect"]
    for name in ("id", "kind", "namespace", "inference_service", "component", "endpoint", "source", "model",
                 "version", "modelversion", "stage"):
        if name in expect:
            assert getattr(parsed, name) == expect[name], name
    if "time" in expect:
        assert parsed.time == datetime.fromisoformat(expect["time"])
    if "inputs" in expect:
        assert request_features(parsed.payload, event.get("signature")) == expect["inputs"]
    if "outputs" in expect:
        assert [list(o) for o in response_outputs(parsed.payload)] == expect["outputs"]


def test_a_call_played_by_localcluster_matches_the_pinned_headers() -> None:
    pinned = fixture_event("v1-request-binary")["headers"]
    call = Call(id="x", namespace="demo", modelversion="fraud-detector-v3", model="fraud-detector", version="3",
                request={"instances": [[1]]}, response=None, time=datetime.fromisoformat("2026-11-30T10:15:04Z"),
                stage="fraud-detector/canary-5")
    (headers, _), = messages(call)
    assert set(headers) == set(pinned)
    assert headers["Ce-Metadata"] == pinned["Ce-Metadata"] and headers["Ce-Annotations"] == pinned["Ce-Annotations"]


def test_structured_mode_with_data_base64() -> None:
    event = fixture_event("v1-request-binary")
    headers, body = structured((event["headers"], event["body"].encode()))
    parsed = parse(headers, body)
    assert parsed.kind == "request" and parsed.stage == "fraud-detector/canary-5"
    assert parsed.payload == json.loads(event["body"])


def test_missing_metadata_and_annotations_fall_back_to_the_inference_service() -> None:
    headers = dict(fixture_event("v1-response-binary")["headers"])
    del headers["Ce-Annotations"]
    headers["Ce-Metadata"] = "{}"
    parsed = parse(headers, b'{"predictions": [1]}')
    assert (parsed.model, parsed.modelversion, parsed.version, parsed.stage) == \
        ("fraud-detector-v3", "fraud-detector-v3", "unknown", "")


def _bad(headers: dict[str, str], body: bytes) -> BadEvent:
    with pytest.raises(BadEvent) as caught:
        parse(headers, body)
    return caught.value


BINARY = fixture_event("v1-request-binary")


def _without(name: str) -> dict[str, str]:
    return {k: v for k, v in BINARY["headers"].items() if k != name}


@pytest.mark.parametrize(("headers", "body", "status", "reason", "names"), [
    (_without("Ce-Id"), BINARY["body"].encode(), 400, "malformed", "ce-id"),
    (_without("Ce-Source"), BINARY["body"].encode(), 400, "malformed", "ce-source"),
    (_without("Ce-Namespace"), BINARY["body"].encode(), 400, "malformed", "ce-namespace"),
    (_without("Ce-Inferenceservicename"), BINARY["body"].encode(), 400, "malformed", "ce-inferenceservicename"),
    ({**BINARY["headers"], "Ce-Time": "yesterday"}, BINARY["body"].encode(), 400, "malformed", "ce-time"),
    ({**BINARY["headers"], "Ce-Type": "com.example.other"}, BINARY["body"].encode(), 400, "unknown_type",
     "com.example.other"),
    ({**BINARY["headers"], "Ce-Metadata": "{not json"}, BINARY["body"].encode(), 400, "malformed", "ce-metadata"),
    ({**BINARY["headers"], "Ce-Annotations": "[1]"}, BINARY["body"].encode(), 400, "malformed", "ce-annotations"),
    ({**BINARY["headers"], "Content-Type": "text/plain"}, b"hello", 415, "not_json", "text/plain"),
    (BINARY["headers"], b"{not json", 400, "not_json", "data"),
    (BINARY["headers"], b"[1, 2]", 422, "bad_payload", "JSON object"),
    ({"Content-Type": "application/json"}, b'{"instances": []}', 415, "malformed", "not a CloudEvent"),
    ({"Content-Type": "application/cloudevents+json"}, b'{"specversion": "1.0"', 400, "malformed", "body"),
    ({"Content-Type": "application/cloudevents+json"}, b'{"specversion":"1.0","type":"x","source":"s"}', 400,
     "malformed", "ce-id"),
    ({"Content-Type": "application/cloudevents-batch+json"}, b"[]", 415, "malformed", "batched"),
])
def test_malformed_events_are_refused_with_the_field(headers: dict[str, str], body: bytes, status: int, reason: str,
                                                     names: str) -> None:
    error = _bad(headers, body)
    assert (error.status, error.reason) == (status, reason)
    assert names in str(error)


WHEN = datetime.fromisoformat("2026-12-01T10:00:00+00:00")


# Found by the hostile-input suite (issue 15): an attribute whose header bytes were not UTF-8
# (aiohttp keeps them as surrogate escapes), or data with a lone \udXXX escape, reached the spool
# and failed there with a 500. Both are refused up front, naming the field.
@pytest.mark.parametrize("name", ["Ce-Id", "Ce-Source", "Ce-Namespace"])
def test_an_attribute_that_is_not_utf8_is_refused_naming_it(name: str) -> None:
    headers, body = messages(Call(id="x", namespace="demo", modelversion="m", model="m", version="1",
                                  request={"instances": [[1]]}, response=None, time=WHEN))[0]
    not_utf8 = b"x\xce\xff".decode("utf-8", "surrogateescape")  # what aiohttp makes of such bytes
    with pytest.raises(BadEvent) as refused:
        parse({**headers, name: not_utf8}, body)
    assert refused.value.status == 400 and str(refused.value).startswith(f"{name.lower()}: not UTF-8 text")


def test_a_unicode_id_sent_as_utf8_is_read_as_it_was_sent() -> None:
    headers, body = messages(Call(id="x", namespace="demo", modelversion="m", model="m", version="1",
                                  request={"instances": [[1]]}, response=None, time=WHEN))[0]
    assert parse({**headers, "Ce-Id": "prêt-🙂-貸"}, body).id == "prêt-🙂-貸"


def test_data_with_a_lone_surrogate_escape_is_refused_and_a_pair_is_read() -> None:
    headers, _ = messages(Call(id="x", namespace="demo", modelversion="m", model="m", version="1",
                               request={"instances": [[1]]}, response=None, time=WHEN))[0]
    with pytest.raises(BadEvent) as refused:
        parse(headers, b'{"instances": [{"name": "\\ud800"}]}')
    assert refused.value.status == 400 and str(refused.value).startswith("data: holds a lone UTF-16 surrogate")
    paired = parse(headers, b'{"instances": [{"name": "\\ud83d\\ude00"}]}')
    assert paired.payload == {"instances": [{"name": "\U0001F600"}]}
