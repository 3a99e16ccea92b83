"""Giving memory back after a burst (reconcilers.trimming): when it trims, and that it does on this
machine's C library."""

from __future__ import annotations

import asyncio
import gc
import json

from modelops.reconcilers import trimming


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_it_trims_only_after_work_and_only_when_idle() -> None:
    assert trimming.due(reconciles=5, last=0, busy=False)
    assert not trimming.due(reconciles=5, last=5, busy=False)  # nothing ran since: at rest it does nothing
    assert not trimming.due(reconciles=9, last=5, busy=True)  # a burst still under way


def test_the_trim_returns_a_burst_s_pages_to_the_system() -> None:
    trim = trimming._malloc_trim()
    assert trim is not None, "glibc's malloc_trim not found: the operator would keep a burst's peak"
    # A burst the way a restart looks: thousands of parsed bodies and their raw strings, let go.
    raw = json.dumps({"spec": {f"k{i}": "v" * 900 for i in range(6)}})
    burst = [(raw + str(i), json.loads(raw)) for i in range(20000)]
    before = _rss_kib()
    del burst
    gc.collect()
    kept = _rss_kib()
    trim()
    assert _rss_kib() <= kept <= before


def test_the_task_trims_once_per_burst() -> None:
    seen: list[tuple[int, bool]] = []
    progress = iter([(0, False), (10, True), (20, False), (20, False), (25, False)])

    def read() -> tuple[int, bool]:
        value = next(progress, (25, False))
        seen.append(value)
        return value

    collected: list[int] = []
    gc.callbacks.append(lambda phase, info: collected.append(1) if phase == "stop" else None)
    gc.disable()  # only the task's own collections are counted

    async def scenario() -> None:
        task = asyncio.create_task(trimming.trim_when_idle(read, every=0.001))
        while len(seen) < 8:
            await asyncio.sleep(0.001)
        task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        gc.enable()
        gc.callbacks.pop()
    # Collections only after (20, idle) and (25, idle): two bursts over, at rest nothing.
    assert len(collected) == 2, collected
