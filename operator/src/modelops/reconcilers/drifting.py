"""Reconciles one DriftMonitor (on ``cycle.Cycle``). For now it acknowledges the spec — writes
``status.observedGeneration`` and the ``Accepted`` condition (``core.acceptance``), an invalid spec
being a condition that names the field, never a crash — and nothing more: drift statistics, the
drift job and retraining arrive with their issue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from modelops.api import DriftMonitorSpec
from modelops.core.acceptance import plan_acceptance_status
from modelops.reconcilers.cycle import Cycle, Outcome


class DriftReconciler(Cycle):
    KIND = "DriftMonitor"

    async def _reconcile(self, body: dict[str, Any], interrupt: asyncio.Event | None) -> Outcome | None:
        status = dict(body.get("status") or {})
        status.update(plan_acceptance_status(DriftMonitorSpec, body.get("spec"), status,
                                             body["metadata"].get("generation"), datetime.now(UTC)))
        return Outcome(body, status, [], None)
