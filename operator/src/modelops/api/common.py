"""Shared building blocks of the modelops.io/v1alpha1 API: base model classes, constrained string
types (names, URIs, durations, quantities), CEL helpers, and the small structures that several
kinds embed (Condition, ResourceRequirements, DataRef, CodeRef, EnvVar, TemplateMetadata).

Conventions every kind follows:

* Field names are snake_case in Python and camelCase on the wire (``alias_generator=to_camel``);
  models accept either when parsing and always serialize by alias. Dump objects for the API with
  ``model_dump(mode="json", exclude_none=True)`` (see :func:`to_wire`).
* ``None`` means *absent*. The CRDs do not mark optional fields ``nullable``: the API server
  prunes a ``null`` it is sent, so ``x: null`` in a manifest means the same as leaving ``x`` out
  (and a CEL ``has()`` check is never fooled by an explicit null). The one field whose null carries
  meaning (a measurement without a value) opts in with ``nullable: true``.
* Spec models forbid unknown fields (``extra="forbid"``): the CRD is structural, the API server
  prunes unknown fields and ``kubectl apply`` (strict field validation) rejects them, so a typo must
  fail in Python too rather than be silently ignored. Status models ignore unknown fields
  (``extra="ignore"``): status is written by the operator, and during an upgrade an older operator
  must still be able to read a status written by a newer one.
* Every rule that the API server enforces with CEL (``x-kubernetes-validations``) and that needs
  no ``oldSelf`` is mirrored by a pydantic validator with the same message, so a manifest is judged
  the same way by ``kubectl apply`` and by ``Model.model_validate``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

GROUP = "modelops.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "modelops"

# --------------------------------------------------------------------------------------------
# Patterns (RE2- and Rust-regex-compatible: the API server and pydantic-core both evaluate them)
# --------------------------------------------------------------------------------------------

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
DNS1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
# A Kubernetes quantity that cannot be negative (a resource amount): the apimachinery grammar
# without the minus sign of the mantissa (the exponent may still be negative: 5e-3).
QUANTITY_PATTERN = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

DURATION_MESSAGE = "must be a duration such as 30s, 5m, 1h30m (units ms, s, m, h)"

# --------------------------------------------------------------------------------------------
# CEL helpers
# --------------------------------------------------------------------------------------------


def cel(rule: str, message: str, *, field_path: str | None = None, reason: str | None = None) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry. ``field_path`` (relative, e.g. ``.template``) makes
    the API server report the error on that child field; ``reason`` is one of FieldValueInvalid,
    FieldValueForbidden, FieldValueRequired, FieldValueDuplicate."""
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    if reason is not None:
        entry["reason"] = reason
    return entry


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    """``json_schema_extra`` carrying CEL rules into the generated CRD."""
    return {"x-kubernetes-validations": list(rules)}


def exactly_one_rule(*fields: str) -> str:
    """CEL for "exactly one of these optional fields is set". A sum of ternaries: constant cost,
    no list macros, valid on every Kubernetes version with CRD validation rules."""
    return " + ".join(f"(has(self.{f}) ? 1 : 0)" for f in fields) + " == 1"


def count_set(*values: object) -> int:
    """Python twin of :func:`exactly_one_rule`: how many of the values are present."""
    return sum(v is not None for v in values)


def list_map(*keys: str) -> dict[str, Any]:
    """``json_schema_extra`` for a list whose items are identified by key fields (like Pod env):
    the API server rejects duplicate keys and server-side apply merges items by key."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


LIST_SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}


def require_unique(items: list[Any], key: str, what: str) -> None:
    """Raise ValueError naming the first duplicated key (pydantic twin of a list-type map)."""
    seen: set[object] = set()
    for item in items:
        value = getattr(item, key) if not isinstance(item, str | int | float) else item
        if value in seen:
            raise ValueError(f"{what}: duplicate value {value!r}")
        seen.add(value)


# --------------------------------------------------------------------------------------------
# Constrained scalar types
# --------------------------------------------------------------------------------------------

Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        min_length=2,
        max_length=32,
        json_schema_extra=validations(cel("duration(self) >= duration('0s')", DURATION_MESSAGE)),
    ),
]
"""A Go-style duration string: ``30s``, ``5m``, ``1h30m``, ``250ms``, ``1.5h``. No days: write
``168h`` for a week. Checked twice by the API server: a pattern (the error names the field) and
CEL ``duration(self)`` (the value parses exactly as Kubernetes parses it)."""

Name = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN_PATTERN)]
"""The name of a Kubernetes object (DNS-1123 subdomain)."""

ShortName = Annotated[str, Field(min_length=1, max_length=63, pattern=DNS1123_LABEL_PATTERN)]
"""A DNS-1123 label: step names, check names, feature-free identifiers."""

LabelValue = Annotated[str, Field(min_length=1, max_length=63, pattern=LABEL_VALUE_PATTERN)]
"""A non-empty Kubernetes label value (model names and versions are put on every child as labels)."""

Uri = Annotated[str, Field(min_length=1, max_length=2048)]
"""A URI or URL (s3://, gs://, https://, pvc://, models:/, file://...)."""

Text = Annotated[str, Field(max_length=4096)]
"""Free text such as a status message."""

Identifier = Annotated[str, Field(min_length=1, max_length=256)]
"""A free-form identifier: a metric name, a feature name, an MLflow id."""

Percent = Annotated[int, Field(ge=0, le=100)]
"""An integer percentage of traffic, 0 to 100."""

QuantityString = Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=64)]
Quantity = Annotated[
    Annotated[int, Field(ge=0)] | QuantityString, Field(json_schema_extra={"x-kubernetes-int-or-string": True})
]
"""A Kubernetes resource quantity, never negative: an integer (``4``) or a string (``"500m"``,
``"16Gi"``, ``"0.5"``). ``-8Gi`` is refused at admission, naming the field."""

StringMap = Annotated[dict[str, Annotated[str, Field(max_length=4096)]], Field(max_length=128)]
"""Labels or annotations (at most 128 entries)."""

# --------------------------------------------------------------------------------------------
# Base models
# --------------------------------------------------------------------------------------------


class ApiModel(BaseModel):
    """Base of every modelops.io model: camelCase aliases, parse by name or alias, dump by alias."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        protected_namespaces=(),
        use_enum_values=False,
    )


class SpecModel(ApiModel):
    """A piece of a spec: unknown fields are an error (a typo must never be silently dropped)."""

    model_config = ConfigDict(extra="forbid")


class StatusModel(ApiModel):
    """A piece of a status: unknown fields are ignored (newer operators may write more)."""

    model_config = ConfigDict(extra="ignore")


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The JSON-ready dict to send to the API server: camelCase keys, absent fields left out."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------------------------
# Shared structures
# --------------------------------------------------------------------------------------------


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(StatusModel):
    """The state of one aspect of the object (metav1.Condition shape). ``lastTransitionTime``
    changes only when ``status`` flips."""

    type: str = Field(
        min_length=1,
        max_length=316,
        pattern=CONDITION_TYPE_PATTERN,
        description="Condition type in CamelCase, e.g. Ready, Accepted, Progressing, Degraded, Reproducible.",
    )
    status: ConditionStatus = Field(description="One of True, False, Unknown.")
    reason: str | None = Field(
        None,
        max_length=1024,
        pattern=CONDITION_REASON_PATTERN,
        description="Machine-readable CamelCase reason for the last transition, e.g. InvalidSpec, UnknownNodePool.",
    )
    message: str | None = Field(None, max_length=32768, description="Human-readable details about the last transition.")
    last_transition_time: datetime | None = Field(
        None, description="When status last changed (RFC 3339), e.g. 2025-01-31T12:00:00Z."
    )
    observed_generation: int | None = Field(
        None, ge=0, description="metadata.generation of the object this condition was computed from."
    )


def conditions_field() -> Any:
    return Field(
        default_factory=list,
        max_length=32,
        description="Current conditions of the object, one per type (Accepted, Ready, ...).",
        json_schema_extra=list_map("type"),
    )


def check_unique_conditions(conditions: list[Condition]) -> None:
    require_unique(conditions, "type", "status.conditions")


class ObjectStatus(StatusModel):
    """What every kind's status has: the generation it describes and its conditions."""

    observed_generation: int | None = Field(None, ge=0, description="metadata.generation this status describes.")
    conditions: list[Condition] = conditions_field()

    @field_validator("conditions")
    @classmethod
    def _unique_conditions(cls, value: list[Condition]) -> list[Condition]:
        check_unique_conditions(value)
        return value


class ResourceRequirements(SpecModel):
    """Compute resources for one container. Requests and limits are both set to these values."""

    cpu: Quantity | None = Field(
        None, description='CPU cores as a Kubernetes quantity, e.g. 2, "500m", "1.5". Absent: no CPU request.'
    )
    memory: Quantity | None = Field(
        None, description='Memory as a Kubernetes quantity, e.g. "8Gi", "512Mi". Absent: no memory request.'
    )
    gpus: int = Field(
        0,
        ge=0,
        le=64,
        description=(
            "Whole GPUs. The resource name (nvidia.com/gpu, amd.com/gpu, ...) comes from the node pool "
            "in the operator's configuration. Default 0."
        ),
    )


class DataRef(SpecModel):
    """The data a model was (or is to be) trained on."""

    uri: Uri = Field(description="Location of the dataset, e.g. s3://bucket/fraud/train/ or pvc://datasets/fraud.")
    version: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Dataset version (a DVC/lakeFS commit, snapshot id or date), e.g. 2025-01-31. Recorded in lineage.",
    )


class CodeRef(SpecModel):
    """The source code a model was (or is to be) trained from."""

    repo: Uri = Field(description="Repository URL, e.g. https://github.com/acme/fraud-model.")
    commit: str = Field(
        min_length=1,
        max_length=256,
        description="Commit the image was built from; a full 40-character SHA is recommended over a branch.",
    )


class EnvVar(SpecModel):
    """An environment variable for the container."""

    name: str = Field(
        min_length=1, max_length=256, pattern=ENV_NAME_PATTERN, description="Variable name, e.g. BATCH_SIZE."
    )
    value: str = Field("", max_length=32768, description='Variable value. Default "".')


class TemplateMetadata(SpecModel):
    """Labels and annotations to put on objects created from a template."""

    labels: StringMap = Field(default_factory=dict, description="Labels to add, e.g. team: fraud.")
    annotations: StringMap = Field(default_factory=dict, description="Annotations to add.")


class LocalReference(SpecModel):
    """A reference to an object by name in the same namespace."""

    name: Name = Field(description="Name of the object, in the same namespace.")


class Resource(BaseModel):
    """Base of the four top-level kinds: apiVersion, kind, metadata, spec, status.

    ``metadata`` is kept as a plain dict (the API server owns its schema)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="ignore", protected_namespaces=())

    metadata: dict[str, Any] = Field(default_factory=dict, description="Standard object metadata.")

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return str(ns) if ns is not None else None

    @property
    def generation(self) -> int | None:
        gen = self.metadata.get("generation")
        return int(gen) if gen is not None else None

    @model_validator(mode="before")
    @classmethod
    def _drop_null_status(cls, data: Any) -> Any:
        if isinstance(data, dict) and "status" in data and data["status"] is None:
            data = {k: v for k, v in data.items() if k != "status"}
        return data
