"""The reconcile engine (``reconcilers.engine.WorkQueue``) and the watch store
(``reconcilers.store.Store``): the guarantees the operator's one-writer-per-status rests on."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from modelops.reconcilers import engine
from modelops.reconcilers.engine import Key, WorkQueue
from modelops.reconcilers.store import Store

A: Key = ("ns", "a")
B: Key = ("ns", "b")


def run(coroutine: Any, timeout: float = 10) -> Any:
    """The scenario, bounded: a hang fails the test instead of the suite (not a speed limit)."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout=timeout))


class Recorder:
    def __init__(self, *, hold: float = 0.0, requeue: float | None = None, fail: int = 0) -> None:
        self.calls: Counter[Key] = Counter()
        self.active: set[Key] = set()
        self.overlap = False
        self.hold, self.requeue, self.fail = hold, requeue, fail
        self.interrupted: list[Key] = []

    async def __call__(self, key: Key, interrupt: asyncio.Event) -> float | None:
        if key in self.active:
            self.overlap = True
        self.active.add(key)
        self.calls[key] += 1
        try:
            if self.hold:
                try:
                    await asyncio.wait_for(interrupt.wait(), timeout=self.hold)
                    self.interrupted.append(key)
                except TimeoutError:
                    pass
            if self.fail > 0:
                self.fail -= 1
                raise RuntimeError("boom")
            return self.requeue
        finally:
            self.active.discard(key)


async def _settle(queue: WorkQueue, seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)
    await queue.drained()


def test_repeated_adds_of_a_queued_key_collapse_into_one_reconcile() -> None:
    async def scenario() -> Recorder:
        recorder = Recorder()
        queue = WorkQueue("t", recorder, workers=2)
        for _ in range(10):
            queue.add(A)
        queue.add(B)
        queue.start()
        await _settle(queue)
        await queue.stop()
        return recorder

    recorder = run(scenario())
    assert recorder.calls == Counter({A: 1, B: 1})


def test_a_key_added_while_it_runs_runs_again_after_and_never_twice_at_once() -> None:
    async def scenario() -> Recorder:
        recorder = Recorder(hold=0.1)
        queue = WorkQueue("t", recorder, workers=4)
        queue.start()
        queue.add(A)
        await asyncio.sleep(0.02)
        for _ in range(5):
            queue.add(A)  # while A runs: marked dirty once
        await asyncio.sleep(0.3)
        await queue.drained()
        await queue.stop()
        return recorder

    recorder = run(scenario())
    assert recorder.calls[A] == 2 and not recorder.overlap


def test_an_urgent_add_interrupts_the_running_reconcile_of_that_key_only() -> None:
    async def scenario() -> Recorder:
        recorder = Recorder(hold=2.0)
        queue = WorkQueue("t", recorder, workers=2)
        queue.start()
        queue.add(A)
        queue.add(B)
        await asyncio.sleep(0.05)
        queue.add(A, urgent=True)
        await asyncio.sleep(0.1)
        await queue.stop()
        return recorder

    recorder = run(scenario())
    assert recorder.interrupted[:1] == [A] and B not in recorder.interrupted


def test_requeue_after_brings_a_key_back_and_a_later_answer_replaces_the_timer() -> None:
    async def scenario() -> tuple[Recorder, WorkQueue]:
        recorder = Recorder(requeue=0.05)
        queue = WorkQueue("t", recorder, workers=1)
        queue.start()
        queue.add(A)
        await asyncio.sleep(0.3)
        recorder.requeue = None  # the next answer: only events bring it back
        await asyncio.sleep(0.2)
        seen = recorder.calls[A]
        await asyncio.sleep(0.2)
        assert recorder.calls[A] == seen, "no timer after a None answer"
        await queue.stop()
        return recorder, queue

    recorder, queue = run(scenario())
    assert recorder.calls[A] >= 3 and queue.scheduled == 0


def test_a_failing_key_backs_off_exponentially_and_resets_on_success(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "BACKOFF_BASE", 0.02)

    async def scenario() -> tuple[Recorder, list[float]]:
        recorder = Recorder(fail=3)
        queue = WorkQueue("t", recorder, workers=1)
        delays: list[float] = []
        original = queue.add_after

        def spy(key: Key, seconds: float) -> None:
            delays.append(seconds)
            original(key, seconds)

        queue.add_after = spy  # type: ignore[method-assign]
        queue.start()
        queue.add(A)
        await asyncio.sleep(0.5)
        await queue.stop()
        return recorder, delays

    recorder, delays = run(scenario())
    assert recorder.calls[A] == 4  # three failures, then the success
    assert delays == [0.02, 0.04, 0.08]


def test_forget_drops_the_timer_of_a_deleted_object() -> None:
    async def scenario() -> int:
        recorder = Recorder(requeue=0.1)
        queue = WorkQueue("t", recorder, workers=1)
        queue.start()
        queue.add(A)
        await asyncio.sleep(0.03)
        queue.forget(A)
        await asyncio.sleep(0.3)
        await queue.stop()
        return recorder.calls[A]

    assert run(scenario()) == 1


def test_many_keys_at_rest_are_heap_entries_not_tasks() -> None:
    async def scenario() -> tuple[int, int]:
        recorder = Recorder(requeue=300.0)
        queue = WorkQueue("t", recorder, workers=4)
        queue.start()
        for i in range(2000):
            queue.add(("ns", f"o{i}"))
        await _settle(queue, 0.2)
        tasks = len(asyncio.all_tasks())
        scheduled = queue.scheduled
        await queue.stop()
        return tasks, scheduled

    tasks, scheduled = run(scenario(), timeout=120)  # 2,000 reconciles: minutes on a loaded 2-core machine
    assert scheduled == 2000 and tasks < 10


# ------------------------------------------------------------------------------------ the store

def _body(name: str, version: str, model: str = "m", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
            "metadata": {"namespace": "ns", "name": name, "resourceVersion": version,
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"model": model}, **extra}


def _by_model() -> dict[str, Any]:
    return {"model": lambda body: [body["spec"]["model"]]}


def test_the_store_never_rolls_an_object_back_to_an_older_version() -> None:
    store = Store("ModelVersion")
    assert store.put(_body("a", "10", status={"ready": True}))
    assert not store.put(_body("a", "9", status={"ready": False}))
    assert store.get("ns", "a")["status"] == {"ready": True}  # type: ignore[index]
    assert store.put(_body("a", "11", status={"ready": False}))
    assert store.get("ns", "a")["status"] == {"ready": False}  # type: ignore[index]


def test_the_store_drops_managed_fields_unless_told_to_keep_them() -> None:
    for keep in (False, True):
        store = Store("x", keep_managed_fields=keep)
        store.put(_body("a", "1"))
        assert ("managedFields" in store.get("ns", "a")["metadata"]) is keep  # type: ignore[index]


def test_the_store_indexes_follow_changes_and_removals() -> None:
    store = Store("ModelVersion", indexes=_by_model())
    store.put(_body("a", "1", model="m1"))
    store.put(_body("b", "1", model="m1"))
    assert store.keys("model", "m1") == [("ns", "a"), ("ns", "b")]
    store.put(_body("a", "2", model="m2"))
    assert store.keys("model", "m1") == [("ns", "b")] and store.keys("model", "m2") == [("ns", "a")]
    store.remove("ns", "b")
    assert store.keys("model", "m1") == [] and [b["metadata"]["name"] for b in store.select("model", "m2")] == ["a"]
