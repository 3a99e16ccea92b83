"""Measuring a step: when the running step is due for a look, what to look at, and how the
numbers that came back become the ``StepAnalysis`` the state machine acts on.

Owns the two pure halves around the one impure act (running the queries, in
``reconcilers.measuring``):

- ``due(spec, status, now)`` -> a ``MeasurementPlan`` or None. A step is measured while it runs
  (also while held or paused by spec, so the status keeps showing fresh numbers) when the Rollout
  has ``spec.analysis`` or the step is an A/B test and the candidate is Ready; the first look is
  one interval after the step started or the candidate became Ready, whichever is later (earlier
  there is no traffic at the new split to judge), then every interval.
- ``conclude(plan, readings, status, now)`` -> ``StepAnalysis``: every check judged
  (``analysis.verdicts.judge``; a provider error is Error, no data or too few samples is
  Inconclusive), the errorRate margin as a non-inferiority guardrail, the prediction divergence
  as a Jensen-Shannon distance of the two score histograms (``drift.binned``), the A/B look
  (``analysis.sequential``) on the counts since the step began, the sample-ratio check
  (``analysis.srm``) on the served requests since the step settled (one interval in), and the assessment folded on top
  of the step's earlier measurements, with ``complete`` from ``steps.analysis_complete``.

Why the windows differ: a check judges the recent behaviour of the candidate (the last
``window``), so a candidate that degrades mid-step is caught; the A/B test and the sample-ratio
check are cumulative statistics of the whole step by construction (the sequential test is valid
for any stopping time over one growing sample; the ratio is tested on all requests since the split
was set).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from modelops.api.analysis import AnalysisCheck, Builtin
from modelops.api.rollout import ABArm, AnalysisStatus, Measurement, RolloutSpec, Traffic, Verdict
from modelops.api.steps import ABTestStep, Step
from modelops.core.analysis.arms import Proportion
from modelops.core.analysis.noninferiority import rate_noninferiority
from modelops.core.analysis.sequential import SequentialDecision, decide_step
from modelops.core.analysis.srm import SampleRatio, check_sample_ratio
from modelops.core.analysis.verdicts import Assessment, Tally, assess, judge
from modelops.core.conditions import get_condition, parse_time
from modelops.core.drift.binned import align, js_distance
from modelops.core.durations import parse_duration
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.traffic import Split
from modelops.core.rollout.types import CANDIDATE_READY, IN_FLIGHT, POLL_SECONDS, StepAnalysis, StepRef

DEFAULT_MIN_SAMPLES = 20
# The Jensen-Shannon distance between two samples of the SAME distribution is not 0: with n scores
# per arm over k occupied bins its expectation is about sqrt((k - 1) / (4 n ln 2)) — 0.2 for 60
# scores over 8 bins, 0.11 for 200. Below ~200 per arm the noise alone would cross usual bounds.
DEFAULT_DIVERGENCE_MIN_SAMPLES = 200
MIN_DEFAULT_WINDOW = timedelta(minutes=1)
# The one-sided level of the errorRate margin: the 90% interval's upper bound must stay inside.
MARGIN_ALPHA = 0.05

Buckets = Sequence[tuple[float, float]]


@dataclass(frozen=True)
class MeasurementPlan:
    """What to measure for one run of one step. ``stable``/``candidate`` are ModelVersion names;
    ``srm`` is the served split the sample ratio is tested against (None when the step serves no
    candidate traffic, or mirrors: mirrored copies are not part of the split)."""

    ref: StepRef
    step: Step
    stable: str
    candidate: str
    checks: tuple[AnalysisCheck, ...]
    window: timedelta
    interval: timedelta
    elapsed: timedelta
    ab: ABTestStep | None = None
    srm: Split | None = None
    # The sample ratio is counted from one interval after the step began (see ``due``).
    srm_elapsed: timedelta = timedelta(0)


@dataclass(frozen=True)
class CheckReading:
    """What the provider returned for one check. ``value``/``samples`` for a plain value;
    ``stable``/``candidate`` request counts (errors as successes) for errorRate; the two score
    histograms (``(le, cumulative count)`` pairs) for predictionDivergence; ``error`` when the
    provider could not answer."""

    value: float | None = None
    samples: float | None = None
    error: str | None = None
    stable: Proportion | None = None
    candidate: Proportion | None = None
    histograms: tuple[Buckets, Buckets] | None = None
    # latencyP99 with a margin: the stable's p99 and request count over the same window.
    stable_value: float | None = None
    stable_samples: float | None = None


@dataclass(frozen=True)
class Readings:
    checks: Mapping[str, CheckReading] = field(default_factory=dict)
    # A/B arms since the step began (stable, candidate); None when not measured or on error.
    ab: tuple[Proportion, Proportion] | None = None
    ab_error: str | None = None
    # Served requests since the step began (stable, candidate).
    served: tuple[int, int] | None = None


def window_of(spec: RolloutSpec) -> timedelta:
    analysis = spec.analysis
    if analysis is not None and analysis.window is not None:
        return max(parse_duration(analysis.window), schedule.MIN_INTERVAL)
    interval = schedule.analysis_interval(spec) or MIN_DEFAULT_WINDOW
    return max(interval, MIN_DEFAULT_WINDOW)


def interval_of(spec: RolloutSpec) -> timedelta:
    return schedule.analysis_interval(spec) or timedelta(seconds=POLL_SECONDS)


def due(spec: RolloutSpec, status: Mapping[str, Any], now: datetime) -> MeasurementPlan | None:
    """The measurement the running step is due for now, or None (see the module docstring)."""
    if status.get("phase") not in {phase.value for phase in IN_FLIGHT}:
        return None
    candidate, stable = status.get("candidate"), status.get("stable")
    index, started = status.get("currentStep"), parse_time(status.get("stepStartedAt"))
    if not candidate or not stable or not isinstance(index, int) or started is None:
        return None
    if not 0 <= index < len(spec.steps) or status.get("stepHash") != schedule.step_hash(spec.steps):
        return None  # the machine restarts changed steps first; never measure for a stale index
    step = spec.steps[index]
    if step.full is not None or (spec.analysis is None and step.ab_test is None):
        return None
    base = _look_base(status, started)
    if base is None:
        return None
    interval = interval_of(spec)
    if now < base + interval:
        return None
    served = _served(status.get("traffic"))
    srm = served if served is not None and served.candidate and served.stable and not served.mirror else None
    # The first interval of a step is its settling time: the router takes the new weights, the
    # scrape catches up, and requests of the step before (a shadow step's mirrored copies, above
    # all) are still counted at the step's start. Counting the ratio from then would find a
    # mismatch the step did not cause, so it starts one interval in, and is tested once it has
    # an interval of its own.
    # Counted from when the candidate could be served at the step's weight: a candidate that became
    # Ready after the step began (the kserve router deploys it only then) had no weight before, and
    # the stable's requests of that time would read as a mismatch the split did not cause.
    # And from when the router was last set to this split (status.trafficSince): a route found
    # carrying another split — an operator stopped between its route write and its status write
    # leaves the route a step ahead — served the requests of that time at the wrong weights.
    routed_since = parse_time(status.get("trafficSince")) or started
    srm_elapsed = now - (max(started, _ready_since(status) or started, routed_since) + interval)
    if srm_elapsed < interval:
        srm = None
    return MeasurementPlan(
        ref=StepRef(candidate, index, started),
        step=step,
        stable=stable,
        candidate=candidate,
        checks=tuple(spec.analysis.checks) if spec.analysis is not None else (),
        window=window_of(spec),
        interval=interval,
        elapsed=now - started,
        ab=step.ab_test,
        srm=srm,
        srm_elapsed=srm_elapsed,
    )


def _look_base(status: Mapping[str, Any], started: datetime) -> datetime | None:
    """The time the next look is one interval after: the step's start, the candidate's becoming
    Ready, or the last look, whichever is latest. None while the candidate is not Ready: it has no
    weight then (``traffic.safe_split``), so there is nothing of it to judge, and a "no data" would
    count toward inconclusiveLimit what is only a model server still starting (a followed alias
    moves at registration, before the new version serves)."""
    ready = _ready_since(status)
    if ready is None:
        return None
    last = parse_time((status.get("analysis") or {}).get("lastRun"))
    return max(started, ready, last) if last is not None else max(started, ready)


def _ready_since(status: Mapping[str, Any]) -> datetime | None:
    """When the candidate last became Ready (the CandidateReady condition's flip to True)."""
    condition = get_condition(status.get("conditions"), CANDIDATE_READY)
    if condition is None or condition.get("status") != "True":
        return None
    return parse_time(condition.get("lastTransitionTime"))


def _served(traffic: Any) -> Split | None:
    try:
        return Split.from_traffic(Traffic.model_validate(traffic)) if isinstance(traffic, Mapping) else None
    except ValidationError:
        return None


def next_look(spec: RolloutSpec, status: Mapping[str, Any], now: datetime) -> float | None:
    """Seconds until the running step is next due for a measurement (None: nothing to measure)."""
    started = parse_time(status.get("stepStartedAt"))
    if started is None or status.get("phase") not in {phase.value for phase in IN_FLIGHT}:
        return None
    base = _look_base(status, started)
    if base is None:
        return None  # the candidate's readiness wakes the Rollout
    return max(0.0, (base + interval_of(spec) - now).total_seconds())


# ------------------------------------------------------------------------------- concluding


def _judge_check(check: AnalysisCheck, reading: CheckReading | None, *, at: datetime, step: int) -> Measurement:
    if reading is None:
        return judge(check, None, at=at, step=step, error="not measured")
    if reading.error is not None:
        return judge(check, None, at=at, step=step, error=reading.error)
    if check.builtin is None:
        return judge(check, reading.value, at=at, step=step)
    if check.builtin is Builtin.PREDICTION_DIVERGENCE:
        return _divergence(check, reading, at=at, step=step,
                           min_samples=check.min_samples or DEFAULT_DIVERGENCE_MIN_SAMPLES)
    min_samples = check.min_samples or DEFAULT_MIN_SAMPLES
    samples = int(reading.samples) if reading.samples is not None else None
    measured = judge(check, reading.value, at=at, step=step, samples=samples, min_samples=min_samples)
    if check.builtin is Builtin.ERROR_RATE and check.margin is not None and measured.verdict is Verdict.SUCCESSFUL:
        return _guardrail(check, reading, measured)
    if check.builtin is Builtin.LATENCY_P99 and check.margin is not None and measured.verdict is Verdict.SUCCESSFUL:
        return _latency_guardrail(check, reading, measured, min_samples)
    return measured


def _latency_guardrail(check: AnalysisCheck, reading: CheckReading, measured: Measurement,
                       min_samples: int) -> Measurement:
    """latencyP99 with a margin: the candidate's p99 may exceed the stable's (same window) by at
    most the margin; a stable without enough requests to compare with is Inconclusive."""
    assert check.margin is not None and reading.value is not None
    stable, samples = reading.stable_value, reading.stable_samples
    if stable is None or math.isnan(stable) or samples is None or samples < min_samples:
        return measured.model_copy(update={
            "verdict": Verdict.INCONCLUSIVE,
            "message": f"{check.name}: no stable p99 over {min_samples} requests to compare with (margin "
                       f"{check.margin:g}s)"})
    over = reading.value - stable
    if over > check.margin:
        return measured.model_copy(update={
            "verdict": Verdict.FAILED,
            "message": f"{check.name}: p99 {reading.value:.4g}s is {over:.4g}s above the stable's {stable:.4g}s, "
                       f"more than the margin {check.margin:g}s"})
    return measured.model_copy(update={
        "message": f"{check.name}: p99 {reading.value:.4g}s within {check.margin:g}s of the stable's {stable:.4g}s"})


def _divergence(
    check: AnalysisCheck, reading: CheckReading, *, at: datetime, step: int, min_samples: int
) -> Measurement:
    if reading.histograms is None:
        return judge(check, None, at=at, step=step)
    try:
        stable, candidate = align(*reading.histograms)  # per-bin counts over the same le boundaries
    except ValueError as error:
        # A reset counter or mismatched buckets say nothing about the model: not a failure.
        return judge(check, None, at=at, step=step, error=f"unusable histograms: {error}")
    fewest = int(min(stable.sum(), candidate.sum()))
    if fewest == 0:
        return judge(check, None, at=at, step=step)  # an arm without predictions: no data
    return judge(check, js_distance(stable, candidate), at=at, step=step, samples=fewest, min_samples=min_samples)


def _guardrail(check: AnalysisCheck, reading: CheckReading, measured: Measurement) -> Measurement:
    """errorRate with a margin: within max is not enough, the candidate must be *shown* no worse
    than stable by more than the margin (Newcombe interval of the difference)."""
    assert check.margin is not None
    if reading.stable is None or reading.candidate is None:
        return measured.model_copy(
            update={"verdict": Verdict.INCONCLUSIVE, "message": f"{check.name}: no stable arm to compare with"}
        )
    result = rate_noninferiority(
        reading.stable, reading.candidate, margin=check.margin, alpha=MARGIN_ALPHA, name=check.name
    )
    return measured.model_copy(update={"verdict": result.verdict, "message": result.message[:1024]})


def _in_run(measurement: Measurement, ref: StepRef) -> bool:
    """Was ``measurement`` taken in this run of the step?"""
    at = measurement.at if measurement.at.tzinfo is not None else measurement.at.replace(tzinfo=UTC)
    return measurement.step == ref.step and at >= ref.started_at


def _step_measurements(status: Mapping[str, Any], ref: StepRef) -> list[Measurement]:
    """This step run's earlier measurements (status keeps a short tail of every step's)."""
    raw = (status.get("analysis") or {}).get("measurements") or []
    found: list[Measurement] = []
    for item in raw:
        try:
            measurement = Measurement.model_validate(item)
        except ValidationError:
            continue
        if _in_run(measurement, ref):
            found.append(measurement)
    return found


def _ab_look(plan: MeasurementPlan, readings: Readings, status: Mapping[str, Any]) -> SequentialDecision | None:
    if plan.ab is None or readings.ab is None:
        return None
    previous = (status.get("abTest") or {}).get("pValue")
    p_value = float(previous) if isinstance(previous, int | float) and 0 <= previous <= 1 else 1.0
    stable, candidate = readings.ab
    return decide_step(plan.ab, stable, candidate, elapsed=plan.elapsed, previous_p_value=p_value)


def _arm(arm: Proportion) -> ABArm:
    return ABArm(samples=arm.samples, successes=arm.successes, rate=arm.rate)


def conclude(
    spec: RolloutSpec, plan: MeasurementPlan, readings: Readings, status: Mapping[str, Any], now: datetime
) -> StepAnalysis:
    """The StepAnalysis of one look (see the module docstring)."""
    index = plan.ref.step
    measurements = tuple(
        _judge_check(check, readings.checks.get(check.name), at=now, step=index) for check in plan.checks
    )
    look = _ab_look(plan, readings, status)
    srm: SampleRatio | None = None
    if plan.srm is not None and readings.served is not None:
        srm = check_sample_ratio(
            readings.served[0],
            readings.served[1],
            stable_weight=plan.srm.stable,
            candidate_weight=plan.srm.candidate,
        )
    assessment: Assessment | None = None
    if spec.analysis is not None:
        stored = AnalysisStatus.model_validate(status.get("analysis") or {})
        summaries = [c for c in stored.checks if c.last is not None and _in_run(c.last, plan.ref)]
        prior = Tally.resume(
            failures=stored.failures,
            inconclusives=stored.inconclusives,
            recent=_step_measurements(status, plan.ref),
            runs={c.name: c.consecutive_errors or 0 for c in summaries},
            latest={c.name: c.last for c in summaries if c.last is not None},
        )
        complete = schedule.analysis_complete(plan.step, plan.ref.started_at, now, look.decision if look else None)
        assessment = assess(
            measurements, spec.analysis, prior=prior, checks=[c.name for c in plan.checks], complete=complete
        )
    arms = (_arm(readings.ab[0]), _arm(readings.ab[1])) if look is not None and readings.ab is not None else None
    return StepAnalysis(
        ref=plan.ref,
        at=now,
        assessment=assessment,
        measurements=measurements,
        ab=look,
        ab_arms=arms,
        srm=srm,
    )
