"""Traffic-split maths: the split of every step kind, and the three invariants — weights sum to 100,
no weight on a backend that is not Ready, a mirror never changes the served split — as tables and as
hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.api.rollout import Traffic
from modelops.api.steps import Step
from modelops.core.rollout.traffic import (
    ALL_CANDIDATE,
    ALL_STABLE,
    Split,
    desired_split,
    safe_split,
    split_at,
    split_before,
    step_split,
)


def step(**kind: object) -> Step:
    return Step.model_validate(kind)


SHADOW = step(shadow={"mirrorPercent": 40, "duration": "10m"})
CANARY = step(canary={"weight": 5, "duration": "5m"})
AB = step(abTest={"weight": 50, "metric": "conversion", "minSamples": 100, "maxDuration": "1h"})
PAUSE = step(pause={})
FULL = step(full={})


@pytest.mark.parametrize(
    ("given_step", "expected"),
    [
        (SHADOW, Split(100, 0, 40)),
        (CANARY, Split(95, 5, 0)),
        (AB, Split(50, 50, 0)),
        (FULL, Split(0, 100, 0)),
        (PAUSE, None),
        (step(canary={"weight": 0}), Split(100, 0)),
        (step(canary={"weight": 100}), Split(0, 100)),
    ],
)
def test_step_split(given_step: Step, expected: Split | None) -> None:
    assert step_split(given_step) == expected


def test_pause_keeps_the_split_of_the_last_traffic_step_before_it() -> None:
    steps = [SHADOW, PAUSE, CANARY, PAUSE, PAUSE, AB, FULL]
    assert split_at(steps, 1) == Split(100, 0, 40)  # a pause after shadow keeps mirroring
    assert split_at(steps, 3) == split_at(steps, 4) == Split(95, 5)
    assert split_at([PAUSE, CANARY], 0) == ALL_STABLE
    assert split_at([CANARY], 1) == ALL_CANDIDATE  # the implicit promotion after the last step
    assert split_before(steps, 0) == ALL_STABLE
    assert split_before(steps, 2) == Split(100, 0, 40)


@pytest.mark.parametrize(
    ("stable_ready", "candidate_ready", "expected", "noted"),
    [
        (True, True, Split(95, 5), False),
        (True, False, ALL_STABLE, True),
        (False, True, ALL_CANDIDATE, True),
        (False, False, None, True),
    ],
)
def test_weight_only_on_ready_backends(
    stable_ready: bool, candidate_ready: bool, expected: Split | None, noted: bool
) -> None:
    choice = desired_split(CANARY, stable_ready=stable_ready, candidate_ready=candidate_ready, previous=None)
    assert choice.split == expected
    assert (choice.note is not None) is noted


def test_neither_ready_leaves_the_route_alone_and_says_so() -> None:
    choice = desired_split(SHADOW, stable_ready=False, candidate_ready=False, previous=Split(80, 20))
    assert choice.split is None
    assert choice.note is not None and "neither" in choice.note


def test_no_rollout_in_flight_never_falls_back_on_a_candidate() -> None:
    assert desired_split(None, stable_ready=True, candidate_ready=True).split == ALL_STABLE
    assert desired_split(None, stable_ready=False, candidate_ready=True).split is None


def test_a_pause_keeps_the_previous_split() -> None:
    previous = Split(75, 25)
    assert desired_split(PAUSE, stable_ready=True, candidate_ready=True, previous=previous).split == previous
    assert desired_split(PAUSE, stable_ready=True, candidate_ready=True, previous=None).split == ALL_STABLE


def test_a_mirror_goes_only_to_a_ready_candidate() -> None:
    assert desired_split(SHADOW, stable_ready=True, candidate_ready=False).split == ALL_STABLE
    # The candidate already serves everything: nothing left to mirror.
    assert desired_split(SHADOW, stable_ready=False, candidate_ready=True).split == ALL_CANDIDATE


@pytest.mark.parametrize(
    ("stable", "candidate", "mirror"), [(50, 49, 0), (101, -1, 0), (100, 0, 101), (100, 0, -1), (True, 99, 0)]
)
def test_an_impossible_split_cannot_exist(stable: int, candidate: int, mirror: int) -> None:
    with pytest.raises(ValueError):
        Split(stable, candidate, mirror)


def test_status_traffic_round_trip() -> None:
    split = Split(70, 30, 0)
    assert Split.from_traffic(split.to_traffic()) == split
    assert Split.from_traffic(None) is None
    assert Split.from_traffic(Traffic(stable=50)) is None
    assert Split.from_traffic(Traffic(stable=50, candidate=40)) is None
    assert Split(100, 0, 10).describe() == "100% stable / 0% candidate, 10% mirrored"


# ------------------------------------------------------------------------------ properties

percent = st.integers(min_value=0, max_value=100)
steps = st.one_of(
    st.builds(lambda m: step(shadow={"mirrorPercent": m, "duration": "1m"}), percent),
    st.builds(lambda w: step(canary={"weight": w}), percent),
    st.builds(
        lambda w: step(abTest={"weight": w, "metric": "m", "minSamples": 1, "maxDuration": "1h"}), percent
    ),
    st.just(PAUSE),
    st.just(FULL),
)
splits = st.builds(
    lambda c, m: Split(100 - c, c, m), percent, percent
)


@given(step_=st.one_of(st.none(), steps), stable_ready=st.booleans(), candidate_ready=st.booleans(),
       previous=st.one_of(st.none(), splits))
def test_weights_sum_to_100_and_never_reach_a_backend_that_is_not_ready(
    step_: Step | None, stable_ready: bool, candidate_ready: bool, previous: Split | None
) -> None:
    choice = desired_split(step_, stable_ready=stable_ready, candidate_ready=candidate_ready, previous=previous)
    if not stable_ready and not (candidate_ready and step_ is not None):
        assert choice.split is None
        return
    split = choice.split
    assert split is not None
    assert split.stable + split.candidate == 100
    if not stable_ready:
        assert split.stable == 0
    if not candidate_ready or step_ is None:
        assert split.candidate == 0 and split.mirror == 0


@given(wanted=splits, stable_ready=st.booleans(), candidate_ready=st.booleans(), mirror=percent)
def test_a_mirror_never_changes_the_served_split(
    wanted: Split, stable_ready: bool, candidate_ready: bool, mirror: int
) -> None:
    one = safe_split(wanted, stable_ready=stable_ready, candidate_ready=candidate_ready)
    other = safe_split(
        Split(wanted.stable, wanted.candidate, mirror), stable_ready=stable_ready, candidate_ready=candidate_ready
    )
    assert (one.split.served if one.split else None) == (other.split.served if other.split else None)


@given(mirror=percent, other=percent, stable_ready=st.booleans(), candidate_ready=st.booleans())
def test_a_shadow_step_serves_the_same_whatever_it_mirrors(
    mirror: int, other: int, stable_ready: bool, candidate_ready: bool
) -> None:
    def served(percent_: int) -> tuple[int, int] | None:
        shadow = step(shadow={"mirrorPercent": percent_, "duration": "1m"})
        split = desired_split(shadow, stable_ready=stable_ready, candidate_ready=candidate_ready).split
        return split.served if split else None

    assert served(mirror) == served(other)
