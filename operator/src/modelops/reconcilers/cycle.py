"""The one shape of every reconcile, written once (``Cycle``): lock the object, read it (from the
watch store), leave it alone when it is gone or being deleted, run the kind's own reconcile, then
post its Events and write the status once (and keep what the API server returned).

``Reconciler`` is that reconcile for kinds made of observe -> plan -> execute passes, repeated
until nothing just done changes what the next plan needs (a new MLflow run id, a registry
version): a subclass supplies ``_observe`` (reads only), ``_plan`` (a pure function from core) and
``_execute`` (idempotent writes, returning the status to keep). The Rollout has its own shape
(measure, observe, plan, route, registry: ``reconcilers.rollout``) on ``Cycle``. Per-object locks
serialise a queue's reconcile with a delete handler's for the same object.

A write refused for good (``as_rejection``: a 4xx other than 404/409/429 from the API server or
MLflow) ends the passes: the plan runs once more with the refusal in its observation and from the
status before the refused pass, so it becomes one condition naming the object and quoting the
server — an Event only on the flip — and a slow retry, never a silent loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, cast

from modelops.api import API_VERSION
from modelops.api.config import OperatorConfig
from modelops.core.intents import Event
from modelops.core.ownership import Rejection, is_permanent
from modelops.k8s.errors import KubeError
from modelops.k8s.session import KubeSession
from modelops.reconcilers.finishing import finish
from modelops.reconcilers.view import ClusterView
from modelops.registry.mlflow import MLflowClient
from modelops.registry.records import MLflowError, MLflowUnavailable

logger = logging.getLogger(__name__)
# When MAX_PASSES runs out (something changes with every pass), reconcile again this soon.
PASSES_EXHAUSTED_RETRY = 5.0


def as_rejection(error: KubeError | MLflowError) -> Rejection | None:
    """A permanent refusal of a write (ownership.is_permanent) as data for the plan; None for
    anything worth retrying as it is (unavailable, throttled, conflict, gone)."""
    if isinstance(error, MLflowUnavailable):
        return None
    if isinstance(error, MLflowError):
        if not is_permanent(error.status):
            return None
        return Rejection("MLflow", error.status or 400, error.error_code or "Rejected", str(error))
    if not is_permanent(error.status):
        return None
    return Rejection(error.target or "a write", error.status, error.reason, error.message)


class Rejectable(Protocol):
    """An observation that can carry a refused write back to the plan (a dataclass field)."""

    @property
    def rejection(self) -> Rejection | None: ...


class Decision(Protocol):
    status: dict[str, Any]
    events: list[Event]
    requeue_after: float | None

    @property
    def needs_another_pass(self) -> bool: ...


ObservationT = TypeVar("ObservationT", bound="Rejectable")
DecisionT = TypeVar("DecisionT", bound=Decision)


class ObjectLocks:
    """One lock per object: a daemon's reconcile and a handler's for the same object never overlap."""

    def __init__(self) -> None:
        self._locks: defaultdict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    def __getitem__(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks[key]

    def forget(self, namespace: str, name: str) -> None:
        self._locks.pop((namespace, name), None)


@dataclass
class Outcome:
    """What one reconcile of an object ends with: the status to write (against ``body``, which a
    reconcile may have read again), the Events to post, and when to look again."""

    body: dict[str, Any]
    status: dict[str, Any]
    events: list[Event]
    requeue: float | None


class Cycle:
    """The part of every reconcile written once: the per-object lock, reading the object (from
    the watch store), leaving one that is gone or being deleted alone, and — after the kind's own
    ``_reconcile`` — the Events and the one status write, kept for the next reconcile."""

    API_VERSION = API_VERSION
    KIND = ""

    def __init__(self, session: KubeSession, mlflow: MLflowClient | None, config: OperatorConfig,
                 view: ClusterView | None = None) -> None:
        self.session = session
        self.mlflow = mlflow
        self.config = config
        self.view = view if view is not None else ClusterView(session, {})
        self._locks = ObjectLocks()

    def forget(self, namespace: str, name: str) -> None:
        self._locks.forget(namespace, name)

    async def reconcile(self, namespace: str, name: str, interrupt: asyncio.Event | None = None) -> float | None:
        """One reconcile; returns seconds until the next one is due (None: only on events).
        ``interrupt`` is set when the object's spec changes meanwhile (a kind may stop waiting)."""
        async with self._locks[(namespace, name)]:
            body = await self.view.get(self.API_VERSION, self.KIND, namespace, name)
            if body is None or body["metadata"].get("deletionTimestamp"):
                return None
            outcome = await self._reconcile(body, interrupt)
            if outcome is None:
                return None
            self.view.remember(await finish(self.session, outcome.body, outcome.status, outcome.events))
            return outcome.requeue

    async def _reconcile(self, body: dict[str, Any], interrupt: asyncio.Event | None) -> Outcome | None:
        raise NotImplementedError


class Reconciler(Cycle, Generic[ObservationT, DecisionT]):
    """A kind whose reconcile is observe -> plan -> execute passes (see the module docstring)."""

    MAX_PASSES = 6

    async def _reconcile(self, body: dict[str, Any], interrupt: asyncio.Event | None) -> Outcome | None:
        meta = body["metadata"]
        status: dict[str, Any] = dict(body.get("status") or {})
        posted: list[Event] = []
        requeue: float | None = None
        rejection: Rejection | None = None
        for _ in range(self.MAX_PASSES):
            observation = await self._observe(body, status)
            if rejection is not None:
                # Plan once more knowing the refusal, from the status before the refused pass,
                # and write nothing else: the refusal becomes a condition, not a retry loop.
                refused: ObservationT = replace(cast(Any, observation), rejection=rejection)
                decision = self._plan(refused, datetime.now(UTC))
                status, requeue = dict(decision.status), decision.requeue_after
                posted.extend(decision.events)
                break
            decision = self._plan(observation, datetime.now(UTC))
            try:
                status = await self._execute(body, decision)
            except (KubeError, MLflowError) as error:
                rejection = as_rejection(error)
                if rejection is None:
                    raise
                continue
            posted.extend(decision.events)
            requeue = decision.requeue_after
            if not decision.needs_another_pass:
                break
        else:
            logger.warning("%s %s/%s: still changing after %d passes; reconciling again in %.0fs",
                           self.KIND, meta.get("namespace"), meta.get("name"), self.MAX_PASSES,
                           PASSES_EXHAUSTED_RETRY)
            requeue = PASSES_EXHAUSTED_RETRY if requeue is None else min(requeue, PASSES_EXHAUSTED_RETRY)
        return Outcome(body, status, posted, requeue)

    async def _observe(self, body: dict[str, Any], status: dict[str, Any]) -> ObservationT:
        raise NotImplementedError

    def _plan(self, observation: ObservationT, now: datetime) -> DecisionT:
        raise NotImplementedError

    async def _execute(self, body: dict[str, Any], decision: DecisionT) -> dict[str, Any]:
        raise NotImplementedError
