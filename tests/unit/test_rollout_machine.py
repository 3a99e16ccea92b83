"""The Rollout state machine ``plan(observation, now) -> RolloutDecision``: every transition as a
table test — first target, new target, progress deadline, SRE rollback (to stable and to a warm
version), abort, pause, approvals, pause steps, analysis verdicts (failed, inconclusive, A/B, SRM),
step completion, promotion and keepWarm, changed steps, restart from status, idempotence,
approvals tied to a candidate, retry by token (with a property: every new token, and only a new
one, rolls the candidate out again), the summarised status.analysis — and the router capability
refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.api.analysis import Analysis, AnalysisCheck
from modelops.api.rollout import ABDecision, RolloutPhase, RolloutStatus
from modelops.api.steps import Step
from modelops.core.analysis.arms import Proportion
from modelops.core.analysis.sequential import decide_step
from modelops.core.analysis.srm import check_sample_ratio
from modelops.core.analysis.verdicts import assess, judge
from modelops.core.conditions import get_condition
from modelops.core.ownership import Claim, ClaimState, Contender, Rejection
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.actions import CHALLENGER, CHAMPION, Route
from modelops.core.rollout.aliases import desired_aliases
from modelops.core.rollout.machine import (
    ACCEPTED,
    CANDIDATE_READY,
    PROGRESSING,
    RolloutDecision,
    RolloutObservation,
    StepAnalysis,
    StepRef,
    VersionState,
    plan,
)
from modelops.core.rollout.traffic import ALL_CANDIDATE, ALL_STABLE, Split

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
MODEL = "fraud-detector"
V1, V2, V3, V4 = (f"{MODEL}-v{i}" for i in range(1, 5))
GATEWAY = {"gatewayAPI": {"httpRoute": MODEL, "parentRefs": [{"name": "inference-gateway"}]}}
KSERVE = {"kserve": {"inferenceService": MODEL}}
CHECKS = [{"name": "error-rate", "builtin": "errorRate", "max": 0.01}]
ANALYSIS = {"interval": "1m", "checks": CHECKS}
AB_STEP = {"weight": 50, "metric": "conversion", "minSamples": 100, "maxDuration": "2h"}
STEPS: list[dict[str, Any]] = [
    {"shadow": {"mirrorPercent": 100, "duration": "10m"}},  # 0 shadow-0
    {"canary": {"weight": 5, "duration": "5m"}},  # 1 canary-1
    {"canary": {"weight": 25, "duration": "5m"}},  # 2 canary-2
    {"name": "ab-test", "approval": True, "abTest": AB_STEP},  # 3 ab-test
    {"full": {}},  # 4 full-4
]
QUICK: list[dict[str, Any]] = [{"canary": {"weight": 50, "duration": "1m"}}]  # then the implicit full-1
CHECK = AnalysisCheck.model_validate(CHECKS[0])
LIMITS = Analysis.model_validate(ANALYSIS)


def minutes(n: float) -> datetime:
    return NOW + timedelta(minutes=n)


def versions(ready: tuple[str, ...] = (V1, V2, V3, V4), not_ready: tuple[str, ...] = ()) -> dict[str, VersionState]:
    states = {name: VersionState(exists=True, ready=True) for name in ready}
    states |= {name: VersionState(exists=True, ready=False) for name in not_ready}
    return states


@dataclass
class Driver:
    """A Rollout whose status is carried from plan to plan, the way the reconciler writes it."""

    spec: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, VersionState] = field(default_factory=versions)
    generation: int = 1
    last: RolloutDecision | None = None

    def plan(
        self,
        at: datetime,
        *,
        analysis: StepAnalysis | None = None,
        router_split: Split | None = None,
        observed: dict[str, Any] | None = None,
        **changes: Any,
    ) -> RolloutDecision:
        if changes:
            self.spec = {**self.spec, **changes}
            self.generation += 1
        observation = RolloutObservation(
            name=MODEL, namespace="ml", generation=self.generation, spec=self.spec, status=self.status,
            versions=self.versions, analysis=analysis, router_split=router_split, spec_actor="kubectl-patch",
            **(observed or {}),
        )
        self.last = plan(observation, at)
        self.status = self.last.status
        return self.last

    @property
    def phase(self) -> RolloutPhase:
        return RolloutPhase(self.status["phase"])

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.status["history"])

    def condition(self, type_: str) -> dict[str, Any] | None:
        found = get_condition(self.status.get("conditions"), type_)
        return dict(found) if found is not None else None


def spec(**overrides: Any) -> dict[str, Any]:
    return {"model": MODEL, "target": V1, "trafficRouting": GATEWAY, "steps": STEPS, **overrides}


def serving(stable: str = V1, **overrides: Any) -> Driver:
    """A rollout whose first version is promoted at NOW - 1h."""
    driver = Driver(spec(target=stable, **overrides))
    decision = driver.plan(NOW - timedelta(hours=1))
    assert decision.phase is RolloutPhase.PROMOTED
    return driver


def rolling(**overrides: Any) -> Driver:
    """V1 serving, V2 rolling out from NOW (step 0 started)."""
    driver = serving(**overrides)
    driver.plan(NOW, target=V2)
    assert driver.phase is RolloutPhase.PROGRESSING and driver.status["currentStep"] == 0
    return driver


def aliases_after(decision: RolloutDecision, expected: dict[str, str | None]) -> bool:
    """The MLflow aliases the decision's status asks for (core.rollout.registry) include these."""
    desired = desired_aliases(decision.status)
    return all(desired[alias] == name for alias, name in expected.items())


def measured(decision: RolloutDecision, values: list[float | None], at: datetime, *, complete: bool = True,
             **extra: Any) -> StepAnalysis:
    """The reconciler's analysis of the step the decision asked it to measure."""
    ref = decision.measure
    assert ref is not None
    taken = tuple(judge(CHECK, value, at=at + timedelta(seconds=i), step=ref.step) for i, value in enumerate(values))
    assessment = assess(taken, LIMITS, checks=[CHECK.name], complete=complete)
    return StepAnalysis(ref=ref, at=at, assessment=assessment, measurements=taken, **extra)


def ab_look(decision: RolloutDecision, stable: Proportion, candidate: Proportion, at: datetime,
            **extra: Any) -> StepAnalysis:
    ref = decision.measure
    assert ref is not None
    step = Step.model_validate(STEPS[3])
    assert step.ab_test is not None
    look = decide_step(step.ab_test, stable, candidate, elapsed=at - ref.started_at)
    return StepAnalysis(ref=ref, at=at, ab=look, **extra)


def reasons(decision: RolloutDecision) -> list[str]:
    return [event.reason for event in decision.events]


def assert_quiet(driver: Driver, at: datetime, **kwargs: Any) -> RolloutDecision:
    """Planning again changes nothing: no Event, no history, no condition time, no intent."""
    before = driver.status
    decision = driver.plan(at, **kwargs)
    assert decision.events == []
    assert decision.version_tags == [] and decision.retire == []
    assert decision.status["history"] == before["history"]
    assert decision.status["conditions"] == before["conditions"]
    for key in ("phase", "stable", "candidate", "currentStep", "stepStartedAt", "traffic", "trafficSince", "warm",
                "message"):
        assert decision.status.get(key) == before.get(key), key
    return decision


# ------------------------------------------------------------------------------- first target


def test_the_first_target_becomes_stable_at_once_without_steps() -> None:
    driver = Driver(spec(target=V1))
    decision = driver.plan(NOW)
    assert decision.phase is RolloutPhase.PROMOTED
    assert decision.route == Route(V1, None, ALL_STABLE)
    assert decision.status["stable"] == V1 and decision.status["candidate"] is None
    assert decision.status["currentStep"] is None
    assert aliases_after(decision, {CHAMPION: V1})
    assert decision.status["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
    (entry,) = decision.status["history"]
    assert entry["to"] == "Promoted" and entry["actor"] == "kubectl-patch" and entry["reason"] == "FirstTarget"
    assert driver.condition(ACCEPTED)["status"] == "True"  # type: ignore[index]
    assert driver.condition("Ready")["status"] == "True"  # type: ignore[index]
    assert_quiet(driver, minutes(5))


@pytest.mark.parametrize(("states", "wording"), [({}, "to exist"), (versions((), (V1,)), "to become Ready")])
def test_the_first_target_waits_to_exist_and_be_ready(states: dict[str, VersionState], wording: str) -> None:
    driver = Driver(spec(target=V1), versions=states)
    decision = driver.plan(NOW)
    assert decision.phase is RolloutPhase.IDLE
    assert decision.route is None  # nothing may serve yet
    assert wording in decision.status["message"]
    assert decision.requeue_after is not None
    driver.versions = versions()
    assert driver.plan(minutes(1)).phase is RolloutPhase.PROMOTED


# ----------------------------------------------------------------------------- a new target


def test_a_new_target_starts_the_steps_at_zero() -> None:
    driver = serving()
    decision = driver.plan(NOW, target=V2)
    status = decision.status
    assert decision.phase is RolloutPhase.PROGRESSING
    assert (status["stable"], status["candidate"], status["currentStep"], status["currentStepName"]) == (
        V1, V2, 0, "shadow-0"
    )
    assert status["stepStartedAt"] == "2026-03-01T12:00:00Z"
    assert status["stepHash"] == schedule.step_hash([Step.model_validate(s) for s in STEPS])
    assert decision.route == Route(V1, V2, Split(100, 0, 100))
    assert aliases_after(decision, {CHALLENGER: V2})
    assert reasons(decision) == ["TargetChanged", "StepStarted"]
    started, step = driver.history[-2:]
    assert (started["from"], started["to"], started["actor"]) == ("Promoted", "Progressing", "kubectl-patch")
    assert (step["to"], step["actor"]) == ("shadow-0", "operator")
    assert decision.requeue_after is not None and decision.requeue_after <= 600
    assert_quiet(driver, minutes(3))


def test_the_candidate_gets_no_weight_and_no_mirror_until_ready() -> None:
    driver = serving()
    driver.versions = versions((V1,), (V2,))
    decision = driver.plan(NOW, target=V2)
    assert decision.route == Route(V1, V2, ALL_STABLE)
    assert "candidate is not Ready" in decision.status["message"]
    assert driver.condition(CANDIDATE_READY)["status"] == "False"  # type: ignore[index]
    driver.versions = versions()
    assert driver.plan(minutes(1)).route == Route(V1, V2, Split(100, 0, 100))


def test_progress_deadline_fails_a_candidate_that_never_becomes_ready() -> None:
    driver = serving()
    driver.versions = versions((V1,), (V2,))
    driver.plan(NOW, target=V2)
    waiting = driver.plan(minutes(9))
    assert waiting.phase is RolloutPhase.PROGRESSING and waiting.requeue_after is not None
    decision = driver.plan(minutes(10))
    assert decision.phase is RolloutPhase.FAILED
    assert decision.route == Route(V1, None, ALL_STABLE)
    assert decision.status["candidate"] == V2  # kept, for debugging
    assert reasons(decision) == ["ProgressDeadlineExceeded"]
    assert decision.events[0].type == "Warning"
    assert aliases_after(decision, {CHALLENGER: None})
    (tag,) = decision.version_tags
    assert tag.model_version == V2 and tag.tags["modelops.rollout.reason"] == "ProgressDeadlineExceeded"
    assert "progressDeadline 10m" in decision.status["message"]
    # Out until the target changes: later plans stay put.
    assert_quiet(driver, minutes(60))
    driver.versions = versions()
    assert driver.plan(minutes(61)).phase is RolloutPhase.FAILED


def test_progress_deadline_counts_from_when_the_candidate_stopped_being_ready() -> None:
    driver = rolling(steps=[{"canary": {"weight": 5, "duration": "2h"}}])
    driver.plan(minutes(20))
    driver.versions = versions((V1,), (V2,))
    assert driver.plan(minutes(25)).route == Route(V1, V2, ALL_STABLE)
    assert driver.plan(minutes(34)).phase is RolloutPhase.PROGRESSING
    assert driver.plan(minutes(35)).phase is RolloutPhase.FAILED


def test_a_candidate_that_is_ready_again_is_not_failed() -> None:
    driver = serving()
    driver.versions = versions((V1,), (V2,))
    driver.plan(NOW, target=V2)
    driver.versions = versions()
    driver.plan(minutes(5))
    assert driver.plan(minutes(10)).phase is RolloutPhase.PROGRESSING


# ---------------------------------------------------------------------------- SRE rollback


def test_target_back_to_stable_rolls_back_at_once_without_steps() -> None:
    driver = rolling()
    driver.plan(minutes(10))  # canary-1: 95/5
    decision = driver.plan(minutes(11), target=V1)
    assert decision.phase is RolloutPhase.ROLLED_BACK
    assert decision.route == Route(V1, None, ALL_STABLE)
    assert decision.status["candidate"] is None and decision.status["currentStep"] is None
    assert decision.status["traffic"] == {"stable": 100, "candidate": 0, "mirror": 0}
    last = driver.history[-1]
    assert (last["from"], last["to"], last["reason"], last["actor"]) == (
        "Progressing", "RolledBack", "TargetReverted", "kubectl-patch"
    )
    assert aliases_after(decision, {CHALLENGER: None})
    assert get_condition(decision.status["conditions"], CANDIDATE_READY) is None
    assert_quiet(driver, minutes(30))


def test_target_to_a_warm_version_makes_it_stable_at_once() -> None:
    driver = serving(steps=QUICK)
    driver.plan(NOW, target=V2)
    assert driver.plan(minutes(1)).phase is RolloutPhase.PROMOTED
    driver.plan(minutes(2), target=V3)  # V3 in flight, V1 warm
    assert driver.status["warm"] == [V1]
    decision = driver.plan(minutes(3), target=V1)
    assert decision.phase is RolloutPhase.ROLLED_BACK
    assert decision.route == Route(V1, None, ALL_STABLE)
    status = decision.status
    assert (status["stable"], status["candidate"], status["warm"]) == (V1, None, [V2])
    assert aliases_after(decision, {CHAMPION: V1, CHALLENGER: None})
    last = driver.history[-1]
    assert (last["reason"], last["actor"]) == ("RolledBackToWarm", "kubectl-patch")
    assert f"was {V2}" in last["message"] and f"candidate {V3} dropped" in last["message"]
    assert_quiet(driver, minutes(4))


def test_a_warm_version_that_is_not_ready_goes_through_the_steps() -> None:
    driver = serving(steps=QUICK)
    driver.plan(NOW, target=V2)
    driver.plan(minutes(1))
    driver.versions = versions((V2,), (V1,))
    decision = driver.plan(minutes(2), target=V1)
    assert decision.phase is RolloutPhase.PROGRESSING
    assert decision.status["candidate"] == V1 and decision.status["stable"] == V2
    assert "not Ready, so it is rolled out through the steps" in driver.history[-2]["message"]
    assert decision.route == Route(V2, V1, ALL_STABLE)


def test_rollback_is_honoured_while_paused() -> None:
    driver = rolling()
    driver.plan(minutes(1), paused=True)
    decision = driver.plan(minutes(2), target=V1)
    assert decision.phase is RolloutPhase.ROLLED_BACK and decision.route == Route(V1, None, ALL_STABLE)


# ------------------------------------------------------------------------------------ abort


def test_abort_sends_everything_to_stable_and_keeps_the_candidate() -> None:
    driver = rolling()
    driver.plan(minutes(10))
    decision = driver.plan(minutes(11), abort=True)
    assert decision.phase is RolloutPhase.ABORTED
    assert decision.route == Route(V1, None, ALL_STABLE)
    assert decision.status["candidate"] == V2 and decision.status["currentStep"] == 1
    assert reasons(decision) == ["Aborted"] and decision.events[0].type == "Warning"
    assert driver.history[-1]["actor"] == "kubectl-patch"
    assert aliases_after(decision, {CHALLENGER: None})
    assert_quiet(driver, minutes(30))
    # Clearing abort while the target still names the candidate starts it again from step 0.
    again = driver.plan(minutes(31), abort=False)
    assert again.phase is RolloutPhase.PROGRESSING and again.status["currentStep"] == 0
    assert again.status["stepStartedAt"] == "2026-03-01T12:31:00Z"
    assert driver.history[-2]["reason"] == "AbortCleared"


def test_abort_with_nothing_in_flight_blocks_a_new_target() -> None:
    driver = serving()
    decision = driver.plan(NOW, abort=True, target=V2)
    assert decision.phase is RolloutPhase.PROMOTED
    assert decision.status["candidate"] is None
    assert decision.route == Route(V1, None, ALL_STABLE)
    assert "spec.abort is set" in decision.status["message"]


# ------------------------------------------------------------------------------------ pause


def test_paused_freezes_and_resumes_where_it_was() -> None:
    driver = rolling()
    decision = driver.plan(minutes(5), paused=True)
    assert decision.phase is RolloutPhase.PAUSED
    assert decision.route == Route(V1, V2, Split(100, 0, 100))
    assert driver.history[-1]["actor"] == "kubectl-patch"
    # Frozen: the shadow's time is up at 10m, but nothing moves.
    frozen = assert_quiet(driver, minutes(30))
    assert frozen.status["currentStep"] == 0 and frozen.route == Route(V1, V2, Split(100, 0, 100))
    resumed = driver.plan(minutes(31), paused=False)
    assert resumed.phase is RolloutPhase.PROGRESSING
    assert resumed.status["currentStep"] == 1  # the step's clock kept running while paused
    assert "Resumed" in reasons(resumed)
    resume = next(e for e in driver.history if e["reason"] == "Resumed")
    assert resume["actor"] == "kubectl-patch"


def test_paused_still_takes_weight_off_a_candidate_that_stops_being_ready() -> None:
    driver = rolling()
    driver.plan(minutes(11))  # canary-1
    driver.plan(minutes(12), paused=True)
    driver.versions = versions((V1,), (V2,))
    decision = driver.plan(minutes(13))
    assert decision.route == Route(V1, V2, ALL_STABLE)
    assert decision.phase is RolloutPhase.PAUSED  # no deadline while paused
    assert driver.plan(minutes(60)).phase is RolloutPhase.PAUSED


def test_a_new_target_while_paused_waits_at_step_zero() -> None:
    driver = serving(paused=True)
    decision = driver.plan(NOW, target=V2)
    assert decision.phase is RolloutPhase.PAUSED
    assert decision.status["candidate"] == V2 and decision.status["stepStartedAt"] is None
    assert decision.route == Route(V1, V2, ALL_STABLE)
    started = driver.plan(minutes(1), paused=False)
    assert started.phase is RolloutPhase.PROGRESSING
    assert started.status["stepStartedAt"] == "2026-03-01T12:01:00Z"


# -------------------------------------------------------------------------------- approvals


def to_approval(driver: Driver) -> RolloutDecision:
    driver.plan(minutes(10))  # canary-1 starts
    driver.plan(minutes(15))  # canary-2 starts
    return driver.plan(minutes(20))  # canary-2 done: ab-test waits


def test_a_step_with_approval_waits_at_the_previous_split() -> None:
    driver = rolling()
    decision = to_approval(driver)
    assert decision.phase is RolloutPhase.AWAITING_APPROVAL
    assert decision.status["currentStep"] == 3 and decision.status["currentStepName"] == "ab-test"
    assert decision.status["stepStartedAt"] is None
    assert decision.route == Route(V1, V2, Split(75, 25))
    assert f"add ab-test@{V2} to spec.approved" in decision.status["message"]
    assert_quiet(driver, minutes(600))
    approved = driver.plan(minutes(601), approved=["ab-test"])
    assert approved.phase is RolloutPhase.PROGRESSING
    assert approved.route == Route(V1, V2, Split(50, 50))
    entry = driver.history[-2]
    assert (entry["to"], entry["reason"], entry["actor"]) == ("ab-test", "Approved", "kubectl-patch")


def test_a_standing_approval_is_said_at_the_start() -> None:
    driver = serving(approved=[f"ab-test@{V2}"])
    driver.plan(NOW, target=V2)
    assert f"spec.approved already approves ab-test for {V2}" in driver.history[-2]["message"]


def test_a_pause_step_without_duration_waits_for_its_name() -> None:
    steps = [{"canary": {"weight": 10, "duration": "1m"}}, {"pause": {}}, {"full": {}}]
    driver = rolling(steps=steps)
    decision = driver.plan(minutes(1))
    assert decision.phase is RolloutPhase.PAUSED and decision.status["currentStepName"] == "pause-1"
    assert decision.route == Route(V1, V2, Split(90, 10))
    assert f"until pause-1@{V2} is in spec.approved" in decision.status["message"]
    assert_quiet(driver, minutes(60 * 24))
    promoted = driver.plan(minutes(60 * 24 + 1), approved=["pause-1"])
    assert promoted.phase is RolloutPhase.PROMOTED and promoted.status["stable"] == V2


def test_removing_a_waiting_pause_step_restarts_the_steps_visibly() -> None:
    steps = [{"canary": {"weight": 10, "duration": "1m"}}, {"pause": {}}, {"full": {}}]
    driver = rolling(steps=steps)
    driver.plan(minutes(1))
    decision = driver.plan(minutes(2), steps=[steps[0], steps[2]])
    assert decision.phase is RolloutPhase.PROGRESSING
    assert decision.status["currentStep"] == 0 and decision.status["stepStartedAt"] == "2026-03-01T12:02:00Z"
    assert "StepsChanged" in reasons(decision)
    changed = next(e for e in driver.history if e["reason"] == "StepsChanged")
    assert changed["actor"] == "kubectl-patch" and "restarting at step 0" in changed["message"]


def test_a_timed_pause_step_ends_on_time() -> None:
    steps = [{"canary": {"weight": 10, "duration": "1m"}}, {"pause": {"duration": "30m"}}]
    driver = rolling(steps=steps)
    assert driver.plan(minutes(1)).phase is RolloutPhase.PAUSED
    assert driver.plan(minutes(30)).phase is RolloutPhase.PAUSED
    assert driver.plan(minutes(31)).phase is RolloutPhase.PROMOTED


# --------------------------------------------------------------------------------- analysis


def analysed(**overrides: Any) -> Driver:
    return rolling(analysis=ANALYSIS, **overrides)


def test_a_step_waits_for_a_successful_analysis_before_it_completes() -> None:
    driver = analysed()
    decision = driver.plan(minutes(10))  # time up, nothing measured yet
    assert decision.status["currentStep"] == 0
    assert decision.measure == StepRef(V2, 0, NOW)
    running = driver.plan(minutes(10.5), analysis=measured(decision, [0.001], minutes(10.5), complete=False))
    assert running.status["currentStep"] == 0
    done = driver.plan(minutes(11), analysis=measured(decision, [0.001], minutes(11)))
    assert done.status["currentStep"] == 1
    assert done.status["analysis"]["failures"] == 0  # counters restart with the step
    assert done.status["analysis"]["measurements"][-1]["verdict"] == "Successful"


def test_a_failed_analysis_rolls_back_with_the_measurement() -> None:
    driver = analysed()
    decision = driver.plan(minutes(2))
    result = driver.plan(minutes(3), analysis=measured(decision, [0.2], minutes(3), complete=False))
    assert result.phase is RolloutPhase.ROLLED_BACK
    assert result.route == Route(V1, None, ALL_STABLE)
    assert "error-rate: 0.2 is above max 0.01" in result.status["message"]
    assert result.status["candidate"] == V2
    assert result.status["analysis"]["failures"] == 1
    assert result.status["analysis"]["measurements"][-1]["value"] == 0.2
    assert reasons(result) == ["AnalysisFailed"] and result.events[0].type == "Warning"
    (tag,) = result.version_tags
    assert tag.model_version == V2 and "0.2 is above max" in tag.tags["modelops.rollout.message"]
    assert tag.tags["modelops.rollout.outcome"] == "RolledBack"
    assert_quiet(driver, minutes(60), analysis=measured(decision, [0.2], minutes(3), complete=False))


def test_an_inconclusive_analysis_holds_and_is_never_promoted() -> None:
    driver = analysed()
    decision = driver.plan(minutes(2))
    held = driver.plan(minutes(3), analysis=measured(decision, [None, None, None], minutes(3), complete=False))
    assert held.phase is RolloutPhase.PAUSED
    assert driver.condition(PROGRESSING)["reason"] == "AnalysisInconclusive"  # type: ignore[index]
    assert "no data" in held.status["message"] and f"add canary-1@{V2} to spec.approved" in held.status["message"]
    assert held.route == Route(V1, V2, Split(100, 0, 100))
    assert reasons(held) == ["AnalysisInconclusive"]
    for hour in range(1, 48, 7):
        later = driver.plan(minutes(60 * hour), analysis=measured(decision, [None] * 3, minutes(3), complete=True))
        assert later.phase is RolloutPhase.PAUSED and later.status["currentStep"] == 0


def test_a_hold_is_accepted_by_approving_the_next_step() -> None:
    driver = analysed()
    decision = driver.plan(minutes(2))
    bad = measured(decision, [None, None, None], minutes(3), complete=False)
    driver.plan(minutes(3), analysis=bad)
    accepted = driver.plan(minutes(4), analysis=bad, approved=["canary-1"])
    assert accepted.phase is RolloutPhase.PROGRESSING and accepted.status["currentStep"] == 1
    entry = next(e for e in driver.history if e["reason"] == "HoldAccepted")
    assert entry["actor"] == "kubectl-patch"


def test_toggling_paused_measures_a_held_step_again() -> None:
    driver = analysed()
    decision = driver.plan(minutes(2))
    driver.plan(minutes(3), analysis=measured(decision, [None, None, None], minutes(3), complete=False))
    paused = driver.plan(minutes(4), paused=True)
    assert driver.condition(PROGRESSING)["reason"] == "AnalysisInconclusive"  # type: ignore[index]
    assert paused.phase is RolloutPhase.PAUSED
    retried = driver.plan(minutes(5), paused=False)
    assert retried.phase is RolloutPhase.PROGRESSING and retried.status["currentStep"] == 0
    assert retried.status["stepStartedAt"] == "2026-03-01T12:05:00Z"
    assert retried.status["analysis"]["inconclusives"] == 0
    assert "StepRetried" in [e["reason"] for e in driver.history]
    assert retried.measure == StepRef(V2, 0, minutes(5))


def test_a_failed_analysis_while_paused_acts_on_resume() -> None:
    driver = analysed()
    decision = driver.plan(minutes(2))
    driver.plan(minutes(3), paused=True)
    failing = measured(decision, [0.5], minutes(4), complete=False)
    assert driver.plan(minutes(4), analysis=failing).phase is RolloutPhase.PAUSED
    assert driver.plan(minutes(5), analysis=failing, paused=False).phase is RolloutPhase.ROLLED_BACK


def test_an_analysis_of_another_step_run_is_ignored() -> None:
    driver = analysed()
    decision = driver.plan(minutes(2))
    stale = measured(decision, [0.9], minutes(2), complete=False)
    for ref in (StepRef(V2, 0, NOW - timedelta(hours=1)), StepRef(V3, 0, NOW), StepRef(V2, 1, NOW)):
        result = driver.plan(minutes(3), analysis=StepAnalysis(ref=ref, assessment=stale.assessment))
        assert result.phase is RolloutPhase.PROGRESSING


def to_ab_test(driver: Driver) -> RolloutDecision:
    to_approval(driver)
    decision = driver.plan(minutes(21), approved=["ab-test"])
    assert decision.status["currentStepName"] == "ab-test"
    assert decision.status["abTest"] == {"metric": "conversion", "pValue": 1.0, "decision": "Undecided"}
    return decision


def test_an_ab_test_that_finds_the_candidate_better_moves_on() -> None:
    driver = rolling()
    decision = to_ab_test(driver)
    undecided = driver.plan(minutes(22), analysis=ab_look(decision, Proportion(50, 5), Proportion(50, 6), minutes(22)))
    assert undecided.status["currentStep"] == 3
    look = ab_look(decision, Proportion(20000, 2000), Proportion(20000, 2600), minutes(40))
    done = driver.plan(minutes(40), analysis=look)
    assert done.phase is RolloutPhase.PROMOTED and done.status["stable"] == V2
    assert done.status["abTest"]["decision"] == "CandidateBetter"
    assert done.status["abTest"]["pValue"] < 0.05


def test_an_ab_test_that_finds_the_candidate_worse_rolls_back() -> None:
    driver = rolling()
    decision = to_ab_test(driver)
    look = ab_look(decision, Proportion(20000, 2600), Proportion(20000, 2000), minutes(40))
    assert look.ab is not None and look.ab.decision is ABDecision.CANDIDATE_WORSE
    result = driver.plan(minutes(40), analysis=look)
    assert result.phase is RolloutPhase.ROLLED_BACK and reasons(result) == ["CandidateWorse"]
    assert result.route == Route(V1, None, ALL_STABLE)


def test_no_difference_at_max_duration_holds() -> None:
    driver = rolling()
    decision = to_ab_test(driver)
    look = ab_look(decision, Proportion(5000, 500), Proportion(5000, 505), minutes(21 + 120))
    assert look.ab is not None and look.ab.decision is ABDecision.NO_DIFFERENCE
    held = driver.plan(minutes(21 + 120), analysis=look)
    assert held.phase is RolloutPhase.PAUSED and reasons(held) == ["NoDifference"]
    assert f"add full-4@{V2} to spec.approved" in held.status["message"]


def test_max_duration_without_any_ab_result_holds() -> None:
    driver = rolling()
    to_ab_test(driver)
    held = driver.plan(minutes(21 + 120))
    assert held.phase is RolloutPhase.PAUSED and "maxDuration 2h reached" in held.status["message"]


def test_a_sample_ratio_mismatch_holds_instead_of_rolling_back() -> None:
    driver = rolling()
    decision = to_ab_test(driver)
    srm = check_sample_ratio(9000, 200, stable_weight=50, candidate_weight=50)
    look = ab_look(decision, Proportion(9000, 1200), Proportion(200, 10), minutes(30), srm=srm)
    assert look.ab is not None and look.ab.decision is ABDecision.CANDIDATE_WORSE
    held = driver.plan(minutes(30), analysis=look)
    assert held.phase is RolloutPhase.PAUSED and reasons(held) == ["SampleRatioMismatch"]
    assert "sample ratio mismatch" in held.status["message"]


# ------------------------------------------------------------------------ completion, promotion


def test_the_whole_path_through_every_step_to_promotion() -> None:
    driver = rolling()
    splits = {0: Split(100, 0, 100)}
    assert driver.last is not None and driver.last.route == Route(V1, V2, splits[0])
    assert driver.plan(minutes(10)).route == Route(V1, V2, Split(95, 5))
    assert driver.plan(minutes(15)).route == Route(V1, V2, Split(75, 25))
    assert driver.plan(minutes(20)).phase is RolloutPhase.AWAITING_APPROVAL
    decision = driver.plan(minutes(21), approved=["ab-test"])
    look = ab_look(decision, Proportion(20000, 2000), Proportion(20000, 2600), minutes(30))
    promoted = driver.plan(minutes(30), analysis=look)
    assert promoted.phase is RolloutPhase.PROMOTED
    assert promoted.route == Route(V2, None, ALL_STABLE)
    status = promoted.status
    assert (status["stable"], status["candidate"], status["warm"], status["currentStep"]) == (V2, None, [V1], None)
    assert aliases_after(promoted, {CHAMPION: V2, CHALLENGER: None})
    steps_seen = [e["to"] for e in driver.history if e["reason"] in ("StepStarted", "Approved")]
    assert steps_seen == ["shadow-0", "canary-1", "canary-2", "ab-test", "full-4"]
    assert_quiet(driver, minutes(90))


def test_full_waits_for_a_ready_candidate() -> None:
    driver = rolling(steps=QUICK)
    driver.versions = versions((V1,), (V2,))
    decision = driver.plan(minutes(1))
    assert decision.phase is RolloutPhase.PROGRESSING and decision.status["currentStep"] == 0
    driver.versions = versions()
    assert driver.plan(minutes(2)).phase is RolloutPhase.PROMOTED


def test_keep_warm_keeps_the_newest_previous_champions_and_retires_the_rest() -> None:
    driver = serving(steps=QUICK, keepWarm=2)
    for offset, target in ((0, V2), (10, V3), (20, V4)):
        driver.plan(minutes(offset), target=target)
        decision = driver.plan(minutes(offset + 1))
        assert decision.phase is RolloutPhase.PROMOTED
    assert driver.status["warm"] == [V3, V2]
    assert decision.retire == [V1] and "Retired" in reasons(decision)
    fewer = driver.plan(minutes(40), keepWarm=0)
    assert fewer.warm == [] and fewer.retire == [V3, V2]
    assert_quiet(driver, minutes(41))


def test_a_canary_without_duration_moves_on_once_the_weight_is_applied() -> None:
    driver = rolling(steps=[{"canary": {"weight": 20}}, {"canary": {"weight": 60}}])
    assert driver.plan(NOW).status["currentStep"] == 0  # same second: not applied yet
    assert driver.plan(minutes(1), router_split=Split(100, 0)).status["currentStep"] == 0
    moved = driver.plan(minutes(1), router_split=Split(80, 20))
    assert moved.status["currentStep"] == 1 and moved.route == Route(V1, V2, Split(40, 60))
    # A router that cannot report its split: a step started in an earlier plan counts as applied.
    assert driver.plan(minutes(1)).status["currentStep"] == 1
    assert driver.plan(minutes(2)).phase is RolloutPhase.PROMOTED


def test_weight_moves_to_the_candidate_when_the_stable_is_not_ready() -> None:
    driver = rolling()
    driver.versions = versions((V2,), (V1,))
    decision = driver.plan(minutes(1))
    assert decision.route == Route(V1, V2, ALL_CANDIDATE)
    assert "stable is not Ready" in decision.status["message"]
    driver.versions = versions((), (V1, V2))
    assert driver.plan(minutes(2)).route is None  # neither Ready: leave the route alone


def test_stable_not_ready_at_rest_leaves_the_route_alone_and_warns() -> None:
    driver = serving()
    driver.versions = versions((), (V1,))
    decision = driver.plan(NOW)
    assert decision.route is None
    assert driver.condition("Ready")["reason"] == "StableNotReady"  # type: ignore[index]
    assert "StableNotReady" in reasons(decision)


# ------------------------------------------------------------------ changed steps, restarts


def test_changed_steps_mid_rollout_restart_at_zero() -> None:
    driver = rolling()
    driver.plan(minutes(10))
    changed = [{"canary": {"weight": 10, "duration": "3m"}}, *STEPS[1:]]
    decision = driver.plan(minutes(11), steps=changed)
    assert decision.status["currentStep"] == 0 and decision.route == Route(V1, V2, Split(90, 10))
    assert decision.status["stepHash"] == schedule.step_hash([Step.model_validate(s) for s in changed])
    assert "StepsChanged" in reasons(decision)


@pytest.mark.parametrize("later", [1, 5, 9])
def test_a_restarted_operator_continues_the_same_step(later: int) -> None:
    driver = rolling()
    first = driver.plan(minutes(10))
    assert first.status["currentStep"] == 1
    restarted = Driver(driver.spec, status=RolloutStatus.model_validate(first.status).model_dump(
        mode="json", by_alias=True, exclude_none=True))
    restarted.generation = driver.generation
    again = restarted.plan(minutes(10 + later / 2))
    assert again.status["currentStep"] == 1 and again.status["stepStartedAt"] == first.status["stepStartedAt"]
    assert again.events == []
    # Time up: exactly one step further, never two.
    assert restarted.plan(minutes(15 + later)).status["currentStep"] == 2


def test_planning_the_same_thing_again_is_quiet_in_every_resting_phase() -> None:
    cases: list[Driver] = [serving(), rolling()]
    waiting = rolling()
    to_approval(waiting)
    cases.append(waiting)
    aborted = rolling()
    aborted.plan(minutes(1), abort=True)
    cases.append(aborted)
    for driver in cases:
        assert_quiet(driver, minutes(1.5))


# -------------------------------------------------------------------- spec and router problems


def test_an_unreadable_spec_is_a_condition_and_moves_nothing() -> None:
    driver = serving()
    decision = driver.plan(NOW, steps=[{"canary": {"weight": 500}}])
    assert decision.route is None
    accepted = driver.condition(ACCEPTED)
    assert accepted is not None and accepted["status"] == "False" and accepted["reason"] == "InvalidSpec"
    assert "spec.steps[0].canary.weight" in accepted["message"]
    assert decision.status["stable"] == V1 and reasons(decision) == ["InvalidSpec"]
    assert plan(RolloutObservation("x", "ml", 1, None, {}), NOW).route is None


def test_kserve_refuses_a_shadow_step_and_does_not_start() -> None:
    driver = serving(trafficRouting=KSERVE, steps=QUICK)
    decision = driver.plan(NOW, target=V2, steps=STEPS)
    accepted = driver.condition(ACCEPTED)
    assert accepted is not None and accepted["status"] == "False" and accepted["reason"] == "InvalidSpec"
    assert accepted["message"].startswith("spec.steps[0].shadow: the kserve router cannot mirror traffic")
    assert decision.status["candidate"] is None and decision.phase is RolloutPhase.PROMOTED
    assert decision.route == Route(V1, None, ALL_STABLE)
    assert "not rolled out" in decision.status["message"]


def test_kserve_runs_an_ab_test_with_a_note() -> None:
    driver = serving(trafficRouting=KSERVE, steps=[{"canary": {"weight": 5, "duration": "1m"}},
                                                   {"abTest": AB_STEP}])
    decision = driver.plan(NOW, target=V2)
    accepted = driver.condition(ACCEPTED)
    assert accepted is not None and accepted["status"] == "True"
    assert "cannot force a variant" in accepted["message"]
    assert decision.phase is RolloutPhase.PROGRESSING


def test_switching_an_in_flight_shadow_to_kserve_freezes_without_the_mirror() -> None:
    driver = rolling()
    decision = driver.plan(minutes(1), trafficRouting=KSERVE)
    assert decision.phase is RolloutPhase.PROGRESSING
    assert decision.route == Route(V1, V2, ALL_STABLE)
    assert driver.condition(PROGRESSING)["reason"] == "InvalidSpec"  # type: ignore[index]
    assert driver.plan(minutes(30)).status["currentStep"] == 0


# ------------------------------------------------------------------------------ edge paths


def test_a_bad_result_for_a_started_full_step_blocks_promotion() -> None:
    driver = rolling(steps=[QUICK[0], {"name": "go", "approval": True, "full": {}}])
    assert driver.plan(minutes(1)).phase is RolloutPhase.AWAITING_APPROVAL
    driver.versions = versions((V1,), (V2,))
    waiting = driver.plan(minutes(2), approved=["go"])  # full starts, but the candidate is not Ready
    assert waiting.status["currentStepName"] == "go" and waiting.phase is RolloutPhase.PROGRESSING
    assert waiting.route == Route(V1, V2, ALL_STABLE)
    driver.versions = versions()
    inconclusive = assess([judge(CHECK, None, at=minutes(3), step=1)] * 3, LIMITS)
    blocked = driver.plan(
        minutes(3), analysis=StepAnalysis(ref=StepRef(V2, 1, minutes(2)), assessment=inconclusive)
    )
    assert blocked.phase is RolloutPhase.PROGRESSING and blocked.status["stable"] == V1
    assert "not promoting" in blocked.status["message"] and reasons(blocked) == ["PromotionBlocked"]
    assert driver.plan(minutes(4)).phase is RolloutPhase.PROMOTED


def test_approving_a_held_pause_step_is_not_accepting_its_analysis() -> None:
    driver = serving(steps=[{"pause": {}}], approved=[f"pause-0@{V2}"], analysis=ANALYSIS)
    decision = driver.plan(NOW, target=V2)
    assert decision.phase is RolloutPhase.PAUSED
    held = driver.plan(minutes(1), analysis=measured(decision, [None, None, None], minutes(1), complete=False))
    assert held.phase is RolloutPhase.PAUSED
    assert driver.condition(PROGRESSING)["reason"] == "AnalysisInconclusive"  # type: ignore[index]
    assert f"add full-1@{V2} to spec.approved" in held.status["message"]
    assert driver.plan(minutes(2)).phase is RolloutPhase.PAUSED  # pause-0 approved: still held
    assert driver.plan(minutes(3), approved=[f"pause-0@{V2}", "full-1"]).phase is RolloutPhase.PROMOTED


def test_history_stays_bounded_over_many_rollouts() -> None:
    driver = serving(steps=QUICK, keepWarm=0)  # nothing warm: every target goes through the steps
    for n in range(40):
        driver.plan(minutes(10 * n), target=V3 if n % 2 else V4)
        driver.plan(minutes(10 * n + 1))
        assert driver.phase is RolloutPhase.PROMOTED
    history = driver.history
    assert len(history) == 100
    assert history[0]["reason"] == "HistorySummarised"
    assert history[-1]["reason"] == "Promoted"
    RolloutStatus.model_validate(driver.status)


def test_a_next_step_approved_before_the_hold_does_not_accept_it() -> None:
    driver = analysed(approved=[f"canary-1@{V2}"])  # approved in advance, e.g. in git
    decision = driver.plan(minutes(2))
    bad = measured(decision, [None, None, None], minutes(3), complete=False)
    held = driver.plan(minutes(3), analysis=bad)
    assert held.phase is RolloutPhase.PAUSED and held.status["approvedAtHold"] == ["canary-1"]
    assert "remove canary-1 from spec.approved and add it again" in held.status["message"]
    still = driver.plan(minutes(4), analysis=bad)
    assert still.phase is RolloutPhase.PAUSED and still.status["currentStep"] == 0
    driver.plan(minutes(5), analysis=bad, approved=[])
    accepted = driver.plan(minutes(6), analysis=bad, approved=["canary-1"])
    assert accepted.phase is RolloutPhase.PROGRESSING and accepted.status["currentStep"] == 1
    assert accepted.status.get("approvedAtHold") is None


# ------------------------------------------------------------------ refusals (nothing moves)

FOREIGN_ROUTE = Claim(ClaimState.FOREIGN, managers=("kubectl-client-side-apply",))


def contenders(*entries: tuple[str, str, datetime]) -> tuple[Contender, ...]:
    return tuple(Contender(namespace, name, created) for namespace, name, created in entries)


def test_a_younger_rollout_of_the_same_model_is_refused_and_moves_nothing() -> None:
    driver = Driver(spec(target=V1))
    rivals = contenders(("other", "fraud", NOW - timedelta(days=1)), ("ml", MODEL, NOW))
    decision = driver.plan(NOW, observed={"contenders": rivals})
    accepted = driver.condition(ACCEPTED)
    assert accepted is not None and accepted["status"] == "False" and accepted["reason"] == "RolloutConflict"
    assert "Rollout other/fraud already drives model fraud-detector" in accepted["message"]
    assert decision.refused and decision.route is None and decision.status.get("stable") is None
    assert decision.phase is RolloutPhase.IDLE and reasons(decision) == ["RolloutConflict"]
    assert desired_aliases(decision.status) == {CHAMPION: None, CHALLENGER: None}
    again = driver.plan(NOW + timedelta(minutes=1), observed={"contenders": rivals})
    assert again.events == [] and again.refused


def test_the_oldest_rollout_acts_and_a_refused_one_takes_over_when_it_goes() -> None:
    driver = Driver(spec(target=V1))
    rivals = contenders(("ml", MODEL, NOW - timedelta(days=1)), ("ml", "zz-younger", NOW))
    assert driver.plan(NOW, observed={"contenders": rivals}).phase is RolloutPhase.PROMOTED
    loser = Driver(spec(target=V1))
    assert loser.plan(NOW, observed={"contenders": contenders(("ml", "aa-older", NOW - timedelta(hours=1)),
                                                              ("ml", MODEL, NOW))}).refused
    taken = loser.plan(NOW + timedelta(minutes=1), observed={"contenders": contenders(("ml", MODEL, NOW))})
    assert not taken.refused and taken.phase is RolloutPhase.PROMOTED
    assert get_condition(taken.status["conditions"], ACCEPTED)["status"] == "True"  # type: ignore[index]


def test_a_route_someone_else_made_is_refused_and_left_untouched() -> None:
    driver = Driver(spec(target=V1))
    decision = driver.plan(NOW, observed={"route_claim": FOREIGN_ROUTE, "route_name": f"HTTPRoute/{MODEL}"})
    accepted = driver.condition(ACCEPTED)
    assert accepted is not None and accepted["reason"] == "RouteConflict"
    assert f"HTTPRoute {MODEL} already exists" in accepted["message"]
    assert "managed by kubectl-client-side-apply" in accepted["message"]
    assert decision.refused and decision.route is None and decision.status.get("stable") is None


def test_a_refused_route_write_is_a_condition_and_clears_when_the_write_succeeds() -> None:
    driver = serving()
    refused = Rejection("HTTPRoute fraud-detector", 422, "Invalid", "denied by policy only-gateway-x")
    decision = driver.plan(NOW, observed={"rejection": refused})
    accepted = driver.condition(ACCEPTED)
    assert accepted is not None and accepted["reason"] == "RouteRejected"
    assert "denied by policy only-gateway-x" in accepted["message"] and decision.refused
    assert reasons(decision) == ["RouteRejected"] and decision.status["stable"] == V1
    cleared = driver.plan(NOW + timedelta(minutes=1))
    assert not cleared.refused and driver.condition(ACCEPTED)["status"] == "True"  # type: ignore[index]


def test_a_target_of_another_model_is_invalid_and_moves_nothing() -> None:
    driver = serving()
    driver.versions = {**driver.versions, "churn-v9": VersionState(exists=True, ready=True, model="churn")}
    decision = driver.plan(NOW, target="churn-v9")
    accepted = driver.condition(ACCEPTED)
    assert accepted is not None and accepted["reason"] == "InvalidSpec"
    assert accepted["message"].startswith("spec.target: ModelVersion churn-v9 is a version of model 'churn'")
    assert decision.status["stable"] == V1 and decision.status.get("candidate") is None
    assert decision.route == Route(V1, None, ALL_STABLE)


def test_a_refused_first_target_is_not_served() -> None:
    driver = Driver(spec(target=V1, trafficRouting=KSERVE))
    decision = driver.plan(NOW)
    assert decision.phase is RolloutPhase.IDLE and decision.status.get("stable") is None
    assert decision.route is None and desired_aliases(decision.status) == {CHAMPION: None, CHALLENGER: None}


def test_a_target_that_is_not_warm_says_it_is_a_full_rollout() -> None:
    driver = serving()
    decision = driver.plan(NOW, target=V3)
    started = [e for e in decision.events if e.reason == "TargetChanged"]
    assert started and "a full rollout through 5 step(s), not an instant rollback" in started[0].message
    assert "not an instant rollback" in driver.history[-2]["message"]


def test_the_kserve_router_deploys_a_first_version_that_is_not_ready_yet() -> None:
    driver = Driver(spec(target=V1, trafficRouting=KSERVE, steps=QUICK),
                    versions=versions(ready=(), not_ready=(V1,)))
    decision = driver.plan(NOW, observed={"deploys_backends": True})
    assert decision.phase is RolloutPhase.IDLE and decision.route == Route(V1, None, ALL_STABLE)
    assert decision.status.get("traffic") is None, "deploying is not serving: no traffic reported"
    gateway = Driver(spec(target=V1, steps=QUICK), versions=versions(ready=(), not_ready=(V1,)))
    assert gateway.plan(NOW).route is None


def test_the_decision_names_the_stage_requests_are_served_in() -> None:
    driver = rolling()
    assert driver.last is not None and driver.last.stage == "shadow-0"
    assert serving().last.stage is None  # type: ignore[union-attr]


# ------------------------------------------------------------------ approvals tied to a candidate


def test_a_name_left_from_an_earlier_rollout_does_not_pre_approve_the_next_candidate() -> None:
    driver = rolling()
    to_approval(driver)
    assert driver.plan(minutes(21), approved=["ab-test"]).phase is RolloutPhase.PROGRESSING  # for V2
    assert driver.plan(minutes(400), target=V3).phase is RolloutPhase.PROGRESSING  # V2 replaced
    assert driver.status["approvedAtStart"] == ["ab-test"]
    waiting = to_approval_from(driver, minutes(400))
    assert waiting.phase is RolloutPhase.AWAITING_APPROVAL and waiting.status["currentStepName"] == "ab-test"
    assert f"add ab-test@{V3} to spec.approved" in waiting.status["message"]


def to_approval_from(driver: Driver, start: datetime) -> RolloutDecision:
    for offset in (10, 15, 20):
        decision = driver.plan(start + timedelta(minutes=offset))
    return decision


def test_an_approval_for_one_candidate_approves_nothing_for_another() -> None:
    driver = serving(approved=[f"ab-test@{V3}"])
    driver.plan(NOW, target=V2)
    assert "already approves" not in driver.history[-2]["message"]
    assert to_approval(driver).phase is RolloutPhase.AWAITING_APPROVAL
    approved = driver.plan(minutes(21), approved=[f"ab-test@{V3}", f"ab-test@{V2}"])
    assert approved.phase is RolloutPhase.PROGRESSING and approved.status["currentStepName"] == "ab-test"


def test_a_plain_name_removed_and_listed_again_approves_the_candidate_in_flight() -> None:
    driver = serving(approved=["ab-test"])
    driver.plan(NOW, target=V2)
    assert to_approval(driver).phase is RolloutPhase.AWAITING_APPROVAL
    driver.plan(minutes(21), approved=[])
    assert driver.status.get("approvedAtStart") == []
    assert driver.plan(minutes(22), approved=["ab-test"]).phase is RolloutPhase.PROGRESSING


# ------------------------------------------------------------------------------ retry by token


def rolled_back() -> Driver:
    driver = analysed(steps=QUICK)
    decision = driver.plan(minutes(1))
    result = driver.plan(minutes(2), analysis=measured(decision, [0.5], minutes(2)))
    assert result.phase is RolloutPhase.ROLLED_BACK and result.status["candidate"] == V2
    return driver


def test_a_new_retry_token_rolls_the_rolled_back_candidate_out_again_from_step_0() -> None:
    driver = rolled_back()
    assert driver.plan(minutes(3)).phase is RolloutPhase.ROLLED_BACK  # out until something changes
    retried = driver.plan(minutes(4), retry="try-2")
    assert retried.phase is RolloutPhase.PROGRESSING and retried.status["currentStep"] == 0
    assert retried.status["observedRetry"] == "try-2" and retried.route == Route(V1, V2, Split(50, 50))
    assert "Retried" in [h["reason"] for h in driver.history]
    assert_quiet(driver, minutes(4.5))


def test_a_retry_token_already_honoured_or_present_at_the_start_does_nothing() -> None:
    driver = analysed(steps=QUICK, retry="old")
    decision = driver.plan(minutes(1))
    assert driver.status["observedRetry"] == "old"
    result = driver.plan(minutes(2), analysis=measured(decision, [0.5], minutes(2)))
    assert result.phase is RolloutPhase.ROLLED_BACK
    assert driver.plan(minutes(3)).phase is RolloutPhase.ROLLED_BACK
    assert driver.plan(minutes(4), retry="new").phase is RolloutPhase.PROGRESSING


def test_a_retry_token_never_moves_a_promoted_rollout() -> None:
    driver = rolling(steps=QUICK)
    driver.plan(minutes(2))
    assert driver.phase is RolloutPhase.PROMOTED
    assert driver.plan(minutes(3), retry="x").phase is RolloutPhase.PROMOTED
    assert driver.status["stable"] == V2


# ------------------------------------------------------------------------- status that reads well


def test_status_analysis_is_a_summary_per_check_and_a_short_tail_of_measurements() -> None:
    driver = analysed(steps=[{"canary": {"weight": 5, "duration": "1h"}}, {"canary": {"weight": 20}}])
    decision = driver.plan(minutes(1))
    for n in range(20):
        value = None if n == 7 else 0.001
        decision = driver.plan(minutes(2 + n), analysis=measured(decision, [value], minutes(2 + n), complete=False))
    analysis = driver.status["analysis"]
    assert len(analysis["measurements"]) == 12
    [check] = analysis["checks"]
    assert (check["name"], check["successful"], check["inconclusive"], check["failed"]) == ("error-rate", 19, 1, 0)
    assert check["last"]["value"] == 0.001 and check["last"]["verdict"] == "Successful"
    RolloutStatus.model_validate(driver.status)
    later = driver.plan(minutes(61), analysis=measured(decision, [0.001], minutes(61)))  # step 0 done
    assert later.status["currentStep"] == 1 and later.status["analysis"]["checks"] == []  # reset with the step


@settings(max_examples=25, deadline=None)
@given(tokens=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=5))
def test_every_new_retry_token_and_only_a_new_one_rolls_the_candidate_out_again(tokens: list[str]) -> None:
    driver = rolled_back()
    at, honoured, retried = 3.0, None, 0
    for token in tokens:
        decision = driver.plan(minutes(at), retry=token)
        if token != honoured:
            assert decision.phase is RolloutPhase.PROGRESSING and decision.status["currentStep"] == 0
            honoured, retried = token, retried + 1
            look = driver.plan(minutes(at + 1))  # the step's time is up: measured next
            driver.plan(minutes(at + 2), analysis=measured(look, [0.5], minutes(at + 2)))
            assert driver.phase is RolloutPhase.ROLLED_BACK  # and out again
        else:
            assert decision.phase is RolloutPhase.ROLLED_BACK and decision.route == Route(V1, None, ALL_STABLE)
        at += 3
    assert sum(h["reason"] == "Retried" for h in driver.history) == retried


# ------------------------------------------------------------------------------- promote --full


def test_promote_full_skips_the_remaining_steps_and_their_durations() -> None:
    driver = rolling(analysis=ANALYSIS)  # a 10-minute shadow, two 5-minute canaries, an approval, an A/B test
    promoted = driver.plan(NOW + timedelta(seconds=5), promoteFull=V2)
    assert promoted.phase is RolloutPhase.PROMOTED and promoted.status["stable"] == V2
    assert promoted.route == Route(V2, None, ALL_STABLE) and promoted.status["warm"] == [V1]
    skipped = next(entry for entry in driver.history if entry["reason"] == "PromoteFull")
    assert (skipped["from"], skipped["to"], skipped["actor"]) == ("shadow-0", "full-4", "kubectl-patch")
    assert "skipping shadow-0, canary-1, canary-2, ab-test" in skipped["message"]
    assert "PromoteFull" in reasons(promoted)
    assert_quiet(driver, minutes(30))


def test_promote_full_names_one_candidate_and_leaves_another_alone() -> None:
    driver = rolling(promoteFull=V3)
    decision = driver.plan(minutes(1))
    assert decision.phase is RolloutPhase.PROGRESSING and decision.status["currentStep"] == 0
    assert all(entry["reason"] != "PromoteFull" for entry in driver.history)


def test_promote_full_waits_for_a_candidate_that_is_not_ready_without_logging_twice() -> None:
    driver = rolling()
    driver.versions = versions(ready=(V1,), not_ready=(V2,))
    waiting = driver.plan(minutes(1), promoteFull=V2)
    assert waiting.phase is RolloutPhase.PROGRESSING and waiting.status["currentStepName"] == "full-4"
    assert waiting.route == Route(V1, V2, ALL_STABLE)  # no weight on a backend that is not Ready
    assert_quiet(driver, minutes(2))
    assert [entry["reason"] for entry in driver.history].count("PromoteFull") == 1
    driver.versions = versions()
    assert driver.plan(minutes(3)).phase is RolloutPhase.PROMOTED


def test_promote_full_skips_a_hold_and_an_approval_but_not_spec_paused() -> None:
    driver = rolling()
    frozen = driver.plan(minutes(1), paused=True, promoteFull=V2)
    assert frozen.phase is RolloutPhase.PAUSED and frozen.status["candidate"] == V2
    assert driver.plan(minutes(2), paused=False).phase is RolloutPhase.PROMOTED


def test_promote_full_in_git_beside_the_target_promotes_at_once_and_says_so() -> None:
    driver = serving(promoteFull=V2)
    promoted = driver.plan(NOW, target=V2)
    assert promoted.phase is RolloutPhase.PROMOTED and promoted.status["stable"] == V2
    assert any(f"spec.promoteFull names {V2}" in (entry["message"] or "") for entry in driver.history)


def test_traffic_since_moves_when_the_router_is_set_to_a_split_it_was_not_carrying() -> None:
    """status.trafficSince (the sample-ratio check counts from it): moved by a new split, and by the
    same split put back over a route found carrying another (an operator stopped between its route
    write and its status write); never by a plan at rest, nor by a route that cannot be read back."""
    driver = rolling(steps=[{"canary": {"weight": 20, "duration": "1h"}}])
    assert driver.status["trafficSince"] == "2026-03-01T12:00:00Z"  # the canary's split, set at NOW
    assert driver.plan(minutes(1), router_split=Split(80, 20)).status["trafficSince"] == "2026-03-01T12:00:00Z"
    assert driver.plan(minutes(2)).status["trafficSince"] == "2026-03-01T12:00:00Z"  # cannot be read back
    put_back = driver.plan(minutes(3), router_split=Split(50, 50))  # a later step's split, left by a stop
    assert put_back.route is not None and put_back.route.split == Split(80, 20)
    assert put_back.status["trafficSince"] == "2026-03-01T12:03:00Z"
    assert_quiet(driver, minutes(4))
