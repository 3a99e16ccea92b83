"""Registers, for the kinds whose reconcilers do not exist yet, the handler that acknowledges a spec: writes
``status.observedGeneration`` and the ``Accepted`` condition.

Stacked on create, update and resume, so objects that existed while the operator was down are
picked up on restart. The handler never raises on bad input: an invalid spec is a condition.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import BaseModel

from modelops.api import GROUP, VERSION, DriftMonitorSpec
from modelops.reconcilers.acceptance import status_changes

# TrainingRun, ModelVersion and Rollout are not here: their reconcilers own their whole status.
SPEC_MODELS: dict[str, type[BaseModel]] = {
    "driftmonitors": DriftMonitorSpec,
}


def _register(plural: str, spec_model: type[BaseModel]) -> None:
    @kopf.on.resume(GROUP, VERSION, plural, id=f"{plural}-accept")
    @kopf.on.create(GROUP, VERSION, plural, id=f"{plural}-accept")
    @kopf.on.update(GROUP, VERSION, plural, id=f"{plural}-accept")
    def accept(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        changes = status_changes(spec_model, body, datetime.now(UTC))
        for key, value in changes.items():
            patch.status[key] = value


for _plural, _model in SPEC_MODELS.items():
    _register(_plural, _model)
