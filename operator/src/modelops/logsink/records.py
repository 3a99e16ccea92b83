"""The sink's records as they travel from ingest to Parquet: a :class:`Half` (one logged request or
response, already flattened and redacted), a :class:`Pair` (one call: its request and response
halves, either possibly missing) and a :class:`Label` (a delayed label or business outcome joined
to the prediction it is about).

Owns their in-memory shape and their spool encoding (one compact JSON object per line; times in
integer microseconds since the epoch, UTC), and nothing else: what a Pair becomes as Parquet
columns is storage.py's business.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

REQUEST, RESPONSE = "request", "response"
HalfKey = tuple[str, str]  # (request id, kind)


def to_us(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000) if when.tzinfo else int(when.replace(tzinfo=UTC).timestamp() * 1e6)


def from_us(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def _dumps(entry: dict[str, Any]) -> bytes:
    return (json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


@dataclass(slots=True)
class Half:
    id: str
    kind: str
    time_us: int
    received: float  # wall-clock seconds when the sink accepted it (pair timeout counts from here)
    namespace: str
    model: str
    version: str
    modelversion: str
    stage: str
    inference_service: str
    component: str
    endpoint: str
    source: str
    features: list[dict[str, Any]] | None = None  # request: one dict per instance
    outputs: list[tuple[str, float | None]] | None = None  # response: (prediction JSON, score) per instance
    segment: int = field(default=-1, compare=False)  # spool segment holding it (not encoded)

    @property
    def key(self) -> HalfKey:
        return (self.id, self.kind)

    def entry(self) -> bytes:
        body: dict[str, Any] = {
            "e": "h", "id": self.id, "k": self.kind, "t": self.time_us, "r": self.received, "ns": self.namespace,
            "m": self.model, "v": self.version, "mv": self.modelversion, "st": self.stage,
            "is": self.inference_service, "c": self.component, "ep": self.endpoint, "s": self.source,
        }
        if self.features is not None:
            body["f"] = self.features
        if self.outputs is not None:
            body["o"] = self.outputs
        return _dumps(body)

    @classmethod
    def from_entry(cls, entry: dict[str, Any], segment: int = -1) -> Half:
        outputs = entry.get("o")
        return cls(
            id=entry["id"], kind=entry["k"], time_us=int(entry["t"]), received=float(entry["r"]),
            namespace=entry["ns"], model=entry["m"], version=entry["v"], modelversion=entry["mv"],
            stage=entry["st"], inference_service=entry["is"], component=entry["c"], endpoint=entry["ep"],
            source=entry["s"], features=entry.get("f"),
            outputs=None if outputs is None else [(str(p), None if s is None else float(s)) for p, s in outputs],
            segment=segment,
        )


@dataclass(slots=True)
class Pair:
    """One call. The request decides the identity and partition; a lone response stands in for it."""

    request: Half | None = None
    response: Half | None = None

    @property
    def first(self) -> Half:
        half = self.request or self.response
        assert half is not None, "a pair has at least one half"
        return half

    @property
    def id(self) -> str:
        return self.first.id

    @property
    def complete(self) -> bool:
        return self.request is not None and self.response is not None

    @property
    def latency(self) -> float | None:
        """Response ce-time minus request ce-time (both stamped by the same agent clock)."""
        if self.request is None or self.response is None:
            return None
        return max(0.0, (self.response.time_us - self.request.time_us) / 1e6)

    def halves(self) -> list[Half]:
        return [h for h in (self.request, self.response) if h is not None]

    def instances(self) -> int:
        features = len(self.request.features or []) if self.request else 0
        outputs = len(self.response.outputs or []) if self.response else 0
        return max(features, outputs, 1)


@dataclass(slots=True)
class Label:
    """A label or outcome joined to one prediction (request id and instance)."""

    label_id: str  # unique per stored label row: what a flush marker names
    request_id: str
    instance: int | None
    namespace: str
    model: str
    version: str
    modelversion: str
    stage: str
    label: str | None  # JSON text of what the caller sent
    metric: str | None
    outcome: str | None
    label_time_us: int
    received_us: int
    key_column: str | None = None
    key_value: str | None = None
    segment: int = field(default=-1, compare=False)

    def entry(self) -> bytes:
        return _dumps({
            "e": "l", "lid": self.label_id, "id": self.request_id, "i": self.instance, "ns": self.namespace,
            "m": self.model, "v": self.version, "mv": self.modelversion, "st": self.stage, "lb": self.label,
            "me": self.metric, "oc": self.outcome, "lt": self.label_time_us, "rc": self.received_us,
            "kc": self.key_column, "kv": self.key_value,
        })

    @classmethod
    def from_entry(cls, entry: dict[str, Any], segment: int = -1) -> Label:
        return cls(
            label_id=entry["lid"], request_id=entry["id"], instance=entry.get("i"), namespace=entry["ns"],
            model=entry["m"], version=entry["v"], modelversion=entry["mv"], stage=entry["st"], label=entry.get("lb"),
            metric=entry.get("me"), outcome=entry.get("oc"), label_time_us=int(entry["lt"]),
            received_us=int(entry["rc"]), key_column=entry.get("kc"), key_value=entry.get("kv"), segment=segment,
        )


def flush_begin(flush: int, halves: list[HalfKey], labels: list[str]) -> bytes:
    """The marker written (durably) before flush ``flush`` writes any file: the halves and labels it
    carries, so a restart redoes exactly that flush (same rows, same file names)."""
    return _dumps({"e": "b", "f": flush, "h": halves, "l": labels})


def flush_done(flush: int) -> bytes:
    return _dumps({"e": "d", "f": flush})
