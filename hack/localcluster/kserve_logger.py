"""KServe's request logger, played: the CloudEvents its agent posts for one call, byte for byte as
KServe v0.20.0's ``pkg/logger`` writes them (binary content mode, the headers listed in
tests/fixtures/kserve_logger_v0.20.0.yaml), for the tests, the benchmarks and ``make dev``.

- :class:`Call`: one call to a predictor (id, who served it, when, the request and response JSON;
  no response = what the agent logs for a call that did not answer 200);
- :func:`messages`: its request and response events as (headers, body) in binary mode;
- :func:`structured`: the same event in structured mode, as the CloudEvents Go SDK encodes
  ``[]byte`` data (``data_base64``) — what a proxy re-encoding KServe's events would send.

Real model servers log through KServe's real agent (model_servers.py). This module stays for what
needs every byte under the test's control or more calls than a model server answers here: the sink's
unit and integration tests (structured mode, malformed and replayed events, crashes) and
bench/sink.py; tests/integration/test_model_servers.py checks its events against the real agent's.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"
Message = tuple[dict[str, str], bytes]


def go_time(when: datetime) -> str:
    """RFC 3339 with nanoseconds in UTC, as sdk-go's ``types.FormatTime`` writes it."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}000Z"


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass
class Call:
    id: str
    namespace: str
    modelversion: str
    model: str
    version: str
    request: dict[str, Any]
    response: dict[str, Any] | None
    time: datetime
    latency: float = 0.012
    stage: str | None = None
    inference_service: str | None = None
    component: str = "predictor"
    endpoint: str = ""

    def headers(self, kind: str) -> dict[str, str]:
        service = self.inference_service or self.modelversion
        when = self.time if kind == REQUEST else self.time + timedelta(seconds=self.latency)
        metadata = {"X-Modelops-Stage": [self.stage]} if self.stage is not None else {}
        annotations = {"modelops.io/model": self.model, "modelops.io/modelversion": self.modelversion,
                       "modelops.io/version": self.version}
        return {
            "Ce-Specversion": "1.0",
            "Ce-Id": self.id,
            "Ce-Source": f"{service}-predictor-6d5f7c9b8-x2k4q",
            "Ce-Type": kind,
            "Ce-Time": go_time(when),
            "Ce-Recordedtime": go_time(when + timedelta(milliseconds=1)),
            "Ce-Inferenceservicename": service,
            "Ce-Namespace": self.namespace,
            "Ce-Component": self.component,
            "Ce-Endpoint": self.endpoint,
            # Go's json.Marshal sorts map keys; the agent always sends metadata, "{}" when empty.
            "Ce-Metadata": json.dumps(metadata, separators=(",", ":"), sort_keys=True),
            "Ce-Annotations": json.dumps(annotations, separators=(",", ":"), sort_keys=True),
            "Content-Type": "application/json",
        }


def messages(call: Call) -> list[Message]:
    """The request event, and the response event when the call answered 200."""
    out = [(call.headers(REQUEST), _compact(call.request))]
    if call.response is not None:
        out.append((call.headers(RESPONSE), _compact(call.response)))
    return out


def structured(message: Message) -> Message:
    """A binary-mode event re-encoded in structured mode (``application/cloudevents+json``)."""
    headers, body = message
    event: dict[str, Any] = {}
    for name, value in headers.items():
        if name.lower().startswith("ce-"):
            event[name[3:].lower()] = value
        elif name.lower() == "content-type":
            event["datacontenttype"] = value
    event["data_base64"] = base64.b64encode(body).decode()
    return {"Content-Type": "application/cloudevents+json"}, _compact(event)
