"""The end of every reconcile: post the Events the plan asked for, then write the status once, as
the merge patch from what is stored to what was planned (``core.drafting.status_patch``: keys the
plan dropped are deleted) — and not at all when it equals what is stored (no write when nothing
changed).

Events go first: a status write can end the object's daemon (a TrainingRun reaching a terminal
phase), and its Events must not be lost with it. Posting is best effort and never fails a
reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from modelops.core.drafting import status_patch
from modelops.core.intents import Event
from modelops.k8s import events, objects
from modelops.k8s.errors import KubeError
from modelops.k8s.session import KubeSession

logger = logging.getLogger(__name__)


async def announce(session: KubeSession, body: dict[str, Any], posted: Iterable[Event]) -> None:
    meta = body["metadata"]
    for event in posted:
        try:
            await events.post_event(session, body, event.type, event.reason, event.message)
        except KubeError as error:
            logger.warning("could not post event %s on %s/%s: %s", event.reason, meta.get("namespace"),
                           meta.get("name"), error)


async def finish(session: KubeSession, body: dict[str, Any], status: dict[str, Any],
                 posted: Iterable[Event]) -> dict[str, Any] | None:
    """Post the Events, write the status; the object as the API server now stores it (None: no write)."""
    await announce(session, body, posted)
    patch = status_patch(body.get("status") or {}, status)
    if not patch:
        return None
    meta = body["metadata"]
    return await objects.patch_status(session, body["apiVersion"], body["kind"], meta["namespace"], meta["name"],
                                      patch)
