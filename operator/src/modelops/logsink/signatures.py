"""Where the names of a ModelVersion's inputs come from, so positional instances (``[[1200.5, 34]]``)
become named columns (``amount``, ``age``).

Owns the :class:`Signatures` interface and its three providers:

- :class:`NoSignatures`: positional features stay ``0``, ``1``, ...;
- :class:`StaticSignatures`: names from the sink's configuration (tests, ``make dev``, clusters
  where the sink may not read ModelVersions);
- :class:`KubernetesSignatures`: ``spec.signature.inputs`` of the ModelVersion, read through
  ``modelops.k8s`` (the only package that talks to the API server) and cached for ``ttl``; a
  failed read is cached for a short while too (and counted), so an API outage costs one attempt
  per ModelVersion per ``retry`` seconds instead of one per event, and never fails an event.

Concurrent lookups of one ModelVersion share one API call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

Names = tuple[str, ...]


class Signatures(Protocol):
    async def input_names(self, namespace: str, modelversion: str) -> Names | None: ...

    async def close(self) -> None: ...


class NoSignatures:
    async def input_names(self, namespace: str, modelversion: str) -> Names | None:
        return None

    async def close(self) -> None:
        return None


class StaticSignatures:
    """``{"fraud-detector-v3": ["amount", ...], "demo/fraud-detector-v4": [...]}``; the namespaced
    key wins over the bare one."""

    def __init__(self, names: Mapping[str, Sequence[str]]) -> None:
        self._names = {key: tuple(value) for key, value in names.items()}

    async def input_names(self, namespace: str, modelversion: str) -> Names | None:
        return self._names.get(f"{namespace}/{modelversion}") or self._names.get(modelversion)

    async def close(self) -> None:
        return None


def inputs_of(modelversion: Mapping[str, Any] | None) -> Names | None:
    """``spec.signature.inputs[*].name`` of a ModelVersion object, or None without a signature."""
    if not modelversion:
        return None
    inputs = ((modelversion.get("spec") or {}).get("signature") or {}).get("inputs") or []
    names = tuple(str(item["name"]) for item in inputs if isinstance(item, Mapping) and item.get("name"))
    return names or None


class KubernetesSignatures:
    """Reads ModelVersions through ``modelops.k8s`` (lazily connected on first use)."""

    def __init__(self, *, ttl: float = 300.0, retry: float = 30.0, on_error: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.retry = ttl, retry
        self._on_error = on_error
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Names | None]] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[Names | None]] = {}
        self._session: Any = None

    async def _fetch(self, namespace: str, name: str) -> Names | None:
        from modelops.api import API_VERSION
        from modelops.k8s import objects
        from modelops.k8s.session import KubeSession

        if self._session is None:
            self._session = await KubeSession.connect()
        return inputs_of(await objects.get(self._session, API_VERSION, "ModelVersion", namespace, name))

    async def input_names(self, namespace: str, modelversion: str) -> Names | None:
        key = (namespace, modelversion)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Names | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            names = await self._fetch(namespace, modelversion)
            expires = now + self.ttl
        except Exception as error:  # an API problem must never fail an event
            log.warning("signature of ModelVersion %s/%s unavailable: %s", namespace, modelversion, error)
            if self._on_error is not None:
                self._on_error()
            names = cached[1] if cached is not None else None
            expires = now + self.retry
        except BaseException:
            future.cancel()  # cancelled: the waiters retry on their own
            raise
        finally:
            self._inflight.pop(key, None)
        self._cache[key] = (expires, names)
        future.set_result(names)
        return names

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
