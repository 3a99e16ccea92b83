"""ModelVersion (modelops.io/v1alpha1, plural ``modelversions``, short name ``mv``): one registered,
immutable version of a model — where its artifact is, where it came from (lineage), what it
takes and returns (signature) — and how it is served as a KServe InferenceService.

This module owns the ModelVersion spec and status models, including ``ServingSpec`` (reused by
TrainingRun's ModelVersion template). Model, version, artifact and lineage are immutable after
creation — a ModelVersion is a record of one registry entry: the CRD enforces it with CEL
transition rules (``self == oldSelf`` on each field, plus a rule on spec so lineage can be neither
added nor removed later); pydantic cannot see the old object, so those rules live only in the CRD.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from modelops.api.common import (
    CodeRef,
    DataRef,
    Identifier,
    LabelValue,
    Name,
    ObjectStatus,
    Resource,
    ResourceRequirements,
    SpecModel,
    StatusModel,
    Text,
    Uri,
    cel,
    list_map,
    require_unique,
    validations,
)


class DeploymentMode(StrEnum):
    SERVERLESS = "Serverless"
    STANDARD = "Standard"
    RAW_DEPLOYMENT = "RawDeployment"
    MODEL_MESH = "ModelMesh"


class LoggerMode(StrEnum):
    ALL = "all"
    REQUEST = "request"
    RESPONSE = "response"


class Role(StrEnum):
    CANDIDATE = "candidate"
    CHAMPION = "champion"
    PREVIOUS = "previous"
    ARCHIVED = "archived"
    NONE = "none"


# The URI schemes KServe's default storage initializer fetches, read from KServe v0.20.0 (the
# pinned module): pkg/controller/v1beta1/inferenceservice/utils/utils.go, SupportedStorageURIPrefixList
# (tests/unit/test_api_models.py compares this list with that file in the Go module cache). Azure
# Blob URLs are https://. A scheme served only by a custom ClusterStorageContainer is refused here.
KSERVE_STORAGE_SCHEMES = ("gs", "s3", "pvc", "file", "https", "http", "hdfs", "webhdfs", "oci", "oci+native", "hf")
REGISTRY_URI_PATTERN = r"^models:/[^/@\s]+(/[0-9]+|@[^/@\s]+)$"
STORAGE_URI_PATTERN = (
    "^(" + "|".join(scheme.replace("+", "\\+") for scheme in KSERVE_STORAGE_SCHEMES) + r")://[^\s]+$"
)
STORAGE_URI_MESSAGE = (
    "must be a URI KServe's storage initializer can fetch (" + ", ".join(f"{s}://" for s in KSERVE_STORAGE_SCHEMES)
    + ") or an MLflow registry URI models:/<name>/<version> or models:/<name>@<alias>, without spaces"
)


class Artifact(SpecModel):
    """Where the model files are and how to serve them. Immutable after creation."""

    storage_uri: Uri = Field(
        description=(
            "Model location: a URI KServe's storage initializer fetches (s3://, gs://, https://, pvc://, hf://, "
            "oci://, ...) or an MLflow registry URI models:/<name>/<version> or models:/<name>@<alias>, which the "
            "operator resolves once to an immutable URI (status.registry.resolvedUri)."
        ),
        json_schema_extra=validations(cel(
            f"self.matches(r'{STORAGE_URI_PATTERN}') || self.matches(r'{REGISTRY_URI_PATTERN}')",
            STORAGE_URI_MESSAGE,
        )),
    )
    format: str = Field(
        min_length=1,
        max_length=64,
        description=(
            "KServe model format name, e.g. sklearn, xgboost, lightgbm, onnx, pytorch, tensorflow, mlflow, huggingface."
        ),
    )
    runtime: str | None = Field(
        None,
        min_length=1,
        max_length=253,
        description="KServe ServingRuntime to use, e.g. kserve-sklearnserver. Absent: KServe picks one for the format.",
    )

    @field_validator("storage_uri")
    @classmethod
    def _fetchable(cls, value: str) -> str:
        if not (re.match(STORAGE_URI_PATTERN, value) or re.match(REGISTRY_URI_PATTERN, value)):
            raise ValueError(STORAGE_URI_MESSAGE)
        return value


class Lineage(SpecModel):
    """Where the model came from. Immutable after creation; filled in by the TrainingRun that registered it."""

    training_run: Name | None = Field(None, description="Name of the TrainingRun that produced the model.")
    mlflow_run_id: str | None = Field(None, min_length=1, max_length=256, description="MLflow run id of the training.")
    data: DataRef | None = Field(None, description="Training data location and version.")
    code: CodeRef | None = Field(None, description="Source repository and commit.")
    image: str | None = Field(None, min_length=1, max_length=1024, description="Training image, ideally by digest.")


class TensorSpec(SpecModel):
    """One named input or output of the model."""

    name: Identifier = Field(description="Input or output name, e.g. amount, merchant_category, score.")
    type: str = Field(
        min_length=1,
        max_length=64,
        description="Data type as MLflow writes it, e.g. double, float, long, integer, boolean, string, float32.",
    )
    shape: list[int] | None = Field(
        None,
        max_length=16,
        description="Tensor shape, -1 for a variable dimension, e.g. [-1, 28, 28]. Absent: a scalar column.",
    )


class Signature(SpecModel):
    """What the model takes and returns (the MLflow model signature)."""

    inputs: list[TensorSpec] = Field(
        default_factory=list,
        max_length=1024,
        description="Model inputs (features).",
        json_schema_extra=list_map("name"),
    )
    outputs: list[TensorSpec] = Field(
        default_factory=list, max_length=64, description="Model outputs.", json_schema_extra=list_map("name")
    )

    @field_validator("inputs", "outputs")
    @classmethod
    def _unique(cls, value: list[TensorSpec]) -> list[TensorSpec]:
        require_unique(value, "name", "spec.signature")
        return value


class PredictionLogger(SpecModel):
    """KServe request/response logging to the operator's prediction-log sink (feeds drift detection)."""

    enabled: bool = Field(True, description="Send logged payloads to the prediction-log sink. Default true.")
    mode: LoggerMode = Field(LoggerMode.ALL, description="What to log: all (default), request or response.")


REPLICAS_MESSAGE = "maxReplicas must be greater than or equal to minReplicas"


class ServingSpec(SpecModel):
    """How the version is served as a KServe InferenceService."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.maxReplicas) || !has(self.minReplicas) || self.maxReplicas >= self.minReplicas",
                REPLICAS_MESSAGE,
                field_path=".maxReplicas",
            )
        )
    )

    enabled: bool = Field(True, description="Deploy an InferenceService for this version. Default true.")
    node_pool: str | None = Field(
        None,
        min_length=1,
        max_length=63,
        description="Node pool from the operator's configuration, e.g. gpu-t4. Absent: the configured default pool.",
    )
    resources: ResourceRequirements | None = Field(
        None, description="CPU, memory and GPUs per predictor replica. Absent: the runtime's defaults."
    )
    min_replicas: int = Field(
        1, ge=0, le=1000, description="Minimum predictor replicas; 0 allows scale to zero (Serverless). Default 1."
    )
    max_replicas: int | None = Field(
        None, ge=1, le=1000, description="Maximum predictor replicas. Absent: KServe's default."
    )
    deployment_mode: DeploymentMode | None = Field(
        None,
        description=(
            "KServe deployment mode: Serverless, Standard, RawDeployment or ModelMesh. Absent: the cluster default."
        ),
    )
    logger: PredictionLogger | None = Field(None, description="Prediction logging. Absent: enabled, mode all.")

    @model_validator(mode="after")
    def _replicas(self) -> ServingSpec:
        if self.max_replicas is not None and self.max_replicas < self.min_replicas:
            raise ValueError(REPLICAS_MESSAGE)
        return self


MODEL_IMMUTABLE = "spec.model is immutable: create a new ModelVersion instead"
VERSION_IMMUTABLE = "spec.version is immutable: create a new ModelVersion instead"
ARTIFACT_IMMUTABLE = "spec.artifact is immutable: create a new ModelVersion instead"
LINEAGE_IMMUTABLE = "spec.lineage is immutable: create a new ModelVersion instead"
LINEAGE_PRESENCE = "spec.lineage is immutable: it cannot be added or removed after creation"


class ModelVersionSpec(SpecModel):
    """A registered version of a model: artifact, lineage, metrics, signature and serving."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel("has(self.lineage) == has(oldSelf.lineage)", LINEAGE_PRESENCE, field_path=".lineage")
        )
    )

    model: LabelValue = Field(
        description="Registered model name, e.g. fraud-detector (max 63 characters). Immutable.",
        json_schema_extra=validations(cel("self == oldSelf", MODEL_IMMUTABLE)),
    )
    version: LabelValue = Field(
        description='Version of the model as a string, e.g. "3" (the MLflow registry version). Immutable.',
        json_schema_extra=validations(cel("self == oldSelf", VERSION_IMMUTABLE)),
    )
    artifact: Artifact = Field(
        description="Where the model files are and how to serve them. Immutable.",
        json_schema_extra=validations(cel("self == oldSelf", ARTIFACT_IMMUTABLE)),
    )
    lineage: Lineage | None = Field(
        None,
        description="Provenance: training run, MLflow run, data, code, image. Immutable, and cannot be added later.",
        json_schema_extra=validations(cel("self == oldSelf", LINEAGE_IMMUTABLE)),
    )
    metrics: dict[str, float] = Field(
        default_factory=dict, max_length=256, description="Offline evaluation metrics, e.g. {auc: 0.93, fpr: 0.015}."
    )
    signature: Signature | None = Field(None, description="Input and output schema of the model.")
    serving: ServingSpec | None = Field(None, description="Serving settings. Absent: served with defaults.")


class RegistryRef(StatusModel):
    """The MLflow Model Registry entry of this version."""

    name: str | None = Field(None, max_length=256, description="Registered model name in MLflow.")
    version: str | None = Field(None, max_length=64, description="MLflow registry version.")
    resolved_uri: Uri | None = Field(None, description="Immutable storage URI the artifact resolved to.")
    resolved_from: Uri | None = Field(None, description="The models:/ URI it was resolved from, if any.")


class ModelVersionStatus(ObjectStatus):
    """Observed state of the version, written only by the operator."""

    registry: RegistryRef | None = Field(None, description="The MLflow Model Registry entry.")
    inference_service: Name | None = Field(
        None, description="Name of the KServe InferenceService serving this version."
    )
    url: Uri | None = Field(None, description="URL of the InferenceService.")
    ready: bool | None = Field(None, description="Whether the InferenceService is Ready and its model loaded.")
    reason: str | None = Field(None, max_length=1024, description="Why the version is not ready, in CamelCase.")
    message: Text | None = Field(None, description="Human-readable details.")
    role: Role | None = Field(
        None,
        description=(
            "Role derived from the Rollouts naming this version: candidate, champion, previous (kept warm "
            "for rollback), archived or none."
        ),
    )
    served_by: list[Name] = Field(
        default_factory=list,
        max_length=64,
        description="Rollouts that name this version; it cannot be deleted while any does.",
    )


class ModelVersion(Resource):
    """One immutable version of a model and how it is served."""

    KIND: ClassVar[str] = "ModelVersion"
    PLURAL: ClassVar[str] = "modelversions"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("mv",)
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, Any], ...]] = (
        {"name": "Model", "type": "string", "jsonPath": ".spec.model"},
        {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
        {"name": "Role", "type": "string", "jsonPath": ".status.role"},
        {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready"},
        {"name": "URL", "type": "string", "jsonPath": ".status.url"},
        {"name": "Format", "type": "string", "jsonPath": ".spec.artifact.format", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    )

    api_version: Literal["modelops.io/v1alpha1"] = Field("modelops.io/v1alpha1", alias="apiVersion")
    kind: Literal["ModelVersion"] = "ModelVersion"
    spec: ModelVersionSpec
    status: ModelVersionStatus = Field(default_factory=ModelVersionStatus)
