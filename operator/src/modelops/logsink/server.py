"""The sink's HTTP face (aiohttp): routes, status codes, authentication, and the process's life.

Owns what a client sees; what happens to a record is sink.py's business.

- ``POST /<any path>`` (the logger URL KServe posts to): ``200`` once the event is durable (KServe's
  agent counts only a 200 as delivered), also for a duplicate (already durable); ``400`` malformed
  CloudEvent or unknown ``ce-type``; ``413`` body over ``maxBodyBytes``; ``415`` not a CloudEvent,
  or a non-JSON payload; ``422`` JSON that is neither v1 nor v2; ``401`` token missing or wrong
  (``auth.ingest``); ``503`` + ``Retry-After`` past the buffer cap or while the spool cannot be written.
- ``POST /labels``: ``200`` ``{"stored": n, "labels": [...]}`` once every label is joined and
  durable; ``400``/``413``/``422`` naming the labels and fields at fault; ``401`` (``auth.labels``);
  ``503`` as above.
- ``GET /metrics``: the Prometheus exposition (metrics.py). ``GET /healthz``: ``200`` while the
  process serves. ``GET /readyz``: ``200`` once the spool is replayed, ``503`` before and while stopping.

Every 4xx is JSON ``{"error": "...", "reason": "..."}`` naming the field at fault, and counted in
``modelops_logsink_rejected_total{reason}``; nothing a client sends can stop the sink. SIGTERM
stops accepting, lets requests in flight finish, writes everything held and exits 0.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import signal
from typing import Any

from aiohttp import web

from modelops.logsink import labels as labelling
from modelops.logsink.config import (
    ENV_TOKEN,
    ConfigError,
    LogSinkConfig,
    SignatureSource,
    read_secret,
)
from modelops.logsink.events import BadEvent, parse
from modelops.logsink.layout import Store
from modelops.logsink.metrics import SinkMetrics
from modelops.logsink.query import Finder
from modelops.logsink.redaction import Redactor
from modelops.logsink.signatures import KubernetesSignatures, NoSignatures, Signatures, StaticSignatures
from modelops.logsink.sink import Overloaded, Sink, describe
from modelops.logsink.spool import Spool, SpoolError

log = logging.getLogger(__name__)


def _error(status: int, message: str, reason: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, "reason": reason, **extra}, status=status)


class Handlers:
    def __init__(self, sink: Sink, config: LogSinkConfig, token: str | None) -> None:
        self.sink, self.config, self.token = sink, config, token
        self.metrics = sink.metrics
        self.finder = Finder(sink.store)
        self.retry_after = str(max(1, math.ceil(config.seconds(config.flush_interval))))

    def _reject(self, status: int, message: str, reason: str, **extra: Any) -> web.Response:
        self.metrics.rejected.labels(reason).inc()
        return _error(status, message, reason, **extra)

    async def dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        """aiohttp's low-level server calls this for every request: five routes need no router, and
        skipping the application layer saves a third of aiohttp's own cost per event."""
        if request.method == "POST":
            return await (self.labels(request) if request.path == "/labels" else self.ingest(request))
        if request.method in ("GET", "HEAD"):
            page = {"/metrics": self.metrics_page, "/healthz": self.healthz, "/readyz": self.readyz}.get(request.path)
            if page is not None:
                return await page(request)
            return _error(404, f"no page {request.path}: POST events to any path, POST /labels, GET /metrics, "
                               "/healthz, /readyz", "not_found")
        return _error(405, f"method {request.method} not allowed", "method")

    def _unauthorized(self, request: web.BaseRequest) -> bool:
        if self.token is None:
            return False  # no token configured: authentication is off
        given = request.headers.get("Authorization", "")
        scheme, _, credential = given.partition(" ")
        matches = hmac.compare_digest(credential.strip().encode(), self.token.encode())
        return not (scheme.lower() == "bearer" and matches)

    def _busy(self, message: str) -> web.Response:
        return web.json_response({"error": message, "reason": "overloaded"}, status=503,
                                 headers={"Retry-After": self.retry_after})

    async def _body(self, request: web.BaseRequest) -> bytes | web.Response:
        if request.content_length is not None and request.content_length > self.config.max_body_bytes:
            return self._reject(413, f"body of {request.content_length} bytes is over the limit of "
                                     f"{self.config.max_body_bytes}", "too_large")
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._reject(413, f"body is over the limit of {self.config.max_body_bytes} bytes", "too_large")

    async def _authorized_body(self, request: web.BaseRequest, guarded: bool) -> bytes | web.Response:
        """The body, or the 401/413 answer to send instead."""
        if guarded and self._unauthorized(request):
            return self._reject(401, "Authorization: Bearer <token> required", "unauthorized")
        return await self._body(request)

    async def ingest(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await self._authorized_body(request, self.config.auth.ingest)
        if isinstance(body, web.Response):
            return body
        try:
            event = parse(request.headers, body)
            await self.sink.accept(event)
        except BadEvent as error:
            return self._reject(error.status, str(error), error.reason)
        except Overloaded as error:
            return self._busy(f"overloaded: {error}; retry later")
        except SpoolError as error:
            self.metrics.overloaded.inc()
            return self._busy(str(error))
        return web.Response(status=200)

    async def labels(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await self._authorized_body(request, self.config.auth.labels)
        if isinstance(body, web.Response):
            return body
        now = labelling.utcnow()
        try:
            items = labelling.parse(body, self.config.max_labels)
            joined = await labelling.join(items, self.sink.in_memory(), self.finder, self.sink.redactor, now,
                                          self.config.duration("label_key_window"))
            await self.sink.accept_labels(joined)
        except labelling.LabelError as error:
            reason = "label_unmatched" if error.status == 422 else "bad_label"
            return self._reject(error.status, str(error), reason, problems=error.problems)
        except Overloaded as error:
            return self._busy(f"overloaded: {error}; retry later")
        except SpoolError as error:
            self.metrics.overloaded.inc()
            return self._busy(str(error))
        return web.json_response({"stored": len(joined), "labels": [
            {"requestId": lb.request_id, "instance": lb.instance, "modelversion": lb.modelversion, "stage": lb.stage}
            for lb in joined]})

    async def metrics_page(self, request: web.BaseRequest) -> web.StreamResponse:
        self.sink._update_gauges()
        return web.Response(body=self.metrics.exposition(), content_type="text/plain", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def healthz(self, request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(text="ok")

    async def readyz(self, request: web.BaseRequest) -> web.StreamResponse:
        state = describe(self.sink)
        return web.json_response(state, status=200 if state["ready"] else 503)


def make_signatures(config: LogSinkConfig, metrics: SinkMetrics) -> Signatures:
    settings = config.signatures
    if settings.source == SignatureSource.STATIC:
        return StaticSignatures(settings.static)
    if settings.source == SignatureSource.KUBERNETES:
        return KubernetesSignatures(ttl=config.seconds(settings.cache_ttl), on_error=metrics.signature_errors.inc)
    return NoSignatures()


def build(config: LogSinkConfig) -> tuple[Handlers, Sink]:
    metrics = SinkMetrics(config.unanswered_code)
    sink = Sink(config, store=Store(config.store.url, config.store.options), spool=Spool(config.spool_dir),
                signatures=make_signatures(config, metrics), redactor=Redactor.from_settings(config.redaction),
                metrics=metrics)
    token = read_secret(config.auth.token_file, ENV_TOKEN)
    if config.auth.ingest and token is None:
        raise ConfigError(f"auth.ingest needs a token: auth.tokenFile or ${ENV_TOKEN}")
    handlers = Handlers(sink, config, token)
    if token is None:
        log.warning("no bearer token configured: /labels accepts anyone who can reach the sink")
    return handlers, sink


async def serve(config: LogSinkConfig) -> None:
    """Run until SIGTERM or SIGINT; then stop accepting, finish, flush, return."""
    handlers, sink = build(config)
    await sink.start()
    loop = asyncio.get_running_loop()

    def request_factory(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=config.max_body_bytes)

    server = web.Server(handlers.dispatch, request_factory=request_factory, access_log=None)
    runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=30.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=1024)
    await site.start()
    log.info("modelops log sink on http://%s:%d, store %s, spool %s", config.host, config.port,
             config.store.url, config.spool_dir)
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("stopping: finishing requests in flight, writing everything held")
    sink.ready = False
    await runner.cleanup()
    await sink.stop()
    log.info("stopped")
