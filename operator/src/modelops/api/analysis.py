"""Rollout analysis (``spec.analysis``): the checks that gate each step — a PromQL query or a
built-in (errorRate with its non-inferiority margin, latencyP99 with its margin over the stable's
p99, predictionDivergence, a distance to the champion) — with their bounds, sample minimums and
interval, and the rules a check obeys (one kind, a bound, min ≤ max, margin only where defined)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field, field_validator, model_validator

from modelops.api.common import (
    Duration,
    ShortName,
    SpecModel,
    Uri,
    cel,
    count_set,
    exactly_one_rule,
    list_map,
    require_unique,
    validations,
)

CHECK_KIND_MESSAGE = "a check must set exactly one of prometheus, builtin"
CHECK_BOUND_MESSAGE = "a check needs min, max, margin or a combination"
CHECK_ORDER_MESSAGE = "min must be less than or equal to max"
CHECK_MARGIN_MESSAGE = (
    "margin is only defined for builtin: errorRate (a rate difference, 0-1) and latencyP99 (seconds above the "
    "stable's p99); predictionDivergence is already a distance to the champion (its max is the margin)"
)
CHECK_RATE_MARGIN_MESSAGE = "margin of builtin: errorRate is a difference of rates, at most 1"
GUARDED_BUILTINS = ("errorRate", "latencyP99")
CHECK_MIN_SAMPLES_MESSAGE = "minSamples applies to built-in checks only (a PromQL query reports no sample count)"


class Builtin(StrEnum):
    ERROR_RATE = "errorRate"
    LATENCY_P99 = "latencyP99"
    PREDICTION_DIVERGENCE = "predictionDivergence"


class PrometheusQuery(SpecModel):
    """A PromQL query returning one number."""

    query: str = Field(
        min_length=1,
        max_length=8192,
        description=(
            "PromQL returning a single sample, e.g. "
            'sum(rate(requests_total{model="${model}",version="${candidate}",code=~"5.."}[5m])). '
            "The placeholders ${namespace}, ${model}, ${stable} and ${candidate} are replaced with the "
            "Rollout's namespace, its model, and the stable and candidate ModelVersion names."
        ),
    )
    address: Uri | None = Field(
        None,
        description=(
            "Prometheus base URL, e.g. http://prometheus.monitoring:9090. Absent: the operator's configured one."
        ),
    )


class AnalysisCheck(SpecModel):
    """One measurement taken every analysis interval and judged against min/max: a Prometheus
    query or a built-in (errorRate and latencyP99 of the candidate, predictionDivergence between
    candidate and champion). A value outside [min, max] is Failed; no data is Inconclusive; a
    query that cannot be run is Error."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(exactly_one_rule("prometheus", "builtin"), CHECK_KIND_MESSAGE),
            cel("has(self.min) || has(self.max) || has(self.margin)", CHECK_BOUND_MESSAGE),
            cel("!has(self.min) || !has(self.max) || self.min <= self.max", CHECK_ORDER_MESSAGE, field_path=".min"),
            cel(
                "!has(self.margin) || (has(self.builtin) && self.builtin in ['errorRate', 'latencyP99'])",
                CHECK_MARGIN_MESSAGE,
                field_path=".margin",
            ),
            cel(
                "!has(self.margin) || !has(self.builtin) || self.builtin != 'errorRate' || self.margin <= 1.0",
                CHECK_RATE_MARGIN_MESSAGE,
                field_path=".margin",
            ),
            cel("!has(self.minSamples) || has(self.builtin)", CHECK_MIN_SAMPLES_MESSAGE, field_path=".minSamples"),
        )
    )

    name: ShortName = Field(description="Check name, unique in the list, e.g. error-rate.")
    prometheus: PrometheusQuery | None = Field(None, description="Measure with a PromQL query.")
    builtin: Builtin | None = Field(
        None,
        description=(
            "Built-in measurement: errorRate (fraction 0-1 of failed candidate requests), latencyP99 "
            "(candidate p99 latency in seconds), predictionDivergence (Jensen-Shannon distance 0-1 between "
            "candidate and champion prediction-score histograms; works during shadow)."
        ),
    )
    min: float | None = Field(None, description="Lowest passing value (inclusive). Absent: no lower bound.")
    max: float | None = Field(
        None, description="Highest passing value (inclusive), e.g. 0.01 for errorRate. Absent: no upper bound."
    )
    margin: float | None = Field(
        None,
        ge=0,
        le=3600,
        description=(
            "A guardrail against the stable version, measured over the same window. errorRate: a "
            "non-inferiority margin on the rate, 0-1, e.g. 0.005 — the check passes only when the upper bound "
            "of the 90% interval of (candidate - stable) error rate is below it; an interval entirely above it "
            "fails; one that straddles it is Inconclusive (more traffic needed). latencyP99: seconds the "
            "candidate's p99 may exceed the stable's, e.g. 0.05 — more fails, a stable without minSamples "
            "requests is Inconclusive. predictionDivergence takes none: it is already a distance to the champion "
            "(its max is the margin). Absent (the default): no comparison with the stable, only min and max."
        ),
    )
    min_samples: int | None = Field(
        None,
        ge=1,
        le=1_000_000_000,
        description=(
            "Built-ins only: requests (predictionDivergence: scored predictions per arm) the window must hold "
            "before the value is judged; fewer is Inconclusive, never a pass. Default 20; 200 for "
            "predictionDivergence, whose distance between two small samples of one distribution is biased upward."
        ),
    )

    @model_validator(mode="after")
    def _shape(self) -> AnalysisCheck:
        if count_set(self.prometheus, self.builtin) != 1:
            raise ValueError(CHECK_KIND_MESSAGE)
        if self.min is None and self.max is None and self.margin is None:
            raise ValueError(CHECK_BOUND_MESSAGE)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(CHECK_ORDER_MESSAGE)
        if self.margin is not None and self.builtin not in (Builtin.ERROR_RATE, Builtin.LATENCY_P99):
            raise ValueError(CHECK_MARGIN_MESSAGE)
        if self.margin is not None and self.builtin is Builtin.ERROR_RATE and self.margin > 1:
            raise ValueError(CHECK_RATE_MARGIN_MESSAGE)
        if self.min_samples is not None and self.builtin is None:
            raise ValueError(CHECK_MIN_SAMPLES_MESSAGE)
        return self


class Analysis(SpecModel):
    """Checks evaluated every interval while a step runs, and how many bad results are tolerated."""

    interval: Duration = Field("1m", description="Time between measurements, e.g. 30s. Default 1m.")
    window: Duration | None = Field(
        None,
        description=(
            "Range of the built-in measurements (the [range] of their PromQL), e.g. 5m. "
            "Absent: the interval, but at least 1m."
        ),
    )
    failure_limit: int = Field(
        0,
        ge=0,
        le=1000,
        description="Roll back when more measurements than this are Failed. Default 0: the first failure rolls back.",
    )
    inconclusive_limit: int = Field(
        2,
        ge=0,
        le=1000,
        description="Pause for a human when more measurements than this are Inconclusive (no data). Default 2.",
    )
    consecutive_error_limit: int = Field(
        4,
        ge=0,
        le=1000,
        description=(
            "When more consecutive measurements than this are Error (the provider could not be queried), "
            "the analysis is Inconclusive. Errors never promote. Default 4."
        ),
    )
    checks: list[AnalysisCheck] = Field(
        min_length=1, max_length=32, description="The checks to run.", json_schema_extra=list_map("name")
    )

    @field_validator("checks")
    @classmethod
    def _unique(cls, value: list[AnalysisCheck]) -> list[AnalysisCheck]:
        require_unique(value, "name", "spec.analysis.checks")
        return value
