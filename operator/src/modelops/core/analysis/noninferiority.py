"""Guardrails as non-inferiority margins: promote when the candidate is shown to be no worse than
the stable by more than a margin — not merely when no threshold happened to be crossed.

Owns the confidence intervals of the difference *candidate − stable* for a rate (error rate,
timeout rate) and for a mean (latency, a score), and the three-way verdict on them. "Not crossed"
and "shown within" differ exactly when data is thin: ten requests with no error pass a
``max: 0.01`` threshold, but the interval of their error rate reaches far beyond the margin.

For a metric where *lower* is better (an error rate) and margin m ≥ 0:

- Successful (non-inferior): the upper bound of the difference is < m.
- Failed (inferior by more than the margin): the lower bound is > m — the whole interval is worse.
- Inconclusive otherwise (the interval straddles m: more data needed), and without data.

Mirrored for *higher*-is-better metrics (bounds against −m). The test at one-sided level alpha
uses the bound of the two-sided (1 − 2·alpha) interval, the usual convention (a one-sided 2.5%
test reads a 95% interval).

Intervals: Newcombe's hybrid score interval (Newcombe 1998, "Interval estimation for the
difference between independent proportions", method 10, built from Wilson intervals) is the
default for rates, because guardrail rates sit near 0 where the Wald interval collapses to a
point (0 errors in 10 requests gives the Wald interval [0, 0]); Wald is kept for comparison. The
mean uses the normal (z) interval with unequal variances: the standard library has no Student t
quantile, and the sample sizes of live traffic make the difference negligible. Hand-written for
the same reason as the rest of core: no scipy/statsmodels in the operator's pure layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

from modelops.api.rollout import Verdict
from modelops.api.steps import Direction
from modelops.core.analysis.arms import Proportion, Sample

_NORMAL = NormalDist()


class RateMethod(StrEnum):
    NEWCOMBE = "newcombe"
    WALD = "wald"


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval around ``estimate`` at ``confidence`` (e.g. 0.95)."""

    estimate: float
    low: float
    high: float
    confidence: float


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


def wilson_interval(arm: Proportion, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval of one rate; needs at least one sample."""
    if arm.samples == 0:
        raise ValueError("a rate without samples has no interval")
    z, n = _z(confidence), arm.samples
    p = arm.successes / n
    scale = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # Clamp rounding noise: the exact interval always lies within [0, 1].
    return Interval(estimate=p, low=max(0.0, centre - half), high=min(1.0, centre + half), confidence=confidence)


def rate_difference_interval(
    stable: Proportion,
    candidate: Proportion,
    *,
    confidence: float = 0.95,
    method: RateMethod = RateMethod.NEWCOMBE,
) -> Interval:
    """Interval of candidate rate − stable rate; both arms need samples."""
    if stable.samples == 0 or candidate.samples == 0:
        raise ValueError("both arms need samples for a difference interval")
    pc, ps = candidate.successes / candidate.samples, stable.successes / stable.samples
    estimate = pc - ps
    if method is RateMethod.WALD:
        half = _z(confidence) * math.sqrt(pc * (1 - pc) / candidate.samples + ps * (1 - ps) / stable.samples)
        return Interval(estimate=estimate, low=estimate - half, high=estimate + half, confidence=confidence)
    c = wilson_interval(candidate, confidence=confidence)
    s = wilson_interval(stable, confidence=confidence)
    # Newcombe's method 10: each side combines the two Wilson half-widths that point that way.
    low = estimate - math.hypot(pc - c.low, s.high - ps)
    high = estimate + math.hypot(c.high - pc, ps - s.low)
    return Interval(estimate=estimate, low=low, high=high, confidence=confidence)


def mean_difference_interval(stable: Sample, candidate: Sample, *, confidence: float = 0.95) -> Interval:
    """Normal interval of candidate mean − stable mean with unequal variances; both arms need samples."""
    if stable.samples == 0 or candidate.samples == 0:
        raise ValueError("both arms need samples for a difference interval")
    estimate = candidate.mean - stable.mean
    half = _z(confidence) * math.sqrt(stable.std**2 / stable.samples + candidate.std**2 / candidate.samples)
    return Interval(estimate=estimate, low=estimate - half, high=estimate + half, confidence=confidence)


@dataclass(frozen=True)
class NonInferiority:
    """The verdict of one guardrail. ``bound`` is the side of the interval that must stay inside
    the margin (the upper bound when lower is better); ``interval`` is None without data."""

    verdict: Verdict
    margin: float
    direction: Direction
    interval: Interval | None
    bound: float | None
    message: str

    @property
    def non_inferior(self) -> bool:
        return self.verdict is Verdict.SUCCESSFUL


def _judge(name: str, interval: Interval, margin: float, direction: Direction, alpha: float) -> NonInferiority:
    shown = (
        f"{name}: candidate − stable = {interval.estimate:+.4g}, "
        f"{interval.confidence:.0%} interval [{interval.low:+.4g}, {interval.high:+.4g}]"
    )
    if direction is Direction.LOWER:
        # Harm is an increase: the upper bound must stay below +margin.
        limit, bound, far = margin, interval.high, interval.low
        inside, beyond = bound < limit, far > limit
    else:
        # Harm is a decrease: the lower bound must stay above −margin.
        limit, bound, far = -margin, interval.low, interval.high
        inside, beyond = bound > limit, far < limit
    if inside:
        verdict, says = Verdict.SUCCESSFUL, f"within the margin {limit:+g} (non-inferior at alpha {alpha:g})"
    elif beyond:
        verdict, says = Verdict.FAILED, f"entirely beyond the margin {limit:+g}: inferior"
    else:
        verdict, says = Verdict.INCONCLUSIVE, f"straddles the margin {limit:+g}: not shown non-inferior yet"
    return NonInferiority(verdict, margin, direction, interval, bound, f"{shown} {says}")


def _check(margin: float, alpha: float) -> None:
    if not margin >= 0 or not math.isfinite(margin):
        raise ValueError(f"the margin is a finite size of harm >= 0, got {margin}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha (one-sided) must be strictly between 0 and 0.5, got {alpha}")


def _no_data(name: str, margin: float, direction: Direction) -> NonInferiority:
    return NonInferiority(
        Verdict.INCONCLUSIVE, margin, direction, None, None, f"{name}: no data in one arm; never a pass"
    )


def rate_noninferiority(
    stable: Proportion,
    candidate: Proportion,
    *,
    margin: float,
    direction: Direction = Direction.LOWER,
    alpha: float = 0.05,
    method: RateMethod = RateMethod.NEWCOMBE,
    name: str = "rate",
) -> NonInferiority:
    """Is the candidate's rate no worse than stable's by more than ``margin`` (absolute, e.g. 0.005
    for half a percentage point of errors)? Default direction: lower is better (an error rate)."""
    _check(margin, alpha)
    if stable.samples == 0 or candidate.samples == 0:
        return _no_data(name, margin, direction)
    interval = rate_difference_interval(stable, candidate, confidence=1 - 2 * alpha, method=method)
    return _judge(name, interval, margin, direction, alpha)


def mean_noninferiority(
    stable: Sample,
    candidate: Sample,
    *,
    margin: float,
    direction: Direction = Direction.LOWER,
    alpha: float = 0.05,
    name: str = "mean",
) -> NonInferiority:
    """Is the candidate's mean no worse than stable's by more than ``margin`` (in the metric's unit,
    e.g. 0.02 s of latency)? Default direction: lower is better (a latency)."""
    _check(margin, alpha)
    if stable.samples == 0 or candidate.samples == 0:
        return _no_data(name, margin, direction)
    interval = mean_difference_interval(stable, candidate, confidence=1 - 2 * alpha)
    return _judge(name, interval, margin, direction, alpha)
