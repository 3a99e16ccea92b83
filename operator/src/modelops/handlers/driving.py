"""The per-object daemon loop every reconciler runs in: reconcile, then sleep until woken (a
child's event, a spec change), stopped, or the reconcile's own requeue time passes.

Failures never end the loop: an unavailable dependency (API server, MLflow) is retried with
backoff and a warning; anything else is logged with its traceback and retried the same way.
One loop per object is that object's single status writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from modelops.api import GROUP
from modelops.k8s.errors import KubeError, Unavailable
from modelops.registry.mlflow import MLflowError, MLflowUnavailable

RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
IDLE_RECHECK_SECONDS = 300.0

Wakers = dict[tuple[str | None, str | None], asyncio.Event]


def waker(wakers: Wakers, namespace: str | None, name: str | None) -> asyncio.Event:
    return wakers.setdefault((namespace, name), asyncio.Event())


def wake(wakers: Wakers, namespace: str | None, name: str | None) -> None:
    event = wakers.get((namespace, name))
    if event is not None:
        event.set()


def wake_owner(wakers: Wakers, body: Mapping[str, Any], namespace: str | None, kind: str) -> None:
    """A child changed (a Job, an InferenceService): wake the modelops object that owns it."""
    for owner in (body.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("kind") == kind and str(owner.get("apiVersion", "")).startswith(f"{GROUP}/"):
            wake(wakers, namespace, owner.get("name"))


async def drive(reconcile: Callable[[], Awaitable[float | None]], event: asyncio.Event,
                stopped: kopf.DaemonStopped, logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
                idle: float = IDLE_RECHECK_SECONDS) -> None:
    failures = 0
    while not stopped:
        event.clear()
        delay: float | None
        try:
            # Shielded: a daemon stopped mid-reconcile still completes the reconcile's writes.
            delay = await asyncio.shield(reconcile())
            failures = 0
        except (Unavailable, MLflowUnavailable) as error:
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
            failures += 1
            logger.warning("dependency unavailable, retrying in %.0fs: %s", delay, error)
        except (KubeError, MLflowError) as error:
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
            failures += 1
            logger.error("reconcile failed, retrying in %.0fs: %s", delay, error)
        except Exception:  # never let one object's bug stop its loop for good
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
            failures += 1
            logger.exception("unexpected error, retrying in %.0fs", delay)
        await _sleep(event, stopped, delay if delay is not None else idle)


async def _sleep(event: asyncio.Event, stopped: kopf.DaemonStopped, seconds: float) -> None:
    woken = asyncio.ensure_future(event.wait())
    stopping = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({woken, stopping}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
        stopping.cancel()
