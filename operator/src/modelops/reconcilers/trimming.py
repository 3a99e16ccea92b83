"""Giving memory back after a burst: when the work queues have run reconciles since the last look
and are all idle now, collect garbage and ask the C allocator to return its free pages to the
system (glibc's ``malloc_trim``).

Why: a start, a restart or a mass apply parses thousands of watch events at once; CPython frees
those objects, but the allocator keeps the pages it got for them (large strings and buffers live
outside pymalloc's arenas), so the resident size stays at the burst's peak for the life of the
process. Trimming once the burst is over brings it back to what the stores and the queues really
hold. Nothing runs at rest: with no reconcile since the last look, a look costs a comparison.
Elsewhere than glibc (no ``malloc_trim``) only the garbage collection happens.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)
LOOK_EVERY = 10.0


def _malloc_trim() -> Callable[[], None] | None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is None:
        return None
    return lambda: trim(0) and None


def due(reconciles: int, last: int, busy: bool) -> bool:
    """Trim now: work was done since the last trim and none is queued or running."""
    return reconciles != last and not busy


async def trim_when_idle(progress: Callable[[], tuple[int, bool]], every: float = LOOK_EVERY) -> None:
    """Forever: every ``every`` seconds read ``progress()`` — (reconciles run so far, whether any
    queue is busy) — and trim when ``due``."""
    trim = _malloc_trim()
    last = 0
    while True:
        await asyncio.sleep(every)
        reconciles, busy = progress()
        if due(reconciles, last, busy):
            last = reconciles
            gc.collect()
            if trim is not None:
                trim()
            logger.debug("trimmed after %d reconciles", reconciles)
