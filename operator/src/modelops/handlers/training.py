"""kopf wiring of TrainingRuns: one daemon per unfinished run is its single writer; Job events and
spec changes wake it at once; a finished run is re-reconciled only when its spec changes.

The daemon exists only while the run is unfinished (the ``when`` filter), so kopf's finalizer,
which guards running daemons, is gone once the run ends: deleting old TrainingRuns never waits
for the operator.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from modelops.api import GROUP, VERSION
from modelops.core.training.jobs import RUN_LABEL
from modelops.core.training.progress import TERMINAL
from modelops.k8s.errors import KubeError, Unavailable
from modelops.registry.mlflow import MLflowError, MLflowUnavailable

PLURAL = "trainingruns"
TERMINAL_PHASES = frozenset(p.value for p in TERMINAL)
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
IDLE_RECHECK_SECONDS = 300.0


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    return status.get("phase") not in TERMINAL_PHASES


def _waker(memo: kopf.Memo, namespace: str | None, name: str | None) -> asyncio.Event:
    wakers: dict[tuple[str | None, str | None], asyncio.Event] = memo.wakers
    return wakers.setdefault((namespace, name), asyncio.Event())


# cancellation_backoff: kopf first asks the daemon to stop (it exits at its next wait) and only
# cancels it after that; without it kopf cancels at once and logs a warning Event on the run.
@kopf.daemon(GROUP, VERSION, PLURAL, id="drive", when=_unfinished, cancellation_backoff=10,
             cancellation_timeout=30)
async def drive(namespace: str, name: str, memo: kopf.Memo, stopped: kopf.DaemonStopped,
                logger: logging.Logger, **_: Any) -> None:
    waker = _waker(memo, namespace, name)
    failures = 0
    while not stopped:
        waker.clear()
        try:
            # Shielded: a daemon stopped mid-reconcile (its run just finished) still completes
            # the reconcile's writes instead of leaving half of them done.
            delay = await asyncio.shield(memo.training.reconcile(namespace, name))
            failures = 0
        except (Unavailable, MLflowUnavailable) as error:
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
            failures += 1
            logger.warning("dependency unavailable, retrying in %.0fs: %s", delay, error)
        except (KubeError, MLflowError) as error:
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
            failures += 1
            logger.error("reconcile failed, retrying in %.0fs: %s", delay, error)
        except Exception:  # never let one object's bug stop its daemon for good
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
            failures += 1
            logger.exception("unexpected error, retrying in %.0fs", delay)
        await _sleep(waker, stopped, delay if delay is not None else IDLE_RECHECK_SECONDS)


async def _sleep(waker: asyncio.Event, stopped: kopf.DaemonStopped, seconds: float) -> None:
    """Until woken (a Job event, a spec change), stopped, or ``seconds`` pass."""
    woken = asyncio.ensure_future(waker.wait())
    stopping = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({woken, stopping}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
        stopping.cancel()


@kopf.on.update(GROUP, VERSION, PLURAL, id="spec-changed", field="spec")
async def spec_changed(namespace: str, name: str, memo: kopf.Memo, status: kopf.Status, **_: Any) -> None:
    if status.get("phase") in TERMINAL_PHASES:
        # No daemon runs for a finished run: acknowledge the new generation here.
        try:
            await memo.training.reconcile(namespace, name)
        except (Unavailable, MLflowUnavailable) as error:
            raise kopf.TemporaryError(str(error), delay=10) from error
    else:
        _waker(memo, namespace, name).set()


@kopf.on.event("batch", "v1", "jobs", labels={RUN_LABEL: kopf.PRESENT})
def job_changed(body: kopf.Body, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    for owner in body.metadata.get("ownerReferences") or []:
        if owner.get("kind") == "TrainingRun" and owner.get("apiVersion", "").startswith(GROUP + "/"):
            waker = memo.wakers.get((namespace, owner.get("name")))
            if waker is not None:
                waker.set()


@kopf.on.delete(GROUP, VERSION, PLURAL, id="forget", optional=True)
async def forget(namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    memo.wakers.pop((namespace, name), None)
    memo.training.forget(namespace, name)
