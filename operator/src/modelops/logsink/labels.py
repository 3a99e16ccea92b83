"""``POST /labels``: delayed labels and business outcomes, joined to the prediction they are about.

Owns the body (validated by pydantic, errors naming ``labels[i].field``) and the join rules; the
sink looks predictions up (memory first, then the store) and makes the result durable.

```json
{"labels": [
  {"requestId": "7f9c2ba4-...", "instance": 0, "label": 1, "metric": "conversion", "outcome": "success",
   "time": "2026-12-01T09:00:00Z"},
  {"key": {"column": "loan_id", "value": "L-1234"}, "from": "2026-09-01T00:00:00Z", "to": "2026-09-02T00:00:00Z",
   "namespace": "demo", "model": "fraud-detector", "match": "latest", "label": "defaulted"}
]}
```

- exactly one of ``requestId`` (the ``ce-id`` KServe logged) or ``key`` (an input column and its
  value, as the caller knows it: a hashed column is hashed by the sink before it searches);
- ``instance`` picks one instance of a batched call (default: the call as a whole);
- ``from``/``to`` bound a key search (default: ``labelKeyWindow`` before ``time``, up to ``time``);
  ``namespace``/``model`` narrow it; ``match: latest`` (default) joins the most recent matching
  prediction at or before ``time``, ``all`` joins every match;
- ``label`` (any JSON: the ground truth, for performance monitoring) and/or ``metric`` + ``outcome``
  (``success``/``failure``: one observation of an A/B metric, counted in
  ``modelops_outcomes_total`` for the version that served the prediction);
- ``time`` when the label became known (default: arrival).

All or nothing: if any label matches no prediction, the answer is 422 listing which and why, and
none is stored (the client fixes or drops those and sends again). 200 means every label is joined
and durable.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from modelops.logsink.config import SpecModel
from modelops.logsink.parquet import INPUT_PREFIX
from modelops.logsink.query import Finder
from modelops.logsink.records import Label, Pair, from_us, to_us
from modelops.logsink.redaction import Redactor

OUTCOMES = ("success", "failure")


class LabelError(ValueError):
    """A body the sink refuses (400), or labels it cannot join (422); ``problems`` name each one."""

    def __init__(self, message: str, *, status: int, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problems = problems or []


class KeyRef(SpecModel):
    column: str = Field(min_length=1, max_length=256)
    value: str | int | float | bool


class LabelIn(SpecModel):
    request_id: str | None = Field(None, min_length=1, max_length=256)
    instance: int | None = Field(None, ge=0)
    key: KeyRef | None = None
    from_: AwareDatetime | None = Field(None, alias="from")
    to: AwareDatetime | None = None
    namespace: str | None = Field(None, min_length=1)
    model: str | None = Field(None, min_length=1)
    match: Literal["latest", "all"] = "latest"
    label: JsonValue = None
    metric: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
    outcome: Literal["success", "failure"] | None = None
    time: AwareDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> LabelIn:
        if (self.request_id is None) == (self.key is None):
            raise ValueError("give exactly one of requestId or key")
        if (self.metric is None) != (self.outcome is None):
            raise ValueError("metric and outcome go together")
        if self.label is None and self.outcome is None:
            raise ValueError("give a label, or a metric and an outcome")
        if self.key is None and (self.from_ or self.to or self.namespace or self.model):
            raise ValueError("from, to, namespace and model only narrow a key search")
        if self.key is not None and self.instance is not None:
            raise ValueError("instance only applies to requestId (a key names its instances itself)")
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("from is after to")
        return self


class LabelsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[LabelIn] = Field(min_length=1)


def parse(body: bytes, max_labels: int) -> list[LabelIn]:
    """The labels of a POST body; raises :class:`LabelError` (400) naming the field."""
    try:
        parsed = LabelsBody.model_validate_json(body)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
            where = where[1:] if where.startswith(".") else where  # one dot: a key may begin with one
            problems.append({"field": where or "(body)", "error": e["msg"]})
        text = "; ".join(f"{p['field']}: {p['error']}" for p in problems)
        raise LabelError(f"bad labels: {text}", status=400, problems=problems) from error
    if len(parsed.labels) > max_labels:
        raise LabelError(f"labels: {len(parsed.labels)} labels, at most {max_labels} per request", status=413)
    return parsed.labels


def window(item: LabelIn, now: datetime, default: timedelta) -> tuple[datetime, datetime]:
    """The time range a key label searches."""
    until = item.to or item.time or now
    return item.from_ or (until - default), until


def choose(item: LabelIn, matches: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Which matching predictions a label joins (see the module docstring)."""
    if item.request_id is not None:
        if item.instance is not None:
            return [m for m in matches if m["instance"] == item.instance]
        return matches[:1]  # the call as a whole: one label row without an instance
    if item.match == "all":
        return matches
    cutoff = item.time or now
    before = [m for m in matches if m["time"] <= cutoff]
    return [max(before, key=lambda m: m["time"])] if before else []


def build(item: LabelIn, prediction: dict[str, Any], key_value: str | None, now: datetime) -> Label:
    """The stored label row for one joined prediction. ``prediction`` has namespace, model, version,
    modelversion, stage, request_id and instance."""
    return Label(
        label_id=uuid.uuid4().hex,
        request_id=prediction["request_id"],
        instance=prediction["instance"] if (item.key is not None or item.instance is not None) else None,
        namespace=prediction["namespace"], model=prediction["model"], version=prediction["version"],
        modelversion=prediction["modelversion"], stage=prediction.get("stage") or "",
        label=None if item.label is None else json.dumps(item.label, separators=(",", ":"), sort_keys=True),
        metric=item.metric, outcome=item.outcome,
        label_time_us=to_us(item.time or now), received_us=to_us(now),
        key_column=item.key.column if item.key else None, key_value=key_value,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def pair_rows(pair: Pair) -> list[dict[str, Any]]:
    """A call still in memory as the rows it will become (what :func:`join` matches on)."""
    first = pair.first
    inputs = (pair.request.features or []) if pair.request else []
    rows = []
    for i in range(pair.instances()):
        features = inputs[i] if i < len(inputs) else {}
        rows.append({
            "request_id": first.id, "instance": i, "namespace": first.namespace, "model": first.model,
            "version": first.version, "modelversion": first.modelversion, "stage": first.stage,
            "time": from_us(first.time_us), **{INPUT_PREFIX + k: v for k, v in features.items()},
        })
    return rows


def _same(stored: Any, wanted: Any) -> bool:
    return stored is not None and str(stored) == str(wanted)


async def join(items: list[LabelIn], memory: list[Pair], finder: Finder, redactor: Redactor, now: datetime,
               key_window: timedelta) -> list[Label]:
    """The label rows for ``items``, joined to predictions in memory or in the store; raises
    :class:`LabelError` (422) listing every label that matched nothing."""
    ids = {item.request_id for item in items if item.request_id}
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pair in memory:
        if pair.id in ids:
            found[pair.id] += pair_rows(pair)
    missing = sorted(ids - found.keys())
    if missing:
        for row in await asyncio.to_thread(finder.by_ids, missing):
            found[row["request_id"]].append(row)
    labels: list[Label] = []
    problems: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        key_value: str | None = None
        if item.request_id is not None:
            matches = found.get(item.request_id, [])
            what = f"requestId {item.request_id!r}"
        else:
            assert item.key is not None
            column = item.key.column
            try:
                wanted = redactor.lookup(column, item.key.value)
            except ValueError as error:
                problems.append({"index": index, "field": f"labels[{index}].key.column", "error": str(error)})
                continue
            key_value = str(wanted)
            since, until = window(item, now, key_window)
            matches = [row for pair in memory for row in pair_rows(pair)
                       if _same(row.get(INPUT_PREFIX + column), wanted) and since <= row["time"] <= until
                       and item.namespace in (None, row["namespace"]) and item.model in (None, row["model"])]
            matches += await asyncio.to_thread(finder.by_key, column, wanted, since, until,
                                               namespace=item.namespace, model=item.model)
            what = f"key {column}={item.key.value!r} between {since.isoformat()} and {until.isoformat()}"
        chosen = choose(item, matches, now)
        if not chosen:
            reason = "no prediction" if not matches else "no prediction at or before the label's time"
            problems.append({"index": index, "error": f"{what}: {reason}"})
            continue
        labels += [build(item, match, key_value, now) for match in chosen]
    if problems:
        raise LabelError(f"{len(problems)} of {len(items)} labels matched no prediction; none was stored",
                         status=422, problems=problems)
    return labels
