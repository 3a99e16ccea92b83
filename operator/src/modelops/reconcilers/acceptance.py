"""Reconciles the part of every modelops object's status that says "I have seen this spec":
``status.observedGeneration`` and the ``Accepted`` condition.

Shape of every reconcile: observe (the object kopf hands over) -> plan (pure, in core) ->
one status write, and no write at all when the planned status equals what is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from modelops.core.acceptance import plan_acceptance_status


def status_changes(
    spec_model: type[BaseModel],
    body: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The status fields to write; empty when the stored status is already what we would write."""
    status = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    desired = plan_acceptance_status(spec_model, body.get("spec"), status, generation, now)
    return {key: value for key, value in desired.items() if status.get(key) != value}
