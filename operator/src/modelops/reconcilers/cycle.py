"""The one shape of every reconcile, written once: lock the object, read it, then observe ->
plan -> execute passes until nothing just done changes what the next plan needs (a new MLflow
run id, a registry version), then post Events and write the status once.

A subclass supplies ``_observe`` (reads only), ``_plan`` (a pure function from core) and
``_execute`` (idempotent writes, returning the status to keep). Per-object locks serialise a
daemon's reconcile with a handler's for the same object.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from modelops.api.config import OperatorConfig
from modelops.core.intents import Event
from modelops.k8s import objects
from modelops.k8s.session import KubeSession
from modelops.reconcilers.finishing import finish
from modelops.registry.mlflow import MLflowClient


class Decision(Protocol):
    status: dict[str, Any]
    events: list[Event]
    requeue_after: float | None

    @property
    def needs_another_pass(self) -> bool: ...


ObservationT = TypeVar("ObservationT")
DecisionT = TypeVar("DecisionT", bound=Decision)


class ObjectLocks:
    """One lock per object: a daemon's reconcile and a handler's for the same object never overlap."""

    def __init__(self) -> None:
        self._locks: defaultdict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    def __getitem__(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks[key]

    def forget(self, namespace: str, name: str) -> None:
        self._locks.pop((namespace, name), None)


class Reconciler(Generic[ObservationT, DecisionT]):
    API_VERSION = "modelops.io/v1alpha1"
    KIND = ""
    MAX_PASSES = 6

    def __init__(self, session: KubeSession, mlflow: MLflowClient | None, config: OperatorConfig) -> None:
        self.session = session
        self.mlflow = mlflow
        self.config = config
        self._locks = ObjectLocks()

    def forget(self, namespace: str, name: str) -> None:
        self._locks.forget(namespace, name)

    async def reconcile(self, namespace: str, name: str) -> float | None:
        """One reconcile; returns seconds until the next one is due (None: only on events)."""
        async with self._locks[(namespace, name)]:
            body = await objects.get(self.session, self.API_VERSION, self.KIND, namespace, name)
            if body is None or body["metadata"].get("deletionTimestamp"):
                return None
            status: dict[str, Any] = dict(body.get("status") or {})
            posted: list[Event] = []
            requeue: float | None = None
            for _ in range(self.MAX_PASSES):
                observation = await self._observe(body, status)
                decision = self._plan(observation, datetime.now(UTC))
                status = await self._execute(body, decision)
                posted.extend(decision.events)
                requeue = decision.requeue_after
                if not decision.needs_another_pass:
                    break
            await finish(self.session, body, status, posted)
            return requeue

    async def _observe(self, body: dict[str, Any], status: dict[str, Any]) -> ObservationT:
        raise NotImplementedError

    def _plan(self, observation: ObservationT, now: datetime) -> DecisionT:
        raise NotImplementedError

    async def _execute(self, body: dict[str, Any], decision: DecisionT) -> dict[str, Any]:
        raise NotImplementedError
