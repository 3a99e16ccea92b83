"""The deletions that must wait for the operator (kopf delete handlers, behind the operator's
finalizer ``modelops.io/finalizer``):

- a **Rollout** leaves its route serving 100% stable, owned by nobody and marked as released, so
  the garbage collector never takes the traffic with it;
- a **ModelVersion** is held while a Rollout still names it (one Warning Event, ``DeletionHeld``),
  then its MLflow version is tagged archived (never deleted) and its InferenceService goes with it
  through the owner reference;
- a **TrainingRun** or a **DriftMonitor** needs nothing (``optional``: no finalizer, so deleting
  them never waits for the operator).

Each then tells the runtime to forget the object's queue entry and timers.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelops.api import GROUP, VERSION
from modelops.handlers.configuring import in_shard
from modelops.k8s.errors import Unavailable
from modelops.registry.records import MLflowError, MLflowUnavailable

ARCHIVE_ATTEMPTS = 5


@kopf.on.delete(GROUP, VERSION, "rollouts", id="release", when=in_shard)
async def release_rollout(namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    try:
        await memo.runtime.rollouts.release(namespace, name)
    except Unavailable as error:
        raise kopf.TemporaryError(f"cannot release the route of {name} yet: {error}", delay=5) from error
    memo.runtime.rollouts.forget(namespace, name)
    memo.runtime.forget("Rollout", namespace, name)


@kopf.on.delete(GROUP, VERSION, "modelversions", id="release", when=in_shard)
async def release_model_version(namespace: str, name: str, status: kopf.Status, memo: kopf.Memo, retry: int,
                                logger: logging.Logger, **_: Any) -> None:
    serving = memo.runtime.serving
    try:
        servers = await serving.servers_of(namespace, name)
    except Unavailable as error:
        raise kopf.TemporaryError(f"cannot check which Rollouts serve {name}: {error}", delay=5) from error
    if servers:
        message = (f"ModelVersion {name} is still named by Rollout(s) {', '.join(servers)}: point them at "
                   "another version (spec.target) before deleting it; deletion is held until then")
        if retry == 0:  # once, not every 10 s while held
            await serving.announce(namespace, name, "Warning", "DeletionHeld", message)
        raise kopf.TemporaryError(message, delay=10)
    try:
        await serving.archive(namespace, name, dict(status))
    except (MLflowUnavailable, MLflowError) as error:
        if retry + 1 < ARCHIVE_ATTEMPTS:
            raise kopf.TemporaryError(f"cannot tag the MLflow version archived yet: {error}", delay=5) from error
        logger.warning("gave up tagging the MLflow version archived after %d attempts: %s", retry + 1, error)
    serving.forget(namespace, name)
    memo.runtime.forget("ModelVersion", namespace, name)


@kopf.on.delete(GROUP, VERSION, "trainingruns", id="forget", optional=True, when=in_shard)
async def forget_training_run(namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    memo.runtime.training.forget(namespace, name)
    memo.runtime.forget("TrainingRun", namespace, name)


@kopf.on.delete(GROUP, VERSION, "driftmonitors", id="forget", optional=True, when=in_shard)
async def forget_drift_monitor(namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    memo.runtime.drift.forget(namespace, name)
    memo.runtime.forget("DriftMonitor", namespace, name)
