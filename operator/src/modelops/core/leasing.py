"""Leader election of a shard's replicas on a ``coordination.k8s.io/v1`` Lease, the way client-go's
``leaderelection`` does it, as pure decisions: what a candidate does with the Lease it just read,
and whether a leader may still act.

- A candidate takes a Lease that is absent, released (no holder), its own, or **expired**: unchanged
  (same holder, same renewTime) for ``lease_duration`` as measured on the candidate's own monotonic
  clock since it first saw that record — so no two clocks are ever compared.
- The leader renews every ``retry_period``; every write is an update with the Lease's
  resourceVersion, so of two candidates racing for one expired Lease exactly one wins (409 for the
  other).
- A leader that has not renewed for ``renew_deadline`` stops acting (``still_leading``) and exits.
  ``renew_deadline < lease_duration``: it has stopped before any other replica can see its Lease
  expired, so a shard never has two active replicas (up to the clocks' *rates*, not their values).

``now`` is always an argument (monotonic seconds); ``wall`` is the RFC 3339 time written to the
Lease's acquireTime/renewTime for people reading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Timing:
    """client-go's three durations, in seconds (defaults: 15 / 10 / 2)."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                f"leader election needs 0 < retryPeriod ({self.retry_period}) < renewDeadline "
                f"({self.renew_deadline}) < leaseDuration ({self.lease_duration}): a leader must give up "
                "before its lease can expire for another replica")


@dataclass(frozen=True)
class LeaseRecord:
    """The Lease's spec as far as election goes (``holder`` empty: released)."""

    holder: str = ""
    duration: int = 15
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0


@dataclass(frozen=True)
class Observation:
    """The Lease as last read (None: there is none) and when, on the local monotonic clock, this
    replica first saw it in this state."""

    record: LeaseRecord | None
    observed_at: float


class Action(Enum):
    CREATE = "create"  # no Lease yet: create it holding it
    TAKE = "take"      # released or expired: update it to hold it (a transition)
    RENEW = "renew"    # ours: update renewTime
    WAIT = "wait"      # another replica holds it and it has not expired


@dataclass(frozen=True)
class Decision:
    action: Action
    record: LeaseRecord | None = None  # what to write (None for WAIT)
    expires_in: float = 0.0            # WAIT: seconds until the holder's lease expires as seen here


def observe(previous: Observation | None, record: LeaseRecord | None, now: float) -> Observation:
    """The observation after reading ``record`` at ``now``: the clock restarts only when it changed."""
    if previous is not None and previous.record == record:
        return previous
    return Observation(record, now)


def decide(now: float, seen: Observation, identity: str, timing: Timing, wall: str) -> Decision:
    """What a replica named ``identity`` does with the Lease it observed."""
    duration = int(timing.lease_duration)
    record = seen.record
    if record is None:
        return Decision(Action.CREATE, LeaseRecord(identity, duration, wall, wall, 0))
    if record.holder == identity:
        return Decision(Action.RENEW, LeaseRecord(identity, duration, record.acquire_time or wall, wall,
                                                  record.transitions))
    expires_at = seen.observed_at + max(record.duration, 1)
    if record.holder and now < expires_at:
        return Decision(Action.WAIT, expires_in=expires_at - now)
    return Decision(Action.TAKE, LeaseRecord(identity, duration, wall, wall, record.transitions + 1))


def still_leading(now: float, renewed_at: float | None, timing: Timing) -> bool:
    """Whether a leader whose last successful write was at ``renewed_at`` may still act."""
    return renewed_at is not None and now - renewed_at < timing.renew_deadline
