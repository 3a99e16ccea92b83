"""The sink: events and labels in, durable Parquet out.

Owns the life of a record between the HTTP handler and the store, and the background work:

1. **accept** (:meth:`Sink.accept`): a duplicate (same id and kind already held, or flushed within
   the dedupe window) is dropped; past ``bufferRecords`` held in memory the caller gets
   :class:`Overloaded` (503); else the half is flattened (signature names), redacted, appended to
   the spool and — once fsynced — paired. Only then is the event acknowledged.
2. **flush** (every ``flushInterval``, or early when ``flushRows`` calls are complete): complete
   calls, lone halves older than ``pairTimeout`` and pending labels are written as one flush:
   a *begin* marker naming them (fsynced), the Parquet files (deterministic names), a *done*
   marker. A flush that fails is retried as it was (same number, same rows) before anything new.
3. **start** replays the spool: flushes begun but not done are redone (files already there are
   skipped), halves and labels not in a done flush are held again, halves flushed within the
   dedupe window are remembered. So a SIGKILL at any point loses no acknowledged record, and writes
   none twice.
4. **stop** (SIGTERM) writes everything held, lone halves included, and closes the spool.
5. **compaction** and **retention** run in threads every ``compaction.interval``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from modelops.core.durations import parse_duration
from modelops.logsink import compaction, retention
from modelops.logsink.config import LogSinkConfig
from modelops.logsink.events import LoggedEvent
from modelops.logsink.layout import Store
from modelops.logsink.metrics import SinkMetrics
from modelops.logsink.pairing import Pairing
from modelops.logsink.parquet import write_flush
from modelops.logsink.payloads import request_features, response_outputs
from modelops.logsink.records import REQUEST, Half, HalfKey, Label, Pair, flush_begin, flush_done, to_us
from modelops.logsink.redaction import Redactor
from modelops.logsink.signatures import Signatures
from modelops.logsink.spool import Spool

log = logging.getLogger(__name__)


class Overloaded(RuntimeError):
    """More records held than ``bufferRecords``: answer 503 with ``Retry-After``."""


class Sink:
    def __init__(self, config: LogSinkConfig, *, store: Store, spool: Spool, signatures: Signatures,
                 redactor: Redactor, metrics: SinkMetrics, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store, self.spool, self.signatures = store, spool, signatures
        self.redactor, self.metrics, self.clock = redactor, metrics, clock
        self.pairing = Pairing(config.seconds(config.pair_timeout), config.seconds(config.dedupe_window))
        self.labels: list[Label] = []
        self.cap = config.buffer_records
        self._accepting: set[HalfKey] = set()
        self._next_flush = 1
        self._retry: tuple[int, list[Pair], list[Label]] | None = None
        self._flush_lock = asyncio.Lock()
        self._flush_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._touched: set[str] = set()
        self.ready = False

    # -- accepting ---------------------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        return len(self.pairing) + len(self.labels) + len(self._accepting)

    def _update_gauges(self) -> None:
        self.metrics.buffered.set(self.buffered)
        self.metrics.spool_depth.set(self.spool.depth)
        self.metrics.spool_bytes.set(self.spool.size)
        self.metrics.spool_commits.set(self.spool.commits)

    async def _half(self, event: LoggedEvent) -> Half:
        half = Half(
            id=event.id, kind=event.kind, time_us=to_us(event.time), received=self.clock(),
            namespace=event.namespace, model=event.model, version=event.version, modelversion=event.modelversion,
            stage=event.stage, inference_service=event.inference_service, component=event.component,
            endpoint=event.endpoint, source=event.source,
        )
        if event.kind == REQUEST:
            names = await self.signatures.input_names(event.namespace, event.modelversion)
            half.features = self.redactor.features(request_features(event.payload, names))
        else:
            half.outputs = response_outputs(event.payload)
        return half

    async def accept(self, event: LoggedEvent) -> bool:
        """Make one half durable and pair it; False if it was a duplicate (dropped, still a success)."""
        key = (event.id, event.kind)
        if self.pairing.seen(key) or key in self._accepting:
            self.metrics.duplicates.inc()
            return False
        if self.buffered >= self.cap:
            self.metrics.overloaded.inc()
            self._flush_wanted.set()
            raise Overloaded(f"{self.buffered} records held, the cap is {self.cap}")
        half = await self._half(event)
        if self.pairing.seen(key) or key in self._accepting:  # a twin arrived while the signature loaded
            self.metrics.duplicates.inc()
            return False
        self._accepting.add(key)
        try:
            half.segment = await self.spool.append(half.entry())
        finally:
            self._accepting.discard(key)
        self.spool.hold(half.segment)
        self.metrics.seen(half)
        pair = self.pairing.add(half)
        self.metrics.events_by_kind[event.kind].inc()
        if pair is not None:
            self.metrics.call(pair)
            if len(self.pairing.complete) >= self.config.flush_rows:
                self._flush_wanted.set()
        if self.buffered >= self.cap // 2:
            self._flush_wanted.set()
        return True

    async def accept_labels(self, labels: list[Label]) -> None:
        """Make joined labels durable (one spool write), then count their outcomes."""
        if self.buffered + len(labels) > self.cap:
            self.metrics.overloaded.inc()
            raise Overloaded(f"{self.buffered} records held, the cap is {self.cap}")
        segment = await self.spool.append(b"".join(label.entry() for label in labels))
        for label in labels:
            label.segment = segment
            if label.metric and label.outcome:
                self.metrics.outcome(label.namespace, label.model, label.modelversion, label.stage,
                                     label.metric, label.outcome)
        self.spool.hold(segment, len(labels))
        self.labels.extend(labels)
        self.metrics.labels.inc(len(labels))

    def in_memory(self) -> list[Pair]:
        """Calls not written yet (labels may be about them)."""
        pairs = list(self.pairing.pending.values()) + list(self.pairing.complete)
        if self._retry is not None:
            pairs += self._retry[1]
        return pairs

    # -- flushing ----------------------------------------------------------------------------------

    async def flush(self, *, everything: bool = False) -> int:
        """Write what is ready (everything held with ``everything``); returns rows written."""
        async with self._flush_lock:
            written = 0
            if self._retry is not None:
                written += await self._write(*self._retry)
            pairs = self.pairing.take_complete()
            lone = self.pairing.expired(self.clock(), everything=everything)
            for pair in lone:
                self.metrics.call(pair)
            labels, self.labels = self.labels, []
            if pairs or lone or labels:
                number, self._next_flush = self._next_flush, self._next_flush + 1
                self._retry = (number, pairs + lone, labels)
                written += await self._write(*self._retry)
            self.spool.trim(self.config.seconds(self.config.dedupe_window))
            self._update_gauges()
            return written

    async def _write(self, number: int, pairs: list[Pair], labels: list[Label]) -> int:
        keys = [half.key for pair in pairs for half in pair.halves()]
        started = time.monotonic()
        try:
            await self.spool.append(flush_begin(number, keys, [label.label_id for label in labels]))
            result = await asyncio.to_thread(write_flush, self.store, number, pairs, labels)
            await self.spool.append(flush_done(number))
        except Exception:
            self.metrics.flush_errors.inc()
            log.exception("flush %d failed (%d calls, %d labels): kept, retried next time", number, len(pairs),
                          len(labels))
            raise
        self._retry = None
        self.pairing.flushed(keys, self.clock())
        for pair in pairs:
            for half in pair.halves():
                self.spool.release(half.segment)
        for label in labels:
            self.spool.release(label.segment)
        self.spool.rotate()
        self._touched.update(result.directories)
        self.metrics.rows.inc(result.rows)
        self.metrics.bytes.inc(result.bytes)
        self.metrics.flush_seconds.observe(time.monotonic() - started)
        return result.rows

    # -- start and stop ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Replay the spool, redo unfinished flushes, then start the background loops."""
        halves: dict[HalfKey, Half] = {}
        labels: dict[str, Label] = {}
        begun: dict[int, tuple[list[HalfKey], list[str]]] = {}
        done: set[int] = set()
        for segment, entry in self.spool.replay():
            kind = entry.get("e")
            if kind == "h":
                half = Half.from_entry(entry, segment)
                halves.setdefault(half.key, half)
            elif kind == "l":
                label = Label.from_entry(entry, segment)
                labels[label.label_id] = label
            elif kind == "b":
                begun[int(entry["f"])] = ([(k[0], k[1]) for k in entry["h"]], list(entry["l"]))
            elif kind == "d":
                done.add(int(entry["f"]))
        self._next_flush = max(begun, default=0) + 1
        self.spool.start()
        now = self.clock()
        for number in sorted(begun):
            keys, label_ids = begun[number]
            if number in done:
                for key in keys:
                    halves.pop(key, None)
                for label_id in label_ids:
                    labels.pop(label_id, None)
                self.pairing.remember(keys, now)
                continue
            pairs = _pairs_of([halves.pop(k) for k in keys if k in halves])
            redo = [labels.pop(i) for i in label_ids if i in labels]
            log.info("redoing flush %d after a restart (%d calls, %d labels)", number, len(pairs), len(redo))
            for half in (h for p in pairs for h in p.halves()):
                self.pairing.keys.add(half.key)
                self.spool.hold(half.segment)
            for label in redo:
                self.spool.hold(label.segment)
            self._retry = (number, pairs, redo)
            try:
                await self._write(number, pairs, redo)
            except Exception:  # the store is down: retried by the first flush
                log.warning("flush %d could not be redone yet; the first flush retries it", number)
        for half in halves.values():  # in spool order: pending ones expire in arrival order
            self.spool.hold(half.segment)
            self.metrics.seen(half)
            self.pairing.add(half)  # completed here: counted before the restart, not again
        for label in labels.values():
            self.spool.hold(label.segment)
            self.labels.append(label)
        self._touched |= await asyncio.to_thread(
            compaction.recent_directories, self.store, datetime.now(UTC), self.config.compaction.lookback_days)
        self._update_gauges()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._flusher(), name="flusher"),
                       loop.create_task(self._maintainer(), name="maintenance")]
        self.ready = True

    async def _flusher(self) -> None:
        interval = self.config.seconds(self.config.flush_interval)
        while True:
            try:
                await asyncio.wait_for(self._flush_wanted.wait(), timeout=interval)
            except TimeoutError:
                pass
            self._flush_wanted.clear()
            try:
                await self.flush()
            except Exception:  # logged in _write; the loop must live on
                await asyncio.sleep(min(interval, 5.0))

    async def _maintainer(self) -> None:
        interval = self.config.seconds(self.config.compaction.interval)
        while True:
            try:
                await self.maintain()
            except Exception:  # storage trouble: try again next interval
                log.exception("compaction or retention failed")
            await asyncio.sleep(interval)

    async def maintain(self) -> None:
        """One round of compaction (closed hours written to) and retention."""
        now = datetime.now(UTC)
        grace = parse_duration(self.config.compaction.grace)
        for directory in sorted(self._touched):
            try:
                merged, settled = await asyncio.to_thread(compaction.compact, self.store, directory, now, grace)
            except Exception:  # one directory's trouble (storage, a bad file) must not stop the others
                log.exception("compacting %s failed; tried again next round", directory)
                continue
            self.metrics.compacted.inc(merged)
            if settled:
                self._touched.discard(directory)
        if self.config.retention_days:
            deleted = await asyncio.to_thread(retention.apply, self.store, now, self.config.retention_days)
            self.metrics.retention_deleted.inc(len(deleted))
            if deleted:
                self._touched = {d for d in self._touched if not any(d.startswith(x) for x in deleted)}

    async def stop(self) -> None:
        """SIGTERM: stop the loops, write everything held, close the spool."""
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.flush(everything=True)
        except Exception:  # stays in the spool for the next start
            log.exception("final flush failed: records stay in the spool for the next start")
        await self.spool.close()
        await self.signatures.close()


def _pairs_of(halves: list[Half]) -> list[Pair]:
    by_id: dict[str, Pair] = {}
    for half in halves:
        pair = by_id.setdefault(half.id, Pair())
        if half.kind == REQUEST:
            pair.request = half
        else:
            pair.response = half
    return list(by_id.values())


def describe(sink: Sink) -> dict[str, Any]:
    """What ``/readyz`` says."""
    return {"ready": sink.ready, "buffered": sink.buffered, "spoolDepth": sink.spool.depth,
            "pending": len(sink.pairing.pending), "complete": len(sink.pairing.complete)}
