"""The drift job's conversation with the API server: read the DriftMonitor, find the ModelVersion
it watches, re-read ``consecutiveDrifted``, and write the one status merge patch.

Owns the reads and the write (through ``modelops.k8s``: in a Pod the service account, else the
kubeconfig — ``--kubeconfig`` sets ``$KUBECONFIG`` before logging in). The patch goes to the
``status`` subresource with field manager ``modelops-drift-job``; it carries only the job's keys
(``judging.STATUS_KEYS``), never ``conditions`` or ``observedGeneration``, which the operator owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelops.api.common import API_VERSION
from modelops.api.driftmonitor import ModelRef, ModelRefKind
from modelops.api.modelversion import ModelVersionSpec
from modelops.k8s import objects
from modelops.k8s.session import KubeSession

FIELD_MANAGER = "modelops-drift-job"


class MonitorNotFound(LookupError):
    """The DriftMonitor named on the command line does not exist (exit 2)."""


class ModelNotResolved(LookupError):
    """The monitor's modelRef names nothing that serves (a clear one-line error, exit 1)."""


@dataclass(frozen=True)
class Served:
    """The ModelVersion whose traffic is evaluated."""

    name: str
    spec: ModelVersionSpec

    @property
    def model(self) -> str:
        return self.spec.model

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def signature(self) -> dict[str, str]:
        """Input name → MLflow type, empty when the ModelVersion has no signature."""
        if self.spec.signature is None:
            return {}
        return {t.name: t.type for t in self.spec.signature.inputs}

    @property
    def training_data(self) -> str | None:
        lineage = self.spec.lineage
        return lineage.data.uri if lineage is not None and lineage.data is not None else None


async def get_monitor(session: KubeSession, namespace: str, name: str) -> dict[str, Any]:
    found = await objects.get(session, API_VERSION, "DriftMonitor", namespace, name)
    if found is None:
        raise MonitorNotFound(f"DriftMonitor {namespace}/{name} not found")
    return found


async def served_model_version(session: KubeSession, namespace: str, ref: ModelRef) -> Served:
    """``modelRef`` → the ModelVersion: itself, or the Rollout's ``status.stable`` (its champion)."""
    name = ref.name
    if ref.kind == ModelRefKind.ROLLOUT:
        rollout = await objects.get(session, API_VERSION, "Rollout", namespace, ref.name)
        if rollout is None:
            raise ModelNotResolved(f"spec.modelRef: Rollout {namespace}/{ref.name} not found")
        stable = (rollout.get("status") or {}).get("stable")
        if not stable:
            raise ModelNotResolved(f"spec.modelRef: Rollout {namespace}/{ref.name} serves no stable version yet "
                                   "(status.stable is empty)")
        name = str(stable)
    mv = await objects.get(session, API_VERSION, "ModelVersion", namespace, name)
    if mv is None:
        raise ModelNotResolved(f"ModelVersion {namespace}/{name} not found")
    return Served(name, ModelVersionSpec.model_validate(mv.get("spec") or {}))


async def consecutive_drifted(session: KubeSession, namespace: str, name: str) -> int | None:
    """``status.consecutiveDrifted`` as stored right now (re-read just before the patch)."""
    current = await get_monitor(session, namespace, name)
    value = (current.get("status") or {}).get("consecutiveDrifted")
    return int(value) if isinstance(value, int) else None


async def write_status(session: KubeSession, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The one merge patch of ``status`` (``body`` is ``{"status": {...}}``)."""
    return await objects.patch_status(session, API_VERSION, "DriftMonitor", namespace, name, body["status"],
                                      field_manager=FIELD_MANAGER)
