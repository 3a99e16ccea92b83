"""Which API requests a process made, as the RBAC authorizer sees them: a recording reverse proxy on
loopback between the process and the API server, and the list of a ClusterRole's permissions no
recorded request used.

The process gets a kubeconfig whose server is the proxy (plain HTTP on 127.0.0.1) and whose user is
a ServiceAccount token; the proxy forwards every request, the ``Authorization`` header included, to
the real API server over TLS, so RBAC judges the ServiceAccount exactly as without it, and streams
the answer back (watches included). Each request is recorded as the authorizer's attributes (verb,
API group, resource, subresource), derived from method and path the way the API server's
``RequestInfoFactory`` does it.

Why a proxy and not the API server's audit log: the local control plane is shared by every test
and runs without an audit policy; the proxy sees exactly one process's requests, and every request
of it — kopf's own watches, patches and Events as well as those through ``modelops.k8s``.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from localcluster.cluster import free_port

# Headers that belong to one hop, never forwarded (RFC 9110 §7.6.1), plus the ones aiohttp sets itself.
_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                  "transfer-encoding", "upgrade", "host", "content-length"})


@dataclass(frozen=True)
class Access:
    """One request as RBAC sees it: ``verb`` on ``group``/``resource`` (``resource/subresource``)."""

    verb: str
    group: str
    resource: str
    namespaced: bool
    status: int
    namespace: str = ""  # the object's namespace and name, when the path names them
    name: str = ""
    at: float = 0.0  # time.monotonic() when the request reached the proxy


def request_attributes(method: str, path: str, query: dict[str, str]) -> tuple[str, str, str, bool] | None:
    """(verb, group, resource[/subresource], namespaced) of a resource request; None for a
    non-resource one (discovery, /readyz, /version)."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None  # /api/v1, /apis/group/version: discovery
    namespaced = False
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespaced, rest = True, rest[2:]
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
    watching = query.get("watch") in ("1", "true")
    verb = {
        "GET": "watch" if watching else ("get" if name else "list"),
        "HEAD": "get" if name else "list",
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }.get(method.upper(), method.lower())
    return verb, group, f"{resource}/{sub}" if sub else resource, namespaced


def object_named(path: str) -> tuple[str, str]:
    """(namespace, name) of the object a resource path names; "" for what it does not name."""
    parts = [p for p in path.split("/") if p]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    namespace = ""
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    return namespace, rest[1] if len(rest) > 1 else ""


class RecordingProxy:
    """``with RecordingProxy(server, ca_file) as proxy:`` then point a kubeconfig at ``proxy.url``."""

    def __init__(self, upstream: str, ca_file: Path) -> None:
        self.upstream = upstream.rstrip("/")
        self.ssl = ssl.create_default_context(cafile=str(ca_file))
        self.port = free_port()
        self.accesses: list[Access] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="api-recorder", daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordingProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        # auto_decompress off: a gzipped answer is passed on as it came, with its Content-Encoding.
        self._session = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        # Every handler still forwarding (a watch whose client left: aiohttp does not cancel it) is
        # cancelled first, so the server's cleanup has nothing to wait for.
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            return await self._relay(request)
        finally:
            self._handlers.discard(task)

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        arrived = time.monotonic()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        body = await request.read()
        async with self._session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                         data=body or None, ssl=self.ssl, allow_redirects=False) as upstream:
            attributes = request_attributes(request.method, request.path, dict(request.query))
            if attributes is not None:
                where = object_named(request.path)
                with self._lock:
                    self.accesses.append(Access(*attributes, status=upstream.status, namespace=where[0],
                                                name=where[1], at=arrived))
                    # A server-side apply that creates (201) was authorized for create too.
                    if attributes[0] == "patch" and upstream.status == 201:
                        self.accesses.append(Access("create", *attributes[1:], status=upstream.status))
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP:
                    response.headers.add(key, value)
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except (ConnectionResetError, aiohttp.ClientError, RuntimeError):
                return response  # the client went away (a watch it stopped): nothing more to pass on
            await response.write_eof()
            return response

    def kubeconfig(self, token: str, path: Path) -> Path:
        """A kubeconfig that reaches the API server through the proxy as the holder of ``token``."""
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "recorded",
            "clusters": [{"name": "recorded", "cluster": {"server": self.url}}],
            "users": [{"name": "recorded", "user": {"token": token}}],
            "contexts": [{"name": "recorded", "context": {"cluster": "recorded", "user": "recorded"}}],
        }))
        return path

    def recorded(self) -> list[Access]:
        with self._lock:
            return list(self.accesses)


def unexercised(rules: Iterable[dict[str, Any]], accesses: Iterable[Access]) -> list[str]:
    """Every ``group/resource verb`` a ClusterRole's ``rules`` grant that no allowed access used,
    sorted (``""`` is the core group, written ``core``)."""
    used = {(a.group, a.resource, a.verb) for a in accesses if a.status != 403}
    unused = set()
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    if (group, resource, verb) not in used:
                        unused.add(f"{group or 'core'}/{resource} {verb}")
    return sorted(unused)
