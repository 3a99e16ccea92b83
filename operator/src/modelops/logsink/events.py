"""Ingest parsing: one HTTP request from KServe's request logger -> one :class:`LoggedEvent`.

Owns the wire format of KServe's logger (v0.20.0, the version modelops pins) and nothing after it.
Every constant below was read from KServe's Go source; tests/fixtures/kserve_logger_v0.20.0.yaml
quotes each with its file and line, and holds events exactly as the agent sends them:

- types ``org.kubeflow.serving.inference.request`` / ``.response`` (pkg/logger/worker.go:39-40);
  both halves of one call carry the same ``ce-id`` (handler.go:143), the request id;
- extensions ``inferenceservicename``, ``namespace``, ``component``, ``endpoint`` (worker.go:44-49),
  ``metadata`` = JSON ``{"Canonical-Header": ["value", ...]}`` of the forwarded ``metadataHeaders``
  (worker.go:133-137), ``annotations`` = JSON ``{"key": "value"}`` of the forwarded
  ``metadataAnnotations``, present only when non-empty (worker.go:139-145), ``recordedtime``;
- binary content mode (worker.go:152), the body being the raw request or response bytes with the
  *request's* Content-Type (handler.go:144,188).

The CloudEvents envelope is decoded by the ``cloudevents`` SDK's HTTP binding (binary or
structured mode: ``ce-`` headers percent-decoded, ``time`` parsed, ``data``/``data_base64`` read);
this module adds what the SDK cannot know: which attributes KServe requires, and what they mean for
modelops (model, version and ModelVersion from the forwarded annotations, the rollout stage from
the forwarded ``X-Modelops-Stage`` header). A problem raises :class:`BadEvent` naming the field.

The SDK hands each event to a factory; ours checks the attributes the sink relies on (id, type,
source, specversion 1.0, a zoned time) and keeps them as they are, rather than building the SDK's
``CloudEvent``, whose constructor re-validates every extension name with regular expressions: a
third of the envelope's cost, on the path every logged call takes twice. The two JSON extensions
repeat for every call of a version and stage, so their parsed form is cached.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from cloudevents.core.bindings.http import HTTPMessage, from_binary, from_structured
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.spec import SPECVERSION_V1_0

from modelops.core.rollout.capabilities import STAGE_HEADER
from modelops.core.serving.inference import MODEL_LABEL, MODELVERSION_LABEL, VERSION_LABEL

SPECVERSION: Final = SPECVERSION_V1_0
REQUEST_TYPE: Final = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE: Final = "org.kubeflow.serving.inference.response"
KINDS: Final = {REQUEST_TYPE: "request", RESPONSE_TYPE: "response"}
INFERENCE_SERVICE_ATTR: Final = "inferenceservicename"
NAMESPACE_ATTR: Final = "namespace"
COMPONENT_ATTR: Final = "component"
ENDPOINT_ATTR: Final = "endpoint"
METADATA_ATTR: Final = "metadata"
ANNOTATIONS_ATTR: Final = "annotations"
RECORDED_TIME_ATTR: Final = "recordedtime"

# What modelops forwards through the logger: the ISVC's annotations (core/serving/inference.py) and
# the routers' stage header (core/rollout/capabilities.py).
MODEL_ANNOTATION: Final = MODEL_LABEL
VERSION_ANNOTATION: Final = VERSION_LABEL
MODELVERSION_ANNOTATION: Final = MODELVERSION_LABEL

STRUCTURED_TYPE: Final = "application/cloudevents+json"
BATCH_TYPE: Final = "application/cloudevents-batch+json"
_JSON_TYPE = re.compile(r"^\s*(application|text)/([a-zA-Z0-9.\-]+\+)?json\s*(;.*)?$", re.IGNORECASE)
_FORMAT = JSONFormat()


class BadEvent(ValueError):
    """An event the sink refuses: ``status`` (400, 415, 422) and ``reason`` (a metric label)."""

    def __init__(self, message: str, *, reason: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One half of a call: who served it, when, and its JSON payload."""

    id: str
    kind: str  # "request" | "response"
    time: datetime  # UTC; ce-time: when the agent saw the request, or read the response
    namespace: str
    inference_service: str
    component: str
    endpoint: str
    source: str
    model: str
    version: str
    modelversion: str
    stage: str
    payload: Any


def is_json_type(content_type: str | None) -> bool:
    """``application/json``, ``...+json`` and ``text/json`` (with parameters); absent counts as JSON
    (KServe copies the caller's Content-Type, which a client may have left out)."""
    return not content_type or bool(_JSON_TYPE.match(content_type))


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded CloudEvent: its attributes (extensions included) and its data."""

    attributes: dict[str, Any]
    data: Any


_LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _not_text(value: str) -> bool:
    """True for a string that holds a lone surrogate: header bytes that were not UTF-8 (aiohttp keeps
    them as surrogate escapes) or a JSON ``\\udXXX`` escape without its pair. It cannot be
    written as UTF-8, so the spool could not store the event."""
    if value.isascii():
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return True
    return False


def _factory(attributes: dict[str, Any], data: Any) -> Envelope:
    for name, value in attributes.items():
        if isinstance(value, str) and _not_text(value):
            raise BadEvent(f"ce-{name}: not UTF-8 text (send attribute values as UTF-8, percent-encoding "
                           "what is not printable ASCII as the CloudEvents HTTP binding says)", reason="malformed")
    for name in ("id", "type", "source", "specversion"):
        value = attributes.get(name)
        if not value or not isinstance(value, str):
            raise BadEvent(f"ce-{name}: required CloudEvents attribute missing or empty", reason="malformed")
    if attributes["specversion"] != SPECVERSION:
        raise BadEvent(f"ce-specversion {attributes['specversion']!r}: only {SPECVERSION} is read", reason="malformed")
    when = attributes.get("time")
    if when is not None and (not isinstance(when, datetime) or when.tzinfo is None):
        raise BadEvent(f"ce-time {when!s}: must be an RFC 3339 time with a zone", reason="malformed")
    return Envelope(attributes, data)


def envelope(headers: Mapping[str, str], body: bytes) -> Envelope:
    """The CloudEvent of an HTTP request, binary or structured mode (the SDK decides by ``ce-`` headers)."""
    content_type = headers.get("Content-Type") or headers.get("content-type") or ""
    binary = any(key[:3].lower() == "ce-" for key in headers)
    media = content_type.split(";", 1)[0].strip().lower()
    if not binary and media == BATCH_TYPE:
        raise BadEvent("batched CloudEvents are not accepted: send one event per request", reason="malformed",
                       status=415)
    if not binary and media != STRUCTURED_TYPE:
        raise BadEvent(
            f"not a CloudEvent: no ce-* headers (binary mode) and Content-Type {content_type or '(none)'!r} "
            f"is not {STRUCTURED_TYPE} (structured mode)", reason="malformed", status=415)
    message = HTTPMessage(headers=dict(headers), body=body)
    try:
        if binary:
            return from_binary(message, _FORMAT, _factory)  # type: ignore[arg-type,return-value]
        return from_structured(message, _FORMAT, _factory)  # type: ignore[arg-type,return-value]
    except BadEvent:
        raise
    except (ValueError, TypeError, OverflowError) as error:
        where = "ce-time" if binary else "body"
        raise BadEvent(f"malformed CloudEvent ({where}): {error}", reason="malformed") from error
    except (BaseCloudEventException, AttributeError, KeyError) as error:
        raise BadEvent(f"malformed CloudEvent: {error}", reason="malformed") from error


@functools.lru_cache(maxsize=4096)
def _json_object(name: str, raw: str) -> Mapping[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise BadEvent(f"ce-{name}: not JSON ({error})", reason="malformed") from error
    if not isinstance(value, dict):
        raise BadEvent(f"ce-{name}: must be a JSON object, not {type(value).__name__}", reason="malformed")
    return MappingProxyType(value)


def _json_extension(attributes: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    raw = attributes.get(name)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):  # structured mode may carry it as an object
        return raw
    return _json_object(name, str(raw))


def _header(metadata: Mapping[str, Any], name: str) -> str:
    """A forwarded header's first value; names compared case-insensitively (KServe keys them in Go's
    canonical form, other senders may not)."""
    for key, values in metadata.items():
        if key.lower() == name:
            if isinstance(values, list):
                return str(values[0]) if values else ""
            return str(values)
    return ""


def _payload(event: Envelope) -> Any:
    content_type = event.attributes.get("datacontenttype")
    if not is_json_type(content_type):
        raise BadEvent(f"datacontenttype {content_type!r} is not JSON: the sink reads KServe's v1/v2 JSON protocol",
                       reason="not_json", status=415)
    data = event.data
    if isinstance(data, bytes | bytearray | str):
        # The SDK hands back text it could not parse as JSON (binary mode), or data_base64 bytes.
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadEvent(f"data: not JSON ({error})", reason="not_json") from error
    if not isinstance(data, dict):
        raise BadEvent(f"data: must be a JSON object, not {type(data).__name__}", reason="bad_payload", status=422)
    return data


def parse(headers: Mapping[str, str], body: bytes) -> LoggedEvent:
    """One KServe logger event; raises :class:`BadEvent` naming what is wrong."""
    event = envelope(headers, body)
    attributes = event.attributes
    kind = KINDS.get(attributes["type"])
    if kind is None:
        raise BadEvent(f"ce-type {attributes['type']!r} is not {REQUEST_TYPE} or {RESPONSE_TYPE}",
                       reason="unknown_type")
    when = attributes.get("time")
    if not isinstance(when, datetime):
        raise BadEvent("ce-time: required (when the call was served)", reason="malformed")
    namespace = str(attributes.get(NAMESPACE_ATTR) or "")
    service = str(attributes.get(INFERENCE_SERVICE_ATTR) or "")
    if not namespace or not service:
        missing = NAMESPACE_ATTR if not namespace else INFERENCE_SERVICE_ATTR
        raise BadEvent(f"ce-{missing}: required KServe extension attribute missing", reason="malformed")
    annotations = _json_extension(attributes, ANNOTATIONS_ATTR)
    metadata = _json_extension(attributes, METADATA_ATTR)
    payload = _payload(event)
    if _LONE_SURROGATE_ESCAPE.search(body) and _not_text(json.dumps(payload, ensure_ascii=False)):
        raise BadEvent("data: holds a lone UTF-16 surrogate escape (\\udXXX without its pair), which is not text",
                       reason="not_json")
    # Not made by modelops (no forwarded annotations): the InferenceService stands in for the version.
    return LoggedEvent(
        id=attributes["id"],
        kind=kind,
        time=when.astimezone(UTC),
        namespace=namespace,
        inference_service=service,
        component=str(attributes.get(COMPONENT_ATTR) or ""),
        endpoint=str(attributes.get(ENDPOINT_ATTR) or ""),
        source=attributes["source"],
        model=str(annotations.get(MODEL_ANNOTATION) or service),
        version=str(annotations.get(VERSION_ANNOTATION) or "unknown"),
        modelversion=str(annotations.get(MODELVERSION_ANNOTATION) or service),
        stage=_header(metadata, STAGE_HEADER),
        payload=payload,
    )
