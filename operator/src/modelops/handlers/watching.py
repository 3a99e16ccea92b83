"""kopf wiring of every watched kind, the same way: each watch event goes to the runtime, which keeps
the object in its store and enqueues the keys it concerns (``reconcilers.runtime`` has the table).
No handler here decides anything, writes anything or sleeps: they are async and return at once, so
a watch stream never waits for a reconcile (kopf runs sync handlers in worker threads, where
touching the event loop's objects would not even be safe; ``tests/unit/test_layout.py`` refuses a
sync handler in this package).
"""

from __future__ import annotations

from typing import Any

import kopf

from modelops.api import GROUP, VERSION
from modelops.core.monitoring.children import MONITOR_LABEL
from modelops.core.serving.inference import MODELVERSION_LABEL
from modelops.core.training.jobs import RUN_LABEL
from modelops.handlers.configuring import in_shard

ROLLOUT_LABEL = "modelops.io/rollout"

# (group, version, plural, apiVersion, kind, label that must be present; None: every object)
WATCHED: tuple[tuple[str, str, str, str, str, str | None], ...] = (
    (GROUP, VERSION, "trainingruns", f"{GROUP}/{VERSION}", "TrainingRun", None),
    (GROUP, VERSION, "modelversions", f"{GROUP}/{VERSION}", "ModelVersion", None),
    (GROUP, VERSION, "rollouts", f"{GROUP}/{VERSION}", "Rollout", None),
    (GROUP, VERSION, "driftmonitors", f"{GROUP}/{VERSION}", "DriftMonitor", None),
    ("batch", "v1", "jobs", "batch/v1", "Job", RUN_LABEL),
    ("batch", "v1", "cronjobs", "batch/v1", "CronJob", MONITOR_LABEL),
    ("gateway.networking.k8s.io", "v1", "httproutes", "gateway.networking.k8s.io/v1", "HTTPRoute", ROLLOUT_LABEL),
    ("networking.istio.io", "v1", "virtualservices", "networking.istio.io/v1", "VirtualService", ROLLOUT_LABEL),
)


def _register(group: str, version: str, plural: str, api_version: str, kind: str, label: str | None) -> None:
    labels = {label: kopf.PRESENT} if label else None
    sharded = group == GROUP

    # The modelops kinds are checked against the shard here: one not (or no longer: relabelled) in it
    # is dropped from the runtime if it was there. Children follow their owner (``Runtime.seen``).
    @kopf.on.event(group, version, plural, id=f"watch-{plural}", labels=labels)
    async def seen(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, namespace: str | None,
                   **_: Any) -> None:
        if sharded and not in_shard(namespace, body.metadata.labels, memo):
            memo.runtime.drop(api_version, kind, dict(body))
            return
        memo.runtime.seen(api_version, kind, event.get("type"), dict(body))


for _watched in WATCHED:
    _register(*_watched)


def _ours(labels: kopf.Labels, **_: Any) -> bool:
    """An InferenceService the operator made: a ModelVersion's own, or a kserve router's."""
    return MODELVERSION_LABEL in labels or ROLLOUT_LABEL in labels


@kopf.on.event("serving.kserve.io", "v1beta1", "inferenceservices", id="watch-inferenceservices", when=_ours)
async def inference_service_seen(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    memo.runtime.seen("serving.kserve.io/v1beta1", "InferenceService", event.get("type"), dict(body))
