"""The append-only local spool: what makes a 2xx mean "durable".

Owns the segment files and their lifecycle, and the group commit; not what the entries mean
(records.py) nor what is replayed into what (sink.py).

- **Segments** ``seg-000000000001.log``: one JSON entry per line, only ever appended. A new
  segment is started at every start (a torn tail of the old one is never appended to) and when the
  sink asks (:meth:`rotate`, after each flush), its directory entry fsynced.
- **Group commit**: :meth:`append` queues bytes and waits; one writer thread takes everything
  queued, writes it with one ``write`` and one ``fdatasync``, and wakes every waiter — so the cost
  of an fsync is shared by all requests that arrived during the previous one, and a caller is
  woken only once its bytes are on disk (SIGKILL-proof, and power-loss-proof as far as the disk
  honours fdatasync).
- **Replay** (:meth:`replay`) yields every entry of every segment in order; a last line without its
  newline or not parseable (the write a crash cut short: its caller was never answered) is dropped
  and the file truncated to the last good line.
- **Trimming**: the sink counts, per segment, the entries not yet in Parquet
  (:meth:`hold`/:meth:`release`); :meth:`trim` deletes the oldest segments while every one of them
  has none left and was last written longer than ``keep`` seconds ago. Deleting only a prefix keeps
  a flush's markers alive as long as any older entry is, and ``keep`` is the dedupe window: a
  client that resends an event it never saw acknowledged still finds its id in the spool.

Hand-written: no library offers an fsync'd, group-committed append-only log for asyncio; the
file handling is a few dozen lines of ``os`` calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
PREFIX, SUFFIX = "seg-", ".log"


class SpoolError(RuntimeError):
    """The spool cannot be written (disk full, I/O error): nothing can be acknowledged."""


@dataclass
class Segment:
    number: int
    path: Path
    size: int = 0
    live: int = 0
    last_write: float = field(default_factory=time.time)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, directory: str | Path, *, sync: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sync = sync
        self._clock = clock
        self.segments: dict[int, Segment] = {}
        self._active: Segment | None = None
        self._fd: int | None = None
        self._queue: list[bytes] = []
        self._waiters: list[asyncio.Future[int]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._rotate = False
        self._closing = False
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self.bytes_written = 0
        self.commits = 0
        self.corrupt_lines = 0

    # -- replay ------------------------------------------------------------------------------

    def _existing(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob(f"{PREFIX}*{SUFFIX}"):
            digits = path.name[len(PREFIX):-len(SUFFIX)]
            if digits.isdigit():
                found.append((int(digits), path))
        return sorted(found)

    def replay(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(segment, entry)`` for every entry already in the spool, oldest first."""
        existing = self._existing()
        for index, (number, path) in enumerate(existing):
            data = path.read_bytes()
            good = 0
            lines = data.split(b"\n")
            for position, line in enumerate(lines):
                last = position == len(lines) - 1
                if last and line:  # no newline: a write cut short
                    break
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    if index == len(existing) - 1 and position >= len(lines) - 2:
                        break  # the torn tail of the newest segment
                    self.corrupt_lines += 1
                    log.error("spool %s: unreadable line %d skipped", path.name, position + 1)
                    good += len(line) + 1
                    continue
                good += len(line) + 1
                yield number, entry
            if good != len(data):
                log.warning("spool %s: %d bytes of a write cut short dropped", path.name, len(data) - good)
                os.truncate(path, good)
            self.segments[number] = Segment(number, path, size=good, last_write=path.stat().st_mtime)

    # -- writing -----------------------------------------------------------------------------

    def _open_next(self) -> None:
        """Close the active segment and start the next one (writer thread, or before it runs)."""
        number = max(self.segments, default=0) + 1
        path = self.directory / f"{PREFIX}{number:012d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        if self.sync:
            _fsync_directory(self.directory)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd
        segment = Segment(number, path, last_write=self._clock())
        with self._lock:
            self.segments[number] = segment
            self._active = segment

    def start(self) -> None:
        """Open a fresh segment and start the writer (call once, after :meth:`replay`, on the loop)."""
        self._open_next()
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._writer(), name="spool-writer")

    @property
    def active(self) -> int:
        assert self._active is not None
        return self._active.number

    def _write(self, data: bytes, rotate: bool) -> int:
        if rotate:
            self._open_next()
        assert self._fd is not None and self._active is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self.sync:
            os.fdatasync(self._fd)
        self._active.size += len(data)
        self._active.last_write = self._clock()
        return self._active.number

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue or self._rotate:
                batch, waiters = self._queue, self._waiters
                self._queue, self._waiters = [], []
                rotate, self._rotate = self._rotate, False
                try:
                    number = await loop.run_in_executor(self._executor, self._write, b"".join(batch), rotate)
                except OSError as error:
                    log.error("spool write failed: %s", error)
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(SpoolError(f"spool write failed: {error.strerror}"))
                    continue
                self.bytes_written += sum(map(len, batch))
                self.commits += 1
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(number)
            if self._closing:
                return

    async def append(self, data: bytes) -> int:
        """Queue ``data`` (whole lines) and return the segment holding it once it is on disk."""
        if self._closing or self._wake is None:
            raise SpoolError("spool closed")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(data)
        self._waiters.append(future)
        self._wake.set()
        return await future

    def rotate(self) -> None:
        """Start a new segment before the next write (so older ones can be trimmed)."""
        self._rotate = True
        if self._wake is not None:
            self._wake.set()

    # -- trimming ----------------------------------------------------------------------------

    def hold(self, segment: int, count: int = 1) -> None:
        found = self.segments.get(segment)
        if found is not None:
            found.live += count

    def release(self, segment: int, count: int = 1) -> None:
        found = self.segments.get(segment)
        if found is not None:
            found.live = max(0, found.live - count)

    def trim(self, keep: float) -> list[int]:
        """Delete the oldest segments that hold nothing unflushed and were last written ``keep``
        seconds ago or more; never the active one. Returns the numbers deleted."""
        now = self._clock()
        deleted = []
        with self._lock:
            active = self._active.number if self._active is not None else None
            for number in sorted(self.segments):
                segment = self.segments[number]
                if number == active or segment.live > 0 or now - segment.last_write < keep:
                    break
                try:
                    segment.path.unlink()
                except FileNotFoundError:
                    pass
                del self.segments[number]
                deleted.append(number)
        return deleted

    @property
    def depth(self) -> int:
        """Entries in the spool not yet in Parquet."""
        return sum(segment.live for segment in self.segments.values())

    @property
    def size(self) -> int:
        return sum(segment.size for segment in self.segments.values())

    async def close(self) -> None:
        """Write what is queued, then stop the writer and close the file."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._executor.shutdown(wait=True)
