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
from modelops.core.serving.inference import MODEL_LABEL, MODELVERSION_LABEL
from modelops.handlers import driving
from modelops.k8s.errors import Unavailable
from modelops.registry.mlflow import MLflowError, MLflowUnavailable

PLURAL = "modelversions"
# Label of the objects a Rollout's router owns (modelops.routers.interface).
ROLLOUT_LABEL = "modelops.io/rollout"
ARCHIVE_ATTEMPTS = 5


@kopf.daemon(GROUP, VERSION, PLURAL, id="drive", cancellation_backoff=10, cancellation_timeout=30)
async def drive(namespace: str, name: str, memo: kopf.Memo, stopped: kopf.DaemonStopped,
                logger: logging.Logger, **_: Any) -> None:
    event = driving.waker(memo.serving_wakers, namespace, name)
    await driving.drive(lambda: memo.serving.reconcile(namespace, name), event, stopped, logger)


@kopf.on.update(GROUP, VERSION, PLURAL, id="spec-changed", field="spec")
def spec_changed(namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    driving.wake(memo.serving_wakers, namespace, name)


@kopf.index(GROUP, VERSION, PLURAL)
def modelversions_by_model(namespace: str, name: str, spec: kopf.Spec, **_: Any) -> dict[tuple[str, Any], str]:
    """(namespace, model) -> ModelVersion names: which versions a Rollout's change concerns."""
    return {(namespace, spec.get("model")): name}


def _wake_model(memo: kopf.Memo, index: kopf.Index[tuple[str, Any], str], namespace: str, model: Any) -> None:
    for name in index.get((namespace, model), []):
        driving.wake(memo.serving_wakers, namespace, name)


@kopf.on.event("serving.kserve.io", "v1beta1", "inferenceservices", labels={MODELVERSION_LABEL: kopf.PRESENT})
def inference_service_changed(body: kopf.Body, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    driving.wake_owner(memo.serving_wakers, body, namespace, "ModelVersion")


@kopf.on.event("serving.kserve.io", "v1beta1", "inferenceservices", id="shared-inference-service-changed",
               labels={ROLLOUT_LABEL: kopf.PRESENT})
def shared_inference_service_changed(labels: kopf.Labels, namespace: str, memo: kopf.Memo,
                                     modelversions_by_model: kopf.Index[tuple[str, Any], str], **_: Any) -> None:
    # A kserve router's InferenceService deploys its model's versions: their readiness is in it.
    _wake_model(memo, modelversions_by_model, namespace, labels.get(MODEL_LABEL))


@kopf.on.event(GROUP, VERSION, "rollouts")
def rollout_changed(namespace: str, spec: kopf.Spec, memo: kopf.Memo,
                    modelversions_by_model: kopf.Index[tuple[str, Any], str], **_: Any) -> None:
    # Roles follow the Rollouts' status: wake the versions of this Rollout's model (each re-reads
    # and writes only if its role or anything else changed).
    _wake_model(memo, modelversions_by_model, namespace, spec.get("model"))


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
