"""The pure parts of sharding: which objects a shard owns, the label records and children inherit,
and the leader election's decisions as a function of (now, the Lease observed, identity)."""

from __future__ import annotations

import pytest

from modelops.core.leasing import Action, LeaseRecord, Observation, Timing, decide, observe, still_leading
from modelops.core.sharding import SHARD_LABEL, Shard, inherit, parse_selector

TIMING = Timing(lease_duration=15, renew_deadline=10, retry_period=2)
WALL = "2026-12-02T00:00:00.000000Z"


@pytest.mark.parametrize(("selector", "labels", "admitted"), [
    ("modelops.io/shard=a", {SHARD_LABEL: "a"}, True),
    ("modelops.io/shard==a", {SHARD_LABEL: "a"}, True),
    ("modelops.io/shard=a", {SHARD_LABEL: "b"}, False),
    ("modelops.io/shard=a", {}, False),
    ("!modelops.io/shard", {}, True),
    ("!modelops.io/shard", {SHARD_LABEL: "a"}, False),
    ("modelops.io/shard", {SHARD_LABEL: ""}, True),
    ("modelops.io/shard!=a", {}, True),
    ("modelops.io/shard!=a", {SHARD_LABEL: "a"}, False),
    ("team=ml, modelops.io/shard=a", {SHARD_LABEL: "a", "team": "ml"}, True),
    ("team=ml,modelops.io/shard=a", {SHARD_LABEL: "a"}, False),
])
def test_a_selector_admits_what_kubectl_would_select(selector: str, labels: dict[str, str], admitted: bool) -> None:
    assert Shard.of("s", selector=selector).admits("ns", labels) is admitted


def test_namespaces_and_selector_must_both_hold() -> None:
    shard = Shard.of("b", ["ml-1", "ml-2"], "modelops.io/shard=b")
    assert shard.admits("ml-2", {SHARD_LABEL: "b"})
    assert not shard.admits("ml-3", {SHARD_LABEL: "b"})
    assert not shard.admits("ml-1", {SHARD_LABEL: "a"})
    assert Shard().admits("anywhere", None)


def test_the_selector_reaches_the_api_server_as_written() -> None:
    assert Shard.of("a", selector="modelops.io/shard==a, !legacy").selector_text() == "modelops.io/shard=a,!legacy"
    assert Shard.of("a").selector_text() == ""


@pytest.mark.parametrize("bad", ["", "a=b,", "=a", "bad key=a", "k=not valid", "k=" + "x" * 64])
def test_a_bad_selector_names_the_term(bad: str) -> None:
    with pytest.raises(ValueError, match="selector"):
        parse_selector(bad)


def test_records_and_children_inherit_their_creators_shard() -> None:
    monitor = {"metadata": {"name": "m", "labels": {SHARD_LABEL: "a", "team": "ml"}}}
    run = {"kind": "TrainingRun", "metadata": {"name": "r", "labels": {"modelops.io/drift-monitor": "m"}}}
    inherited = inherit(monitor, run)
    assert inherited["metadata"]["labels"] == {"modelops.io/drift-monitor": "m", SHARD_LABEL: "a"}
    assert "labels" in run["metadata"] and SHARD_LABEL not in run["metadata"]["labels"]  # not mutated
    assert inherit({"metadata": {}}, run) is run  # an unsharded creator changes nothing


# -- leader election ------------------------------------------------------------------------------


def test_no_lease_is_created_held() -> None:
    decision = decide(0.0, Observation(None, 0.0), "r1", TIMING, WALL)
    assert decision.action is Action.CREATE
    assert decision.record == LeaseRecord("r1", 15, WALL, WALL, 0)


def test_the_holder_renews_keeping_its_acquire_time() -> None:
    held = LeaseRecord("r1", 15, "t0", "t1", 3)
    decision = decide(100.0, Observation(held, 90.0), "r1", TIMING, WALL)
    assert decision.action is Action.RENEW
    assert decision.record == LeaseRecord("r1", 15, "t0", WALL, 3)


def test_another_holders_lease_is_waited_for_until_it_expires_on_the_local_clock() -> None:
    held = LeaseRecord("r1", 15, "t0", "t1", 0)
    seen = Observation(held, 50.0)
    waiting = decide(64.9, seen, "r2", TIMING, WALL)
    assert waiting.action is Action.WAIT and waiting.expires_in == pytest.approx(0.1)
    taking = decide(65.0, seen, "r2", TIMING, WALL)
    assert taking.action is Action.TAKE
    assert taking.record == LeaseRecord("r2", 15, WALL, WALL, 1)


def test_the_expiry_clock_restarts_whenever_the_holder_renews() -> None:
    first = observe(None, LeaseRecord("r1", 15, "t0", "t1"), 0.0)
    assert observe(first, LeaseRecord("r1", 15, "t0", "t1"), 14.0) is first  # unchanged: clock runs on
    renewed = observe(first, LeaseRecord("r1", 15, "t0", "t2"), 14.0)
    assert renewed.observed_at == 14.0
    assert decide(20.0, renewed, "r2", TIMING, WALL).action is Action.WAIT


def test_a_released_lease_is_taken_at_once() -> None:
    released = LeaseRecord("", 1, None, None, 4)
    decision = decide(0.0, Observation(released, 0.0), "r2", TIMING, WALL)
    assert decision.action is Action.TAKE and decision.record is not None and decision.record.transitions == 5


def test_a_leader_stops_before_its_lease_can_expire_for_anyone_else() -> None:
    renewed_at = 100.0
    assert still_leading(renewed_at + 9.9, renewed_at, TIMING)
    assert not still_leading(renewed_at + TIMING.renew_deadline, renewed_at, TIMING)
    assert not still_leading(0.0, None, TIMING)
    # The other replica saw that renewal no earlier than it was made: it may take over at the earliest
    # leaseDuration later, by which time the leader has stopped for leaseDuration - renewDeadline.
    seen = Observation(LeaseRecord("r1", 15, "t0", "t1"), renewed_at)
    earliest = next(t / 10 for t in range(1000, 2000) if decide(t / 10, seen, "r2", TIMING, WALL).action
                    is Action.TAKE)
    assert not still_leading(earliest, renewed_at, TIMING)
    assert earliest - (renewed_at + TIMING.renew_deadline) == pytest.approx(5.0)


@pytest.mark.parametrize(("duration", "deadline", "period"), [(10, 10, 2), (15, 10, 10), (15, 20, 2), (15, 10, 0)])
def test_timings_that_could_overlap_two_leaders_are_refused(duration: float, deadline: float, period: float) -> None:
    with pytest.raises(ValueError, match="renewDeadline"):
        Timing(duration, deadline, period)
