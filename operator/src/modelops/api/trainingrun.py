"""TrainingRun (modelops.io/v1alpha1, plural ``trainingruns``, short name ``tr``): one training of
one model, run as a ``batch/v1`` Job on a node pool and tracked as an MLflow run; on success and
passing evaluation gates it registers a ModelVersion.

This module owns the TrainingRun spec and status models, the evaluation-gate shape (also used by
nothing else) and the ModelVersion template a run registers from. ``TrainingRunSpec`` is reused by
DriftMonitor's retrain template.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from modelops.api.common import (
    CodeRef,
    DataRef,
    Duration,
    EnvVar,
    Identifier,
    LabelValue,
    Name,
    ObjectStatus,
    Resource,
    ResourceRequirements,
    SpecModel,
    StatusModel,
    TemplateMetadata,
    Text,
    Uri,
    list_map,
    require_unique,
)
from modelops.api.modelversion import ServingSpec


def hyperparameter_env_name(name: str) -> str:
    """learningRate -> MODELOPS_HP_LEARNINGRATE, learning-rate -> MODELOPS_HP_LEARNING_RATE."""
    return "MODELOPS_HP_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class GateOp(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="


class TrainingPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    EVALUATING = "Evaluating"
    SUCCEEDED = "Succeeded"
    REJECTED = "Rejected"
    FAILED = "Failed"


class EvaluationGate(SpecModel):
    """A metric gate the run must pass to be registered, e.g. ``auc >= 0.9`` or ``fpr <= 0.02``."""

    metric: Identifier = Field(description="Name of an MLflow metric logged by the run, e.g. auc, fpr, rmse.")
    op: GateOp = Field(
        description='Comparison: one of ">=", ">", "<=", "<", "==". The gate reads `<metric> <op> <threshold>`.'
    )
    threshold: float = Field(description="Value compared against the run's last logged value of the metric, e.g. 0.9.")


class Tracking(SpecModel):
    """Where the run is recorded in MLflow."""

    experiment: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="MLflow experiment name, e.g. fraud-detection. Absent: an experiment named after spec.model.",
    )


class ModelVersionTemplate(SpecModel):
    """What the ModelVersion registered from a successful run looks like."""

    metadata: TemplateMetadata | None = Field(None, description="Labels and annotations for the ModelVersion.")
    serving: ServingSpec | None = Field(
        None, description="Serving settings copied into the ModelVersion's spec.serving. Absent: serving defaults."
    )


class RegisterSpec(SpecModel):
    """Whether and how a passing run is registered as a ModelVersion."""

    enabled: bool = Field(
        True,
        description=(
            "Register the model in the MLflow Model Registry and create a ModelVersion when the run "
            "succeeds and passes every gate. Default true."
        ),
    )
    model_version_template: ModelVersionTemplate | None = Field(
        None, description="Metadata and serving settings of the ModelVersion created on success."
    )
    artifact_path: str = Field(
        "model",
        min_length=1,
        max_length=1024,
        pattern=r"^[^/].*$",
        description=(
            "Where the training wrote the model inside the MLflow run's artifacts, e.g. model "
            "(the default): the registered source is <run artifact URI>/<artifactPath>."
        ),
    )
    format: str = Field(
        "mlflow",
        min_length=1,
        max_length=63,
        description="KServe model format of the artifact, e.g. sklearn, xgboost, pytorch, mlflow (the default).",
    )
    runtime: str | None = Field(
        None, min_length=1, max_length=253, description="KServe ServingRuntime to use. Absent: KServe picks one."
    )
    alias: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_-]+$",
        description=(
            "MLflow alias to point at the registered version once its ModelVersion exists, e.g. challenger: a "
            "Rollout whose spec.targetFrom follows that alias then rolls it out without a YAML edit."
        ),
    )


class TrainingRunSpec(SpecModel):
    """Desired training: what to run, on which data and code, on which node pool, and the gates
    its metrics must pass to become a ModelVersion."""

    model: LabelValue = Field(
        description="Registered model name in MLflow, e.g. fraud-detector. Also a label on the Job (max 63 characters)."
    )
    image: str = Field(
        min_length=1,
        max_length=1024,
        description=(
            "Training container image. Pin it by digest (repo@sha256:...) for reproducibility; "
            "a tag-only image sets the Reproducible=False condition."
        ),
    )
    command: list[Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=list,
        max_length=64,
        description="Entrypoint override, e.g. [python, -m, train]. Absent: the image's.",
    )
    args: list[Annotated[str, Field(max_length=16384)]] = Field(
        default_factory=list, max_length=256, description='Arguments to the entrypoint, e.g. [--epochs, "20"].'
    )
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=128,
        description=(
            "Extra environment variables. The operator also sets MLFLOW_TRACKING_URI, MLFLOW_RUN_ID, "
            "MODELOPS_SEED, MODELOPS_DATA_URI, MODELOPS_DATA_VERSION and one MODELOPS_HP_<NAME> per hyperparameter."
        ),
        json_schema_extra=list_map("name"),
    )
    hyperparameters: dict[str, Annotated[str, Field(max_length=6000)]] = Field(
        default_factory=dict,
        max_length=256,
        description=(
            'Hyperparameters as strings, logged as MLflow params, e.g. {learningRate: "0.01", maxDepth: "6"}. '
            "Quote numbers: values are strings so they reach MLflow exactly as written."
        ),
    )
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Random seed passed as MODELOPS_SEED and recorded as a run tag, e.g. 42."
    )
    data: DataRef | None = Field(None, description="Training data location and version (recorded in lineage).")
    code: CodeRef | None = Field(None, description="Source repository and commit (recorded in lineage).")
    resources: ResourceRequirements | None = Field(
        None, description="CPU, memory and GPUs for the training container. Absent: no requests."
    )
    node_pool: str | None = Field(
        None,
        min_length=1,
        max_length=63,
        description=(
            "Node pool from the operator's configuration (nodeSelector, tolerations, GPU resource name), "
            "e.g. gpu-a100. Absent: the configured default pool. Unknown pools set Accepted=False."
        ),
    )
    service_account_name: Name | None = Field(
        None, description="ServiceAccount the training Pod runs as (for data access). Absent: the namespace default."
    )
    max_retries: int = Field(
        0, ge=0, le=100, description="How many times a failed attempt is retried (Job backoffLimit). Default 0."
    )
    timeout: Duration | None = Field(
        None, description="Maximum wall time of one attempt, e.g. 2h, 45m (Job activeDeadlineSeconds). Absent: none."
    )
    tracking: Tracking | None = Field(None, description="MLflow tracking settings.")
    evaluation: list[EvaluationGate] = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Gates on the run's metrics, all of which must pass, e.g. [{metric: auc, op: '>=', threshold: 0.9}]."
        ),
    )
    registration: RegisterSpec | None = Field(
        None,
        alias="register",
        description="Registration of a passing run as a ModelVersion. Absent: enabled with defaults.",
    )

    @field_validator("env")
    @classmethod
    def _unique_env(cls, value: list[EnvVar]) -> list[EnvVar]:
        require_unique(value, "name", "spec.env")
        return value

    @field_validator("hyperparameters")
    @classmethod
    def _distinct_env_names(cls, value: dict[str, str]) -> dict[str, str]:
        # Each hyperparameter also becomes MODELOPS_HP_<NAME>; two names that map to one
        # variable would silently pass only one value to the container.
        seen: dict[str, str] = {}
        for name in sorted(value):
            env = hyperparameter_env_name(name)
            if env in seen:
                raise ValueError(f"{seen[env]!r} and {name!r} both become the variable {env}; rename one")
            seen[env] = name
        return value


class MLflowRunRef(StatusModel):
    """The MLflow run that records this training."""

    run_id: str | None = Field(None, max_length=256, description="MLflow run id.")
    experiment_id: str | None = Field(None, max_length=256, description="MLflow experiment id.")
    url: Uri | None = Field(None, description="Link to the run in the MLflow UI.")


class GateResult(StatusModel):
    """The outcome of one evaluation gate."""

    metric: str = Field(max_length=256, description="Metric name.")
    op: GateOp = Field(description="Comparison operator.")
    threshold: float = Field(description="Threshold from the spec.")
    value: float | None = Field(None, description="The run's value of the metric. Absent: not logged.")
    passed: bool = Field(description="Whether the gate passed (a missing metric never passes).")


class TrainingRunStatus(ObjectStatus):
    """Observed state of the training, written only by the operator."""

    phase: TrainingPhase | None = Field(
        None, description="One of Pending, Running, Evaluating, Succeeded, Rejected (a gate failed), Failed."
    )
    message: Text | None = Field(None, description="Human-readable summary, e.g. the failing gate: auc 0.81 < 0.9.")
    attempts: int | None = Field(None, ge=0, description="Attempts started so far (1 + retries).")
    start_time: datetime | None = Field(None, description="When the first attempt started (RFC 3339).")
    completion_time: datetime | None = Field(None, description="When the run reached a final phase (RFC 3339).")
    job: Name | None = Field(None, description="Name of the batch/v1 Job running the training.")
    mlflow: MLflowRunRef | None = Field(None, description="The MLflow run.")
    metrics: dict[str, float] = Field(
        default_factory=dict, max_length=256, description="Final metrics read from MLflow, e.g. {auc: 0.93}."
    )
    evaluation: list[GateResult] = Field(default_factory=list, max_length=32, description="Outcome of each gate.")
    model_version: Name | None = Field(None, description="Name of the ModelVersion registered from this run.")


class TrainingRun(Resource):
    """A training run of one model: a Job on a node pool, an MLflow run, and a ModelVersion when it passes."""

    KIND: ClassVar[str] = "TrainingRun"
    PLURAL: ClassVar[str] = "trainingruns"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("tr",)
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, Any], ...]] = (
        {"name": "Model", "type": "string", "jsonPath": ".spec.model"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Pool", "type": "string", "jsonPath": ".spec.nodePool"},
        {"name": "Attempts", "type": "integer", "jsonPath": ".status.attempts"},
        {"name": "ModelVersion", "type": "string", "jsonPath": ".status.modelVersion", "priority": 1},
        {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    )

    api_version: Literal["modelops.io/v1alpha1"] = Field("modelops.io/v1alpha1", alias="apiVersion")
    kind: Literal["TrainingRun"] = "TrainingRun"
    spec: TrainingRunSpec
    status: TrainingRunStatus = Field(default_factory=TrainingRunStatus)
