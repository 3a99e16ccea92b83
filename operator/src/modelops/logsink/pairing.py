"""Pairing: the two halves of a call (same ``ce-id``) meet here, in either order.

Owns the in-memory state between acknowledgement and Parquet, and the duplicate check:

- ``pending``: calls with one half, in arrival order; a call whose first half arrived more than
  ``timeout`` seconds ago is *expired* and written alone, the other side null (KServe logs no
  response for a failed call, so a lone request is the normal trace of an error);
- ``complete``: calls with both halves, waiting for the next flush;
- ``keys``: every half in memory (pending, complete or being flushed) and, for ``window`` seconds
  after its flush, every half already written: a half seen again is a duplicate (a client that
  resent after losing our answer) and is dropped.

Pure bookkeeping: no I/O, no clock of its own (``now`` is passed in).
"""

from __future__ import annotations

from collections import deque

from modelops.logsink.records import REQUEST, Half, HalfKey, Pair


class Pairing:
    def __init__(self, timeout: float, window: float) -> None:
        self.timeout = timeout
        self.window = window
        self.pending: dict[str, Pair] = {}
        self.complete: list[Pair] = []
        self.keys: set[HalfKey] = set()
        self._recent: deque[tuple[float, list[HalfKey]]] = deque()
        self._recent_count = 0

    def __len__(self) -> int:
        """Halves held in memory (the buffer the 503 cap bounds)."""
        return len(self.keys) - self._recent_count

    def seen(self, key: HalfKey) -> bool:
        return key in self.keys

    def add(self, half: Half) -> Pair | None:
        """Take one half; return the call if this completed it. The caller checked :meth:`seen`."""
        self.keys.add(half.key)
        pair = self.pending.pop(half.id, None)
        if pair is None:
            self.pending[half.id] = Pair(request=half) if half.kind == REQUEST else Pair(response=half)
            return None
        if half.kind == REQUEST:
            pair.request = half
        else:
            pair.response = half
        self.complete.append(pair)
        return pair

    def expired(self, now: float, *, everything: bool = False) -> list[Pair]:
        """Remove and return the lone calls older than the timeout (all of them with ``everything``)."""
        cutoff = now - self.timeout
        out = []
        for call_id, pair in list(self.pending.items()):
            if not everything and pair.first.received > cutoff:
                break
            out.append(pair)
            del self.pending[call_id]
        return out

    def take_complete(self) -> list[Pair]:
        out, self.complete = self.complete, []
        return out

    def restore(self, pairs: list[Pair]) -> None:
        """Give back what a failed flush took (completed calls stay complete, lone ones lone)."""
        for pair in pairs:
            if pair.complete:
                self.complete.append(pair)
            else:
                self.pending[pair.id] = pair

    def flushed(self, keys: list[HalfKey], now: float) -> None:
        """These halves are in Parquet: remember them for the dedupe window, then forget them."""
        self._recent.append((now, keys))
        self._recent_count += len(keys)
        self.forget(now)

    def forget(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self.window:
            _, keys = self._recent.popleft()
            self._recent_count -= len(keys)
            self.keys.difference_update(keys)

    def remember(self, keys: list[HalfKey], when: float) -> None:
        """On replay: halves flushed before the restart, still inside the dedupe window."""
        self.keys.update(keys)
        self._recent.append((when, keys))
        self._recent_count += len(keys)
