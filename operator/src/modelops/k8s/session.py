"""One connection to the API server for the operator's own reads and writes (kopf keeps its
own for watching): in-cluster service account, else the kubeconfig ($KUBECONFIG)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.dynamic import DynamicClient
from kubernetes_asyncio.dynamic.exceptions import DynamicApiError

from modelops.k8s.errors import Conflict, Invalid, KubeError, NotFound, Unavailable


class KubeSession:
    def __init__(self, api_client: client.ApiClient, dynamic: DynamicClient) -> None:
        self.api_client = api_client
        self.dynamic = dynamic

    @classmethod
    async def connect(cls) -> KubeSession:
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException:
            await config.load_kube_config(client_configuration=configuration)
        api_client = client.ApiClient(configuration=configuration)
        dynamic = await DynamicClient(api_client)
        return cls(api_client, dynamic)

    async def close(self) -> None:
        await self.api_client.close()

    async def resource(self, api_version: str, kind: str) -> Any:
        return await self.dynamic.resources.get(api_version=api_version, kind=kind)

    async def wait_until_serving(self, kinds: list[tuple[str, str]], timeout: float,
                                 log: Callable[[str], None]) -> None:
        """Wait until the API server is ready (``/readyz``) and can list every kind named — a CRD just
        installed answers ``429 storage is (re)initializing`` for a moment — so the operator's watches
        start against a server that answers, instead of logging errors on every start. Gives up
        quietly after ``timeout`` (the watches then retry on their own, as they always can)."""
        deadline = asyncio.get_running_loop().time() + timeout
        waiting: list[str] = ["/readyz", *(f"{api_version} {kind}" for api_version, kind in kinds)]
        said = False
        while waiting and asyncio.get_running_loop().time() < deadline:
            still: list[str] = []
            for item in waiting:
                try:
                    if item == "/readyz":
                        await self.api_client.call_api("/readyz", "GET", auth_settings=["BearerToken"],
                                                       response_types_map={}, _return_http_data_only=True)
                    else:
                        api_version, kind = item.split(" ", 1)
                        resource = await self.resource(api_version, kind)
                        answer = await resource.get(limit=1)
                        data = answer.to_dict() if hasattr(answer, "to_dict") else {}
                        if data.get("kind") == "Status" and data.get("status") == "Failure":
                            still.append(item)
                except Exception:  # not ready yet, whatever the client raises
                    still.append(item)
            if still and not said:
                log(f"waiting for the API server to serve {', '.join(still)}")
                said = True
            waiting = still
            if waiting:
                await asyncio.sleep(0.5)


def current_namespace() -> str:
    """The namespace kubectl would use: the in-cluster one, else the kubeconfig context's."""
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as handle:
            return handle.read().strip()
    except OSError:
        pass
    try:
        _, context = config.list_kube_config_contexts()
    except (config.ConfigException, OSError):
        return "default"
    return str((context or {}).get("context", {}).get("namespace") or "default")


def from_status(status: dict[str, Any]) -> KubeError:
    """An API ``Status`` object with ``status: Failure`` as one of our errors."""
    code = int(status.get("code") or 0)
    reason, message = str(status.get("reason") or ""), str(status.get("message") or "")
    if code == 404:
        return NotFound(code, reason, message)
    if code == 409:
        return Conflict(code, reason, message)
    if code == 422:
        return Invalid(code, reason, message)
    if code == 429 or code >= 500:
        return Unavailable(code, reason, message)
    return KubeError(code, reason, message)


def translate(error: Exception) -> KubeError:
    """Map any client error to ours, keeping the API server's message (it names the field)."""
    if isinstance(error, (DynamicApiError, ApiException)):
        status = int(getattr(error, "status", 0) or 0)
        body = getattr(error, "body", None) or getattr(error, "summary", lambda: "")()
        reason, message = getattr(error, "reason", "") or "", str(body)
        try:
            parsed = json.loads(body) if isinstance(body, (str, bytes)) else None
            if isinstance(parsed, dict):
                reason = parsed.get("reason", reason)
                message = parsed.get("message", message)
        except ValueError:
            pass
        return from_status({"code": status, "reason": reason, "message": message})
    if isinstance(error, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return Unavailable(0, type(error).__name__, str(error))
    raise error
