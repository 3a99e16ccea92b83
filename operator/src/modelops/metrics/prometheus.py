"""The operator's Prometheus metric provider: instant PromQL queries over Prometheus' HTTP API.

It owns every conversation the operator has with Prometheus (or anything that serves its query API:
Thanos, Mimir, VictoriaMetrics) and nothing else: what to ask is decided by the analysis
reconciler, what the answer means by ``core.analysis``. It is the operator's counterpart of
Flagger's metric provider (``RunQuery``/``IsOnline``).

Why hand-written on aiohttp: the operator runs on kopf's event loop and must not block it while a
query runs, and the one endpoint it needs (``GET /api/v1/query``, a documented and stable
contract) does not justify a dependency: ``prometheus-api-client`` is synchronous and pulls in
pandas and matplotlib; aiohttp is already installed because kopf depends on it.

Error model: a query Prometheus refuses (bad PromQL: HTTP 400 ``bad_data``, 422 ``execution``) or
an answer this module cannot use (a range vector, a string) is a :class:`MetricsError` carrying
Prometheus' ``errorType`` and ``error``; a connection failure, timeout, HTTP 5xx or 429 is a
:class:`MetricsUnavailable` (a subclass). Nothing here retries: the caller counts a failed
measurement and decides (an analysis turns it into an Inconclusive or Error measurement).

Credentials: the URL may carry ``user:password@``; they become an HTTP basic-auth header and are
stripped from the URL this client shows, logs and puts into error messages (which end up in
resource status). A bearer ``token`` may be passed instead. Nothing here ever logs a header.

One client serves one event loop (aiohttp sessions are bound to the loop that created them); its
session is created lazily on the first request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from modelops.http import LazySession, split_credentials

log = logging.getLogger(__name__)

QUERY_PATH: Final = "/api/v1/query"
_ONLINE_PROBE: Final = "vector(1)"
_MAX_ERROR_MESSAGE: Final = 1000
_MAX_QUERY_IN_MESSAGE: Final = 300


class MetricsError(Exception):
    """Prometheus refused the query, or answered with something that is not an instant vector or
    scalar. ``error_type`` is Prometheus' ``errorType`` (``bad_data``, ``execution``, ...)."""

    def __init__(self, message: str, *, error_type: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


class MetricsUnavailable(MetricsError):
    """Prometheus could not be reached or failed on its side (refused, timeout, 5xx, 429): retry later."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector (or a scalar, with no labels) at the evaluation time."""

    labels: Mapping[str, str]
    value: float


def parse_sample_value(raw: Any) -> float:
    """A sample value as the API encodes it: ``[<unix seconds>, "<value>"]``, the value a string so
    that ``NaN``, ``+Inf`` and ``-Inf`` survive JSON."""
    if not isinstance(raw, list | tuple) or len(raw) != 2 or not isinstance(raw[1], str):
        raise MetricsError(f"malformed sample value {raw!r}")
    try:
        return float(raw[1])  # float() reads "NaN", "+Inf" and "-Inf" too
    except ValueError as exc:
        raise MetricsError(f"malformed sample value {raw[1]!r}") from exc


def parse_query_data(data: Any) -> list[Sample]:
    """The ``data`` of a successful instant query -> samples (a scalar is one sample without labels)."""
    if not isinstance(data, dict):
        raise MetricsError("the query answer has no data object")
    result_type, result = data.get("resultType"), data.get("result")
    if result_type == "scalar":
        return [Sample(labels={}, value=parse_sample_value(result))]
    if result_type != "vector":
        raise MetricsError(f"the query returned a {result_type}, expected an instant vector or a scalar")
    if not isinstance(result, list):
        raise MetricsError("the query answer's vector is not a list")
    samples = []
    for series in result:
        if not isinstance(series, dict):
            raise MetricsError(f"malformed series {series!r}")
        labels = series.get("metric") or {}
        if "value" not in series:
            # Native histogram samples come as "histogram"; a check must aggregate them to a number.
            raise MetricsError(f"series {labels} has no float value (a native histogram?)")
        value = parse_sample_value(series["value"])
        samples.append(Sample(labels={str(k): str(v) for k, v in labels.items()}, value=value))
    return samples


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class PrometheusClient:
    """An async client of one Prometheus query API."""

    def __init__(self, url: str, *, timeout: float = 5.0, token: str | None = None) -> None:
        self._base, basic = split_credentials(url)
        if urlsplit(self._base).scheme not in ("http", "https"):
            raise ValueError("the Prometheus address must be an http(s) URL")
        if timeout <= 0:
            raise ValueError("the timeout must be positive")
        self._timeout_seconds = timeout
        authorization = f"Bearer {token}" if token else basic
        self._headers = {"Authorization": authorization} if authorization else {}
        # The total timeout of every request, connecting included.
        self._sessions = LazySession(timeout=timeout, headers=self._headers, owner="PrometheusClient")

    def __repr__(self) -> str:
        return f"PrometheusClient({self._base!r})"

    @property
    def url(self) -> str:
        """The address without credentials."""
        return self._base

    # -- lifecycle ---------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        return self._sessions.get()

    async def close(self) -> None:
        await self._sessions.close()

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- queries -----------------------------------------------------------------------------

    async def run_query(self, query: str, *, at: datetime | None = None) -> list[Sample]:
        """Evaluate ``query`` at ``at`` (default: Prometheus' now); one sample per series."""
        # Prometheus stops evaluating when we stop waiting (a bare number is seconds to its API).
        params = {"query": query, "timeout": f"{self._timeout_seconds:g}"}
        if at is not None:
            if at.tzinfo is None:
                raise ValueError("at must be timezone-aware (a naive time is ambiguous)")
            params["time"] = f"{at.timestamp():.3f}"
        what = f"query {_shorten(query, _MAX_QUERY_IN_MESSAGE)!r}"
        payload = await self._get(QUERY_PATH, params, what)
        try:
            return parse_query_data(payload.get("data"))
        except MetricsError as exc:
            raise MetricsError(f"{what}: {exc}") from exc

    async def run_scalar(self, query: str, *, at: datetime | None = None) -> float | None:
        """The single value ``query`` returns; ``None`` when it returns no series (no data yet).
        ``NaN`` (a 0/0 ratio) is returned as is: the caller decides what it means."""
        samples = await self.run_query(query, at=at)
        if not samples:
            return None
        if len(samples) > 1:
            shown = ", ".join(str(dict(s.labels)) for s in samples[:3])
            raise MetricsError(
                f"query {_shorten(query, _MAX_QUERY_IN_MESSAGE)!r} returned {len(samples)} series, expected one "
                f"(aggregate it, e.g. sum(...)): {shown}{', ...' if len(samples) > 3 else ''}"
            )
        return samples[0].value

    async def is_online(self) -> bool:
        """Whether Prometheus answers a trivial query (works behind any query-API proxy); never raises."""
        try:
            return await self.run_scalar(_ONLINE_PROBE) == 1.0
        except Exception as exc:  # any failure means "not online"; cancellation still propagates
            log.debug("Prometheus at %s is not online: %s", self._base, exc)
            return False

    # -- transport ---------------------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, str], what: str) -> dict[str, Any]:
        started = time.monotonic()
        try:
            async with self._get_session().get(self._base + path, params=dict(params)) as response:
                status = response.status
                text = await response.text()
        except TimeoutError as exc:
            raise MetricsUnavailable(
                f"{what}: Prometheus at {self._base} did not answer within {self._timeout_seconds:g}s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise MetricsUnavailable(
                f"{what}: Prometheus at {self._base} is unreachable ({type(exc).__name__}: {exc})"
            ) from exc
        log.debug("Prometheus %s -> %s in %.3fs", what, status, time.monotonic() - started)
        return self._decode(what, status, text)

    def _decode(self, what: str, status: int, text: str) -> dict[str, Any]:
        payload: Any
        try:
            payload = json.loads(text) if text.strip() else None
        except ValueError:
            payload = None
        if 200 <= status < 300 and isinstance(payload, dict) and payload.get("status") == "success":
            for warning in payload.get("warnings") or ():
                log.info("Prometheus warned about %s: %s", what, warning)
            return payload
        error_type = error = None
        if isinstance(payload, dict):
            error_type, error = payload.get("errorType"), payload.get("error")
        if error is None:
            error = text.strip() or "(empty body)"
        message = f"{what}: Prometheus at {self._base} answered HTTP {status}"
        message += f" {error_type}: " if error_type else ": "
        message += _shorten(str(error), _MAX_ERROR_MESSAGE)
        unavailable = status >= 500 or status == 429
        cls = MetricsUnavailable if unavailable else MetricsError
        raise cls(message, error_type=str(error_type) if error_type else None, status=status)
