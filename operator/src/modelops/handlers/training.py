"""kopf wiring of TrainingRuns: one daemon per unfinished run is its single writer; Job events and
spec changes wake it at once; a finished run is re-reconciled only when its spec changes.

The daemon exists only while the run is unfinished (the ``when`` filter), so kopf's finalizer,
which guards running daemons, is gone once the run ends: deleting old TrainingRuns never waits
for the operator.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelops.api import GROUP, VERSION
from modelops.core.training.jobs import RUN_LABEL
from modelops.core.training.progress import TERMINAL
from modelops.handlers import driving
from modelops.k8s.errors import Unavailable
from modelops.registry.mlflow import MLflowUnavailable

PLURAL = "trainingruns"
TERMINAL_PHASES = frozenset(p.value for p in TERMINAL)


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    return status.get("phase") not in TERMINAL_PHASES


# cancellation_backoff: kopf first asks the daemon to stop (it exits at its next wait) and only
# cancels it after that; without it kopf cancels at once and logs a warning Event on the run.
@kopf.daemon(GROUP, VERSION, PLURAL, id="drive", when=_unfinished, cancellation_backoff=10,
             cancellation_timeout=30)
async def drive(namespace: str, name: str, memo: kopf.Memo, stopped: kopf.DaemonStopped,
                logger: logging.Logger, **_: Any) -> None:
    event = driving.waker(memo.training_wakers, namespace, name)
    await driving.drive(lambda: memo.training.reconcile(namespace, name), event, stopped, logger)


@kopf.on.update(GROUP, VERSION, PLURAL, id="spec-changed", field="spec")
async def spec_changed(namespace: str, name: str, memo: kopf.Memo, status: kopf.Status, **_: Any) -> None:
    if status.get("phase") in TERMINAL_PHASES:
        # No daemon runs for a finished run: acknowledge the new generation here.
        try:
            await memo.training.reconcile(namespace, name)
        except (Unavailable, MLflowUnavailable) as error:
            raise kopf.TemporaryError(str(error), delay=10) from error
    else:
        driving.wake(memo.training_wakers, namespace, name)


@kopf.on.event("batch", "v1", "jobs", labels={RUN_LABEL: kopf.PRESENT})
def job_changed(body: kopf.Body, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    driving.wake_owner(memo.training_wakers, body, namespace, "TrainingRun")


@kopf.on.delete(GROUP, VERSION, PLURAL, id="forget", optional=True)
async def forget(namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    memo.training_wakers.pop((namespace, name), None)
    memo.training.forget(namespace, name)
