"""One connection to the API server for the operator's own reads and writes (kopf keeps its own
for watching): in-cluster service account, else the kubeconfig ($KUBECONFIG), through the
operator's own REST client (``rest``: aiohttp and plain dicts, no generated client library)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from modelops.k8s import login
from modelops.k8s.rest import Resource, RestClient


class KubeSession:
    def __init__(self, rest: RestClient) -> None:
        self.rest = rest

    @classmethod
    async def connect(cls, *, timeout: float = 30.0) -> KubeSession:
        return cls(RestClient.from_environment(timeout=timeout))

    async def close(self) -> None:
        await self.rest.close()

    async def resource(self, api_version: str, kind: str) -> Resource:
        return await self.rest.resource(api_version, kind)

    async def wait_until_serving(self, kinds: list[tuple[str, str]], timeout: float,
                                 log: Callable[[str], None]) -> None:
        """Wait until the API server is ready (``/readyz``) and can list every kind named — a CRD just
        installed answers ``429 storage is (re)initializing`` for a moment — so the operator's watches
        start against a server that answers, instead of logging errors on every start. Gives up
        quietly after ``timeout`` (the watches then retry on their own, as they always can)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiting: list[tuple[str, str] | None] = [None, *kinds]  # None: /readyz
        said = False
        while waiting and loop.time() < deadline:
            still: list[tuple[str, str] | None] = []
            for item in waiting:
                try:
                    if item is None:
                        await self.rest.request("GET", "/readyz", params={"verbose": "false"})
                    else:
                        resource = await self.resource(*item)
                        await self.rest.request("GET", resource.path(), params={"limit": "1"})
                except Exception:  # not ready yet, whatever the answer
                    still.append(item)
            if still and not said:
                names = ", ".join("/readyz" if i is None else f"{i[1]}" for i in still)
                log(f"waiting for the API server to serve {names}")
                said = True
            waiting = still
            if waiting:
                await asyncio.sleep(0.5)


def current_namespace() -> str:
    """The namespace kubectl would use: the in-cluster one, else the kubeconfig context's."""
    try:
        return login.load().namespace
    except (login.LoginError, OSError, ValueError):
        return "default"
