"""The step schedule: the step-list hash, names, durations and deadlines, approvals, and the
duration problems a spec can still carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.api.rollout import ABDecision, RolloutSpec
from modelops.api.steps import Step
from modelops.core.rollout import steps as schedule

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def step(**kind: Any) -> Step:
    return Step.model_validate(kind)


SHADOW = step(shadow={"mirrorPercent": 100, "duration": "10m"})
CANARY = step(canary={"weight": 5, "duration": "5m"})
CANARY_NOW = step(canary={"weight": 25})
AB = step(name="ab-test", approval=True, abTest={"weight": 50, "metric": "conversion", "minSamples": 10,
                                                  "maxDuration": "2h"})
PAUSE = step(pause={})
TIMED_PAUSE = step(pause={"duration": "1h"})
FULL = step(full={})


def spec(steps: list[dict[str, Any]], **extra: Any) -> RolloutSpec:
    return RolloutSpec.model_validate({
        "model": "fraud", "target": "fraud-v2",
        "trafficRouting": {"istio": {"virtualService": "fraud", "host": "fraud.example.com"}},
        "steps": steps, **extra,
    })


def test_the_hash_is_stable_and_ignores_spelled_out_defaults() -> None:
    a = [{"canary": {"weight": 5}}, {"abTest": {"weight": 50, "metric": "m", "minSamples": 1, "maxDuration": "1h"}}]
    b = [{"canary": {"weight": 5}, "approval": False},
         {"abTest": {"weight": 50, "metric": "m", "minSamples": 1, "maxDuration": "1h", "alpha": 0.05}}]
    assert schedule.step_hash(spec(a).steps) == schedule.step_hash(spec(b).steps)
    assert len(schedule.step_hash(spec(a).steps)) == schedule.HASH_LENGTH


@pytest.mark.parametrize(
    "changed",
    [
        [{"canary": {"weight": 6}}],
        [{"canary": {"weight": 5, "duration": "1m"}}],
        [{"canary": {"weight": 5}, "name": "first"}],
        [{"canary": {"weight": 5}}, {"full": {}}],
        [{"canary": {"weight": 5}, "approval": True, "name": "first"}],
    ],
)
def test_any_real_change_changes_the_hash(changed: list[dict[str, Any]]) -> None:
    base = schedule.step_hash(spec([{"canary": {"weight": 5}}]).steps)
    assert schedule.step_hash(spec(changed).steps) != base


def test_names_are_explicit_or_kind_and_index_as_dns_labels() -> None:
    steps = [SHADOW, CANARY, AB, PAUSE]
    assert schedule.step_names(steps) == ["shadow-0", "canary-1", "ab-test", "pause-3"]
    assert schedule.step_name(step(abTest={"weight": 1, "metric": "m", "minSamples": 1, "maxDuration": "1h"}), 7) \
        == "abtest-7"
    # A schedule without full ends with the implicit promotion, named like a full step there.
    assert schedule.name_at(steps, 4) == "full-4"
    assert schedule.last_index(steps) == 4
    assert schedule.last_index([CANARY, FULL]) == 1
    assert schedule.is_full([CANARY, FULL], 1) and schedule.is_full([CANARY], 1)
    assert not schedule.is_full([CANARY, FULL], 0)


@pytest.mark.parametrize(
    ("given_step", "duration"),
    [
        (SHADOW, timedelta(minutes=10)),
        (CANARY, timedelta(minutes=5)),
        (CANARY_NOW, None),
        (AB, timedelta(hours=2)),
        (PAUSE, None),
        (TIMED_PAUSE, timedelta(hours=1)),
        (FULL, None),
    ],
)
def test_durations(given_step: Step, duration: timedelta | None) -> None:
    assert schedule.step_duration(given_step) == duration
    assert schedule.deadline(given_step, T0) == (T0 + duration if duration else None)


def test_when_time_is_up() -> None:
    assert not schedule.time_up(SHADOW, T0, T0 + timedelta(minutes=9, seconds=59))
    assert schedule.time_up(SHADOW, T0, T0 + timedelta(minutes=10))
    assert schedule.time_up(CANARY_NOW, T0, T0)  # "move on once the weight is applied"
    assert schedule.time_up(FULL, T0, T0)
    assert not schedule.time_up(PAUSE, T0, T0 + timedelta(days=365))  # waits for its name
    assert schedule.time_up(TIMED_PAUSE, T0, T0 + timedelta(hours=1))
    assert schedule.time_up(AB, T0, T0 + timedelta(hours=2))  # maxDuration reached


def test_gating_and_analysis_completion() -> None:
    assert all(schedule.gated(s) for s in (SHADOW, CANARY, CANARY_NOW, AB, TIMED_PAUSE))
    assert not schedule.gated(PAUSE) and not schedule.gated(FULL)
    assert schedule.analysis_complete(CANARY, T0, T0 + timedelta(minutes=5))
    assert not schedule.analysis_complete(CANARY, T0, T0 + timedelta(minutes=4))
    assert not schedule.analysis_complete(AB, T0, T0 + timedelta(hours=3))
    assert schedule.analysis_complete(AB, T0, T0, ABDecision.CANDIDATE_BETTER)
    assert not schedule.analysis_complete(PAUSE, T0, T0 + timedelta(days=1))


def test_approvals() -> None:
    steps = [CANARY, AB, FULL]
    assert schedule.needs_approval(steps, 1, [])
    assert not schedule.needs_approval(steps, 1, ["ab-test"])
    assert not schedule.needs_approval(steps, 0, [])
    assert not schedule.needs_approval(steps, 3, [])  # past the end: nothing to approve
    assert schedule.approved([PAUSE], 0, ["pause-0"])
    assert schedule.waits_for_human(PAUSE) and not schedule.waits_for_human(TIMED_PAUSE)


def test_analysis_interval_has_a_floor() -> None:
    checks = [{"name": "e", "builtin": "errorRate", "max": 0.1}]
    canary = [{"canary": {"weight": 5}}]
    assert schedule.analysis_interval(spec(canary)) is None
    zero = spec(canary, analysis={"interval": "0s", "checks": checks})
    assert schedule.analysis_interval(zero) == schedule.MIN_INTERVAL
    thirty = spec(canary, analysis={"interval": "30s", "checks": checks})
    assert schedule.analysis_interval(thirty) == timedelta(seconds=30)


def test_durations_too_long_for_kubernetes_are_problems_naming_the_field() -> None:
    huge = "9999999999h"
    found = schedule.problems(spec(
        [{"shadow": {"mirrorPercent": 10, "duration": huge}}, {"canary": {"weight": 5, "duration": "1m"}},
         {"pause": {"duration": huge}},
         {"abTest": {"weight": 50, "metric": "m", "minSamples": 1, "maxDuration": huge}}],
        progressDeadline=huge,
    ))
    assert [p.split(":")[0] for p in found] == [
        "spec.progressDeadline", "spec.steps[0].shadow.duration", "spec.steps[2].pause.duration",
        "spec.steps[3].abTest.maxDuration",
    ]
    assert schedule.problems(spec([{"canary": {"weight": 5, "duration": "1m"}}])) == []


# ------------------------------------------------------------------- approvals tied to a candidate

STEP_NAMES = st.sampled_from(["canary-1", "ab-test", "hold", "full-4"])
CANDIDATES = st.sampled_from(["fraud-v2", "fraud-v3"])
ENTRIES = st.one_of(STEP_NAMES, st.builds(lambda s, c: f"{s}@{c}", STEP_NAMES, CANDIDATES))


@given(entries=st.lists(ENTRIES, max_size=8, unique=True), candidate=CANDIDATES,
       standing=st.lists(STEP_NAMES, max_size=4, unique=True))
def test_only_an_approval_for_this_candidate_or_a_plain_name_added_since_its_start_counts(
    entries: list[str], candidate: str, standing: list[str]
) -> None:
    approved = schedule.approved_steps(entries, candidate, standing)
    for name in approved:
        assert f"{name}@{candidate}" in entries or (name in entries and name not in standing)
    for entry in entries:
        step_name, at, who = entry.partition("@")
        if (at and who == candidate) or (not at and entry not in standing):
            assert step_name in approved
    # A plain name present when the rollout began never approves, whatever else is listed.
    assert set(approved) <= {e.partition("@")[0] for e in entries if e.endswith(f"@{candidate}")} | (
        {e for e in entries if "@" not in e} - set(standing))


def test_a_rollout_started_with_names_listed_has_them_as_its_standing_baseline() -> None:
    entries = ["ab-test", "canary-1@fraud-v2"]
    assert schedule.plain_approvals(entries) == ["ab-test"]
    assert schedule.approved_steps(entries, "fraud-v2", schedule.plain_approvals(entries)) == ["canary-1"]
    assert schedule.approved_steps(entries, "fraud-v3", None) == ["ab-test"]  # a status from before the baseline


def test_approval_entries_are_step_or_step_at_candidate() -> None:
    good = spec([{"canary": {"weight": 5}}], approved=["canary-0", "canary-0@fraud-v2.prod"], retry="2026-03-01T12:00")
    assert good.approved == ["canary-0", "canary-0@fraud-v2.prod"] and good.retry == "2026-03-01T12:00"
    for bad in (["Canary"], ["canary-0@"], ["@fraud-v2"], ["a@b@c"]):
        with pytest.raises(ValueError):
            spec([{"canary": {"weight": 5}}], approved=bad)
