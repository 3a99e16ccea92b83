"""Sample-ratio mismatch (SRM): did the router really split requests the way it was told to?

Owns one guard no peer (Argo Rollouts, Flagger) has. When the observed split between stable and
candidate departs from the configured weights, something upstream is biased — a router that
drops the candidate's errors, sticky sessions, a bot hitting one version, a logging gap — and
then *every* comparison between the arms is suspect, however good it looks. The check is the
standard one (Kohavi et al., "Trustworthy Online Controlled Experiments", ch. 21): a chi-square
goodness-of-fit test of the two observed counts against the configured weights, and p < 0.001
halts the rollout. The threshold is that strict because the check runs at every tick: a looser
one would halt healthy rollouts by chance.

With two categories the statistic has one degree of freedom, and its survival function is
closed-form: P(χ²₁ > x) = P(|Z| > √x) = erfc(√(x/2)). That is why there is no scipy here (core
may import only the standard library and numpy).

Counts are of *served* requests only: mirrored (shadow) requests are not part of the split and
must not be counted for the candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SRM_THRESHOLD = 0.001
# The chi-square approximation is poor when an expected count is small; below this the check
# says "not enough traffic yet" instead of risking a false halt (Cochran's rule of thumb).
MIN_EXPECTED = 5.0


def chi_square_sf_1df(statistic: float) -> float:
    """P(χ² with 1 degree of freedom > ``statistic``) = erfc(√(x/2))."""
    if statistic <= 0:
        return 1.0
    return math.erfc(math.sqrt(statistic / 2.0))


@dataclass(frozen=True)
class SampleRatio:
    """The SRM check of one look. ``checked`` is False when there was too little traffic to test
    (never a mismatch then); ``mismatch`` means halt."""

    stable: int
    candidate: int
    expected_stable: float
    expected_candidate: float
    chi_square: float
    p_value: float
    checked: bool
    mismatch: bool
    message: str


def check_sample_ratio(
    stable: int,
    candidate: int,
    *,
    stable_weight: float,
    candidate_weight: float,
    threshold: float = SRM_THRESHOLD,
    min_expected: float = MIN_EXPECTED,
) -> SampleRatio:
    """Test observed served request counts against the configured weights (any positive scale,
    e.g. the percentages in status.traffic)."""
    if stable < 0 or candidate < 0:
        raise ValueError(f"request counts must be >= 0, got {stable}/{candidate}")
    if stable_weight < 0 or candidate_weight < 0 or stable_weight + candidate_weight <= 0:
        raise ValueError(f"weights must be >= 0 and not both 0, got {stable_weight}/{candidate_weight}")
    total = stable + candidate
    share = candidate_weight / (stable_weight + candidate_weight)
    expected_stable, expected_candidate = total * (1 - share), total * share
    observed = f"observed {stable}/{candidate} stable/candidate requests"
    configured = f"configured {stable_weight:g}/{candidate_weight:g}"

    def result(chi_square: float, p_value: float, checked: bool, mismatch: bool, message: str) -> SampleRatio:
        return SampleRatio(
            stable=stable,
            candidate=candidate,
            expected_stable=expected_stable,
            expected_candidate=expected_candidate,
            chi_square=chi_square,
            p_value=p_value,
            checked=checked,
            mismatch=mismatch,
            message=message,
        )

    # A version configured to get nothing but getting requests is a mismatch with certainty
    # (the chi-square term would divide by zero); one getting nothing, as configured, is no test.
    if (share == 0 and candidate > 0) or (share == 1 and stable > 0):
        return result(math.inf, 0.0, True, True, f"sample ratio mismatch: {observed}, {configured}")
    if min(expected_stable, expected_candidate) < min_expected:
        return result(0.0, 1.0, False, False, f"too little traffic for a sample-ratio check: {observed}, {configured}")
    chi_square = (stable - expected_stable) ** 2 / expected_stable + (
        candidate - expected_candidate
    ) ** 2 / expected_candidate
    p_value = chi_square_sf_1df(chi_square)
    if p_value < threshold:
        return result(
            chi_square,
            p_value,
            True,
            True,
            f"sample ratio mismatch: {observed}, expected {expected_stable:.0f}/{expected_candidate:.0f} "
            f"({configured}); chi-square {chi_square:.4g}, p = {p_value:.3g} < {threshold:g}: "
            "every comparison between the arms is suspect",
        )
    return result(chi_square, p_value, True, False, f"split as configured: {observed}, {configured}, p = {p_value:.3g}")
