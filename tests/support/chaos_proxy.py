"""A fault-injecting reverse proxy on loopback between the operator and the API server: the
recording proxy (api_recorder.RecordingProxy: same forwarding, same watch streaming) with faults
chosen per request from a seeded Random while ``faulty`` is set.

Faults, by kind (counted in ``injected``):
- ``409``/``429``/``500``/``503``, in turn: answered by the proxy with a Kubernetes ``Status`` body
  (429 with ``Retry-After: 1``), the request never reaching the API server;
- ``slow``: forwarded after a delay of up to ``max_delay`` seconds;
- ``watch-cut``: a watch stream forwarded for a while, then its connection dropped;
- ``watch-stall``: a watch answered 200 and then silent, its connection kept open — kopf's
  watch-freeze case, which only the client's inactivity timeout can end. How long each stalled
  stream stayed open before the client gave up is kept in ``stall_ended`` (seconds).

The API server sees the proxy as the admin (the proxy presents the cluster's admin client
certificate); the operator gets a kubeconfig with a placeholder token, which the proxy drops.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from localcluster.cluster import LocalCluster
from tests.support.api_recorder import _HOP, RecordingProxy

STATUS_REASONS = {409: "Conflict", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


class FaultProxy(RecordingProxy):
    def __init__(self, cluster: LocalCluster, rng: random.Random, *, error_share: float = 0.08,
                 slow_share: float = 0.05, watch_cut_share: float = 0.15, watch_stall_share: float = 0.15,
                 max_delay: float = 2.0) -> None:
        assert cluster.pki is not None
        super().__init__(cluster.server, cluster.pki.ca_cert)
        self.ssl.load_cert_chain(str(cluster.pki.admin_cert), str(cluster.pki.admin_key))
        self.rng = rng
        self.shares = {"error": error_share, "slow": slow_share, "cut": watch_cut_share, "stall": watch_stall_share}
        self.max_delay = max_delay
        self.faulty = False
        self.injected: collections.Counter[str] = collections.Counter()
        self.requests = 0
        self.stall_ended: list[float] = []
        self.stalls_open = 0

    def proxied_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig that reaches the API server through the proxy (the token is a placeholder)."""
        return self.kubeconfig("chaos-placeholder", path)

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        watching = request.query.get("watch") in ("1", "true")
        if self.faulty:
            draw = self.rng.random()
            if watching:
                if draw < self.shares["stall"]:
                    return await self._stall(request)
                if draw < self.shares["stall"] + self.shares["cut"]:
                    return await self._forward_then_cut(request, self.rng.uniform(0.5, 5.0))
            else:
                if draw < self.shares["error"]:
                    # Which error, in turn: every kind shows up once four errors have been drawn.
                    code = sorted(STATUS_REASONS)[sum(self.injected[str(c)] for c in STATUS_REASONS) % 4]
                    self.injected[str(code)] += 1
                    return self._status(code)
                if draw < self.shares["error"] + self.shares["slow"]:
                    self.injected["slow"] += 1
                    await asyncio.sleep(self.rng.uniform(0.2, self.max_delay))
        return await self._plain(request)

    def _status(self, code: int) -> web.Response:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": f"injected by the chaos proxy: {code}", "reason": STATUS_REASONS[code], "code": code}
        headers = {"Retry-After": "1"} if code == 429 else {}
        return web.Response(status=code, text=json.dumps(body), content_type="application/json", headers=headers)

    async def _plain(self, request: web.Request) -> web.StreamResponse:
        return await self._upstream(request, cut_after=None)

    async def _forward_then_cut(self, request: web.Request, after: float) -> web.StreamResponse:
        self.injected["watch-cut"] += 1
        return await self._upstream(request, cut_after=after)

    async def _upstream(self, request: web.Request, cut_after: float | None) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP and k.lower() != "authorization"}
        body = await request.read()
        async with self._session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                         data=body or None, ssl=self.ssl, allow_redirects=False) as upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP:
                    response.headers.add(key, value)
            try:
                await response.prepare(request)
            except (ConnectionResetError, aiohttp.ClientError, RuntimeError):
                return response  # the client went away first (it gave up on a slow answer)
            deadline = None if cut_after is None else time.monotonic() + cut_after
            try:
                while True:
                    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                    try:
                        chunk = await asyncio.wait_for(upstream.content.readany(), timeout)
                    except TimeoutError:
                        break
                    if not chunk:
                        await response.write_eof()
                        return response
                    await response.write(chunk)
            except (ConnectionResetError, aiohttp.ClientError, RuntimeError):
                return response
            # The cut: the connection dropped mid-stream, no clean end of the chunked body.
            if request.transport is not None:
                request.transport.abort()
            return response

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        """200 and headers, then nothing, until the client gives up on the connection."""
        self.injected["watch-stall"] += 1
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        started = time.monotonic()
        self.stalls_open += 1
        try:
            while request.transport is not None and not request.transport.is_closing():
                await asyncio.sleep(0.2)
        finally:
            self.stalls_open -= 1
        self.stall_ended.append(time.monotonic() - started)  # the client gave up (not the proxy stopping)
        return response
