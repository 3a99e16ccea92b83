"""The HTTP plumbing every adapter shares (Kubernetes, MLflow, Prometheus), written once:

- ``split_credentials``: ``http://user:password@host/...`` -> the URL without them and a Basic
  ``Authorization`` header, so credentials never appear in a URL that is logged or put in status;
- ``LazySession``: one aiohttp session per client, made on the first request (aiohttp binds a
  session to the event loop that made it) and refused from any other loop, with the client's
  timeout, headers and connector, honouring ``HTTP(S)_PROXY``/``NO_PROXY`` as the servers' own
  clients do.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp


def split_credentials(url: str) -> tuple[str, str | None]:
    """``http://u:p@host:9090/prefix/`` -> (``http://host:9090/prefix``, ``"Basic <base64 u:p>"``)."""
    parts = urlsplit(url.strip())
    authorization = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        pair = f"{unquote(user)}:{unquote(password)}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), authorization


class LazySession:
    def __init__(self, *, timeout: float, headers: Mapping[str, str] | None = None,
                 connector: Callable[[], aiohttp.BaseConnector] | None = None, trust_env: bool = True,
                 owner: str = "client") -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._headers = dict(headers or {})
        self._connector = connector
        self._trust_env = trust_env
        self._owner = owner
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and not self._session.closed:
            if self._loop is not loop:
                raise RuntimeError(f"a {self._owner} serves the event loop it was first used on; make one per loop")
            return self._session
        self._session = aiohttp.ClientSession(
            timeout=self._timeout, headers=self._headers, trust_env=self._trust_env,
            connector=self._connector() if self._connector is not None else None,
        )
        self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._loop = None
