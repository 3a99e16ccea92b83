"""Operator settings, decided once at startup (the crate-operator way) and never changed later,
and the shared parts every handler uses: the configuration (``MODELOPS_CONFIG``, a YAML file the
Helm chart mounts from a ConfigMap), the API session, the MLflow client and the reconcilers,
all kept in kopf's ``memo``.

Names: finalizer ``modelops.io/finalizer``, progress annotations under ``modelops.io/`` (kopf's
default ``kopf.zalando.org`` would be a foreign prefix on our users' objects; changing storage
after objects exist is documented as dangerous, so it is fixed now).

**No diff base** (``NoDiffBase``): kopf patches a ``last-handled-configuration`` annotation onto
an object after every spec change when any change handler is registered — here only the delete
handlers, which need no diff. That was one more write on the Rollout for every SRE rollback, racing
the route write on the API server, and one more watch event and reconcile after it (measured with
bench/rollback.py). Nothing here reacts to a diff (the work queues read the whole object), so kopf
is told every object is unchanged; deletion is detected from ``deletionTimestamp``, not the diff.
Timeouts come from the environment so the Helm chart can tune them without a rebuild.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import kopf
import yaml
from pydantic import ValidationError

from modelops.api import GROUP
from modelops.api.config import OperatorConfig
from modelops.core.durations import parse_duration
from modelops.core.sharding import Shard
from modelops.reconcilers.runtime import Runtime
from modelops.reconcilers.wiring import connect_kube, make_mlflow_client

FINALIZER = "modelops.io/finalizer"
ANNOTATION_PREFIX = "modelops.io"
PLURALS = ("trainingruns", "modelversions", "rollouts", "driftmonitors")


class NoDiffBase(kopf.DiffBaseStorage):
    """A diff base that is always the object as it is now, and is never written (see above)."""

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self.build(body=body)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise kopf.PermanentError(f"{name}={raw!r} is not a number of seconds") from error
    if value <= 0:
        raise kopf.PermanentError(f"{name}={raw!r} must be positive")
    return value


def load_config(path: str | None) -> OperatorConfig:
    """Read the operator configuration; a broken file stops the operator with the field named."""
    if not path:
        return OperatorConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
        config = OperatorConfig.model_validate(raw)
        for where, text in (("training.pendingTimeout", config.training.pending_timeout),
                            ("analysis.queryTimeout", config.analysis.query_timeout),
                            ("driftJob.activeDeadline", config.drift_job.active_deadline)):
            try:
                parse_duration(text)
            except ValueError as error:
                raise kopf.PermanentError(f"MODELOPS_CONFIG={path}: {where}: {error}") from error
        return config
    except (OSError, yaml.YAMLError) as error:
        raise kopf.PermanentError(f"MODELOPS_CONFIG={path}: cannot read: {error}") from error
    except ValidationError as error:
        problems = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in error.errors())
        raise kopf.PermanentError(f"MODELOPS_CONFIG={path}: {problems}") from error


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, logger: kopf.Logger, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = NoDiffBase()
    # Only warnings and errors become Events: info-level Events from every reconcile flood the
    # namespace's event stream (kopf#1170) and hide the ones an SRE needs.
    settings.posting.level = logging.WARNING
    # Watches: the server closes a watch after server_timeout; the client gives up slightly later;
    # no event (not even a bookmark) for inactivity_timeout means a silently dead watch (kopf#585).
    settings.watching.server_timeout = _seconds("MODELOPS_WATCH_SERVER_TIMEOUT", 300)
    settings.watching.client_timeout = _seconds("MODELOPS_WATCH_CLIENT_TIMEOUT", 330)
    settings.watching.connect_timeout = _seconds("MODELOPS_CONNECT_TIMEOUT", 10)
    settings.watching.inactivity_timeout = _seconds("MODELOPS_WATCH_INACTIVITY_TIMEOUT", 600)
    settings.networking.request_timeout = _seconds("MODELOPS_REQUEST_TIMEOUT", 30)
    settings.networking.connect_timeout = _seconds("MODELOPS_CONNECT_TIMEOUT", 10)
    settings.execution.max_workers = 8
    settings.batching.error_delays = (1, 2, 5, 10, 30, 60)
    # (No batch_window: kopf removed time-based event batching — the setting affects nothing and
    # only warns. Watch events reach the handlers, and so the work queues, at once.)
    # kopf's per-object event workers end after this much quiet: with thousands of objects, a short
    # life keeps the tasks (and their memory) from piling up after a start.
    settings.batching.idle_timeout = 1.0
    shard = memo.get("shard") or Shard()
    if shard.selector:  # another shard's objects are never listed nor watched (core.sharding)
        for plural in PLURALS:
            settings.watching.label_selectors[GROUP, plural] = shard.selector_text()
    config = load_config(os.environ.get("MODELOPS_CONFIG"))
    memo.config = config
    memo.kube = await connect_kube(logger.info)
    memo.mlflow = make_mlflow_client(config)
    elector = memo.get("elector")
    if elector is not None:  # a replica that may have lost its shard's Lease writes nothing
        memo.kube.rest.guard = elector.guard
    memo.runtime = Runtime(memo.kube, memo.mlflow, config, shard=shard)
    memo.runtime.start()
    logger.info("modelops %s; leader election %s", shard.describe(),
                f"on Lease {elector.namespace}/{elector.name} as {elector.identity}" if elector else "off")
    logger.info("modelops settings: finalizer=%s prefix=%s pools=%s mlflow=%s prometheus=%s", FINALIZER,
                ANNOTATION_PREFIX, sorted(config.node_pools), "configured" if config.mlflow else "not configured",
                "configured" if config.analysis.prometheus_url else "not configured")


def in_shard(namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **_: Any) -> bool:
    """kopf's filter of every handler of the modelops kinds: the object is in this replica's shard
    (``python -m modelops --selector``; the namespaces are kopf's own watch scope)."""
    shard = memo.get("shard")
    return shard is None or shard.admits(namespace, labels)


@kopf.on.cleanup()
async def disconnect(memo: kopf.Memo, **_: Any) -> None:
    if getattr(memo, "runtime", None) is not None:
        await memo.runtime.stop()
    if getattr(memo, "mlflow", None) is not None:
        await memo.mlflow.close()
    if getattr(memo, "kube", None) is not None:
        await memo.kube.close()


@kopf.on.probe(id="alive")
async def alive(**_: Any) -> bool:
    """Liveness: answering at all means the event loop runs."""
    return True
