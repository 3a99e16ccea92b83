"""Rollout steps (``spec.steps``): the five step kinds — shadow (mirror a percent), canary (a
weight), abTest (an even split until the sequential test decides), pause, full — with their
durations, approvals and the rules every list of steps obeys (one kind per step, unique names,
``full`` only last, a name for every step that needs an approval). Messages are shared by the CEL
rules in the CRD and the pydantic validators."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field, model_validator

from modelops.api.common import (
    Duration,
    Identifier,
    Percent,
    ShortName,
    SpecModel,
    cel,
    count_set,
    exactly_one_rule,
    validations,
)

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
    tau: float | None = Field(
        None,
        gt=0,
        le=10,
        description=(
            "Mixing variance of the sequential test (mSPRT): the spread of the effects it expects, in standard "
            "deviations of one observation. Smaller suits tinier effects (and stops later on large ones). "
            "Absent: 0.1 (a conversion rate of 10% moving to 13%), the shortest average stopping time for effects "
            "of 0.05-0.3 in simulation. Not used when effect is set."
        ),
    )
    effect: float | None = Field(
        None,
        gt=0,
        le=10,
        description=(
            "Planned effect: the smallest difference worth detecting, in standard deviations of one observation "
            "(a rate p moving by delta is delta / sqrt(p(1-p)), e.g. 10% -> 11% is 0.033). Set: a planned "
            "group-sequential test with a boundary valid under any peeking, that also stops early when no "
            "difference that large is in sight (NoDifference), and decides by 2*theta^2/effect^2 samples per arm "
            "(about 1.8x a fixed-horizon test; on average 0.69x of one of equal power, bench/ab_test.py). "
            "Absent: the mSPRT, which needs no plan but no fewer samples than a fixed-horizon test at 80% power."
        ),
    )
    power: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="Power of the planned test at the planned effect (used with effect). Default 0.8.",
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
