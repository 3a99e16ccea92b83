"""The operator's running parts, wired once: the stores the watches fill, one work queue per kind,
and the reconcilers behind them — and the rule of which keys each watch event concerns.

The handler layer calls ``seen(api_version, kind, event, body)`` for every watch event and
``start``/``stop`` around the operator's life; nothing else. ``seen`` keeps the body and enqueues:

- a TrainingRun or a DriftMonitor: that object (urgently when its spec changed); a TrainingRun
  labelled ``modelops.io/drift-monitor`` also wakes that monitor (its retraining runs finishing
  lift ``maxConcurrent``);
- a CronJob labelled ``modelops.io/drift-monitor``: its owning DriftMonitor (a hand edit or a
  deletion is put back);
- a Job labelled ``modelops.io/trainingrun``: its owning TrainingRun;
- a ModelVersion: that version, and the Rollouts of its model in its namespace (readiness), and
  the DriftMonitors whose ``modelRef`` names it (a reference to nothing heals when it appears);
- a Rollout: that Rollout (urgently on a spec change: it abandons a measurement under way) and
  the ModelVersions of its model in its namespace (roles; ``ROLES_AFTER_SPEC_CHANGE`` later on a
  spec change, so the route write goes first); a Rollout going wakes every other
  Rollout of its model, in every namespace (one may take over); and the DriftMonitors naming it;
- an InferenceService: its owning ModelVersion; for a kserve router's, its Rollout and the
  versions of its model;
- an HTTPRoute or VirtualService labelled ``modelops.io/rollout``: its owning Rollout (a hand
  edit of the weights is reverted).

Every status still has exactly one writer: the queue never runs one key twice at once.

Sharded (``core.sharding``, a ``--selector``): the handlers hand over only this shard's modelops
objects (``drop`` forgets one relabelled out of it), and a child's event counts only when its owner
is one of them — another shard's Job, CronJob, InferenceService or route wakes nothing here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from modelops import observability
from modelops.api import API_VERSION
from modelops.api.config import OperatorConfig
from modelops.core.monitoring.children import MONITOR_LABEL
from modelops.core.sharding import Shard
from modelops.k8s.session import KubeSession
from modelops.metrics.drift import DriftCollector
from modelops.metrics.rollouts import RolloutCollector
from modelops.reconcilers.drifting import DriftReconciler
from modelops.reconcilers.engine import Key, WorkQueue
from modelops.reconcilers.rollout import RolloutReconciler
from modelops.reconcilers.serving import ServingReconciler
from modelops.reconcilers.store import Store
from modelops.reconcilers.training import TrainingReconciler
from modelops.reconcilers.trimming import trim_when_idle
from modelops.reconcilers.view import ClusterView, model_indexes, monitor_indexes, retrain_indexes
from modelops.registry.mlflow import MLflowClient

ISVC = ("serving.kserve.io/v1beta1", "InferenceService")
ROUTES = (("gateway.networking.k8s.io/v1", "HTTPRoute"), ("networking.istio.io/v1", "VirtualService"))
MODEL_LABEL = "modelops.io/model"
DEFAULT_WORKERS = 4
# A Rollout's spec change (an SRE's rollback) wakes its ModelVersions (their roles follow the
# target) this much later, so their reconciles do not share the event loop with the route write
# (bench/rollback.py measured them in front of it); the Rollout's status write wakes them again.
ROLES_AFTER_SPEC_CHANGE = 0.25


def _workers() -> int:
    try:
        return max(1, int(os.environ.get("MODELOPS_WORKERS", DEFAULT_WORKERS)))
    except ValueError:
        return DEFAULT_WORKERS


def _key(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _owners(body: Mapping[str, Any], kind: str) -> list[str]:
    return [str(ref.get("name")) for ref in (body.get("metadata") or {}).get("ownerReferences") or []
            if ref.get("kind") == kind and str(ref.get("apiVersion", "")).startswith("modelops.io/")]


class Runtime:
    def __init__(self, session: KubeSession, mlflow: MLflowClient | None, config: OperatorConfig,
                 shard: Shard | None = None) -> None:
        self.shard = shard or Shard()
        self._trimmer: asyncio.Task[None] | None = None
        stores = {
            (API_VERSION, "TrainingRun"): Store("TrainingRun", indexes=retrain_indexes()),
            (API_VERSION, "ModelVersion"): Store("ModelVersion", indexes=model_indexes()),
            # The Rollout's history names the field manager that changed its spec (managedFields).
            (API_VERSION, "Rollout"): Store("Rollout", keep_managed_fields=True, indexes=model_indexes()),
            (API_VERSION, "DriftMonitor"): Store("DriftMonitor", indexes=monitor_indexes()),
            ISVC: Store("InferenceService"),
            **{route: Store(route[1]) for route in ROUTES},
        }
        self.view = ClusterView(session, stores)
        self.training = TrainingReconciler(session, mlflow, config, self.view)
        self.serving = ServingReconciler(session, mlflow, config, self.view)
        self.rollouts = RolloutReconciler(session, mlflow, config, self.view, contenders=self.view.contenders)
        self.drift = DriftReconciler(session, mlflow, config, self.view)
        workers = _workers()
        self.queues = {
            "TrainingRun": WorkQueue("trainingruns", self._reconcile_training, workers=workers),
            "ModelVersion": WorkQueue("modelversions", self._reconcile_serving, workers=workers),
            "Rollout": WorkQueue("rollouts", self._reconcile_rollout, workers=workers),
            "DriftMonitor": WorkQueue("driftmonitors", self._reconcile_drift, workers=workers),
        }
        self._generations: dict[tuple[str, Key], int] = {}
        session.rest.observer = observability.api_request
        for kind, queue in self.queues.items():
            queue.observer = _timed(kind)
        observability.watch_runtime(lambda: self.queues,
                                    lambda: {kind: store for (_, kind), store in self.view.stores.items()})
        observability.export("drift", DriftCollector(self._monitors))
        observability.export("rollouts", RolloutCollector(self._rollout_bodies))

    def _rollout_bodies(self) -> list[dict[str, Any]]:
        store = self.view.store(API_VERSION, "Rollout")
        if store is None:
            return []
        return [body for body in (store.get(*key) for key in store.all_keys()) if body is not None]

    # -- the reconcile of each kind --------------------------------------------------------------

    async def _reconcile_training(self, key: Key, interrupt: asyncio.Event) -> float | None:
        return await self.training.reconcile(*key)

    async def _reconcile_serving(self, key: Key, interrupt: asyncio.Event) -> float | None:
        return await self.serving.reconcile(*key)

    async def _reconcile_rollout(self, key: Key, interrupt: asyncio.Event) -> float | None:
        return await self.rollouts.reconcile(key[0], key[1], interrupt)

    async def _reconcile_drift(self, key: Key, interrupt: asyncio.Event) -> float | None:
        return await self.drift.reconcile(*key)

    # -- life --------------------------------------------------------------------------------------

    def start(self) -> None:
        for queue in self.queues.values():
            queue.start()
        self._trimmer = asyncio.create_task(trim_when_idle(self._progress), name="trim-when-idle")

    async def stop(self) -> None:
        if self._trimmer is not None:
            self._trimmer.cancel()
        await asyncio.gather(*(queue.stop() for queue in self.queues.values()))
        await self.rollouts.close()

    def _progress(self) -> tuple[int, bool]:
        """Reconciles run so far by every queue, and whether any has work queued or running."""
        queues = self.queues.values()
        return sum(queue.stats.reconciles for queue in queues), any(len(queue) for queue in queues)

    # -- watch events --------------------------------------------------------------------------------

    def seen(self, api_version: str, kind: str, event: str | None, body: Mapping[str, Any]) -> None:
        """One watch event (``event``: ADDED, MODIFIED, DELETED, or None for the initial listing)."""
        key = _key(body)
        if self.shard.selector and kind not in self.queues and not self._owned_here(kind, key[0], body):
            return  # a child of another shard's object
        store = self.view.store(api_version, kind)
        before = store.get(*key) if store is not None and kind in ("Rollout", "ModelVersion") else None
        if store is not None:
            if event == "DELETED":
                store.remove(*key)
            else:
                store.put(body)
        namespace = key[0]
        if kind in ("TrainingRun", "DriftMonitor"):
            self._own(kind, key, body, event)
            monitor = ((body.get("metadata") or {}).get("labels") or {}).get(MONITOR_LABEL)
            if kind == "TrainingRun" and monitor:
                self.queues["DriftMonitor"].add((namespace, str(monitor)))
        elif kind == "CronJob":
            for owner in _owners(body, "DriftMonitor"):
                self.queues["DriftMonitor"].add((namespace, owner))
        elif kind == "Job":
            for owner in _owners(body, "TrainingRun"):
                self.queues["TrainingRun"].add((namespace, owner))
        elif kind == "ModelVersion":
            self._own(kind, key, body, event)
            self._wake_monitors(kind, key)
            for model in _models(body, before):
                for rollout in self.view.rollout_keys_of(namespace, model):
                    self.queues["Rollout"].add(rollout)
        elif kind == "Rollout":
            spec_changed = self._own(kind, key, body, event)
            self._wake_monitors(kind, key)
            models = _models(body, before)
            for model in models:
                for version in self.view.model_versions_of(namespace, model):
                    if spec_changed:  # the Rollout's route write goes first on the one event loop
                        self.queues["ModelVersion"].add_after(version, ROLES_AFTER_SPEC_CHANGE)
                    else:
                        self.queues["ModelVersion"].add(version)
            if event == "DELETED" or (body.get("metadata") or {}).get("deletionTimestamp"):
                for model in models:
                    for rival in self.view.contenders(model):
                        self.queues["Rollout"].add((rival.namespace, rival.name))
        elif kind == "InferenceService":
            for owner in _owners(body, "ModelVersion"):
                self.queues["ModelVersion"].add((namespace, owner))
            for owner in _owners(body, "Rollout"):
                self.queues["Rollout"].add((namespace, owner))
            label = ((body.get("metadata") or {}).get("labels") or {}).get(MODEL_LABEL)
            if label and _owners(body, "Rollout"):
                for version in self.view.model_versions_of(namespace, str(label)):
                    self.queues["ModelVersion"].add(version)
        elif (api_version, kind) in ROUTES:
            for owner in _owners(body, "Rollout"):
                self.queues["Rollout"].add((namespace, owner))

    def drop(self, api_version: str, kind: str, body: Mapping[str, Any]) -> None:
        """An object not in this shard (any more): forgotten, as if deleted, if it was kept."""
        store = self.view.store(api_version, kind)
        if store is not None and store.get(*_key(body)) is not None:
            self.seen(api_version, kind, "DELETED", body)

    def _owned_here(self, kind: str, namespace: str, body: Mapping[str, Any]) -> bool:
        """Whether a child's owner (a modelops object, same namespace) is one this runtime holds."""
        for owner_kind in ("TrainingRun", "ModelVersion", "Rollout", "DriftMonitor"):
            store = self.view.store(API_VERSION, owner_kind)
            if store is not None and any(store.get(namespace, name) is not None
                                         for name in _owners(body, owner_kind)):
                return True
        return False

    def _wake_monitors(self, kind: str, key: Key) -> None:
        for monitor in self.view.monitor_keys_watching(key[0], kind, key[1]):
            self.queues["DriftMonitor"].add(monitor)

    def _monitors(self) -> Iterator[tuple[dict[str, Any], str, str]]:
        """Every DriftMonitor the store holds, with the model and version its series carry."""
        store = self.view.stores[(API_VERSION, "DriftMonitor")]
        for namespace, name in store.all_keys():
            body = store.get(namespace, name)
            if body is not None:
                yield (body, *self.view.monitored(body))

    def _own(self, kind: str, key: Key, body: Mapping[str, Any], event: str | None) -> bool:
        """Reconcile the object itself; urgently when its spec changed since it was last seen
        (returned: whether it did)."""
        queue = self.queues[kind]
        if event == "DELETED":
            self._generations.pop((kind, key), None)
            queue.forget(key)
            return False
        generation = (body.get("metadata") or {}).get("generation")
        last = self._generations.get((kind, key))
        urgent = isinstance(generation, int) and last is not None and generation > last
        if isinstance(generation, int):
            self._generations[(kind, key)] = generation
        queue.add(key, urgent=urgent)
        return urgent

    def forget(self, kind: str, namespace: str, name: str) -> None:
        """The object was deleted (its finalizer handled): drop what is kept about it."""
        self.queues[kind].forget((namespace, name))
        self._generations.pop((kind, (namespace, name)), None)


def _timed(kind: str) -> Callable[[float, bool], None]:
    def observe(seconds: float, failed: bool) -> None:
        observability.reconciled(kind, seconds, failed)

    return observe


def _models(body: Mapping[str, Any], before: Mapping[str, Any] | None) -> list[str]:
    """spec.model of the object now and as it was (a change concerns both models' objects)."""
    found = []
    for source in (body, before or {}):
        model = (source.get("spec") or {}).get("model")
        if isinstance(model, str) and model and model not in found:
            found.append(model)
    return found
