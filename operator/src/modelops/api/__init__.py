"""The modelops.io/v1alpha1 API: pydantic v2 models of the four custom resources (TrainingRun,
ModelVersion, Rollout, DriftMonitor) — the single source of truth from which ``crdgen`` generates
the CRDs in ``crds/`` — and the shared pieces in ``common``. Imports only the stdlib and pydantic.
"""

from modelops.api.common import API_VERSION, GROUP, VERSION, Condition, ConditionStatus, to_wire
from modelops.api.driftmonitor import DriftMonitor, DriftMonitorSpec, DriftMonitorStatus
from modelops.api.modelversion import ModelVersion, ModelVersionSpec, ModelVersionStatus
from modelops.api.rollout import Rollout, RolloutSpec, RolloutStatus
from modelops.api.trainingrun import TrainingRun, TrainingRunSpec, TrainingRunStatus

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "Condition",
    "ConditionStatus",
    "DriftMonitor",
    "DriftMonitorSpec",
    "DriftMonitorStatus",
    "ModelVersion",
    "ModelVersionSpec",
    "ModelVersionStatus",
    "Rollout",
    "RolloutSpec",
    "RolloutStatus",
    "TrainingRun",
    "TrainingRunSpec",
    "TrainingRunStatus",
    "to_wire",
]
