"""DriftMonitor (modelops.io/v1alpha1, plural ``driftmonitors``, short name ``dm``): scheduled
drift checks of one served model — feature and prediction distributions of logged traffic
against a reference — exported as Prometheus metrics and alerts, optionally triggering
retraining from a TrainingRun template.

This module owns the DriftMonitor spec and status models, the statistic names, the threshold
shape and the built-in default thresholds (:data:`BUILTIN_THRESHOLDS`). Threshold lookup order
for a feature and statistic: ``thresholds.perFeature[feature]`` → ``thresholds.default`` →
``BUILTIN_THRESHOLDS`` (so the threshold fields carry no CRD defaults: a per-feature override
of one statistic must not silently reset the others).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from modelops.api.common import (
    LIST_SET,
    Duration,
    Identifier,
    Name,
    ObjectStatus,
    Resource,
    SpecModel,
    StatusModel,
    StringMap,
    TemplateMetadata,
    Text,
    Uri,
    cel,
    count_set,
    exactly_one_rule,
    list_map,
    require_unique,
    validations,
)
from modelops.api.trainingrun import TrainingRunSpec

CRON_PATTERN = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$"
# An IANA time zone name as the CronJob controller looks it up (Europe/Paris, Etc/GMT+5, UTC); whether
# the tz database knows it is checked by the operator (Accepted=False, UnknownTimeZone).
TIME_ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"
PREDICTION_FEATURE = "__prediction__"
# Performance drift results: feature ``__performance__`` overall, ``__performance__:<column>=<value>``
# per slice of spec.slices; statistics accuracy, auc, ece (the degradation against the reference).
PERFORMANCE_FEATURE = "__performance__"

REFERENCE_MESSAGE = "spec.reference: exactly one of snapshotUri, window must be set"
RETRAIN_TEMPLATE_MESSAGE = "spec.retrain.template is required when spec.retrain.enabled is true"


class ModelRefKind(StrEnum):
    MODEL_VERSION = "ModelVersion"
    ROLLOUT = "Rollout"


class FeatureType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class Statistic(StrEnum):
    PSI = "psi"
    KS = "ks"
    JS = "js"
    WASSERSTEIN = "wasserstein"
    NULL_RATE = "nullRate"
    SCHEMA = "schema"


class ResultStatistic(StrEnum):
    """What a status result measures: the statistics of spec.statistics, the drift job's own
    integrity checks (run on every feature), and the performance metrics when labels are joined."""

    PSI = "psi"
    KS = "ks"
    JS = "js"
    WASSERSTEIN = "wasserstein"
    NULL_RATE = "nullRate"
    SCHEMA = "schema"
    INF_RATE = "infRate"
    UNSEEN_SHARE = "unseenShare"
    OUT_OF_RANGE = "outOfRange"
    ACCURACY = "accuracy"
    AUC = "auc"
    ECE = "ece"


class DriftVerdict(StrEnum):
    DRIFT = "Drift"
    NO_DRIFT = "NoDrift"
    INCONCLUSIVE = "Inconclusive"


class Severity(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


BUILTIN_THRESHOLDS: dict[Statistic, float] = {
    Statistic.PSI: 0.2,
    Statistic.KS: 0.1,
    Statistic.JS: 0.1,
    Statistic.WASSERSTEIN: 0.1,
    Statistic.NULL_RATE: 0.01,
    Statistic.SCHEMA: 0.0,
}


class ModelRef(SpecModel):
    """The served model to watch."""

    kind: ModelRefKind = Field(
        description="ModelVersion (watch that version) or Rollout (watch whatever version the Rollout serves)."
    )
    name: Name = Field(description="Name of the ModelVersion or Rollout, in the same namespace.")


class Reference(SpecModel):
    """What "no drift" looks like: a training-data snapshot, or a window of logged traffic."""

    model_config = ConfigDict(
        json_schema_extra=validations(cel(exactly_one_rule("snapshotUri", "window"), REFERENCE_MESSAGE))
    )

    snapshot_uri: Uri | None = Field(
        None, description="A reference dataset (Parquet or CSV), e.g. s3://ml-data/fraud/reference/2025-01.parquet."
    )
    window: Duration | None = Field(
        None,
        description="Use logged traffic of this length, ending where the current window starts, e.g. 168h.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Reference:
        if count_set(self.snapshot_uri, self.window) != 1:
            raise ValueError(REFERENCE_MESSAGE)
        return self


class Feature(SpecModel):
    """A model input to watch."""

    name: Identifier = Field(description="Feature (column) name as logged, e.g. amount.")
    type: FeatureType = Field(description="numeric (binned) or categorical (counted per value).")
    critical: bool = Field(
        False,
        description=(
            "PSI above its threshold on a critical feature opens a P2 alert. When no feature is marked, "
            "every feature counts as critical. Default false."
        ),
    )


class StatisticThresholds(SpecModel):
    """Drift thresholds per statistic; a statistic above its threshold is drift. Unset fields
    fall back to thresholds.default, then to the built-in values given below."""

    psi: float | None = Field(None, ge=0, description="Population Stability Index. Built-in 0.2.")
    ks: float | None = Field(
        None, ge=0, le=1, description="Kolmogorov-Smirnov statistic D, 0-1 (numeric only). Built-in 0.1."
    )
    js: float | None = Field(None, ge=0, le=1, description="Jensen-Shannon distance, 0-1. Built-in 0.1.")
    wasserstein: float | None = Field(
        None,
        ge=0,
        description="Wasserstein distance normalised by the reference standard deviation (numeric only). Built-in 0.1.",
    )
    null_rate: float | None = Field(
        None, ge=0, le=1,
        description="Increase of the null fraction over the reference, 0-1. Built-in 0.01 (a 1% to 5% jump is drift).",
    )
    schema_: float | None = Field(
        None,
        alias="schema",
        ge=0,
        le=1,
        description="Fraction of records violating the feature's type (missing column, wrong type). Built-in 0.",
    )

    def get(self, statistic: Statistic) -> float | None:
        """The threshold set here for one statistic, or None."""
        return {
            Statistic.PSI: self.psi,
            Statistic.KS: self.ks,
            Statistic.JS: self.js,
            Statistic.WASSERSTEIN: self.wasserstein,
            Statistic.NULL_RATE: self.null_rate,
            Statistic.SCHEMA: self.schema_,
        }[statistic]


class Thresholds(SpecModel):
    """Drift thresholds: defaults, per-feature overrides, and thresholds for the prediction distribution."""

    default: StatisticThresholds | None = Field(
        None, description="Thresholds for every feature, e.g. {psi: 0.25}. Unset statistics use the built-ins."
    )
    per_feature: dict[str, StatisticThresholds] = Field(
        default_factory=dict,
        max_length=256,
        description="Overrides by feature name, e.g. {amount: {psi: 0.1}}.",
    )
    predictions: StatisticThresholds | None = Field(
        None, description="Thresholds for the model's output distribution. Unset: as default."
    )

    def threshold(self, feature: str, statistic: Statistic) -> float:
        """Resolve the threshold: perFeature → default → built-in."""
        if feature == PREDICTION_FEATURE and self.predictions is not None:
            value = self.predictions.get(statistic)
            if value is not None:
                return value
        override = self.per_feature.get(feature)
        for source in (override, self.default):
            if source is not None:
                value = source.get(statistic)
                if value is not None:
                    return value
        return BUILTIN_THRESHOLDS[statistic]


class AlertRoute(SpecModel):
    """Alert at a severity when a statistic crosses a value."""

    statistic: Statistic = Field(description="Statistic the rule watches, e.g. psi.")
    above: float = Field(description="Fire when any feature's value is above this, e.g. 0.2.")
    severity: Severity = Field(description="Alert severity label: P0 (page now) to P3 (ticket).")
    for_: Duration | None = Field(
        None, alias="for", description="How long the condition must hold before firing (PrometheusRule for), e.g. 15m."
    )


class Alerts(SpecModel):
    """PrometheusRule alerts on the drift metrics."""

    enabled: bool = Field(True, description="Create a PrometheusRule for this monitor. Default true.")
    routes: list[AlertRoute] = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Severity routing. Absent: the built-in table (schema violations and null-rate spikes P0, "
            "psi above 0.2 P2, ...)."
        ),
    )
    labels: StringMap = Field(default_factory=dict, description="Extra labels on every alert, e.g. team: fraud.")


class RetrainTemplate(SpecModel):
    """The TrainingRun to create when drift persists."""

    metadata: TemplateMetadata | None = Field(None, description="Labels and annotations for the TrainingRun.")
    spec: TrainingRunSpec = Field(description="Spec of the TrainingRun, as in kind TrainingRun.")


class Retrain(SpecModel):
    """Automatic retraining on persistent drift. The TrainingRuns it creates are records, not
    children (no owner reference): they, and the models they register, outlive the monitor."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!self.enabled || has(self.template)",
                RETRAIN_TEMPLATE_MESSAGE,
                field_path=".template",
                reason="FieldValueRequired",
            )
        )
    )

    enabled: bool = Field(False, description="Create a TrainingRun when drift persists. Default false.")
    template: RetrainTemplate | None = Field(None, description="The TrainingRun to create. Required when enabled.")
    after: int = Field(
        1, ge=1, le=100, description="Consecutive drifted evaluations needed before retraining. Default 1."
    )
    cooldown: Duration = Field("24h", description="Minimum time between two retrainings, e.g. 12h. Default 24h.")
    max_concurrent: int = Field(1, ge=1, le=10, description="Retraining TrainingRuns that may run at once. Default 1.")

    @model_validator(mode="after")
    def _template(self) -> Retrain:
        if self.enabled and self.template is None:
            raise ValueError(RETRAIN_TEMPLATE_MESSAGE)
        return self


class DriftMonitorSpec(SpecModel):
    """Which model to watch, against what reference, which features and statistics, how often,
    and what to do about drift."""

    model_ref: ModelRef = Field(description="The ModelVersion or Rollout whose traffic is checked.")
    reference: Reference | None = Field(
        None,
        description=(
            "Reference distribution: exactly one of snapshotUri, window. Absent: the training data snapshot "
            "named in the served ModelVersion's lineage (training-serving skew)."
        ),
    )
    features: list[Feature] = Field(
        min_length=1, max_length=256, description="Features to check.", json_schema_extra=list_map("name")
    )
    statistics: list[Statistic] = Field(
        default_factory=lambda: [Statistic.PSI],
        min_length=1,
        max_length=6,
        description="Statistics to compute: psi, ks, js, wasserstein, nullRate, schema. Default [psi].",
        json_schema_extra={**LIST_SET, "default": ["psi"]},
    )
    thresholds: Thresholds | None = Field(None, description="Drift thresholds. Absent: the built-ins.")
    slices: list[Identifier] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Input columns to compute performance metrics per value of (e.g. a protected attribute such as "
            "gender), when labels are joined."
        ),
        json_schema_extra=LIST_SET,
    )
    window: Duration = Field("1h", description="Logged traffic compared on each run, e.g. 1h. Default 1h.")
    schedule: str = Field(
        "0 * * * *",
        max_length=128,
        pattern=CRON_PATTERN,
        description='Cron schedule of the drift job (CronJob syntax), e.g. "*/15 * * * *" or @daily. Default hourly.',
    )
    time_zone: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=TIME_ZONE_PATTERN,
        description="IANA time zone of the schedule, e.g. Europe/Paris. Absent: UTC.",
    )
    alerts: Alerts | None = Field(None, description="Alerting. Absent: enabled with the built-in severity table.")
    retrain: Retrain | None = Field(None, description="Retraining. Absent: disabled.")

    @field_validator("features")
    @classmethod
    def _unique_features(cls, value: list[Feature]) -> list[Feature]:
        require_unique(value, "name", "spec.features")
        return value

    @field_validator("statistics")
    @classmethod
    def _unique_statistics(cls, value: list[Statistic]) -> list[Statistic]:
        require_unique(value, "", "spec.statistics")
        return value


class DriftResult(StatusModel):
    """One statistic of one feature in the last run."""

    feature: str = Field(
        max_length=256,
        description=(
            f"Feature name; {PREDICTION_FEATURE} for the prediction distribution, {PERFORMANCE_FEATURE} "
            f"(or {PERFORMANCE_FEATURE}:<column>=<value> for a slice) for performance metrics."
        ),
    )
    statistic: ResultStatistic = Field(description="The statistic.")
    value: float | None = Field(None, description="Its value; absent when it could not be computed (no data).")
    threshold: float = Field(description="The threshold applied.")
    drifted: bool = Field(description="value > threshold, judged (verdict Drift).")
    verdict: DriftVerdict | None = Field(
        None, description="Drift, NoDrift, or Inconclusive (too little data, or the noise floor too high)."
    )
    noise_floor: float | None = Field(
        None, description="The value this statistic takes by chance alone at these sample sizes."
    )
    p_value: float | None = Field(None, description="p-value of the statistic, where it has one (ks).")
    message: Text | None = Field(None, description="Why this verdict.")


class TimeWindow(StatusModel):
    """A time range of logged traffic."""

    start: datetime = Field(description="Start (inclusive).")
    end: datetime = Field(description="End (exclusive).")


class DriftMonitorStatus(ObjectStatus):
    """Observed state of the monitor, written by the operator from the drift job's results."""

    last_run: datetime | None = Field(None, description="When the last evaluation finished.")
    window: TimeWindow | None = Field(None, description="The logged traffic the last evaluation read.")
    rows_seen: int | None = Field(None, ge=0, description="Logged rows in the last evaluation's window.")
    reference_rows: int | None = Field(None, ge=0, description="Rows of the reference.")
    verdict: DriftVerdict | None = Field(None, description="Overall verdict of the last evaluation.")
    served_model_version: Name | None = Field(None, description="The ModelVersion whose traffic was evaluated.")
    results: list[DriftResult] = Field(
        default_factory=list, max_length=2048, description="Results of the last evaluation."
    )
    drifted: bool | None = Field(None, description="Whether any result of the last evaluation drifted.")
    consecutive_drifted: int | None = Field(None, ge=0, description="Drifted evaluations in a row.")
    report_uri: Uri | None = Field(None, description="Where the last HTML drift report was written.")
    cron_job: Name | None = Field(None, description="Name of the CronJob running the drift job.")
    shards: int | None = Field(
        None, ge=1, description="Pods the next drift job runs in parallel (an Indexed Job when above 1)."
    )
    prometheus_rule: Name | None = Field(None, description="Name of the PrometheusRule with this monitor's alerts.")
    last_retrain: datetime | None = Field(None, description="When a retraining TrainingRun was last created.")
    retrain_runs: list[Name] = Field(
        default_factory=list, max_length=20, description="TrainingRuns created by this monitor, newest last."
    )
    message: Text | None = Field(None, description="Human-readable summary.")


class DriftMonitor(Resource):
    """Scheduled drift checks of one served model, with alerts and optional retraining."""

    KIND: ClassVar[str] = "DriftMonitor"
    PLURAL: ClassVar[str] = "driftmonitors"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("dm",)
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, Any], ...]] = (
        {"name": "Model", "type": "string", "jsonPath": ".spec.modelRef.name"},
        {"name": "Drifted", "type": "boolean", "jsonPath": ".status.drifted"},
        {"name": "Last Run", "type": "date", "jsonPath": ".status.lastRun"},
        {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    )

    api_version: Literal["modelops.io/v1alpha1"] = Field("modelops.io/v1alpha1", alias="apiVersion")
    kind: Literal["DriftMonitor"] = "DriftMonitor"
    spec: DriftMonitorSpec
    status: DriftMonitorStatus = Field(default_factory=DriftMonitorStatus)
