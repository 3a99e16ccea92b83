"""kopf wiring of ModelVersions: one daemon per ModelVersion is its single writer, woken by spec
changes, by events of the InferenceService it owns (a deleted one is recreated at once) and by
Rollouts of its namespace (its role). Deletion is held by the finalizer while a Rollout still
names the version; otherwise the registry version is tagged archived (never deleted) and the
InferenceService goes with the ModelVersion through its owner reference.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelops.api import GROUP, VERSION
from modelops.core.serving.inference import MODELVERSION_LABEL
from modelops.handlers import driving
from modelops.k8s.errors import Unavailable
from modelops.registry.mlflow import MLflowError, MLflowUnavailable

PLURAL = "modelversions"
ARCHIVE_ATTEMPTS = 5


@kopf.daemon(GROUP, VERSION, PLURAL, id="drive", cancellation_backoff=10, cancellation_timeout=30)
async def drive(namespace: str, name: str, memo: kopf.Memo, stopped: kopf.DaemonStopped,
                logger: logging.Logger, **_: Any) -> None:
    event = driving.waker(memo.serving_wakers, namespace, name)
    await driving.drive(lambda: memo.serving.reconcile(namespace, name), event, stopped, logger)


@kopf.on.update(GROUP, VERSION, PLURAL, id="spec-changed", field="spec")
def spec_changed(namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    driving.wake(memo.serving_wakers, namespace, name)


@kopf.on.event("serving.kserve.io", "v1beta1", "inferenceservices", labels={MODELVERSION_LABEL: kopf.PRESENT})
def inference_service_changed(body: kopf.Body, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    driving.wake_owner(memo.serving_wakers, body, namespace, "ModelVersion")


@kopf.on.event(GROUP, VERSION, "rollouts")
def rollout_changed(namespace: str, memo: kopf.Memo, **_: Any) -> None:
    # Roles follow the Rollouts' status: wake this namespace's ModelVersions (cheap: each one
    # re-reads and writes only if its role or anything else changed).
    for (ns, _name), event in list(memo.serving_wakers.items()):
        if ns == namespace:
            event.set()


@kopf.on.delete(GROUP, VERSION, PLURAL, id="release")
async def release(namespace: str, name: str, status: kopf.Status, memo: kopf.Memo, retry: int,
                  logger: logging.Logger, **_: Any) -> None:
    try:
        servers = await memo.serving.servers_of(namespace, name)
    except Unavailable as error:
        raise kopf.TemporaryError(f"cannot check which Rollouts serve {name}: {error}", delay=5) from error
    if servers:
        message = (f"ModelVersion {name} is still named by Rollout(s) {', '.join(servers)}: point them at "
                   "another version (spec.target) before deleting it; deletion is held until then")
        if retry == 0:  # once, not every 10 s while held
            await memo.serving.announce(namespace, name, "Warning", "DeletionHeld", message)
        raise kopf.TemporaryError(message, delay=10)
    try:
        await memo.serving.archive(namespace, name, dict(status))
    except (MLflowUnavailable, MLflowError) as error:
        if retry + 1 < ARCHIVE_ATTEMPTS:
            raise kopf.TemporaryError(f"cannot tag the MLflow version archived yet: {error}", delay=5) from error
        logger.warning("gave up tagging the MLflow version archived after %d attempts: %s", retry + 1, error)
    memo.serving_wakers.pop((namespace, name), None)
    memo.serving.forget(namespace, name)
