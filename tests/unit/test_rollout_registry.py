"""``core.rollout.registry``: the MLflow aliases follow status (level-based), only differences are
written, and tags that could not be written are queued in status, bounded."""

from __future__ import annotations

from modelops.core.rollout.intents import CHALLENGER, CHAMPION, AliasMove, VersionTag
from modelops.core.rollout.registry import (
    PENDING_KEPT,
    RegistryOutcome,
    alias_writes,
    desired_aliases,
    pending_tags,
    recorded_status,
)


def test_champion_follows_stable_and_challenger_only_a_candidate_in_flight() -> None:
    assert desired_aliases({"phase": "Progressing", "stable": "v1", "candidate": "v2"}) == {
        CHAMPION: "v1", CHALLENGER: "v2"}
    for phase in ("Promoted", "RolledBack", "Aborted", "Failed", "Idle"):
        assert desired_aliases({"phase": phase, "stable": "v1", "candidate": "v2"}) == {
            CHAMPION: "v1", CHALLENGER: None}
    assert desired_aliases({}) == {CHAMPION: None, CHALLENGER: None}


def test_only_the_difference_is_written_champion_first() -> None:
    status = {"phase": "Promoted", "stable": "v2", "registry": {"champion": "v1", "challenger": "v2"}}
    assert alias_writes("m", status) == [AliasMove("m", CHAMPION, "v2"), AliasMove("m", CHALLENGER, None)]
    synced = {"phase": "Promoted", "stable": "v2", "registry": {"champion": "v2"}}
    assert alias_writes("m", synced) == []


def test_pending_tags_round_trip_through_status_and_are_bounded() -> None:
    tags = [VersionTag("m", f"v{i}", {"modelops.rollout.outcome": "RolledBack"}) for i in range(PENDING_KEPT + 5)]
    recorded = recorded_status(RegistryOutcome(aliases={CHAMPION: "v1", CHALLENGER: None}, pending=tags))
    assert recorded["champion"] == "v1" and "challenger" not in recorded
    assert len(recorded["pendingTags"]) == PENDING_KEPT
    again = pending_tags("m", {"registry": recorded})
    assert again == tags[-PENDING_KEPT:]
    assert recorded_status(RegistryOutcome(aliases={CHAMPION: None, CHALLENGER: None}, pending=[])) == {}
