"""The role of a ModelVersion, from the Rollouts that name it: stable -> champion, candidate (or a
target not yet stable) -> candidate, warm -> previous; the best role wins and every holder is listed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.api.modelversion import Role
from modelops.core.serving.roles import role_of

MV = "fraud-detector-v3"


def _rollout(name: str, *, target: str | None = None, stable: str | None = None, candidate: str | None = None,
             warm: list[str] | None = None, status: bool = True) -> dict[str, Any]:
    rollout: dict[str, Any] = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"model": "fraud-detector", "target": target or "fraud-detector-v1"},
    }
    if status:
        body: dict[str, Any] = {}
        if stable is not None:
            body["stable"] = stable
        if candidate is not None:
            body["candidate"] = candidate
        if warm is not None:
            body["warm"] = warm
        rollout["status"] = body
    return rollout


def test_no_rollouts() -> None:
    assert role_of(MV, []) == (Role.NONE, [])


def test_rollouts_that_do_not_name_it() -> None:
    rollouts = [_rollout("fraud", target="fraud-detector-v2", stable="fraud-detector-v2", warm=["fraud-detector-v1"])]
    assert role_of(MV, rollouts) == (Role.NONE, [])


def test_stable_is_champion() -> None:
    assert role_of(MV, [_rollout("fraud", target=MV, stable=MV)]) == (Role.CHAMPION, ["fraud"])


def test_stable_is_champion_even_when_target_moved_away() -> None:
    rollouts = [_rollout("fraud", target="fraud-detector-v4", stable=MV, candidate="fraud-detector-v4")]
    assert role_of(MV, rollouts) == (Role.CHAMPION, ["fraud"])


def test_status_candidate_is_candidate() -> None:
    rollouts = [_rollout("fraud", target=MV, stable="fraud-detector-v2", candidate=MV)]
    assert role_of(MV, rollouts) == (Role.CANDIDATE, ["fraud"])


def test_target_not_yet_stable_is_candidate() -> None:
    # The Rollout reconciler has not written status yet.
    assert role_of(MV, [_rollout("fraud", target=MV, status=False)]) == (Role.CANDIDATE, ["fraud"])
    assert role_of(MV, [_rollout("fraud", target=MV, stable="fraud-detector-v2")]) == (Role.CANDIDATE, ["fraud"])


def test_status_candidate_while_target_moved_on_is_still_candidate() -> None:
    rollouts = [_rollout("fraud", target="fraud-detector-v4", stable="fraud-detector-v2", candidate=MV)]
    assert role_of(MV, rollouts) == (Role.CANDIDATE, ["fraud"])


def test_warm_is_previous() -> None:
    rollouts = [_rollout("fraud", target="fraud-detector-v4", stable="fraud-detector-v4",
                         warm=["fraud-detector-v2", MV])]
    assert role_of(MV, rollouts) == (Role.PREVIOUS, ["fraud"])


def test_warm_and_target_again_is_candidate() -> None:
    """Rolling back to a warm version: it is the target and not yet stable."""
    rollouts = [_rollout("fraud", target=MV, stable="fraud-detector-v4", warm=[MV])]
    assert role_of(MV, rollouts) == (Role.CANDIDATE, ["fraud"])


@pytest.mark.parametrize(
    ("rollouts", "role"),
    [
        ([_rollout("b-warm", stable="x", warm=[MV]), _rollout("a-cand", stable="x", candidate=MV)], Role.CANDIDATE),
        ([_rollout("a-cand", stable="x", candidate=MV), _rollout("b-warm", stable="x", warm=[MV])], Role.CANDIDATE),
        ([_rollout("z-champ", target=MV, stable=MV), _rollout("a-cand", stable="x", candidate=MV)], Role.CHAMPION),
        ([_rollout("a-cand", stable="x", candidate=MV), _rollout("z-champ", target=MV, stable=MV)], Role.CHAMPION),
        ([_rollout("m-warm", stable="x", warm=[MV]), _rollout("c-champ", target=MV, stable=MV),
          _rollout("q-none", stable="y")], Role.CHAMPION),
        ([_rollout("m-warm", stable="x", warm=[MV]), _rollout("b-warm", stable="y", warm=["v0", MV])],
         Role.PREVIOUS),
    ],
)
def test_several_rollouts_best_role_wins_and_holders_sorted(rollouts: list[dict[str, Any]], role: Role) -> None:
    best, holders = role_of(MV, rollouts)
    assert best is role
    naming = [r["metadata"]["name"] for r in rollouts if not r["metadata"]["name"].endswith("none")]
    assert holders == sorted(naming)


def test_empty_or_null_status_and_spec() -> None:
    rollouts: list[dict[str, Any]] = [
        {"metadata": {"name": "a"}, "spec": None, "status": None},
        {"metadata": {"name": "b"}},
        {"metadata": {"name": "c"}, "spec": {}, "status": {"warm": None}},
    ]
    assert role_of(MV, rollouts) == (Role.NONE, [])


def test_accepts_any_iterable() -> None:
    rollouts = (r for r in [_rollout("fraud", target=MV, stable=MV)])
    assert role_of(MV, rollouts) == (Role.CHAMPION, ["fraud"])


NAMES = st.sampled_from([MV, "fraud-detector-v1", "fraud-detector-v2", "fraud-detector-v4"])


@st.composite
def rollouts(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 5))
    return [
        _rollout(f"r{i}", target=draw(NAMES), stable=draw(st.none() | NAMES), candidate=draw(st.none() | NAMES),
                 warm=draw(st.lists(NAMES, max_size=3, unique=True)), status=draw(st.booleans()))
        for i in range(count)
    ]


@given(rollouts())
def test_role_matches_a_rollout_by_rollout_reading(items: list[dict[str, Any]]) -> None:
    best, holders = role_of(MV, items)
    roles = []
    for r in items:
        status, spec = r.get("status") or {}, r["spec"]
        if status.get("stable") == MV:
            roles.append((r["metadata"]["name"], 3))
        elif status.get("candidate") == MV or spec["target"] == MV:
            roles.append((r["metadata"]["name"], 2))
        elif MV in (status.get("warm") or []):
            roles.append((r["metadata"]["name"], 1))
    assert holders == sorted(name for name, _ in roles)
    expected = max((rank for _, rank in roles), default=0)
    assert best is {3: Role.CHAMPION, 2: Role.CANDIDATE, 1: Role.PREVIOUS, 0: Role.NONE}[expected]


def test_a_retired_version_is_archived_and_holds_nothing() -> None:
    rollout = _rollout("a", target="fraud-detector-v9", stable="fraud-detector-v9")
    rollout["status"]["retired"] = [MV]
    assert role_of(MV, [rollout]) == (Role.ARCHIVED, [])
    warm_elsewhere = _rollout("b", stable="fraud-detector-v9", warm=[MV])
    assert role_of(MV, [rollout, warm_elsewhere]) == (Role.PREVIOUS, ["b"])


def test_archived_is_sticky_after_the_version_falls_off_status_retired() -> None:
    # status.retired keeps only the newest RETIRED_KEPT names: a version pushed off it is named by
    # no Rollout, and without its own status.role it would read as NONE and be served again.
    rollout = _rollout("a", target="fraud-detector-v30", stable="fraud-detector-v30")
    assert role_of(MV, [rollout], previous="archived") == (Role.ARCHIVED, [])
    assert role_of(MV, [], previous="archived") == (Role.ARCHIVED, [])
    assert role_of(MV, [rollout], previous="previous") == (Role.NONE, [])
    # Named again (target, warm, stable): the Rollout's role wins and it is held.
    rollout["spec"]["target"] = MV
    assert role_of(MV, [rollout], previous="archived") == (Role.CANDIDATE, ["a"])
    warm = _rollout("b", stable="fraud-detector-v30", warm=[MV])
    assert role_of(MV, [warm], previous="archived") == (Role.PREVIOUS, ["b"])


def test_kserve_router_of_names_the_rollout_and_its_inference_service() -> None:
    from modelops.core.serving.roles import kserve_router_of

    rollout = _rollout("a", target=MV, stable="fraud-detector-v1")
    assert kserve_router_of(MV, [rollout]) is None  # not a kserve router
    rollout["spec"]["trafficRouting"] = {"kserve": {"inferenceService": "fraud"}}
    assert kserve_router_of(MV, [rollout]) == ("a", "fraud")
    rollout["spec"]["target"] = "fraud-detector-v1"
    rollout["status"]["retired"] = [MV]
    assert kserve_router_of(MV, [rollout]) is None  # retired: not deployed by the router any more
