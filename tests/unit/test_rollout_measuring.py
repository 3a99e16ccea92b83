"""``core.rollout.measuring``: when a step is due for a look, and how readings become the
StepAnalysis the machine acts on — checks judged (errors, no data, too few samples, bounds), the
errorRate margin as a non-inferiority guardrail, the prediction divergence from two score
histograms, the A/B look on counts since the step began, the sample-ratio check, and the
assessment folded on top of the step's earlier measurements. The last tests drive the machine
with these analyses from a rollout's start to its promotion and to its rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from modelops.api.rollout import ABDecision, RolloutPhase, RolloutSpec, Verdict
from modelops.core.analysis.arms import Proportion
from modelops.core.analysis.verdicts import AnalysisPhase
from modelops.core.rollout.machine import RolloutObservation, VersionState, plan
from modelops.core.rollout.measuring import (
    DEFAULT_MIN_SAMPLES,
    CheckReading,
    Readings,
    conclude,
    due,
    next_look,
    window_of,
)
from modelops.core.rollout.traffic import Split
from modelops.metrics.names import PREDICTION_SCORE_BUCKETS

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
MODEL = "fraud"
V1, V2 = "fraud-v1", "fraud-v2"
ROUTING = {"gatewayAPI": {"httpRoute": MODEL, "parentRefs": [{"name": "gw"}]}}
CHECKS: list[dict[str, Any]] = [
    {"name": "errors", "builtin": "errorRate", "max": 0.05},
    {"name": "p99", "builtin": "latencyP99", "max": 0.5},
    {"name": "divergence", "builtin": "predictionDivergence", "max": 0.2},
    {"name": "custom", "prometheus": {"query": "vector(1)"}, "min": 0.5},
]


def spec_of(steps: list[dict[str, Any]], checks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "target": V2, "trafficRouting": ROUTING, "steps": steps, **extra}
    if checks is not None:
        body["analysis"] = {"interval": "10s", "window": "30s", "checks": checks, "inconclusiveLimit": 1}
    return body


def seconds(n: float) -> datetime:
    return NOW + timedelta(seconds=n)


class Rollout:
    """Carries status from plan to plan (the reconciler's loop without the I/O)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = {**spec, "target": V1}
        self.status: dict[str, Any] = {}
        self.generation = 1
        self.versions = {V1: VersionState(True, True), V2: VersionState(True, True)}
        self.step(seconds(-100))  # V1 becomes stable
        self.spec = spec
        self.generation = 2
        self.step(NOW)  # V2 starts its steps

    @property
    def model(self) -> RolloutSpec:
        return RolloutSpec.model_validate(self.spec)

    def step(self, at: datetime, readings: Readings | None = None) -> Any:
        analysis = None
        measurement = due(self.model, self.status, at)
        if measurement is not None and readings is not None:
            analysis = conclude(self.model, measurement, readings, self.status, at)
        observation = RolloutObservation(
            name=MODEL, namespace="ml", generation=self.generation, spec=self.spec, status=self.status,
            versions=self.versions, analysis=analysis,
        )
        decision = plan(observation, at)
        self.status = decision.status
        return decision


def good(**extra: Any) -> Readings:
    return Readings(
        checks={
            "errors": healthy_errors(),
            "p99": CheckReading(value=0.1, samples=500),
            "divergence": CheckReading(histograms=(histogram(0.2), histogram(0.2))),
            "custom": CheckReading(value=1.0),
        },
        **extra,
    )


def healthy_errors() -> CheckReading:
    return CheckReading(
        value=0.002, samples=1000, stable=Proportion(1000, 2), candidate=Proportion(1000, 2)
    )


def histogram(center: float, total: int = 500) -> list[tuple[float, float]]:
    """Cumulative buckets of ``total`` scores concentrated around ``center``."""
    cumulative, buckets = 0.0, []
    for le in PREDICTION_SCORE_BUCKETS:
        if abs(le - center) < 0.051:
            cumulative += total / 2
        buckets.append((le, min(cumulative, float(total))))
    buckets.append((float("inf"), float(total)))
    return buckets


# ------------------------------------------------------------------------------- due


def test_a_step_is_first_measured_one_interval_after_it_started_then_every_interval() -> None:
    rollout = Rollout(spec_of([{"canary": {"weight": 20, "duration": "1m"}}], CHECKS))
    model = rollout.model
    assert due(model, rollout.status, seconds(9)) is None
    plan_ = due(model, rollout.status, seconds(10))
    assert plan_ is not None and plan_.ref.step == 0 and plan_.candidate == V2 and plan_.stable == V1
    assert plan_.window == timedelta(seconds=30) and plan_.elapsed == timedelta(seconds=10)
    assert next_look(model, rollout.status, seconds(4)) == 6.0
    rollout.step(seconds(10), good())
    assert due(model, rollout.status, seconds(15)) is None
    assert due(model, rollout.status, seconds(20)) is not None


def test_nothing_is_measured_without_analysis_or_out_of_flight() -> None:
    rollout = Rollout(spec_of([{"canary": {"weight": 20, "duration": "1m"}}]))
    assert due(rollout.model, rollout.status, seconds(30)) is None
    rollout = Rollout(spec_of([{"canary": {"weight": 20, "duration": "1m"}}], CHECKS))
    rollout.spec = {**rollout.spec, "target": V1}  # SRE rollback: out of flight
    rollout.generation += 1
    rollout.step(seconds(1))
    assert rollout.status["phase"] == RolloutPhase.ROLLED_BACK.value
    assert due(rollout.model, rollout.status, seconds(60)) is None


def test_an_ab_step_is_measured_even_without_analysis() -> None:
    steps = [{"abTest": {"weight": 50, "metric": "conversion", "minSamples": 10, "maxDuration": "1h"}}]
    rollout = Rollout(spec_of(steps))
    measurement = due(rollout.model, rollout.status, seconds(30))
    assert measurement is not None and measurement.ab is not None and measurement.checks == ()


def test_the_sample_ratio_is_tested_against_the_served_split_only_without_mirror() -> None:
    rollout = Rollout(spec_of([{"shadow": {"mirrorPercent": 100, "duration": "1m"}},
                               {"canary": {"weight": 20, "duration": "1m"}}], CHECKS))
    shadow = due(rollout.model, rollout.status, seconds(10))
    assert shadow is not None and shadow.srm is None
    rollout.status = {**rollout.status, "traffic": {"stable": 80, "candidate": 20, "mirror": 0}}
    settling = due(rollout.model, rollout.status, seconds(10))
    assert settling is not None and settling.srm is None  # the first interval is the step's settling time
    canary = due(rollout.model, rollout.status, seconds(20))
    assert canary is not None and canary.srm == Split(80, 20) and canary.srm_elapsed == timedelta(seconds=10)


def test_the_sample_ratio_counts_from_when_the_candidate_became_ready() -> None:
    """A candidate deployed only once its step began (the kserve router) had no weight before it was
    Ready: the stable's requests of that time are no mismatch."""
    rollout = Rollout(spec_of([{"canary": {"weight": 50, "duration": "1m"}}], CHECKS))
    rollout.status = {**rollout.status, "traffic": {"stable": 50, "candidate": 50, "mirror": 0}}
    started = rollout.status["stepStartedAt"]
    became_ready = (NOW + timedelta(seconds=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [c for c in rollout.status.get("conditions") or [] if c["type"] != "CandidateReady"]
    rollout.status["conditions"] = [*conditions, {"type": "CandidateReady", "status": "True",
                                                  "lastTransitionTime": became_ready, "reason": "Ready"}]
    assert due(rollout.model, rollout.status, seconds(30)).srm is None  # type: ignore[union-attr]
    late = due(rollout.model, rollout.status, seconds(40))
    assert late is not None and late.srm == Split(50, 50) and late.srm_elapsed == timedelta(seconds=15)
    assert started <= became_ready


def test_the_sample_ratio_counts_from_when_the_router_was_set_to_the_split() -> None:
    """Found by the kill suite: an operator stopped between its route write and its status write
    leaves the route a step ahead (here the next step's 50/50 while status says 80/20). The route is
    put back when it restarts, and status.trafficSince says when: the requests before then were
    served at the wrong weights, and counting them read as a mismatch (1715/1535 against 80/20)."""
    rollout = Rollout(spec_of([{"canary": {"weight": 20, "duration": "1m"}}], CHECKS))
    rollout.status = {**rollout.status, "traffic": {"stable": 80, "candidate": 20, "mirror": 0},
                      "trafficSince": seconds(30).strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert due(rollout.model, rollout.status, seconds(45)).srm is None  # type: ignore[union-attr]
    put_back = due(rollout.model, rollout.status, seconds(60))
    assert put_back is not None and put_back.srm == Split(80, 20) and put_back.srm_elapsed == timedelta(seconds=20)
    rollout.status["trafficSince"] = seconds(-600).strftime("%Y-%m-%dT%H:%M:%SZ")  # older than the step: the step
    assert due(rollout.model, rollout.status, seconds(60)).srm_elapsed == timedelta(seconds=50)  # type: ignore[union-attr]


def test_a_candidate_that_is_not_ready_is_not_measured_and_its_first_look_waits_an_interval() -> None:
    """A followed alias moves at registration, before the new version's model server answers: the
    candidate has no weight until it is Ready, so looks then would only count "no data" toward
    inconclusiveLimit. None is due (nor scheduled) until it is Ready, and the first look is one
    interval after that."""
    rollout = Rollout(spec_of([{"canary": {"weight": 50, "duration": "1m"}}], CHECKS))
    others = [c for c in rollout.status.get("conditions") or [] if c["type"] != "CandidateReady"]
    rollout.status["conditions"] = [*others, {"type": "CandidateReady", "status": "False", "reason": "NotReady",
                                              "lastTransitionTime": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}]
    assert due(rollout.model, rollout.status, seconds(30)) is None
    assert next_look(rollout.model, rollout.status, seconds(30)) is None
    became_ready = seconds(25).strftime("%Y-%m-%dT%H:%M:%SZ")
    rollout.status["conditions"] = [*others, {"type": "CandidateReady", "status": "True", "reason": "Ready",
                                              "lastTransitionTime": became_ready}]
    assert due(rollout.model, rollout.status, seconds(30)) is None
    assert next_look(rollout.model, rollout.status, seconds(30)) == 5.0
    first = due(rollout.model, rollout.status, seconds(35))
    assert first is not None and first.ref.started_at == NOW


def test_default_window_is_the_interval_but_at_least_a_minute() -> None:
    assert window_of(RolloutSpec.model_validate(spec_of([{"full": {}}], CHECKS))) == timedelta(seconds=30)
    body = spec_of([{"full": {}}], CHECKS)
    del body["analysis"]["window"]
    assert window_of(RolloutSpec.model_validate(body)) == timedelta(minutes=1)
    body["analysis"]["interval"] = "5m"
    assert window_of(RolloutSpec.model_validate(body)) == timedelta(minutes=5)


# --------------------------------------------------------------------------- conclude


def look(readings: Readings, checks: list[dict[str, Any]] = CHECKS, **spec_extra: Any) -> Any:
    rollout = Rollout(spec_of([{"canary": {"weight": 20, "duration": "1m"}}], checks, **spec_extra))
    measurement = due(rollout.model, rollout.status, seconds(10))
    assert measurement is not None
    return conclude(rollout.model, measurement, readings, rollout.status, seconds(10))


def verdicts(analysis: Any) -> dict[str, Verdict]:
    return {m.check: m.verdict for m in analysis.measurements}


def test_healthy_readings_pass_every_check() -> None:
    analysis = look(good())
    assert set(verdicts(analysis).values()) == {Verdict.SUCCESSFUL}
    assert analysis.assessment.phase is AnalysisPhase.RUNNING  # the step's time is not up yet


def test_a_candidate_with_many_errors_fails_the_error_rate_check() -> None:
    readings = good()
    checks = dict(readings.checks)
    checks["errors"] = CheckReading(value=0.3, samples=1000, stable=Proportion(1000, 2),
                                    candidate=Proportion(1000, 300))
    analysis = look(Readings(checks=checks))
    assert verdicts(analysis)["errors"] is Verdict.FAILED
    assert analysis.assessment.phase is AnalysisPhase.FAILED
    assert "0.3 is above max 0.05" in analysis.assessment.message


def test_no_data_too_few_samples_and_provider_errors_are_never_a_pass_nor_a_failure() -> None:
    checks = {
        "errors": CheckReading(value=None, samples=0, stable=Proportion(0, 0), candidate=Proportion(0, 0)),
        "p99": CheckReading(value=0.1, samples=DEFAULT_MIN_SAMPLES - 1),
        "divergence": CheckReading(),
        "custom": CheckReading(error="connection refused"),
    }
    found = verdicts(look(Readings(checks=checks)))
    assert found == {
        "errors": Verdict.INCONCLUSIVE,
        "p99": Verdict.INCONCLUSIVE,
        "divergence": Verdict.INCONCLUSIVE,
        "custom": Verdict.ERROR,
    }


def test_min_samples_of_a_check_overrides_the_default() -> None:
    checks = [{"name": "p99", "builtin": "latencyP99", "max": 0.5, "minSamples": 1000}]
    analysis = look(Readings(checks={"p99": CheckReading(value=0.1, samples=500)}), checks)
    assert verdicts(analysis) == {"p99": Verdict.INCONCLUSIVE}
    assert "only 500 samples, at least 1000 needed" in analysis.measurements[0].message


def test_the_margin_guardrail_needs_the_candidate_shown_no_worse_than_stable() -> None:
    checks = [{"name": "errors", "builtin": "errorRate", "max": 0.05, "margin": 0.01}]

    def judged(stable: Proportion, candidate: Proportion) -> Verdict:
        reading = CheckReading(value=candidate.rate, samples=candidate.samples, stable=stable, candidate=candidate)
        return verdicts(look(Readings(checks={"errors": reading}), checks))["errors"]

    # Thin data: 0 errors in 30 requests is within max, but its interval reaches past the margin.
    assert judged(Proportion(30, 0), Proportion(30, 0)) is Verdict.INCONCLUSIVE
    # Plenty of data and equal rates: shown within the margin.
    assert judged(Proportion(20000, 100), Proportion(20000, 100)) is Verdict.SUCCESSFUL
    # Clearly worse than stable by more than the margin, though still under max.
    assert judged(Proportion(20000, 20), Proportion(20000, 900)) is Verdict.FAILED


def test_prediction_divergence_is_the_js_distance_of_the_score_histograms() -> None:
    same = look(Readings(checks={"d": CheckReading(histograms=(histogram(0.2), histogram(0.2)))}),
                [{"name": "d", "builtin": "predictionDivergence", "max": 0.2}])
    assert same.measurements[0].verdict is Verdict.SUCCESSFUL and same.measurements[0].value == 0.0
    apart = look(Readings(checks={"d": CheckReading(histograms=(histogram(0.2), histogram(0.8)))}),
                 [{"name": "d", "builtin": "predictionDivergence", "max": 0.2}])
    assert apart.measurements[0].verdict is Verdict.FAILED and apart.measurements[0].value == 1.0
    reset = [(le, max(0.0, count - 300)) if le > 0.5 else (le, count) for le, count in histogram(0.4)]
    broken = look(Readings(checks={"d": CheckReading(histograms=(histogram(0.2), reset))}),
                  [{"name": "d", "builtin": "predictionDivergence", "max": 0.2}])
    assert broken.measurements[0].verdict is Verdict.ERROR


def test_the_ab_look_uses_the_counts_since_the_step_began_and_keeps_the_running_p_value() -> None:
    steps = [{"abTest": {"weight": 50, "metric": "conversion", "minSamples": 100, "maxDuration": "1h"}}]
    rollout = Rollout(spec_of(steps))
    measurement = due(rollout.model, rollout.status, seconds(30))
    assert measurement is not None
    undecided = conclude(rollout.model, measurement, Readings(ab=(Proportion(50, 5), Proportion(50, 9))),
                         rollout.status, seconds(30))
    assert undecided.ab.decision is ABDecision.UNDECIDED and "collecting" in undecided.ab.message
    better = conclude(rollout.model, measurement, Readings(ab=(Proportion(5000, 500), Proportion(5000, 800))),
                      rollout.status, seconds(30))
    assert better.ab.decision is ABDecision.CANDIDATE_BETTER and better.ab_arms[1].successes == 800
    rollout.status = {**rollout.status, "abTest": {**rollout.status["abTest"], "pValue": 1e-9}}
    kept = conclude(rollout.model, measurement, Readings(ab=(Proportion(5000, 500), Proportion(5000, 500))),
                    rollout.status, seconds(30))
    assert kept.ab.p_value == 1e-9  # the always-valid p-value never goes back up


def test_a_sample_ratio_mismatch_is_reported() -> None:
    rollout = Rollout(spec_of([{"canary": {"weight": 20, "duration": "1m"}}], CHECKS))
    rollout.status = {**rollout.status, "traffic": {"stable": 80, "candidate": 20, "mirror": 0}}
    measurement = due(rollout.model, rollout.status, seconds(20))
    assert measurement is not None
    fine = conclude(rollout.model, measurement, good(served=(8000, 2000)), rollout.status, seconds(20))
    assert fine.srm is not None and not fine.srm.mismatch
    skewed = conclude(rollout.model, measurement, good(served=(8000, 500)), rollout.status, seconds(20))
    assert skewed.srm is not None and skewed.srm.mismatch


# --------------------------------------------------------------------- with the machine


def test_a_good_candidate_goes_through_canary_and_is_promoted_on_fresh_evidence() -> None:
    rollout = Rollout(spec_of([{"canary": {"weight": 20, "duration": "20s"}}], CHECKS))
    for at in (10, 20):
        rollout.step(seconds(at), good())
    assert rollout.status["phase"] == RolloutPhase.PROMOTED.value and rollout.status["stable"] == V2
    measured = rollout.status["analysis"]["measurements"]
    assert {m["check"] for m in measured} == {c["name"] for c in CHECKS}
    assert all(m["verdict"] == "Successful" for m in measured)


def test_a_bad_candidate_is_rolled_back_at_the_first_look_with_the_measurement() -> None:
    rollout = Rollout(spec_of([{"canary": {"weight": 20, "duration": "5m"}}], CHECKS))
    checks = dict(good().checks)
    checks["errors"] = CheckReading(value=0.5, samples=400, stable=Proportion(1600, 1), candidate=Proportion(400, 200))
    decision = rollout.step(seconds(10), Readings(checks=checks))
    assert rollout.status["phase"] == RolloutPhase.ROLLED_BACK.value
    assert decision.route is not None and decision.route.split == Split(100, 0)
    assert "errors: 0.5 is above max 0.05" in rollout.status["message"]
    assert decision.version_tags and decision.version_tags[0].model_version == V2


def test_a_dead_prometheus_pauses_the_rollout_and_never_promotes() -> None:
    rollout = Rollout(spec_of([{"canary": {"weight": 20, "duration": "10s"}}], CHECKS,
                              ))
    rollout.spec["analysis"]["consecutiveErrorLimit"] = 1
    dead = Readings(checks={c["name"]: CheckReading(error="connection refused") for c in CHECKS})
    for at in (10, 20, 30, 40):
        rollout.step(seconds(at), dead)
    assert rollout.status["phase"] == RolloutPhase.PAUSED.value
    assert rollout.status["stable"] == V1 and rollout.status["candidate"] == V2
    assert "consecutiveErrorLimit" in rollout.status["message"]


def test_the_latency_margin_compares_the_candidate_p99_with_the_stable_one() -> None:
    checks = [{"name": "p99", "builtin": "latencyP99", "max": 0.5, "margin": 0.05}]

    def judged(candidate: float, stable: float | None, stable_samples: int = 500) -> tuple[Verdict, str]:
        reading = CheckReading(value=candidate, samples=500, stable_value=stable, stable_samples=stable_samples)
        measured = look(Readings(checks={"p99": reading}), checks).measurements[0]
        return measured.verdict, measured.message or ""

    assert judged(0.12, 0.10)[0] is Verdict.SUCCESSFUL  # within 0.05 s of the stable's
    verdict, message = judged(0.30, 0.10)  # under max 0.5, but 0.2 s slower than the stable
    assert verdict is Verdict.FAILED and "0.2s above the stable's 0.1s" in message
    assert judged(0.12, None)[0] is Verdict.INCONCLUSIVE  # nothing to compare with: never a pass
    assert judged(0.12, 0.10, stable_samples=3)[0] is Verdict.INCONCLUSIVE
    assert judged(0.9, 0.10)[0] is Verdict.FAILED  # max still applies first
