"""The four outcomes of judging one statistic, and the rule that picks one.

Owns ``Verdict`` and ``decide``: a statistic is judged only when there is enough data on both
sides and its no-drift noise floor (``noise``) is at most a third of its threshold; then it is
drift when its value exceeds the threshold (the API's ``drifted: value > threshold``). The
refusals say why, so a caller reports "cannot tell yet" instead of a pass.
"""

from __future__ import annotations

from enum import StrEnum

from modelops.core.drift.noise import refuses


class Verdict(StrEnum):
    DRIFT = "drift"
    NO_DRIFT = "noDrift"
    NOISE_FLOOR_TOO_HIGH = "refusedNoiseFloor"
    NOT_ENOUGH_DATA = "notEnoughData"
    NOT_APPLICABLE = "notApplicable"


def decide(value: float | None, threshold: float, noise_floor: float, *, enough_data: bool = True) -> Verdict:
    """The verdict for one statistic (see the module docstring)."""
    if value is None or not enough_data:
        return Verdict.NOT_ENOUGH_DATA
    if refuses(noise_floor, threshold):
        return Verdict.NOISE_FLOOR_TOO_HIGH
    return Verdict.DRIFT if value > threshold else Verdict.NO_DRIFT


def overall(verdicts: list[Verdict]) -> Verdict:
    """Drift if anything drifted; else not enough data, else refused, if anything was; else no drift.

    Too little data or too much noise anywhere is never reported as a pass.
    """
    for outcome in (Verdict.DRIFT, Verdict.NOT_ENOUGH_DATA, Verdict.NOISE_FLOOR_TOO_HIGH):
        if outcome in verdicts:
            return outcome
    return Verdict.NO_DRIFT
