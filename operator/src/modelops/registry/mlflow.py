"""The operator's MLflow adapter: experiments, runs (tags, params, status, metrics) and the
Model Registry (registered models, model versions, version tags, aliases).

It owns every conversation the operator has with MLflow and nothing else: no decisions live
here (the reconcilers decide, ``core`` computes), and no Kubernetes client is imported.

Why MLflow's REST API (2.0, ``/api/2.0/mlflow/...``) over aiohttp instead of the ``mlflow``
client library:

* **a lean install** — ``mlflow`` (even ``mlflow-skinny``) pulls in dozens of packages the
  operator never uses; aiohttp is already installed because kopf depends on it;
* **async** — the operator runs on kopf's event loop; MLflow's Python client is synchronous
  (``requests``) and would block every other reconcile while it waits for the server;
* the REST API is MLflow's documented, versioned contract, and every request/response shape used
  here was checked against the server's own handlers and protobuf messages (MLflow 3.x).

The error model and the records read back (runs, registry versions) with their parsers are in
``registry.records``. Error model: a request MLflow refuses is an :class:`MLflowError` carrying MLflow's
``error_code`` and ``message``; a connection failure, timeout, HTTP 5xx or 429 is an
:class:`MLflowUnavailable` (a subclass), which the caller retries with backoff. "Does not exist"
answers that the interface documents as ``None`` are translated here.

Credentials: a tracking URI may carry ``user:password@``; they are moved into an HTTP basic-auth
header and stripped from every URL this module returns or logs (``run_url`` goes into resource
status). A bearer ``token`` may be passed instead. Nothing here ever logs a header.

One client serves one event loop (aiohttp sessions are bound to the loop that created them);
the session is created lazily on the first request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from modelops.http import LazySession, split_credentials
from modelops.registry.records import (
    MLflowError,
    MLflowUnavailable,
    ModelVersionInfo,
    RunInfo,
    kv_list,
    now_ms,
    parse_model_version,
    parse_run,
    quote_key,
    quote_value,
)

log = logging.getLogger(__name__)

API_PREFIX: Final = "/api/2.0/mlflow/"

RUN_STATUSES: Final = frozenset({"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"})
TERMINAL_RUN_STATUSES: Final = frozenset({"FINISHED", "FAILED", "KILLED"})

# MLflow's limit on params + tags per runs/log-batch call (mlflow.utils.validation).
_MAX_PARAMS_TAGS_PER_BATCH: Final = 100
# A new model version may be PENDING_REGISTRATION for a moment (asynchronous registry stores).
_READY_WAIT_SECONDS: Final = 10.0
_MAX_ERROR_MESSAGE: Final = 1000

_RESOURCE_DOES_NOT_EXIST: Final = "RESOURCE_DOES_NOT_EXIST"
_RESOURCE_ALREADY_EXISTS: Final = "RESOURCE_ALREADY_EXISTS"
_INVALID_PARAMETER_VALUE: Final = "INVALID_PARAMETER_VALUE"




class MLflowClient:
    """An async client of one MLflow tracking server (tracking + Model Registry)."""

    def __init__(
        self,
        tracking_uri: str,
        *,
        ui_url: str | None = None,
        timeout: float = 10.0,
        token: str | None = None,
    ) -> None:
        self._base, basic = split_credentials(tracking_uri)
        if urlsplit(self._base).scheme not in ("http", "https"):
            raise ValueError("the MLflow tracking URI must be an http(s) URL")
        self._ui_url = split_credentials(ui_url)[0] if ui_url else None
        authorization = f"Bearer {token}" if token else basic
        self._headers = {"Authorization": authorization} if authorization else {}
        self._sessions = LazySession(timeout=timeout, headers=self._headers, owner="MLflowClient")

    def __repr__(self) -> str:
        return f"MLflowClient({self._base!r})"

    @property
    def tracking_uri(self) -> str:
        """The tracking URI without credentials."""
        return self._base

    # -- lifecycle ---------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        return self._sessions.get()

    async def close(self) -> None:
        await self._sessions.close()

    async def __aenter__(self) -> MLflowClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- transport ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One REST call. GET sends ``params`` as the query string; other verbs send ``body`` as
        JSON (MLflow reads DELETE arguments from a JSON body, not from the query string)."""
        url = self._base + API_PREFIX + endpoint
        what = f"{method} {endpoint}"
        attempts = 2 if method == "GET" else 1  # a reused keep-alive connection may be closed
        for attempt in range(attempts):
            started = time.monotonic()
            try:
                async with self._get_session().request(
                    method,
                    url,
                    params=dict(params) if params is not None else None,
                    json=dict(body) if body is not None else None,
                ) as response:
                    status = response.status
                    text = await response.text()
            except aiohttp.ServerDisconnectedError as exc:
                if attempt + 1 < attempts:
                    continue
                raise MLflowUnavailable(f"{what}: MLflow closed the connection ({exc})") from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise MLflowUnavailable(f"{what}: MLflow is unreachable ({type(exc).__name__}: {exc})") from exc
            log.debug("MLflow %s -> %s in %.3fs", what, status, time.monotonic() - started)
            return self._decode(what, status, text)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _decode(what: str, status: int, text: str) -> dict[str, Any]:
        payload: Any
        try:
            payload = json.loads(text) if text.strip() else {}
        except ValueError:
            payload = None
        if 200 <= status < 300:
            if not isinstance(payload, dict):
                raise MLflowError(
                    f"{what}: MLflow answered HTTP {status} with a body that is not a JSON object", status=status
                )
            return payload
        error_code = message = None
        if isinstance(payload, dict):
            error_code = payload.get("error_code")
            message = payload.get("message")
        if message is None:
            message = text.strip()
        message = str(message)
        if len(message) > _MAX_ERROR_MESSAGE:
            message = message[:_MAX_ERROR_MESSAGE] + "..."
        text_out = f"{what}: HTTP {status} {error_code or 'no error_code'}: {message}"
        cls = MLflowUnavailable if status >= 500 or status == 429 else MLflowError
        raise cls(text_out, error_code=str(error_code) if error_code else None, status=status)

    async def _request_or_none(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Like ``_request``, but ``None`` when MLflow says RESOURCE_DOES_NOT_EXIST."""
        try:
            return await self._request(method, endpoint, params=params, body=body)
        except MLflowError as exc:
            if exc.error_code == _RESOURCE_DOES_NOT_EXIST and not isinstance(exc, MLflowUnavailable):
                return None
            raise

    # -- experiments -------------------------------------------------------------------------

    async def _experiment_by_name(self, name: str) -> dict[str, Any] | None:
        answer = await self._request_or_none("GET", "experiments/get-by-name", params={"experiment_name": name})
        return None if answer is None else dict(answer.get("experiment") or {})

    async def get_or_create_experiment(self, name: str) -> str:
        """The id of the experiment called ``name``, created if missing (safe under a create race)."""
        experiment = await self._experiment_by_name(name)
        if experiment is None:
            try:
                created = await self._request("POST", "experiments/create", body={"name": name})
                return str(created["experiment_id"])
            except MLflowError as exc:
                if exc.error_code != _RESOURCE_ALREADY_EXISTS:
                    raise
            # Someone else created it between our get and our create: theirs is ours.
            experiment = await self._experiment_by_name(name)
            if experiment is None:
                raise MLflowError(
                    f"experiment {name!r} exists according to MLflow but cannot be read",
                    error_code=_RESOURCE_ALREADY_EXISTS,
                )
        if experiment.get("lifecycle_stage") == "deleted":
            raise MLflowError(
                f"experiment {name!r} (id {experiment.get('experiment_id')}) is deleted in MLflow: "
                "restore it or choose another experiment name",
                error_code=_INVALID_PARAMETER_VALUE,
            )
        return str(experiment["experiment_id"])

    # -- runs --------------------------------------------------------------------------------

    async def find_run_by_tag(self, experiment_id: str, key: str, value: str) -> RunInfo | None:
        """The newest active run of the experiment whose tag ``key`` equals ``value``."""
        answer = await self._request(
            "POST",
            "runs/search",
            body={
                "experiment_ids": [experiment_id],
                "filter": f"tags.{quote_key(key)} = {quote_value(value)}",
                "order_by": ["attributes.start_time DESC"],
                "max_results": 1,
            },
        )
        runs = answer.get("runs") or []  # no match -> "{}": proto3 JSON omits empty fields
        return parse_run(runs[0]) if runs else None

    async def create_run(self, experiment_id: str, run_name: str, tags: dict[str, str]) -> RunInfo:
        answer = await self._request(
            "POST",
            "runs/create",
            body={
                "experiment_id": experiment_id,
                "run_name": run_name,
                "start_time": now_ms(),
                "tags": kv_list(tags),
            },
        )
        return parse_run(answer["run"])

    async def _log_batch(self, run_id: str, field: str, items: Mapping[str, str]) -> None:
        entries = kv_list(items)
        for start in range(0, len(entries), _MAX_PARAMS_TAGS_PER_BATCH):
            chunk = entries[start : start + _MAX_PARAMS_TAGS_PER_BATCH]
            await self._request("POST", "runs/log-batch", body={"run_id": run_id, field: chunk})

    async def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Set run tags (overwrites values) in one log-batch call (one per 100 tags)."""
        await self._log_batch(run_id, "tags", tags)

    async def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Log params. Re-logging the same value is accepted by MLflow; changing one is refused
        (INVALID_PARAMETER_VALUE) and surfaces as :class:`MLflowError`."""
        await self._log_batch(run_id, "params", params)

    async def get_run(self, run_id: str) -> RunInfo | None:
        answer = await self._request_or_none("GET", "runs/get", params={"run_id": run_id})
        return None if answer is None else parse_run(answer["run"])

    async def set_run_status(self, run_id: str, status: str, end_time_ms: int | None = None) -> None:
        """Set the run status; a terminal status without ``end_time_ms`` ends the run now."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown MLflow run status {status!r}; expected one of {sorted(RUN_STATUSES)}")
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end_time_ms is None and status in TERMINAL_RUN_STATUSES:
            end_time_ms = now_ms()
        if end_time_ms is not None:
            body["end_time"] = end_time_ms
        await self._request("POST", "runs/update", body=body)

    # -- registered models and versions -------------------------------------------------------

    async def ensure_registered_model(self, name: str, tags: dict[str, str] | None = None) -> None:
        """Create the registered model if missing; an existing one is adopted as it is (its tags,
        description and versions are left alone: the registry may be shared with people)."""
        if await self._request_or_none("GET", "registered-models/get", params={"name": name}) is not None:
            return
        try:
            await self._request("POST", "registered-models/create", body={"name": name, "tags": kv_list(tags or {})})
        except MLflowError as exc:
            if exc.error_code != _RESOURCE_ALREADY_EXISTS:
                raise

    async def _search_versions(self, filter_string: str) -> list[ModelVersionInfo]:
        answer = await self._request("GET", "model-versions/search", params={"filter": filter_string})
        return [parse_model_version(mv) for mv in answer.get("model_versions") or ()]

    async def _newest_version(self, filter_string: str) -> ModelVersionInfo | None:
        versions = await self._search_versions(filter_string)
        if not versions:
            return None
        newest = max(versions, key=lambda mv: int(mv.version))
        # The search result omits aliases; re-read the chosen version so the answer is complete.
        return await self.get_model_version(newest.name, newest.version) or newest

    async def find_model_version_by_run(self, name: str, run_id: str) -> ModelVersionInfo | None:
        """The newest version of ``name`` registered from ``run_id``, if any."""
        return await self._newest_version(f"name = {quote_value(name)} and run_id = {quote_value(run_id)}")

    async def model_versions_by_run(self, name: str, run_id: str) -> list[ModelVersionInfo]:
        """Every version of ``name`` registered from ``run_id`` (one run may be registered twice), with
        their tags, oldest first."""
        found = await self._search_versions(f"name = {quote_value(name)} and run_id = {quote_value(run_id)}")
        return sorted(found, key=lambda mv: int(mv.version))

    async def find_model_version_by_tag(self, name: str, key: str, value: str) -> ModelVersionInfo | None:
        """The newest version of ``name`` carrying the tag ``key=value``, if any."""
        return await self._newest_version(
            f"name = {quote_value(name)} and tags.{quote_key(key)} = {quote_value(value)}"
        )

    async def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: dict[str, str],
        description: str | None = None,
    ) -> ModelVersionInfo:
        """Register a new version and wait (up to ~10 s) until it is READY.

        MLflow checks ``source`` against the run: an ``mlflow-artifacts:`` or local source must lie
        inside the run's artifact URI. FAILED_REGISTRATION is an :class:`MLflowError`; a version
        still pending after the wait is :class:`MLflowUnavailable` (retry, then find it by run).
        """
        body: dict[str, Any] = {"name": name, "source": source, "tags": kv_list(tags)}
        if run_id:
            body["run_id"] = run_id
        if description:
            body["description"] = description
        answer = await self._request("POST", "model-versions/create", body=body)
        version = parse_model_version(answer["model_version"])
        deadline = time.monotonic() + _READY_WAIT_SECONDS
        delay = 0.1
        while True:
            if version.status == "READY":
                return version
            if version.status == "FAILED_REGISTRATION":
                raise MLflowError(
                    f"model version {name}/{version.version} failed registration",
                    error_code="FAILED_REGISTRATION",
                )
            if time.monotonic() >= deadline:
                raise MLflowUnavailable(
                    f"model version {name}/{version.version} still {version.status} after {_READY_WAIT_SECONDS:.0f}s"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            current = await self.get_model_version(name, version.version)
            if current is not None:
                version = current

    async def get_model_version(self, name: str, version: str) -> ModelVersionInfo | None:
        answer = await self._request_or_none("GET", "model-versions/get", params={"name": name, "version": version})
        return None if answer is None else parse_model_version(answer["model_version"])

    async def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        await self._request(
            "POST", "model-versions/set-tag", body={"name": name, "version": version, "key": key, "value": value}
        )

    async def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` (moves it if it points elsewhere)."""
        await self._request("POST", "registered-models/alias", body={"name": name, "alias": alias, "version": version})

    async def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias``; no error when it, or the registered model, does not exist."""
        await self._request_or_none("DELETE", "registered-models/alias", body={"name": name, "alias": alias})

    async def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionInfo | None:
        try:
            answer = await self._request_or_none(
                "GET", "registered-models/alias", params={"name": name, "alias": alias}
            )
        except MLflowError as exc:
            # An unknown alias of an existing model is INVALID_PARAMETER_VALUE (HTTP 400), not
            # RESOURCE_DOES_NOT_EXIST. Confirm from the model's alias list instead of parsing text.
            if exc.error_code != _INVALID_PARAMETER_VALUE or isinstance(exc, MLflowUnavailable):
                raise
            model = await self._request_or_none("GET", "registered-models/get", params={"name": name})
            if model is None:
                return None
            aliases = {a.get("alias") for a in (model.get("registered_model") or {}).get("aliases") or ()}
            if alias in aliases:
                raise
            return None
        return None if answer is None else parse_model_version(answer["model_version"])

    # -- links -------------------------------------------------------------------------------

    def run_url(self, experiment_id: str, run_id: str) -> str:
        """The run's page in the MLflow UI (never carries credentials)."""
        return f"{self._ui_url or self._base}/#/experiments/{experiment_id}/runs/{run_id}"
