"""Hypothesis properties of the Rollout state machine over arbitrary observations built from the API
models: plan never raises and always writes a status the API accepts; served weights sum to 100 and
never reach a backend that is not Ready; a mirror never changes the served split; a bad analysis
never promotes; planning converges (the same inputs, planned again, change nothing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelops.api.common import to_wire
from modelops.api.rollout import ABDecision, RolloutPhase, RolloutSpec, RolloutStatus
from modelops.api.steps import Step
from modelops.core.analysis.sequential import SequentialDecision
from modelops.core.analysis.srm import check_sample_ratio
from modelops.core.analysis.verdicts import AnalysisPhase, Assessment, Tally
from modelops.core.conditions import format_time
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.machine import (
    HOLD_REASONS,
    RolloutDecision,
    RolloutObservation,
    StepAnalysis,
    StepRef,
    VersionState,
    plan,
)
from modelops.core.rollout.traffic import Split

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
NAMES = [f"fraud-detector-v{i}" for i in range(1, 5)]
ROUTERS = [
    {"gatewayAPI": {"httpRoute": "fraud", "parentRefs": [{"name": "gw"}]}},
    {"istio": {"virtualService": "fraud", "host": "fraud.example.com"}},
    {"kserve": {"inferenceService": "fraud"}},
]
CHECKS = [{"name": "error-rate", "builtin": "errorRate", "max": 0.01}]
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

percent = st.integers(min_value=0, max_value=100)
durations = st.sampled_from(["0s", "30s", "5m", "1h"])
optional_duration = st.one_of(st.none(), durations)


@st.composite
def steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    kinds = st.one_of(
        st.builds(lambda m, d: {"shadow": {"mirrorPercent": m, "duration": d}}, percent, durations),
        st.builds(
            lambda w, d: {"canary": {"weight": w, **({"duration": d} if d else {})}}, percent, optional_duration
        ),
        st.builds(
            lambda w, n, d: {"abTest": {"weight": w, "metric": "conversion", "minSamples": n, "maxDuration": d}},
            percent, st.integers(1, 1000), durations,
        ),
        st.builds(lambda d: {"pause": {"duration": d} if d else {}}, optional_duration),
    )
    body = draw(st.lists(kinds, min_size=0, max_size=5))
    if draw(st.booleans()) or not body:
        body.append({"full": {}})
    for index, item in enumerate(body):
        if draw(st.booleans()):
            item["name"] = f"step-{index}"
            item["approval"] = draw(st.booleans())
    return body


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(steps())
    names = [*schedule.step_names([Step.model_validate(s) for s in body]), f"full-{len(body)}"]
    spec: dict[str, Any] = {
        "model": "fraud-detector",
        "target": draw(st.sampled_from(NAMES)),
        "trafficRouting": draw(st.sampled_from(ROUTERS)),
        "steps": body,
        "paused": draw(st.booleans()),
        "abort": draw(st.booleans()),
        "keepWarm": draw(st.integers(0, 3)),
        "progressDeadline": draw(st.sampled_from(["0s", "1m", "10m"])),
        "approved": sorted(draw(st.sets(st.sampled_from(names), max_size=3))),
    }
    if draw(st.booleans()):
        spec["analysis"] = {"interval": draw(st.sampled_from(["0s", "30s", "1m"])), "checks": CHECKS}
    RolloutSpec.model_validate(spec)
    return spec


names_or_none = st.one_of(st.none(), st.sampled_from(NAMES))
times = st.builds(lambda m: NOW - timedelta(minutes=m), st.integers(0, 600))
splits = st.builds(lambda c, m: Split(100 - c, c, m), percent, percent)


@st.composite
def statuses(draw: st.DrawFn, spec: dict[str, Any]) -> dict[str, Any]:
    body = [Step.model_validate(s) for s in spec["steps"]]
    condition_types = draw(st.lists(st.sampled_from(["Paused", "Progressing", "CandidateReady"]), unique=True))
    conditions = []
    for type_ in condition_types:
        reason = draw(st.sampled_from(["PausedBySpec", "Resumed", "StepRunning", "NotReady", *HOLD_REASONS]))
        conditions.append({
            "type": type_, "status": draw(st.sampled_from(["True", "False"])), "reason": reason,
            "message": "m", "lastTransitionTime": format_time(draw(times)),
        })
    split = draw(st.one_of(st.none(), splits))
    status = RolloutStatus.model_validate({
        "phase": draw(st.one_of(st.none(), st.sampled_from(list(RolloutPhase)))),
        "stable": draw(names_or_none),
        "candidate": draw(names_or_none),
        "currentStep": draw(st.one_of(st.none(), st.integers(0, len(body) + 1))),
        "stepStartedAt": draw(st.one_of(st.none(), times)),
        "stepHash": draw(st.sampled_from([None, "0123456789abcdef", schedule.step_hash(body)])),
        "traffic": split.to_traffic() if split else None,
        "warm": draw(st.lists(st.sampled_from(NAMES), max_size=4, unique=True)),
        "conditions": conditions,
    })
    return to_wire(status)


version_states = st.dictionaries(
    st.sampled_from(NAMES), st.builds(VersionState, exists=st.booleans(), ready=st.booleans())
)


def assessment(phase: AnalysisPhase) -> Assessment:
    return Assessment(phase=phase, failures=0, inconclusives=0, consecutive_errors=0, message=phase.value,
                      tally=Tally())


@st.composite
def analyses(draw: st.DrawFn, status: dict[str, Any]) -> StepAnalysis | None:
    if draw(st.booleans()):
        return None
    started = status.get("stepStartedAt")
    matching = draw(st.booleans()) and status.get("candidate") and status.get("currentStep") is not None and started
    if matching:
        ref = StepRef(status["candidate"], status["currentStep"],
                      datetime.fromisoformat(started.replace("Z", "+00:00")))
    else:
        ref = StepRef(draw(st.sampled_from(NAMES)), draw(st.integers(0, 5)), draw(times))
    ab = None
    if draw(st.booleans()):
        decision = draw(st.sampled_from(list(ABDecision)))
        ab = SequentialDecision(decision, draw(st.floats(0, 1)), None, f"A/B {decision.value}")
    srm = None
    if draw(st.booleans()):
        srm = check_sample_ratio(draw(st.integers(0, 5000)), draw(st.integers(0, 5000)),
                                 stable_weight=draw(st.integers(1, 100)), candidate_weight=draw(st.integers(0, 100)))
    phase = draw(st.one_of(st.none(), st.sampled_from(list(AnalysisPhase))))
    return StepAnalysis(ref=ref, at=draw(st.one_of(st.none(), times)),
                        assessment=assessment(phase) if phase else None, ab=ab, srm=srm)


@st.composite
def observations(draw: st.DrawFn) -> tuple[RolloutObservation, datetime]:
    spec = draw(specs())
    status = draw(statuses(spec))
    observation = RolloutObservation(
        name="fraud-detector", namespace="ml", generation=draw(st.integers(1, 50)), spec=spec, status=status,
        versions=draw(version_states), analysis=draw(analyses(status)),
        router_split=draw(st.one_of(st.none(), splits)), spec_actor="kubectl",
    )
    return observation, NOW + timedelta(minutes=draw(st.integers(0, 180)))


def ready(observation: RolloutObservation, name: str | None) -> bool:
    state = observation.versions.get(name) if name else None
    return state is not None and state.exists and state.ready


def check_route(observation: RolloutObservation, decision: RolloutDecision) -> None:
    route = decision.route
    if route is None:
        return
    split = route.split
    assert split.stable + split.candidate == 100
    assert 0 <= split.mirror <= 100
    if not ready(observation, route.stable):
        assert split.stable == 0, "weight on a stable that is not Ready"
    if route.candidate is None or not ready(observation, route.candidate):
        assert split.candidate == 0 and split.mirror == 0, "weight or mirror on a candidate that is not Ready"


@PROPERTY
@given(case=observations())
def test_plan_never_raises_and_writes_a_valid_status(case: tuple[RolloutObservation, datetime]) -> None:
    observation, now = case
    decision = plan(observation, now)
    status = RolloutStatus.model_validate(decision.status)
    assert status.observed_generation == observation.generation
    check_route(observation, decision)
    if decision.route is not None:
        assert status.traffic is not None and Split.from_traffic(status.traffic) == decision.route.split
    assert decision.requeue_after is None or decision.requeue_after >= 1.0


@PROPERTY
@given(case=observations())
def test_planning_converges_and_then_changes_nothing(case: tuple[RolloutObservation, datetime]) -> None:
    observation, now = case
    decision = plan(observation, now)
    for _ in range(2 * len(observation.spec["steps"]) + 6):  # type: ignore[index]
        observation = replace(observation, status=decision.status)
        decision = plan(observation, now)
        check_route(observation, decision)
    again = plan(replace(observation, status=decision.status), now)
    assert again.events == []
    assert again.status == decision.status
    assert again.version_tags == [] and again.retire == []


@PROPERTY
@given(case=observations(), mirror=percent)
def test_a_mirror_never_changes_the_served_split(case: tuple[RolloutObservation, datetime], mirror: int) -> None:
    observation, now = case
    spec = observation.spec
    assert spec is not None
    remirrored = [
        {**s, "shadow": {**s["shadow"], "mirrorPercent": mirror}} if "shadow" in s else s for s in spec["steps"]
    ]
    old_hash = schedule.step_hash([Step.model_validate(s) for s in spec["steps"]])
    status = dict(observation.status)
    if status.get("stepHash") == old_hash:
        status["stepHash"] = schedule.step_hash([Step.model_validate(s) for s in remirrored])
    other = replace(observation, spec={**spec, "steps": remirrored}, status=status)
    one, two = plan(observation, now), plan(other, now)
    served = [d.route.split.served if d.route is not None else None for d in (one, two)]
    assert served[0] == served[1]


BAD = st.sampled_from([
    ("assessment", AnalysisPhase.FAILED), ("assessment", AnalysisPhase.INCONCLUSIVE),
    ("ab", ABDecision.CANDIDATE_WORSE), ("ab", ABDecision.NO_DIFFERENCE),
])


@PROPERTY
@given(case=observations(), bad=BAD, minutes_later=st.integers(0, 600))
def test_a_bad_analysis_of_the_running_step_never_promotes(
    case: tuple[RolloutObservation, datetime], bad: tuple[str, Any], minutes_later: int
) -> None:
    """A step being run (Progressing, not held) whose analysis says Failed, Inconclusive, worse or
    no difference is never promoted by that plan — whatever spec.approved says."""
    observation, _ = case
    spec = observation.spec
    assert spec is not None
    candidate = next(name for name in NAMES if name != spec["target"])
    spec = {**spec, "target": candidate, "abort": False, "paused": False}
    body = [Step.model_validate(s) for s in spec["steps"]]
    status = dict(observation.status)
    index = min(int(status.get("currentStep") or 0), schedule.last_index(body))
    started = NOW - timedelta(minutes=30)
    status |= {
        "phase": "Progressing", "candidate": candidate, "currentStep": index, "stepHash": schedule.step_hash(body),
        "stepStartedAt": format_time(started),
        "conditions": [c for c in status.get("conditions", []) if c["type"] != "Progressing"],
        # A candidate in flight is never also a warm previous champion (that target rolls back at once).
        "warm": [name for name in status.get("warm", []) if name != candidate],
    }
    if status.get("stable") in (None, candidate):
        status["stable"] = next(name for name in NAMES if name != candidate)
    kind, value = bad
    result = StepAnalysis(
        ref=StepRef(candidate, index, started),
        assessment=assessment(value) if kind == "assessment" else None,
        ab=SequentialDecision(value, 0.01, None, value.value) if kind == "ab" else None,
    )
    everything_ready = {name: VersionState(True, True) for name in NAMES}
    decision = plan(replace(observation, spec=spec, status=status, analysis=result, versions=everything_ready),
                    NOW + timedelta(minutes=minutes_later))
    assert decision.phase is not RolloutPhase.PROMOTED
    assert decision.status["stable"] != candidate


@PROPERTY
@given(spec=specs(), verdicts=st.lists(st.sampled_from([*list(AnalysisPhase), None]), min_size=1, max_size=30),
       gaps=st.lists(st.integers(0, 90), min_size=30, max_size=30))
def test_once_the_analysis_was_bad_the_candidate_is_never_promoted_without_a_human(
    spec: dict[str, Any], verdicts: list[AnalysisPhase | None], gaps: list[int]
) -> None:
    """A whole rollout, ticking with random analysis results and no human input (nothing approved,
    no pause, no abort): after a Failed or Inconclusive result was applied, it never promotes."""
    spec = {**spec, "target": NAMES[0], "approved": [], "paused": False, "abort": False,
            "analysis": {"interval": "1m", "checks": CHECKS}}
    spec["steps"] = [{k: v for k, v in s.items() if k != "approval"} for s in spec["steps"]]
    everything_ready = {name: VersionState(True, True) for name in NAMES}
    observation = RolloutObservation("fraud-detector", "ml", 1, spec, {}, everything_ready)
    now = NOW
    decision = plan(observation, now)
    spec = {**spec, "target": NAMES[1]}
    observation = replace(observation, spec=spec, status=decision.status, generation=2)
    bad_seen = False
    for verdict, gap in zip(verdicts, gaps, strict=False):
        now += timedelta(minutes=gap)
        decision = plan(observation, now)
        observation = replace(observation, status=decision.status)
        if decision.measure is not None and verdict is not None:
            result = StepAnalysis(ref=decision.measure, assessment=assessment(verdict))
            decision = plan(replace(observation, analysis=result), now)
            observation = replace(observation, status=decision.status)
            bad_seen = bad_seen or verdict in (AnalysisPhase.FAILED, AnalysisPhase.INCONCLUSIVE)
        if bad_seen:
            assert decision.status["stable"] == NAMES[0]
            assert decision.phase is not RolloutPhase.PROMOTED
