"""``core.rollout.registry``: the MLflow aliases follow status (level-based), only differences are
written, and tags that could not be written are queued in status, bounded."""

from __future__ import annotations

from modelops.core.rollout.actions import CHALLENGER, CHAMPION, AliasMove, VersionTag
from modelops.core.rollout.aliases import (
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


# -- what the status says after the registry writes (aliases.registry_status) -------------------

def _registry_condition(status: dict) -> dict:  # type: ignore[type-arg]
    return next(c for c in status["conditions"] if c["type"] == "RegistrySynced")


def test_registry_status_records_what_mlflow_holds_and_warns_once_when_writes_fail() -> None:
    from datetime import UTC, datetime

    from modelops.core.rollout.aliases import RegistryOutcome, registry_status

    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    stored = {"registry": {"champion": "v1", "challenger": "v2"}, "conditions": []}
    ok = RegistryOutcome(aliases={"champion": "v2", "challenger": None}, pending=[])
    status, events, retry = registry_status(stored, ok, generation=3, now=now)
    assert status["registry"] == {"champion": "v2"} and retry is None and events == []
    assert _registry_condition(status)["status"] == "True"
    failed = RegistryOutcome(aliases={"champion": "v2", "challenger": None}, pending=[], problems=["alias x: down"])
    status, events, retry = registry_status(status, failed, generation=3, now=now)
    assert [e.reason for e in events] == ["RegistryNotSynced"] and retry is not None
    assert _registry_condition(status)["reason"] == "RegistryWriteFailed"
    again, events, _ = registry_status(status, failed, generation=3, now=now)
    assert events == [], "no second Warning while it stays unsynced"
    unset, events, retry = registry_status(again, None, generation=3, now=now)
    assert _registry_condition(unset)["status"] == "Unknown" and retry is None
