"""A shard's single active replica: leader election on the Lease ``modelops-shard-<shard>`` in the
operator's namespace (``core.leasing`` decides, ``k8s.leases`` reads and writes).

``Elector`` runs in a thread of its own with its own event loop and API session, so neither kopf's
loop nor a slow reconcile can delay a renewal, and kopf is not even started before the Lease is
held: a standby replica makes no request to any object (no watch, no finalizer, no status) and
answers only its liveness probe and metrics. The leader renews every ``retryPeriod``; once
``renewDeadline`` has passed without a successful renewal it calls ``on_lost`` (``python -m
modelops`` exits at once, the Pod restarts as a standby), and until then ``leading()`` is what the
operator's API session checks before every write (``RestClient.guard``): after a freeze (a paused
VM, SIGSTOP) the first thing a resumed leader's writes meet is the guard's refusal, never the API
server. On a clean stop the leader releases the Lease (empty holder), so a standby takes over
within one ``retryPeriod`` instead of a ``leaseDuration``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric

from modelops import observability
from modelops.core import leasing
from modelops.core.leasing import Action, LeaseRecord, Observation, Timing
from modelops.k8s import leases
from modelops.k8s.errors import Conflict, KubeError, Unavailable
from modelops.k8s.session import KubeSession

log = logging.getLogger("modelops.leading")
LEASE_PREFIX = "modelops-shard-"
SHARD_LABEL = "modelops.io/shard"


def lease_name(shard: str) -> str:
    return f"{LEASE_PREFIX}{shard}"


def _wall() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NotLeading(Unavailable):
    """A write refused because this replica no longer holds its shard's Lease."""


class Elector:
    def __init__(self, shard: str, namespace: str, identity: str, timing: Timing,
                 on_lost: Callable[[str], None]) -> None:
        self.shard, self.namespace, self.identity, self.timing = shard, namespace, identity, timing
        self.name = lease_name(shard)
        self.on_lost = on_lost
        self._renewed_at: float | None = None
        self._seen: Observation | None = None
        self._resource_version: str | None = None
        self._held: LeaseRecord | None = None
        self._acquired = threading.Event()
        self._stopping = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="leader-election", daemon=True)
        self._session: KubeSession | None = None
        self._task: concurrent.futures.Future[None] | None = None
        observability.export("leader", _LeaderCollector(self))

    # -- what the operator asks ----------------------------------------------------------------------

    def leading(self) -> bool:
        return leasing.still_leading(time.monotonic(), self._renewed_at, self.timing)

    def guard(self, method: str, path: str) -> None:
        """``RestClient.guard``: refuse a write once the Lease may be lost."""
        if not self.leading():
            raise NotLeading(0, "NotLeading", f"{method} {path}: this replica no longer holds Lease "
                             f"{self.namespace}/{self.name}")

    def run_until_leading(self, liveness: str | None) -> None:
        """Start electing and block until this replica holds the Lease (a standby waits here,
        answering ``liveness`` if given, e.g. ``http://0.0.0.0:8080/healthz``)."""
        self._thread.start()
        health = asyncio.run_coroutine_threadsafe(_serve_health(liveness), self._loop).result(60) if liveness \
            else None
        task = self._task = asyncio.run_coroutine_threadsafe(self._elect(), self._loop)
        while not self._acquired.wait(1.0):
            if task.done():
                task.result()  # raises what ended it
        if health is not None:
            asyncio.run_coroutine_threadsafe(health.cleanup(), self._loop).result(30)
        log.warning("leader of shard %s (Lease %s/%s) as %s", self.shard, self.namespace, self.name, self.identity)

    def release(self) -> None:
        """On a clean stop: give the Lease up (empty holder) if still held, then stop electing."""
        self._stopping = True
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._release(), self._loop).result(10)
            except (KubeError, TimeoutError) as error:
                log.warning("could not release Lease %s/%s: %s", self.namespace, self.name, error)
            self._loop.call_soon_threadsafe(self._loop.stop)

    # -- the election loop (in the thread's loop) ------------------------------------------------------

    async def _elect(self) -> None:
        self._session = await KubeSession.connect(timeout=self.timing.retry_period * 2)
        watchdog = asyncio.ensure_future(self._watch_deadline())
        try:
            while not self._stopping:
                await self._attempt()
                await asyncio.sleep(self.timing.retry_period)
        finally:
            watchdog.cancel()

    async def _attempt(self) -> None:
        assert self._session is not None
        started = time.monotonic()
        try:
            record, self._resource_version = await leases.read(self._session, self.namespace, self.name)
            self._seen = leasing.observe(self._seen, record, time.monotonic())
            decision = leasing.decide(time.monotonic(), self._seen, self.identity, self.timing, _wall())
            if decision.action is Action.WAIT:
                return
            assert decision.record is not None
            if decision.action is Action.CREATE:
                self._resource_version = await leases.create(self._session, self.namespace, self.name,
                                                             decision.record, self._labels())
            else:
                self._resource_version = await leases.update(self._session, self.namespace, self.name,
                                                             decision.record, self._resource_version or "",
                                                             self._labels())
        except Conflict:
            return  # another replica wrote first: read again next time
        except KubeError as error:
            log.warning("Lease %s/%s: %s", self.namespace, self.name, error)
            return
        if decision.action is Action.TAKE:
            log.warning("took Lease %s/%s from %r (transition %d)", self.namespace, self.name,
                        record.holder if record else "", decision.record.transitions)
        self._renewed_at = started  # counted from before the read: never later than the server saw it
        self._held = decision.record
        self._acquired.set()

    async def _watch_deadline(self) -> None:
        """Once leader, check the renew deadline often, whatever a hung renewal request does."""
        while True:
            await asyncio.sleep(min(0.5, self.timing.retry_period / 2))
            if self._acquired.is_set() and not self._stopping and not self.leading():
                self.on_lost(f"no renewal of Lease {self.namespace}/{self.name} for "
                             f"{self.timing.renew_deadline}s (renewDeadline): stopping before it can expire")
                return

    async def _release(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._session is None:
            return
        if self.leading() and self._held is not None and self._resource_version:
            record = LeaseRecord("", 1, None, None, self._held.transitions)
            await leases.update(self._session, self.namespace, self.name, record, self._resource_version,
                                self._labels())
        await self._session.close()

    def _labels(self) -> dict[str, str]:
        return {SHARD_LABEL: self.shard, "app.kubernetes.io/managed-by": "modelops"}


async def _serve_health(liveness: str) -> web.AppRunner:
    """The standby's liveness answer (kopf serves it once the operator runs)."""
    url = urlsplit(liveness)

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"standby": True})

    app = web.Application()
    app.router.add_get(url.path or "/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, url.hostname or "0.0.0.0", url.port or 80).start()
    return runner


class _LeaderCollector:
    def __init__(self, elector: Elector) -> None:
        self.elector = elector

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily("modelops_shard_leader",
                                  "1 while this replica holds its shard's Lease, else 0 (a standby).",
                                  labels=["shard", "identity"])
        gauge.add_metric([self.elector.shard, self.elector.identity], 1.0 if self.elector.leading() else 0.0)
        yield gauge
