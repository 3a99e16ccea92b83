"""The reconcile engine: one keyed work queue per kind, a bounded pool of workers, per-key
exponential backoff, and requeue-after held in one timer heap — the design controller-runtime
proved, in asyncio.

Watch handlers only ``add`` keys (namespace, name). Then:

- a key is never processed by two workers at once: one added while it is being reconciled is
  marked dirty and reconciled again right after;
- repeated adds of a queued key collapse into one reconcile;
- a reconcile returns the seconds until it is due again (or None: only events bring it back); the
  last answer replaces the earlier one, in one heap for the whole kind, so a thousand Rollouts at
  rest are a thousand heap entries, not a thousand sleeping tasks;
- a reconcile that raises is retried after a per-key exponential backoff (reset by a success),
  and says so in the log, with the traceback for what is not a known dependency failure;
- ``add(key, urgent=True)`` also sets the key's ``interrupt`` event while it is being reconciled:
  a Rollout's reconcile abandons a measurement under way when its spec changes (an SRE's rollback
  never waits for a slow Prometheus).

Nothing here knows a kind: the handler layer wires one queue per kind to its reconciler.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from modelops.k8s.errors import KubeError, Unavailable
from modelops.registry.records import MLflowError, MLflowUnavailable

Key = tuple[str, str]  # (namespace, name)
Reconcile = Callable[[Key, asyncio.Event], Awaitable[float | None]]

BACKOFF_BASE = 1.0
BACKOFF_MAX = 120.0
MIN_REQUEUE = 0.05

logger = logging.getLogger(__name__)


@dataclass
class QueueStats:
    """Counters the operator's metrics read (never reset)."""

    reconciles: int = 0
    failures: int = 0
    adds: int = 0
    collapsed: int = 0
    seen: set[Key] = field(default_factory=set)


class WorkQueue:
    def __init__(self, name: str, reconcile: Reconcile, *, workers: int = 4,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._reconcile = reconcile
        self._workers = workers
        self._clock = clock
        self._ready: deque[Key] = deque()
        self._queued: set[Key] = set()
        self._active: dict[Key, asyncio.Event] = {}
        self._dirty: set[Key] = set()
        self._due: dict[Key, float] = {}
        self._heap: list[tuple[float, int, Key]] = []
        self._sequence = itertools.count()
        self._failures: dict[Key, int] = {}
        self._wakeup = asyncio.Event()
        self._timer_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self.stats = QueueStats()
        # Told of every reconcile (seconds, failed): the operator's metrics.
        self.observer: Callable[[float, bool], None] | None = None

    # -- what the handler layer calls ----------------------------------------------------------

    def add(self, key: Key, *, urgent: bool = False) -> None:
        """Reconcile ``key`` as soon as a worker is free (once, however often it is added)."""
        self.stats.adds += 1
        if key in self._active:
            self._dirty.add(key)
            if urgent:
                self._active[key].set()
            return
        if key in self._queued:
            self.stats.collapsed += 1
            return
        self._queued.add(key)
        self._ready.append(key)
        self._idle.clear()
        self._wakeup.set()

    def add_after(self, key: Key, seconds: float) -> None:
        """Reconcile ``key`` in ``seconds`` (replacing any time set before)."""
        when = self._clock() + max(MIN_REQUEUE, seconds)
        self._due[key] = when
        heapq.heappush(self._heap, (when, next(self._sequence), key))
        if len(self._heap) > 64 and len(self._heap) > 4 * len(self._due):
            # Entries replaced by later add_after calls: drop them rather than let the heap grow.
            self._heap = [entry for entry in self._heap if self._due.get(entry[2]) == entry[0]]
            heapq.heapify(self._heap)
        self._timer_changed.set()

    def forget(self, key: Key) -> None:
        """The object is gone: drop its timer and its backoff (a queued reconcile still runs, and
        finds it gone)."""
        self._due.pop(key, None)
        self._failures.pop(key, None)
        self.stats.seen.discard(key)

    def __len__(self) -> int:
        return len(self._queued) + len(self._active)

    @property
    def scheduled(self) -> int:
        return len(self._due)

    @property
    def reconciled(self) -> int:
        """Distinct keys reconciled since the start (and not forgotten)."""
        return len(self.stats.seen)

    async def drained(self) -> None:
        """Wait until nothing is queued or running (tests)."""
        await self._idle.wait()

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}")
                       for i in range(self._workers)]
        self._tasks.append(asyncio.create_task(self._timers(), name=f"{self.name}-timers"))

    async def stop(self) -> None:
        """Stop taking work; reconciles under way finish (their writes are never cut in half)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            while not self._ready:
                self._wakeup.clear()
                if not self._active:
                    self._idle.set()
                await self._wakeup.wait()
            key = self._ready.popleft()
            self._queued.discard(key)
            interrupt = asyncio.Event()
            self._active[key] = interrupt
            try:
                # Shielded: a stop never cuts a reconcile between its route write and its status write.
                requeue = await asyncio.shield(self._run(key, interrupt))
            finally:
                del self._active[key]
            if key in self._dirty:
                self._dirty.discard(key)
                self.add(key)
            if requeue is None:
                self._due.pop(key, None)
            else:
                self.add_after(key, requeue)

    async def _run(self, key: Key, interrupt: asyncio.Event) -> float | None:
        self.stats.reconciles += 1
        self.stats.seen.add(key)
        started = self._clock()
        try:
            requeue: float | None = await self._reconcile(key, interrupt)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # one object's failure never stops the queue
            self._observe(started, failed=True)
            self.stats.failures += 1
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(BACKOFF_MAX, BACKOFF_BASE * float(2 ** min(failures - 1, 16)))
            where = f"{self.name} {key[0]}/{key[1]}"
            if isinstance(error, (Unavailable, MLflowUnavailable)):
                logger.warning("%s: dependency unavailable, retrying in %.0fs: %s", where, delay, error)
            elif isinstance(error, (KubeError, MLflowError)):
                logger.error("%s: reconcile failed, retrying in %.0fs: %s", where, delay, error)
            else:
                logger.exception("%s: unexpected error, retrying in %.0fs", where, delay)
            return delay
        self._observe(started, failed=False)
        self._failures.pop(key, None)
        return requeue

    def _observe(self, started: float, *, failed: bool) -> None:
        if self.observer is not None:
            self.observer(self._clock() - started, failed)

    async def _timers(self) -> None:
        while True:
            now = self._clock()
            while self._heap and self._heap[0][0] <= now:
                when, _, key = heapq.heappop(self._heap)
                if self._due.get(key) == when:  # not replaced by a later add_after
                    del self._due[key]
                    self.add(key)
            self._timer_changed.clear()
            timeout = (self._heap[0][0] - now) if self._heap else None
            try:
                await asyncio.wait_for(self._timer_changed.wait(), timeout=timeout)
            except TimeoutError:
                pass
