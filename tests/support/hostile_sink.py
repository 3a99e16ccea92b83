"""Hostile CloudEvents and ``/labels`` posts for the real log sink, drawn with hypothesis.

Owns the sink half of the hostile-input suite (issue 15). A ``Post`` is one HTTP request and what
the sink must answer: the statuses that are right and the words the answer must contain (the
header or field at fault). Hostile events start from a real KServe v0.20.0 logger event
(``localcluster.kserve_logger``) with one thing broken: a required attribute removed, a wrong or
unicode ``ce-type``, a bad ``ce-specversion`` or ``ce-time``, a body that is not JSON, not an
object, not a v1/v2 payload, too large, a content type that is not JSON, a header past the HTTP
limit. Hostile label posts: not JSON, the wrong shape, unknown or wrongly typed fields, too many
labels, unicode ids that match nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from localcluster.kserve_logger import messages
from tests.support.logsink import loan_call

MAX_BODY, MAX_LABELS = 200_000, 50
SINK_CONFIG = {"maxBodyBytes": MAX_BODY, "maxLabels": MAX_LABELS, "flushInterval": "200ms"}
REQUIRED = ["Ce-Id", "Ce-Type", "Ce-Source", "Ce-Specversion", "Ce-Inferenceservicename", "Ce-Namespace"]


@dataclass
class Post:
    family: str
    path: str
    headers: dict[str, Any]    # str values, or bytes (UTF-8 past latin-1)
    body: bytes
    statuses: tuple[int, ...]  # the answers that are right
    needle: str                # what the answer must name (empty for a valid post)
    valid_id: str | None = None  # a valid event that must be stored


def _header(value: str) -> str | bytes:
    """A header value as a sender that speaks UTF-8 puts it on the wire."""
    return value if value.isascii() else value.encode()


def valid_event() -> tuple[dict[str, Any], bytes, str]:
    call = loan_call(f"L-{uuid.uuid4().hex[:6]}")
    headers, body = messages(call)[0]
    return dict(headers), body, call.id


PRINTABLE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40)


@st.composite
def hostile_event(draw: st.DrawFn) -> Post:
    headers, body, _ = valid_event()
    family = draw(st.sampled_from(["missingAttribute", "wrongType", "badSpecversion", "badTime", "notJson",
                                   "notAnObject", "noPayload", "hugeBody", "notJsonContentType", "hugeHeader",
                                   "badExtensionJson", "latin1Attribute", "loneSurrogateData"]))
    if family == "missingAttribute":
        name = draw(st.sampled_from(REQUIRED))
        del headers[name]
        return Post(family, "/", headers, body, (400,), name.lower())
    if family == "wrongType":
        headers["Ce-Type"] = _header(draw(PRINTABLE.filter(lambda t: t.strip() == t and "kserve" not in t)))
        return Post(family, "/", headers, body, (400,), "ce-type")
    if family == "badSpecversion":
        headers["Ce-Specversion"] = _header(draw(PRINTABLE.filter(lambda t: t.strip() == t and t != "1.0")))
        return Post(family, "/", headers, body, (400,), "ce-specversion")
    if family == "badTime":
        headers["Ce-Time"] = _header(draw(PRINTABLE.filter(lambda t: t.strip() == t and not t[:1].isdigit())))
        return Post(family, "/", headers, body, (400,), "ce-time")
    if family == "notJson":
        return Post(family, "/", headers, b"{\x00" + draw(st.binary(max_size=200)), (400,), "data: not JSON")
    if family == "notAnObject":
        # A JSON string comes back from the CloudEvents SDK as text, so it is "not JSON" (400).
        value = draw(st.one_of(st.lists(st.integers(), max_size=5), st.integers(), st.text(max_size=30)))
        return Post(family, "/", headers, json.dumps(value).encode(), (400, 422), "data: ")
    if family == "latin1Attribute":
        name = draw(st.sampled_from(["Ce-Id", "Ce-Source", "Ce-Namespace", "Ce-Component"]))
        text = draw(st.text(st.characters(min_codepoint=0xC0, max_codepoint=0xFF), min_size=1, max_size=10))
        headers[name] = b"x" + text.encode("latin-1")  # bytes that are not UTF-8
        return Post(family, "/", headers, body, (400,), f"{name.lower()}: not UTF-8")
    if family == "loneSurrogateData":
        escape = draw(st.sampled_from(["\\ud800", "\\udfff", "\\uDBFF", "\\udc00x"]))
        raw = ('{"instances": [{"amount": 1.0, "loan_id": "' + escape + '"}]}').encode()
        return Post(family, "/", headers, raw, (400,), "data: holds a lone")
    if family == "noPayload":
        value = draw(st.dictionaries(PRINTABLE.filter(lambda k: k not in ("instances", "inputs")), st.integers(),
                                     max_size=4))
        return Post(family, "/", headers, json.dumps(value).encode(), (422,), "neither")
    if family == "hugeBody":
        size = draw(st.integers(MAX_BODY + 1, MAX_BODY * 5))
        return Post(family, "/", headers, b'{"instances": [' + b"1," * (size // 2) + b"1]}", (413,), "over the limit")
    if family == "notJsonContentType":
        headers["Content-Type"] = draw(st.sampled_from(["text/csv", "application/xml", "image/png",
                                                        "application/octet-stream", "text/plain; charset=utf-8"]))
        return Post(family, "/", headers, body, (415,), "is not JSON")
    if family == "badExtensionJson":
        name = draw(st.sampled_from(["Ce-Metadata", "Ce-Annotations"]))
        headers[name] = _header(draw(st.one_of(st.just("{"), st.just("[1, 2]"), PRINTABLE.map(lambda t: "{" + t))))
        return Post(family, "/", headers, body, (400,), name.lower())
    headers[draw(st.sampled_from(["Ce-Id", "X-Hostile", "Ce-Source"]))] = "h" * draw(st.integers(8_200, 40_000))
    return Post(family, "/", headers, body, (400, 431), "8190 bytes")


@st.composite
def unicode_id_event(draw: st.DrawFn) -> Post:
    """A valid event whose ce-id is unicode: it must be stored under that id."""
    headers, body, _ = valid_event()
    event_id = draw(PRINTABLE.filter(lambda t: t.strip() == t)) + "-" + uuid.uuid4().hex[:6]
    headers["Ce-Id"] = _header(event_id)
    return Post("unicodeId", "/", headers, body, (200,), "", valid_id=event_id)


LABEL = {"requestId": "r-1", "metric": "conversion", "outcome": "success"}


@st.composite
def hostile_labels(draw: st.DrawFn) -> Post:
    family = draw(st.sampled_from(["notJson", "wrongShape", "unknownField", "wrongFieldType", "tooMany",
                                   "unmatchedUnicodeId", "contradiction", "loneSurrogate"]))
    json_type = {"Content-Type": "application/json"}
    if family == "notJson":
        return Post(family, "/labels", json_type, b"{" + draw(st.binary(max_size=100)), (400,), "bad labels")
    if family == "wrongShape":
        body = draw(st.sampled_from([[], {}, {"labels": []}, {"labels": "x"}, {"labels": {"requestId": "a"}}, 7]))
        return Post(family, "/labels", json_type, json.dumps(body).encode(), (400,), "bad labels")
    if family == "unknownField":
        key = draw(PRINTABLE.filter(lambda k: k not in LABEL and k not in ("labels", "label", "key", "instance")))
        where = draw(st.booleans())
        body: Any = {"labels": [{**LABEL, key: 1}]} if where else {"labels": [LABEL], key: 1}
        return Post(family, "/labels", json_type, json.dumps(body).encode(), (400,), key)
    if family == "wrongFieldType":
        field, value = draw(st.sampled_from([("requestId", 5), ("outcome", "maybe"), ("metric", "1 bad"),
                                             ("time", "yesterday"), ("instance", -1), ("match", "some"),
                                             ("requestId", ""), ("instance", "first")]))
        body = {"labels": [{**LABEL, field: value}]}
        return Post(family, "/labels", json_type, json.dumps(body).encode(), (400,), f"labels[0].{field}")
    if family == "tooMany":
        count = draw(st.integers(MAX_LABELS + 1, MAX_LABELS * 4))
        body = {"labels": [{**LABEL, "requestId": f"r-{i}"} for i in range(count)]}
        return Post(family, "/labels", json_type, json.dumps(body).encode(), (413,), "at most")
    if family == "unmatchedUnicodeId":
        ident = draw(PRINTABLE)
        body = {"labels": [{**LABEL, "requestId": ident}]}
        return Post(family, "/labels", json_type, json.dumps(body).encode(), (422,), "matched no prediction")
    if family == "loneSurrogate":
        raw = ('{"labels": [{"requestId": "r-1", "metric": "conversion", "outcome": "success", "label": "'
               + draw(st.sampled_from(["\\ud800", "\\udfff"])) + '"}]}').encode()
        return Post(family, "/labels", json_type, raw, (400,), "bad labels")
    body = {"labels": [{**LABEL, "key": {"column": "loan_id", "value": "x"}}]}
    return Post(family, "/labels", json_type, json.dumps(body).encode(), (400,), "exactly one of requestId or key")
