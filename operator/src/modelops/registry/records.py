"""What the operator reads back from MLflow, in its own types: the error model
(:class:`MLflowError`, and :class:`MLflowUnavailable` for what may be retried), the run and
registry-version records, the wire helpers (filter-string quoting, key/value lists) and the
parsers from MLflow's REST answers (``Run``, ``ModelVersion`` protobuf messages as JSON) into
those records. No I/O: ``registry.mlflow`` talks to the server and uses these."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class MLflowError(Exception):
    """MLflow answered a request with an error (it carries MLflow's ``error_code``)."""

    def __init__(self, message: str, *, error_code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.status = status


class MLflowUnavailable(MLflowError):
    """MLflow could not be reached or failed on its side (refused, timeout, 5xx, 429): retry later."""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    status: str  # RUNNING / FINISHED / FAILED / KILLED / SCHEDULED
    artifact_uri: str
    start_time_ms: int | None
    end_time_ms: int | None
    metrics: dict[str, float]  # the latest value per key
    params: dict[str, str]
    tags: dict[str, str]


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: str
    source: str
    run_id: str | None
    status: str  # PENDING_REGISTRATION / FAILED_REGISTRATION / READY
    tags: dict[str, str]
    aliases: tuple[str, ...]


def quote_value(value: str) -> str:
    """A string literal for MLflow's search filter grammar.

    MLflow accepts single- or double-quoted literals and has no escape sequence: a value with a
    single quote is double-quoted; a value with both kinds cannot be expressed.
    """
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"MLflow search filters cannot express a value with both quote kinds: {value!r}")


def quote_key(key: str) -> str:
    """An identifier for a search filter; backticks allow dots, slashes, dashes (``modelops.io/uid``)."""
    if "`" in key:
        raise ValueError(f"MLflow search filters cannot express a key containing a backtick: {key!r}")
    return f"`{key}`"


def kv_list(items: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": str(k), "value": str(v)} for k, v in items.items()]


def kv_dict(items: Any) -> dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or ()}


def _opt_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_run(run: Mapping[str, Any]) -> RunInfo:
    info = run.get("info") or {}
    data = run.get("data") or {}
    # The latest value per key is the one with the highest (step, timestamp), as MLflow defines it.
    latest: dict[str, tuple[int, int, float]] = {}
    for metric in data.get("metrics") or ():
        key = str(metric["key"])
        rank = (int(metric.get("step", 0)), int(metric.get("timestamp", 0)), float(metric["value"]))
        if key not in latest or rank[:2] >= latest[key][:2]:
            latest[key] = rank
    return RunInfo(
        run_id=str(info.get("run_id") or info.get("run_uuid") or ""),
        experiment_id=str(info.get("experiment_id", "")),
        status=str(info.get("status", "RUNNING")),
        artifact_uri=str(info.get("artifact_uri", "")),
        start_time_ms=_opt_int(info.get("start_time")),
        end_time_ms=_opt_int(info.get("end_time")),
        metrics={k: v[2] for k, v in latest.items()},
        params=kv_dict(data.get("params")),
        tags=kv_dict(data.get("tags")),
    )


def parse_model_version(mv: Mapping[str, Any]) -> ModelVersionInfo:
    return ModelVersionInfo(
        name=str(mv.get("name", "")),
        version=str(mv.get("version", "")),
        source=str(mv.get("source", "")),
        run_id=str(mv["run_id"]) if mv.get("run_id") else None,
        status=str(mv.get("status", "READY")),
        tags=kv_dict(mv.get("tags")),
        aliases=tuple(str(a) for a in mv.get("aliases") or ()),
    )
