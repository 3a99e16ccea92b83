"""Traffic-split maths: the split a step asks for, and the split that is safe to apply.

Owns ``Split`` (stable %, candidate %, mirror %) and the three invariants every router relies on:

1. **Served weights sum to 100.** ``stable + candidate == 100`` for every ``Split`` (checked on
   construction, so an impossible split cannot exist, let alone reach a router).
2. **A backend that is not Ready never gets weight.** Not Ready means requests to it fail, so the
   split is moved onto the Ready backend, whichever it is: a candidate that is not Ready gets 0
   (and no mirror); a stable that is not Ready while the candidate is gets 0 and the candidate
   serves everything — a request answered by an unproven model beats a request not answered at
   all. When neither is Ready there is no safe split: the route is left as it is (``split`` None)
   and the note says so, rather than the operator inventing weights.
3. **A mirror never changes the served split.** Mirrored (shadow) requests are copies whose
   responses are dropped; the served stable/candidate weights are computed without looking at the
   mirror percentage, and the mirror goes to 0 whenever the candidate may not receive it.

The splits of the step kinds: ``shadow`` 100/0 plus mirror%; ``canary`` and ``abTest`` 100-w/w;
``pause`` keeps the split of the last traffic step before it; ``full`` 0/100.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelops.api.rollout import Traffic
from modelops.api.steps import Step


@dataclass(frozen=True)
class Split:
    """Percent of requests served by stable and by candidate (summing to 100), and percent of
    requests additionally copied to the candidate (``mirror``, not served by it)."""

    stable: int
    candidate: int
    mirror: int = 0

    def __post_init__(self) -> None:
        for name, value in (("stable", self.stable), ("candidate", self.candidate), ("mirror", self.mirror)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise ValueError(f"{name} must be an integer percentage 0-100, got {value!r}")
        if self.stable + self.candidate != 100:
            raise ValueError(f"stable + candidate must be 100, got {self.stable} + {self.candidate}")

    @property
    def served(self) -> tuple[int, int]:
        """(stable, candidate): what clients are answered by, mirror left out."""
        return (self.stable, self.candidate)

    def to_traffic(self) -> Traffic:
        return Traffic(stable=self.stable, candidate=self.candidate, mirror=self.mirror)

    @classmethod
    def from_traffic(cls, traffic: Traffic | None) -> Split | None:
        """The split ``status.traffic`` records, or None when it is absent or not a valid split."""
        if traffic is None or traffic.stable is None or traffic.candidate is None:
            return None
        try:
            return cls(traffic.stable, traffic.candidate, traffic.mirror or 0)
        except ValueError:
            return None

    def describe(self) -> str:
        text = f"{self.stable}% stable / {self.candidate}% candidate"
        return f"{text}, {self.mirror}% mirrored" if self.mirror else text


ALL_STABLE = Split(100, 0, 0)
ALL_CANDIDATE = Split(0, 100, 0)


def step_split(step: Step) -> Split | None:
    """The split a step asks for; None for ``pause``, which keeps the split before it."""
    if step.shadow is not None:
        return Split(100, 0, step.shadow.mirror_percent)
    if step.canary is not None:
        return Split(100 - step.canary.weight, step.canary.weight)
    if step.ab_test is not None:
        return Split(100 - step.ab_test.weight, step.ab_test.weight)
    if step.full is not None:
        return ALL_CANDIDATE
    return None


def split_at(steps: Sequence[Step], index: int) -> Split:
    """The split of step ``index`` of a schedule: its own, or for a pause the split of the last
    traffic step before it (100% stable when there is none). ``index == len(steps)`` is the
    promotion that ends a schedule without a ``full`` step: 0/100."""
    if index >= len(steps):
        return ALL_CANDIDATE
    for position in range(index, -1, -1):
        split = step_split(steps[position])
        if split is not None:
            return split
    return ALL_STABLE


def split_before(steps: Sequence[Step], index: int) -> Split:
    """The split in force while step ``index`` has not started yet (waiting for approval)."""
    return split_at(steps, index - 1) if index > 0 else ALL_STABLE


@dataclass(frozen=True)
class SplitChoice:
    """The split to apply (None: leave the route as it is) and, when it is not the one asked for,
    why (for status.message and Events)."""

    split: Split | None
    note: str | None = None


def safe_split(wanted: Split, *, stable_ready: bool, candidate_ready: bool) -> SplitChoice:
    """``wanted`` with weight moved off backends that are not Ready (see the module docstring)."""
    if stable_ready and candidate_ready:
        return SplitChoice(wanted)
    if stable_ready:
        if wanted.candidate or wanted.mirror:
            return SplitChoice(ALL_STABLE, f"the candidate is not Ready: 100% stable instead of {wanted.describe()}")
        return SplitChoice(ALL_STABLE)
    if candidate_ready:
        # The candidate already serves everything: mirroring its own traffic to it means nothing.
        if wanted.stable or wanted.mirror:
            return SplitChoice(
                ALL_CANDIDATE, f"the stable is not Ready: 100% candidate instead of {wanted.describe()}"
            )
        return SplitChoice(ALL_CANDIDATE)
    return SplitChoice(None, "neither stable nor candidate is Ready: the route is left as it is")


def desired_split(
    step: Step | None,
    *,
    stable_ready: bool,
    candidate_ready: bool,
    previous: Split | None = None,
) -> SplitChoice:
    """The split to apply while ``step`` runs. ``previous`` is the split before the step (what a
    ``pause`` keeps); ``step`` None means no rollout is in flight: everything on stable, and no
    candidate to fall back on."""
    if step is None:
        return safe_split(ALL_STABLE, stable_ready=stable_ready, candidate_ready=False)
    wanted = step_split(step) or previous or ALL_STABLE
    return safe_split(wanted, stable_ready=stable_ready, candidate_ready=candidate_ready)
