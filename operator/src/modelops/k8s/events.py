"""Kubernetes Events about modelops objects (``kubectl describe`` shows them).

Posting an Event is best effort: a failure is logged by the caller and never fails a reconcile.
Messages never carry credentials (they are built from specs and statuses, which hold none).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from modelops.k8s.rest import KNOWN
from modelops.k8s.session import KubeSession

REPORTER = "modelops"
EVENTS = KNOWN[("v1", "Event")]


async def post_event(session: KubeSession, involved: dict[str, Any], type: str, reason: str,
                     message: str) -> None:
    metadata = involved["metadata"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        # An object name may have 253 characters, and so may the Event's: keep room for the suffix.
        "metadata": {"name": f"{metadata['name'][:240]}.{uuid.uuid4().hex[:12]}", "namespace": metadata["namespace"]},
        "involvedObject": {
            "apiVersion": involved["apiVersion"], "kind": involved["kind"], "name": metadata["name"],
            "namespace": metadata["namespace"], "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        },
        "type": type,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": REPORTER},
        "reportingComponent": REPORTER,
        "reportingInstance": REPORTER,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    await session.rest.request("POST", EVENTS.path(metadata["namespace"]), body=body)
