"""Rollout (modelops.io/v1alpha1, plural ``rollouts``, short name ``mro``): which ModelVersion
should serve one model, and how traffic moves to it — a list of steps (shadow, canary, A/B test,
pause, full) gated by analysis checks, through exactly one traffic router (Gateway API
HTTPRoute, Istio VirtualService, or KServe's own canary fields).

This module owns the Rollout spec (model, target, warm versions, abort, pause, approvals) and status
models: the traffic split, measurements, the A/B arms, the audit history and the registry sync.
Routers are in ``api.routing``, steps in ``api.steps``, analysis checks in ``api.analysis``.
Structural rules ("exactly one router", "exactly one kind per step", "a check is a Prometheus query
or a built-in") are CEL rules in the CRD and pydantic validators, with the same messages. Whether
the chosen router can do a step (shadow on KServe, for instance) is *not* an admission rule: the
operator reports it with an ``InvalidSpec`` condition, because it depends on the router, not on the
shape of the object.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from modelops.api.analysis import Analysis
from modelops.api.common import (
    DNS1123_LABEL_PATTERN,
    DNS1123_SUBDOMAIN_PATTERN,
    LIST_SET,
    Duration,
    LabelValue,
    Name,
    ObjectStatus,
    Percent,
    Resource,
    SpecModel,
    StatusModel,
    Text,
    cel,
    list_map,
    require_unique,
    validations,
)
from modelops.api.routing import TrafficRouting
from modelops.api.steps import STEP_FULL_MESSAGE, STEP_NAMES_MESSAGE, Step

APPROVAL_PATTERN = rf"^{DNS1123_LABEL_PATTERN.strip('^$')}(@{DNS1123_SUBDOMAIN_PATTERN.strip('^$')})?$"
Approval = Annotated[str, Field(min_length=1, max_length=317, pattern=APPROVAL_PATTERN)]
"""An entry of spec.approved: ``step`` or ``step@candidate`` (a step name, a ModelVersion name)."""
RetryToken = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.:]*[A-Za-z0-9])?$")]
"""A retry token: letters, digits and - _ . : (an RFC 3339 time fits)."""

MODEL_IMMUTABLE = "spec.model is immutable: a Rollout drives one model; create a new Rollout for another"
TARGET_MESSAGE = "give spec.target, spec.targetFrom or both (spec.target, when set, pins the version and wins)"
# MLflow's alias rule (mlflow/utils/validation.py): letters, digits, _ and -, not "latest" or v<N>.
ALIAS_PATTERN = r"^[A-Za-z0-9_-]+$"


class TargetFrom(SpecModel):
    """Follow the MLflow Model Registry: the version an alias of spec.model names should serve."""

    alias: str = Field(
        min_length=1,
        max_length=255,
        pattern=ALIAS_PATTERN,
        description=(
            "MLflow alias of spec.model to follow, e.g. challenger. When it moves to a registry version that a "
            "ModelVersion of this namespace records (status.registry), that ModelVersion becomes the target and its "
            "steps start; the version followed is recorded in status.followed, never written to spec. While the "
            "alias names nothing (or MLflow cannot be reached) the last followed version stays the target."
        ),
    )


# -------------------------------------------------------------------------------------- spec


class RolloutSpec(SpecModel):
    """Which ModelVersion should serve the model, and how traffic moves to it. Patch spec.target
    back to a warm version to roll back at once; set abort: true to return all traffic to stable."""

    model_config = ConfigDict(
        json_schema_extra=validations(cel("has(self.target) || has(self.targetFrom)", TARGET_MESSAGE))
    )

    model: LabelValue = Field(
        description=(
            "Registered model name in MLflow, e.g. fraud-detector. One Rollout drives a model: when several name the "
            "same model (in any namespace the operator watches), the oldest acts and the others are refused. "
            "Immutable."
        ),
        json_schema_extra=validations(cel("self == oldSelf", MODEL_IMMUTABLE)),
    )
    target: Name | None = Field(
        None,
        description=(
            "Name of the ModelVersion that should serve. Changing it to a new version starts the steps; "
            "changing it to the champion or a warm previous version rolls back at once, without steps. When set "
            "it pins the version and wins over targetFrom."
        ),
    )
    target_from: TargetFrom | None = Field(
        None,
        alias="targetFrom",
        description=(
            "Follow an MLflow registry alias instead of naming a version, e.g. {alias: challenger}: a new "
            "registered version starts its steps without a YAML edit. spec.target, when set, wins."
        ),
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
    approved: list[Approval] = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Steps a human approved (from git or kubectl patch). An entry step@candidate, e.g. "
            "ab-test@fraud-v3, approves that step for that candidate only: the way to approve in advance, in "
            "git, beside the target. A plain step name, e.g. ab-test, approves the step for the candidate in "
            "flight only if it was added after that candidate's rollout began (status.approvedAtStart): a name "
            "left over from an earlier rollout never pre-approves the next candidate."
        ),
        json_schema_extra=LIST_SET,
    )
    promote_full: Name | None = Field(
        None,
        alias="promoteFull",
        description=(
            "Promote this candidate now, skipping every remaining step: their durations, pauses, approvals and "
            "analysis (the human takes the risk, as with Argo Rollouts' promote --full). Set it to the candidate "
            "in flight, e.g. fraud-v3: it names that candidate only and does nothing while another is rolled out "
            "(in git beside the target, it promotes that target at once). spec.paused and spec.abort still win; "
            "the candidate must still be Ready before it takes all traffic."
        ),
    )
    retry: RetryToken | None = Field(
        None,
        description=(
            "Retry a candidate that was rolled back or failed, without moving spec.target away and back: set it "
            "to a new value (any token, e.g. a timestamp) while the target still names that candidate and its "
            "steps start again at 0. status.observedRetry records the token the operator honoured; a token "
            "already honoured, or present when a rollout starts, does nothing."
        ),
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

    @model_validator(mode="after")
    def _a_target(self) -> RolloutSpec:
        if self.target is None and self.target_from is None:
            raise ValueError(TARGET_MESSAGE)
        return self


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


class CheckSummary(StatusModel):
    """One check over the current run of the step: its last measurement and its verdict counts."""

    name: str = Field(max_length=63, description="Name of the check.")
    last: Measurement | None = Field(None, description="The check's most recent measurement.")
    successful: int | None = Field(None, ge=0, description="Successful measurements in the current step.")
    failed: int | None = Field(None, ge=0, description="Failed measurements in the current step.")
    inconclusive: int | None = Field(None, ge=0, description="Inconclusive measurements in the current step.")
    error: int | None = Field(None, ge=0, description="Error measurements in the current step.")
    consecutive_errors: int | None = Field(None, ge=0, description="Error measurements of this check in a row.")


class AnalysisStatus(StatusModel):
    """The analysis of the running step, summarised (counters reset when a step starts): the last
    measurement and the counts of each check, and a short tail of measurements. The full series is
    Prometheus': modelops_analysis_measurement and modelops_analysis_verdicts_total."""

    last_run: datetime | None = Field(None, description="When the checks last ran.")
    checks: list[CheckSummary] = Field(
        default_factory=list,
        max_length=32,
        description="Per check: the last measurement and the verdict counts of the current step.",
        json_schema_extra=list_map("name"),
    )
    measurements: list[Measurement] = Field(
        default_factory=list, max_length=100, description="The most recent measurements (a short tail), newest last."
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


class Followed(StatusModel):
    """The registry version spec.targetFrom follows, as last read from MLflow."""

    alias: str | None = Field(None, max_length=255, description="The alias followed, e.g. challenger.")
    version: str | None = Field(None, max_length=64, description="The MLflow registry version it named.")
    model_version: Name | None = Field(None, description="The ModelVersion that records that registry version.")
    since: datetime | None = Field(None, description="When the operator first saw the alias on that version.")
    message: Text | None = Field(
        None, description="Why the alias is not followed further, e.g. it names a version no ModelVersion records."
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
    traffic_since: datetime | None = Field(
        None,
        description=(
            "When the router was last set to status.traffic: the split changed, or the route was found "
            "carrying another one (a human's edit, or an operator stopped between its route write and its "
            "status write) and was put back. The sample-ratio check counts requests only from then."
        ),
    )
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
    approved_at_start: list[str] | None = Field(
        None,
        max_length=32,
        description=(
            "The plain step names spec.approved listed when the candidate's rollout began: they do not approve "
            "its steps (only names added since, or step@candidate entries, do)."
        ),
    )
    observed_retry: str | None = Field(
        None, max_length=63, description="The spec.retry token seen when the current candidate's rollout began."
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
    followed: Followed | None = Field(
        None, description="The version spec.targetFrom follows (the target while spec.target is not set)."
    )
    history: list[HistoryEntry] = Field(
        default_factory=list, max_length=100, description="Transitions, oldest first; the last 100 are kept."
    )


class Rollout(Resource):
    """Which ModelVersion serves a model, and how traffic moves to it."""

    KIND: ClassVar[str] = "Rollout"
    PLURAL: ClassVar[str] = "rollouts"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("mro",)
    # Six columns fit an 80-column screen; -o wide adds the split in full, the target and the message.
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, Any], ...]] = (
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Stable", "type": "string", "jsonPath": ".status.stable"},
        {"name": "Candidate", "type": "string", "jsonPath": ".status.candidate"},
        {"name": "Step", "type": "string", "jsonPath": ".status.currentStepName"},
        {"name": "Weight", "type": "integer", "jsonPath": ".status.traffic.candidate",
         "description": "Percent of traffic served by the candidate."},
        {"name": "Stable%", "type": "integer", "jsonPath": ".status.traffic.stable", "priority": 1},
        {"name": "Mirror%", "type": "integer", "jsonPath": ".status.traffic.mirror", "priority": 1},
        {"name": "Target", "type": "string", "jsonPath": ".spec.target", "priority": 1},
        {"name": "Followed", "type": "string", "jsonPath": ".status.followed.modelVersion", "priority": 1},
        {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    )

    api_version: Literal["modelops.io/v1alpha1"] = Field("modelops.io/v1alpha1", alias="apiVersion")
    kind: Literal["Rollout"] = "Rollout"
    spec: RolloutSpec
    status: RolloutStatus = Field(default_factory=RolloutStatus)
