"""What the watches already delivered, so a reconcile reads memory instead of the API server.

One ``Store`` per kind the operator reads often: its own four kinds, the InferenceServices and the
route objects. The handler layer puts every watch event in (``put``/``remove``); the reconcilers
read (``get``, ``select``) and put back what their own writes returned, so the next reconcile of
the same object never plans from a status older than the one it just wrote (write-through).

Why bodies are kept as JSON bytes: 5,000 ModelVersions as Python dicts are ~100 MiB, as the
compact JSON the API server sent them ~15 MiB (DESIGN §6: 300 MiB for 6,000 objects); a reconcile
decodes the handful it reads in microseconds. ``metadata.managedFields`` is dropped unless the
store is told to keep it (the Rollout's history names the field manager that changed its spec).

Only a newer ``resourceVersion`` replaces an older one: a watch event that arrives after the
response of a write (both carry the version) cannot roll the store back.

Indexes: ``select(namespace, **labels_or_fields)`` filters on a few precomputed keys (for example
ModelVersions by ``(namespace, spec.model)``) without decoding every body.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Key = tuple[str, str]
Indexer = Callable[[Mapping[str, Any]], Iterable[Any]]


def _version(body: Mapping[str, Any]) -> int | None:
    raw = (body.get("metadata") or {}).get("resourceVersion")
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return None


class Store:
    def __init__(self, kind: str, *, keep_managed_fields: bool = False,
                 indexes: Mapping[str, Indexer] | None = None) -> None:
        self.kind = kind
        self._keep_managed = keep_managed_fields
        self._bodies: dict[Key, bytes] = {}
        self._versions: dict[Key, int | None] = {}
        self._indexers = dict(indexes or {})
        self._index: dict[str, defaultdict[Any, set[Key]]] = {name: defaultdict(set) for name in self._indexers}
        self._keys: dict[str, dict[Key, tuple[Any, ...]]] = {name: {} for name in self._indexers}

    def __len__(self) -> int:
        return len(self._bodies)

    def __contains__(self, key: Key) -> bool:
        return key in self._bodies

    @property
    def size_bytes(self) -> int:
        return sum(len(raw) for raw in self._bodies.values())

    def put(self, body: Mapping[str, Any]) -> bool:
        """Keep ``body`` unless the store holds a newer version of it; True when it was kept."""
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        version = _version(body)
        held = self._versions.get(key)
        if key in self._bodies and held is not None and version is not None and version < held:
            return False
        data = dict(body)
        if not self._keep_managed and "managedFields" in metadata:
            data["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
        self._bodies[key] = json.dumps(data, separators=(",", ":"), default=str).encode()
        self._versions[key] = version
        self._reindex(key, data)
        return True

    def remove(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        self._bodies.pop(key, None)
        self._versions.pop(key, None)
        for index_name, values in self._keys.items():
            for value in values.pop(key, ()):
                bucket = self._index[index_name].get(value)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del self._index[index_name][value]

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        raw = self._bodies.get((namespace, name))
        return json.loads(raw) if raw is not None else None

    def keys(self, index: str, value: Any) -> list[Key]:
        return sorted(self._index[index].get(value, ()))

    def select(self, index: str, value: Any) -> list[dict[str, Any]]:
        """The bodies whose indexer yielded ``value``, by namespace and name."""
        found = []
        for namespace, name in self.keys(index, value):
            body = self.get(namespace, name)
            if body is not None:
                found.append(body)
        return found

    def all_keys(self) -> list[Key]:
        return list(self._bodies)

    def _reindex(self, key: Key, body: Mapping[str, Any]) -> None:
        for index_name, indexer in self._indexers.items():
            new = tuple(dict.fromkeys(indexer(body)))
            old = self._keys[index_name].get(key, ())
            if new == old:
                continue
            for value in old:
                bucket = self._index[index_name].get(value)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del self._index[index_name][value]
            for value in new:
                self._index[index_name][value].add(key)
            if new:
                self._keys[index_name][key] = new
            else:
                self._keys[index_name].pop(key, None)
