"""Rollout (modelops.io/v1alpha1, plural ``rollouts``, short name ``mro``): which ModelVersion
should serve one model, and how traffic moves to it — a list of steps (shadow, canary, A/B test,
pause, full) gated by analysis checks, through exactly one traffic router (Gateway API
HTTPRoute, Istio VirtualService, or KServe's own canary fields).

This module owns the Rollout spec and status models: routers, steps, analysis checks, the traffic
split, measurements and the audit history. Structural rules ("exactly one router", "exactly one
kind per step", "a check is a Prometheus query or a built-in") are CEL rules in the CRD and
pydantic validators here, with the same messages. Whether the chosen router can do a step (shadow
on KServe, for instance) is *not* an admission rule: the operator reports it with an
``InvalidSpec`` condition, because it depends on the router, not on the shape of the object.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from modelops.api.common import (
    LIST_SET,
    Duration,
    Identifier,
    LabelValue,
    Name,
    ObjectStatus,
    Percent,
    Resource,
    ShortName,
    SpecModel,
    StatusModel,
    Text,
    Uri,
    cel,
    count_set,
    exactly_one_rule,
    list_map,
    require_unique,
    validations,
)

# ----------------------------------------------------------------------------------- routing

ROUTER_MESSAGE = "spec.trafficRouting: exactly one of gatewayAPI, istio, kserve must be set"
MODEL_IMMUTABLE = "spec.model is immutable: a Rollout drives one model; create a new Rollout for another"


class ParentRef(SpecModel):
    """A Gateway (or other parent) the HTTPRoute attaches to."""

    name: Name = Field(description="Name of the Gateway, e.g. inference-gateway.")
    namespace: ShortName | None = Field(None, description="Namespace of the Gateway. Absent: the Rollout's namespace.")
    section_name: ShortName | None = Field(
        None, description="Listener of the Gateway to attach to, e.g. https. Absent: every listener."
    )


class GatewayAPIRouting(SpecModel):
    """Split traffic with a Gateway API HTTPRoute (backendRefs weights; RequestMirror filter for shadow)."""

    http_route: Name = Field(description="Name of the HTTPRoute the operator manages, e.g. fraud-detector.")
    parent_refs: list[ParentRef] = Field(
        min_length=1, max_length=16, description="Gateways the HTTPRoute attaches to (HTTPRoute spec.parentRefs)."
    )
    port: int = Field(80, ge=1, le=65535, description="Port of the predictor Services the route sends to. Default 80.")


class IstioRouting(SpecModel):
    """Split traffic with an Istio VirtualService (route weights; mirror + mirrorPercentage for shadow)."""

    virtual_service: Name = Field(description="Name of the VirtualService the operator manages, e.g. fraud-detector.")
    host: str = Field(
        min_length=1,
        max_length=253,
        description="Host clients call, e.g. fraud-detector.ml.example.com (VirtualService hosts).",
    )
    gateways: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list,
        max_length=16,
        description="Istio gateways, e.g. [istio-system/ingress]. Absent: mesh-internal traffic only.",
    )
    port: int = Field(80, ge=1, le=65535, description="Port of the predictor Services the route sends to. Default 80.")


class KServeRouting(SpecModel):
    """Split traffic with KServe's canary fields (canaryTrafficPercent). Cannot mirror: no shadow steps."""

    inference_service: Name = Field(description="Name of the InferenceService whose canary fields are driven.")


class TrafficRouting(SpecModel):
    """The traffic router: exactly one of gatewayAPI, istio, kserve."""

    model_config = ConfigDict(
        json_schema_extra=validations(cel(exactly_one_rule("gatewayAPI", "istio", "kserve"), ROUTER_MESSAGE))
    )

    gateway_api: GatewayAPIRouting | None = Field(None, alias="gatewayAPI", description="Gateway API HTTPRoute router.")
    istio: IstioRouting | None = Field(None, description="Istio VirtualService router.")
    kserve: KServeRouting | None = Field(None, description="KServe canary-fields router (no shadow).")

    @model_validator(mode="after")
    def _exactly_one(self) -> TrafficRouting:
        if count_set(self.gateway_api, self.istio, self.kserve) != 1:
            raise ValueError(ROUTER_MESSAGE)
        return self


# ------------------------------------------------------------------------------------- steps

STEP_KINDS = ("shadow", "canary", "abTest", "pause", "full")
STEP_KIND_MESSAGE = "each step must set exactly one of shadow, canary, abTest, pause, full"
STEP_APPROVAL_MESSAGE = "a step with approval: true needs a name, to be listed in spec.approved"
STEP_NAMES_MESSAGE = "spec.steps: step names must be unique"
STEP_FULL_MESSAGE = "spec.steps: full may appear once, as the last step"


class Direction(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


class ShadowStep(SpecModel):
    """Mirror a share of live requests to the candidate; its responses are logged, never returned."""

    mirror_percent: Percent = Field(description="Percent of requests mirrored to the candidate, 0-100, e.g. 100.")
    duration: Duration = Field(description="How long to shadow before the next step, e.g. 30m.")


class CanaryStep(SpecModel):
    """Send a share of live traffic to the candidate."""

    weight: Percent = Field(description="Percent of traffic served by the candidate, 0-100, e.g. 5.")
    duration: Duration | None = Field(
        None,
        description=(
            "How long to hold this weight (analysis runs meanwhile), e.g. 10m. "
            "Absent: move on once the weight is applied."
        ),
    )


class ABTestStep(SpecModel):
    """Split traffic and compare an outcome metric between candidate and stable with a sequential
    test that stays valid under continuous monitoring; the step ends as soon as it is decided."""

    weight: Percent = Field(description="Percent of traffic served by the candidate during the test, e.g. 50.")
    metric: Identifier = Field(
        description=(
            "Outcome metric compared between the arms, e.g. conversion. Per-arm counts come from the "
            "prediction-log sink's Prometheus metrics."
        )
    )
    min_samples: int = Field(
        ge=1, le=1_000_000_000, description="Samples each arm needs before a decision may be taken, e.g. 1000."
    )
    max_duration: Duration = Field(
        description="Longest the test may run, e.g. 24h; undecided at the deadline counts as Inconclusive."
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="False-positive rate of the test, strictly between 0 and 1. Default 0.05."
    )
    direction: Direction = Field(
        Direction.HIGHER, description="Which way is better for the metric: higher (default) or lower."
    )


class PauseStep(SpecModel):
    """Hold the current split."""

    duration: Duration | None = Field(
        None, description="How long to pause, e.g. 1h. Absent: until resumed (spec.approved or spec.paused toggled)."
    )


class FullStep(SpecModel):
    """Send 100% of traffic to the candidate and promote it to champion. No fields."""


class Step(SpecModel):
    """One step of the rollout: exactly one of shadow, canary, abTest, pause, full."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(exactly_one_rule(*STEP_KINDS), STEP_KIND_MESSAGE),
            cel(
                "!has(self.approval) || !self.approval || has(self.name)",
                STEP_APPROVAL_MESSAGE,
                field_path=".name",
                reason="FieldValueRequired",
            ),
        )
    )

    name: ShortName | None = Field(
        None, description="Step name (DNS label), e.g. canary-5. Required when approval is true; unique in spec.steps."
    )
    approval: bool = Field(
        False,
        description=(
            "Wait for a human before starting this step: it starts once its name is listed in "
            "spec.approved. Default false."
        ),
    )
    shadow: ShadowStep | None = Field(
        None, description="Mirror traffic to the candidate (not supported by the kserve router)."
    )
    canary: CanaryStep | None = Field(None, description="Serve a share of traffic from the candidate.")
    ab_test: ABTestStep | None = Field(None, description="A/B test the candidate against the stable version.")
    pause: PauseStep | None = Field(None, description="Hold the split for a time or until resumed.")
    full: FullStep | None = Field(None, description="Send all traffic to the candidate and promote it: full: {}.")

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if count_set(self.shadow, self.canary, self.ab_test, self.pause, self.full) != 1:
            raise ValueError(STEP_KIND_MESSAGE)
        if self.approval and self.name is None:
            raise ValueError(STEP_APPROVAL_MESSAGE)
        return self

    @property
    def kind(self) -> str:
        """The step's kind as spelled in YAML: shadow, canary, abTest, pause or full."""
        for kind, value in zip(
            STEP_KINDS, (self.shadow, self.canary, self.ab_test, self.pause, self.full), strict=True
        ):
            if value is not None:
                return kind
        raise ValueError(STEP_KIND_MESSAGE)


# ---------------------------------------------------------------------------------- analysis

CHECK_KIND_MESSAGE = "a check must set exactly one of prometheus, builtin"
CHECK_BOUND_MESSAGE = "a check needs min, max, margin or a combination"
CHECK_ORDER_MESSAGE = "min must be less than or equal to max"
CHECK_MARGIN_MESSAGE = "margin is only defined for builtin: errorRate (a non-inferiority margin on a rate)"
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
                "!has(self.margin) || (has(self.builtin) && self.builtin == 'errorRate')",
                CHECK_MARGIN_MESSAGE,
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
        le=1,
        description=(
            "errorRate only: a non-inferiority margin against the stable version, e.g. 0.005. The check passes "
            "only when the upper bound of the 90% interval of (candidate - stable) error rate is below it; an "
            "interval entirely above it fails; one that straddles it is Inconclusive (more traffic needed)."
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
        if self.margin is not None and self.builtin is not Builtin.ERROR_RATE:
            raise ValueError(CHECK_MARGIN_MESSAGE)
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


# -------------------------------------------------------------------------------------- spec


class RolloutSpec(SpecModel):
    """Which ModelVersion should serve the model, and how traffic moves to it. Patch spec.target
    back to a warm version to roll back at once; set abort: true to return all traffic to stable."""

    model: LabelValue = Field(
        description=(
            "Registered model name in MLflow, e.g. fraud-detector. One Rollout drives a model: when several name the "
            "same model (in any namespace the operator watches), the oldest acts and the others are refused. "
            "Immutable."
        ),
        json_schema_extra=validations(cel("self == oldSelf", MODEL_IMMUTABLE)),
    )
    target: Name = Field(
        description=(
            "Name of the ModelVersion that should serve. Changing it to a new version starts the steps; "
            "changing it to the champion or a warm previous version rolls back at once, without steps."
        )
    )
    traffic_routing: TrafficRouting = Field(description="The router: exactly one of gatewayAPI, istio, kserve.")
    steps: list[Step] = Field(
        min_length=1,
        max_length=32,
        description="Steps run in order for a new target, e.g. shadow, canary 5, canary 25, abTest, full.",
        json_schema_extra=validations(
            cel("self.all(s, !has(s.name) || self.exists_one(t, has(t.name) && t.name == s.name))", STEP_NAMES_MESSAGE),
            cel(
                "!self.exists(s, has(s.full)) || (self.exists_one(s, has(s.full)) && has(self[size(self) - 1].full))",
                STEP_FULL_MESSAGE,
            ),
        ),
    )
    analysis: Analysis | None = Field(None, description="Analysis checks. Absent: steps advance on time alone.")
    paused: bool = Field(False, description="Freeze the rollout where it is (traffic unchanged). Default false.")
    abort: bool = Field(
        False,
        description=(
            "Send 100% of traffic to stable at once; the candidate stays deployed for debugging. Default false."
        ),
    )
    keep_warm: int = Field(
        1, ge=0, le=10, description="Previous champions kept deployed for instant rollback, 0-10. Default 1."
    )
    progress_deadline: Duration = Field(
        "10m", description="Fail a step whose candidate is not Ready and progressing within this time. Default 10m."
    )
    approved: list[ShortName] = Field(
        default_factory=list,
        max_length=32,
        description="Names of steps a human approved (from git or kubectl patch), e.g. [ab-test].",
        json_schema_extra=LIST_SET,
    )

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[Step]) -> list[Step]:
        names = [s.name for s in value if s.name is not None]
        if len(names) != len(set(names)):
            raise ValueError(STEP_NAMES_MESSAGE)
        fulls = [i for i, s in enumerate(value) if s.full is not None]
        if fulls and fulls != [len(value) - 1]:
            raise ValueError(STEP_FULL_MESSAGE)
        return value

    @field_validator("approved")
    @classmethod
    def _approved(cls, value: list[str]) -> list[str]:
        require_unique(value, "", "spec.approved")
        return value


# ------------------------------------------------------------------------------------ status


class RolloutPhase(StrEnum):
    IDLE = "Idle"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    AWAITING_APPROVAL = "AwaitingApproval"
    PROMOTED = "Promoted"
    ABORTED = "Aborted"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


class Verdict(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


class ABDecision(StrEnum):
    UNDECIDED = "Undecided"
    CANDIDATE_BETTER = "CandidateBetter"
    NO_DIFFERENCE = "NoDifference"
    CANDIDATE_WORSE = "CandidateWorse"


class Traffic(StatusModel):
    """The split the router currently applies, in percent."""

    stable: Percent | None = Field(None, description="Percent served by the stable version.")
    candidate: Percent | None = Field(None, description="Percent served by the candidate.")
    mirror: Percent | None = Field(
        None, description="Percent of requests mirrored to the candidate (not served by it)."
    )


class Measurement(StatusModel):
    """One result of one check."""

    check: str = Field(max_length=63, description="Name of the check.")
    value: float | None = Field(
        None, description="Measured value; null when there was no data.", json_schema_extra={"nullable": True}
    )
    verdict: Verdict = Field(description="Successful, Failed, Inconclusive (no data) or Error (could not measure).")
    at: datetime = Field(description="When it was measured (RFC 3339).")
    step: int | None = Field(None, ge=0, description="Index of the step it was taken in.")
    message: Text | None = Field(None, description="Details, e.g. the query error or the bound that was crossed.")


class AnalysisStatus(StatusModel):
    """Latest measurements and the counters the limits apply to (reset when a step starts)."""

    last_run: datetime | None = Field(None, description="When the checks last ran.")
    measurements: list[Measurement] = Field(
        default_factory=list, max_length=100, description="Most recent measurements, newest last."
    )
    failures: int | None = Field(None, ge=0, description="Failed measurements in the current step.")
    inconclusives: int | None = Field(None, ge=0, description="Inconclusive measurements in the current step.")
    consecutive_errors: int | None = Field(None, ge=0, description="Error measurements in a row.")


class ABArm(StatusModel):
    """Counts of one arm of an A/B test."""

    samples: int | None = Field(None, ge=0, description="Observations of the metric.")
    successes: int | None = Field(None, ge=0, description="Observations counted as a success.")
    rate: float | None = Field(None, description="successes / samples.")


class ABTestStatus(StatusModel):
    """State of the running or last A/B test."""

    metric: str | None = Field(None, max_length=256, description="The metric compared.")
    stable: ABArm | None = Field(None, description="The stable arm.")
    candidate: ABArm | None = Field(None, description="The candidate arm.")
    p_value: float | None = Field(None, ge=0, le=1, description="Anytime-valid p-value of the sequential test.")
    decision: ABDecision | None = Field(None, description="Undecided, CandidateBetter, NoDifference or CandidateWorse.")


class HistoryEntry(StatusModel):
    """One transition of the rollout (the audit trail)."""

    time: datetime = Field(description="When it happened (RFC 3339).")
    from_: str | None = Field(
        None, alias="from", max_length=253, description="Phase (or step) before, e.g. Progressing."
    )
    to: str = Field(max_length=253, description="Phase (or step) after, e.g. RolledBack.")
    reason: str = Field(max_length=1024, description="Why, in CamelCase, e.g. AnalysisFailed, TargetChanged, Aborted.")
    actor: str | None = Field(
        None,
        max_length=253,
        description="Who caused it: operator, or the field manager that changed spec (kubectl, argocd-controller).",
    )
    message: Text | None = Field(None, description="Details, e.g. the failing measurement.")


class PendingTags(StatusModel):
    """MLflow tags still to be written on one version's registry entry (MLflow was unreachable)."""

    model_version: Name = Field(description="The ModelVersion whose registry version gets the tags.")
    tags: dict[str, Annotated[str, Field(max_length=5000)]] = Field(
        default_factory=dict, max_length=16, description="The tags, e.g. modelops.rollout.outcome: RolledBack."
    )


class RegistrySync(StatusModel):
    """What the MLflow Model Registry has been told about this rollout (aliases move with status)."""

    champion: Name | None = Field(None, description="ModelVersion the alias champion was last set to.")
    challenger: Name | None = Field(None, description="ModelVersion the alias challenger was last set to, if any.")
    pending_tags: list[PendingTags] = Field(
        default_factory=list, max_length=10, description="Tags not written yet (retried every reconcile)."
    )


class RolloutStatus(ObjectStatus):
    """Observed state of the rollout, written only by the operator."""

    phase: RolloutPhase | None = Field(
        None,
        description="Idle, Progressing, Paused, AwaitingApproval, Promoted, Aborted, RolledBack or Failed.",
    )
    message: Text | None = Field(None, description="Human-readable summary of the phase.")
    stable: Name | None = Field(None, description="ModelVersion serving as champion.")
    candidate: Name | None = Field(None, description="ModelVersion being rolled out, if any.")
    current_step: int | None = Field(None, ge=0, description="Index of the running step in spec.steps.")
    current_step_name: str | None = Field(None, max_length=63, description="Name of the running step, if it has one.")
    step_started_at: datetime | None = Field(None, description="When the running step started.")
    step_hash: str | None = Field(
        None, max_length=128, description="Hash of spec.steps the rollout runs; a change restarts the steps."
    )
    traffic: Traffic | None = Field(None, description="The split the router applies now.")
    analysis: AnalysisStatus | None = Field(None, description="Latest measurements and counters.")
    ab_test: ABTestStatus | None = Field(None, description="State of the A/B test, when one ran.")
    warm: list[Name] = Field(
        default_factory=list, max_length=11, description="Previous champions still deployed (instant rollback targets)."
    )
    approved_at_hold: list[str] | None = Field(
        None,
        max_length=32,
        description=(
            "spec.approved when the current hold began. Only a name added after that accepts the hold, so a step "
            "approved in advance (in git) never waves an analysis hold through."
        ),
    )
    retired: list[Name] = Field(
        default_factory=list,
        max_length=20,
        description=(
            "Previous champions no longer kept warm (keepWarm): their ModelVersions stop serving (role archived) "
            "until a Rollout names them again. The 20 most recent."
        ),
    )
    route: str | None = Field(
        None, max_length=320, description="The object the router manages, e.g. HTTPRoute/fraud-detector."
    )
    registry: RegistrySync | None = Field(None, description="What the MLflow Model Registry has been told.")
    history: list[HistoryEntry] = Field(
        default_factory=list, max_length=100, description="Transitions, oldest first; the last 100 are kept."
    )


class Rollout(Resource):
    """Which ModelVersion serves a model, and how traffic moves to it."""

    KIND: ClassVar[str] = "Rollout"
    PLURAL: ClassVar[str] = "rollouts"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("mro",)
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, Any], ...]] = (
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Stable", "type": "string", "jsonPath": ".status.stable"},
        {"name": "Candidate", "type": "string", "jsonPath": ".status.candidate"},
        {"name": "Stable%", "type": "integer", "jsonPath": ".status.traffic.stable"},
        {"name": "Candidate%", "type": "integer", "jsonPath": ".status.traffic.candidate"},
        {"name": "Mirror%", "type": "integer", "jsonPath": ".status.traffic.mirror"},
        {"name": "Step", "type": "integer", "jsonPath": ".status.currentStep"},
        {"name": "Target", "type": "string", "jsonPath": ".spec.target", "priority": 1},
        {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    )

    api_version: Literal["modelops.io/v1alpha1"] = Field("modelops.io/v1alpha1", alias="apiVersion")
    kind: Literal["Rollout"] = "Rollout"
    spec: RolloutSpec
    status: RolloutStatus = Field(default_factory=RolloutStatus)
