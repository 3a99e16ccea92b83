"""What the TrainingRun plan reads and what it decides, as plain frozen records: the Job, its
Pods, the MLflow run and the registry version as the reconciler observed them
(:class:`TrainingObservation`), and the plan's answer (:class:`TrainingDecision`: the Job to apply,
the MLflow run to start, the version to register, the record to create, the status and events).
Pure data: ``core.training.progress`` decides, the reconciler observes and executes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelops.core.intents import Event, RegisterRequest
from modelops.core.ownership import (
    Claim,
    Rejection,
)


@dataclass(frozen=True)
class JobState:
    active: int = 0
    ready: int = 0
    succeeded: int = 0
    failed: int = 0
    complete: bool = False
    failure: tuple[str, str] | None = None  # (reason, message) of the Failed condition
    start_time: str | None = None
    completion_time: str | None = None


@dataclass(frozen=True)
class PodState:
    name: str
    phase: str
    unschedulable_since: datetime | None = None
    unschedulable_message: str | None = None
    terminated_reason: str | None = None
    terminated_message: str | None = None
    exit_code: int | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class MLflowRunState:
    run_id: str
    experiment_id: str
    status: str
    artifact_uri: str
    metrics: Mapping[str, float]
    url: str


@dataclass(frozen=True)
class Registration:
    name: str
    version: str


@dataclass(frozen=True)
class TrainingObservation:
    name: str
    namespace: str
    uid: str
    generation: int | None
    spec: Mapping[str, Any] | None
    status: Mapping[str, Any]
    mlflow_run: MLflowRunState | None = None
    job: JobState | None = None
    pods: tuple[PodState, ...] = ()
    registered: Registration | None = None
    # Whose the Job of this run's name is (ownership.claim); a foreign Job is never read or written.
    job_claim: Claim | None = None
    # A write refused for good in this reconcile (the plan runs again with it).
    rejection: Rejection | None = None
    model_version_exists: bool = False
    # metadata.annotations: those under annotations.MLFLOW_TAG_PREFIX become MLflow run tags.
    annotations: Mapping[str, str] = field(default_factory=dict)
    # The name the run's ModelVersion has or will get: model_version_name(), unless a record not
    # made by this run already holds that name (then the observer picks alternative_name()).
    model_version_name: str | None = None


@dataclass(frozen=True)
class RunRequest:
    experiment: str
    run_name: str
    tags: dict[str, str]
    params: dict[str, str]


@dataclass
class TrainingDecision:
    status: dict[str, Any]
    start_mlflow_run: RunRequest | None = None
    apply_job: dict[str, Any] | None = None
    register: RegisterRequest | None = None
    create_model_version: dict[str, Any] | None = None
    end_mlflow_run: str | None = None  # FINISHED | FAILED | KILLED
    mlflow_tags: dict[str, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None

    @property
    def needs_another_pass(self) -> bool:
        """Actions whose results the next plan needs (a run id, a registry version)."""
        return self.start_mlflow_run is not None or self.register is not None \
            or self.create_model_version is not None
