"""Operator settings, decided once at startup (the crate-operator way) and never changed later.

Names: finalizer ``modelops.io/finalizer``, progress and diff-base annotations under
``modelops.io/`` (kopf's default ``kopf.zalando.org`` would be a foreign prefix on our users'
objects; changing storage after objects exist is documented as dangerous, so it is fixed now).
Timeouts come from the environment so the Helm chart can tune them without a rebuild.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf

FINALIZER = "modelops.io/finalizer"
ANNOTATION_PREFIX = "modelops.io"


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


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, logger: kopf.Logger, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
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
    logger.info("modelops settings: finalizer=%s prefix=%s", FINALIZER, ANNOTATION_PREFIX)


@kopf.on.probe(id="alive")
def alive(**_: Any) -> bool:
    """Liveness: answering at all means the event loop runs."""
    return True
