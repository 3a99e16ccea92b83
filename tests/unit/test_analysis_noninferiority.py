"""Guardrails as non-inferiority margins (core.analysis.noninferiority): intervals against
published and hand-computed values, and the three-way verdict at its boundaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.api.rollout import Verdict
from modelops.api.steps import Direction
from modelops.core.analysis.arms import Proportion, Sample
from modelops.core.analysis.noninferiority import (
    RateMethod,
    mean_difference_interval,
    mean_noninferiority,
    rate_difference_interval,
    rate_noninferiority,
    wilson_interval,
)

# Newcombe (1998), Statistics in Medicine 17:873-890, Table II: 95% intervals for p1 − p2,
# method 1 (Wald) and method 10 (hybrid score). (x1/n1, x2/n2, Wald, Newcombe)
NEWCOMBE_TABLE_II = [
    ((56, 70), (48, 80), (0.0575, 0.3425), (0.0524, 0.3339)),
    ((9, 10), (3, 10), (0.2605, 0.9395), (0.1705, 0.8090)),
    ((6, 7), (2, 7), (0.1481, 0.9947), (0.0582, 0.8062)),
    ((5, 56), (0, 29), (0.0146, 0.1640), (-0.0381, 0.1926)),
    ((0, 10), (0, 20), (0.0, 0.0), (-0.1611, 0.2775)),
    ((0, 10), (0, 10), (0.0, 0.0), (-0.2775, 0.2775)),
    ((10, 10), (0, 20), (1.0, 1.0), (0.6791, 1.0)),
]


@pytest.mark.parametrize(("first", "second", "wald", "newcombe"), NEWCOMBE_TABLE_II)
def test_rate_difference_intervals_match_newcombe_1998(
    first: tuple[int, int], second: tuple[int, int], wald: tuple[float, float], newcombe: tuple[float, float]
) -> None:
    candidate, stable = Proportion(first[1], first[0]), Proportion(second[1], second[0])
    got = rate_difference_interval(stable, candidate)
    assert (got.low, got.high) == pytest.approx(newcombe, abs=5e-5)
    assert got.estimate == pytest.approx(first[0] / first[1] - second[0] / second[1])
    got = rate_difference_interval(stable, candidate, method=RateMethod.WALD)
    assert (got.low, got.high) == pytest.approx(wald, abs=5e-5)


def test_wilson_interval() -> None:
    # 15/20 at 95%: centre (0.75 + 1.96²/40)/(1 + 1.96²/20); the textbook interval is 0.5313-0.8881.
    got = wilson_interval(Proportion(20, 15))
    assert (got.low, got.high) == pytest.approx((0.5313, 0.8881), abs=5e-5)
    zero = wilson_interval(Proportion(1000, 0), confidence=0.90)
    z = 1.6448536269514722
    assert zero.low == 0.0 and zero.high == pytest.approx(z * z / (1000 + z * z))


def test_mean_difference_interval_by_hand() -> None:
    # se = sqrt(2²/100 + 3²/100) = sqrt(0.13); 90% uses z = 1.644854
    got = mean_difference_interval(Sample(100, 10.0, 2.0), Sample(100, 10.5, 3.0), confidence=0.90)
    half = 1.6448536269514722 * math.sqrt(0.13)
    assert (got.estimate, got.low, got.high) == pytest.approx((0.5, 0.5 - half, 0.5 + half))
    assert (got.low, got.high) == pytest.approx((-0.09306, 1.09306), abs=1e-5)


# (stable, candidate, margin, direction, method, verdict) — rates, one-sided alpha 0.05 (90% interval)
RATE_TABLE = [
    # Plenty of clean traffic: the upper bound (0.0027) is inside a 1-point margin.
    (Proportion(1000, 0), Proportion(1000, 0), 0.01, Direction.LOWER, RateMethod.NEWCOMBE, Verdict.SUCCESSFUL),
    # Ten clean requests pass a max: 0.01 threshold, but prove nothing: Inconclusive.
    (Proportion(10, 0), Proportion(10, 0), 0.01, Direction.LOWER, RateMethod.NEWCOMBE, Verdict.INCONCLUSIVE),
    # ... while Wald's interval collapses to [0, 0] and would pass them: why Newcombe is the default.
    (Proportion(10, 0), Proportion(10, 0), 0.01, Direction.LOWER, RateMethod.WALD, Verdict.SUCCESSFUL),
    # 1% vs 10% errors: worse by more than the margin with certainty.
    (Proportion(1000, 10), Proportion(1000, 100), 0.01, Direction.LOWER, RateMethod.NEWCOMBE, Verdict.FAILED),
    # Significantly worse (1.0% vs 1.5%) but within a 2-point margin: that is what a margin allows.
    (Proportion(20000, 200), Proportion(20000, 300), 0.02, Direction.LOWER, RateMethod.NEWCOMBE, Verdict.SUCCESSFUL),
    # Higher is better (accuracy 90% vs 89.5%, margin 2 points).
    (Proportion(10000, 9000), Proportion(10000, 8950), 0.02, Direction.HIGHER, RateMethod.NEWCOMBE, Verdict.SUCCESSFUL),
    (Proportion(10000, 9000), Proportion(10000, 8500), 0.02, Direction.HIGHER, RateMethod.NEWCOMBE, Verdict.FAILED),
    (Proportion(200, 180), Proportion(200, 176), 0.02, Direction.HIGHER, RateMethod.NEWCOMBE, Verdict.INCONCLUSIVE),
    # No data in an arm: never a pass.
    (Proportion(0, 0), Proportion(1000, 0), 0.01, Direction.LOWER, RateMethod.NEWCOMBE, Verdict.INCONCLUSIVE),
    (Proportion(1000, 0), Proportion(0, 0), 0.01, Direction.LOWER, RateMethod.WALD, Verdict.INCONCLUSIVE),
]


@pytest.mark.parametrize(("stable", "candidate", "margin", "direction", "method", "verdict"), RATE_TABLE)
def test_rate_guardrail_table(
    stable: Proportion, candidate: Proportion, margin: float, direction: Direction, method: RateMethod, verdict: Verdict
) -> None:
    got = rate_noninferiority(stable, candidate, margin=margin, direction=direction, method=method, name="error-rate")
    assert got.verdict is verdict, got.message
    assert got.non_inferior == (verdict is Verdict.SUCCESSFUL)
    assert got.message.startswith("error-rate: ")
    if got.interval is not None:
        assert got.interval.confidence == pytest.approx(0.90)
        assert got.bound == (got.interval.high if direction is Direction.LOWER else got.interval.low)


def test_the_bound_uses_the_one_sided_alpha() -> None:
    """One-sided alpha 0.025 reads the 95% interval; its upper bound is Newcombe's 0.3339 for 56/70 − 48/80."""
    got = rate_noninferiority(Proportion(80, 48), Proportion(70, 56), margin=0.34, alpha=0.025)
    assert got.interval is not None and got.interval.confidence == pytest.approx(0.95)
    assert got.bound == pytest.approx(0.3339, abs=5e-5)
    assert got.verdict is Verdict.SUCCESSFUL
    assert rate_noninferiority(Proportion(80, 48), Proportion(70, 56), margin=0.33, alpha=0.025).verdict is (
        Verdict.INCONCLUSIVE
    )


@pytest.mark.parametrize(
    ("margin", "direction", "verdict"),
    [
        # A zero-variance difference of exactly +0.02: the interval is the point 0.02.
        (0.02, Direction.LOWER, Verdict.INCONCLUSIVE),  # bound == margin: not strictly inside, not beyond
        (0.0200001, Direction.LOWER, Verdict.SUCCESSFUL),
        (0.0199999, Direction.LOWER, Verdict.FAILED),
        (0.0, Direction.HIGHER, Verdict.SUCCESSFUL),  # higher is better and it is higher: inside even margin 0
    ],
)
def test_margin_boundaries(margin: float, direction: Direction, verdict: Verdict) -> None:
    got = mean_noninferiority(Sample(50, 0.0, 0.0), Sample(50, 0.02, 0.0), margin=margin, direction=direction)
    assert got.verdict is verdict, got.message


def test_latency_guardrail() -> None:
    # p50 latency 200 ms vs 203 ms, sd 50 ms, 5,000 each: upper 90% bound 3 + 1.645·1.0 = 4.64 ms.
    stable, candidate = Sample(5000, 0.200, 0.050), Sample(5000, 0.203, 0.050)
    got = mean_noninferiority(stable, candidate, margin=0.005, name="latency")
    assert got.bound == pytest.approx(0.003 + 1.6448536269514722 * 0.001)
    assert got.verdict is Verdict.SUCCESSFUL
    assert mean_noninferiority(stable, candidate, margin=0.004).verdict is Verdict.INCONCLUSIVE
    assert "latency: candidate − stable = +0.003" in got.message


def test_bad_margins_and_alphas_are_refused() -> None:
    arm = Proportion(10, 1)
    for margin in (-0.01, math.nan, math.inf):
        with pytest.raises(ValueError, match="margin"):
            rate_noninferiority(arm, arm, margin=margin)
    with pytest.raises(ValueError, match="alpha"):
        rate_noninferiority(arm, arm, margin=0.01, alpha=0.5)


def test_type_one_error_at_the_margin() -> None:
    """A candidate exactly one margin worse (1% → 1.5% errors, margin 0.005), 4,000 requests per arm,
    2,000 simulated guardrails: it is declared non-inferior at most about alpha of the time."""
    rng = np.random.default_rng(17)
    stable = rng.binomial(4000, 0.010, size=2000)
    candidate = rng.binomial(4000, 0.015, size=2000)
    passed = sum(
        rate_noninferiority(Proportion(4000, int(s)), Proportion(4000, int(c)), margin=0.005).non_inferior
        for s, c in zip(stable, candidate, strict=True)
    )
    assert passed / 2000 <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 2000)


arms = st.integers(1, 5000).flatmap(lambda n: st.builds(Proportion, st.just(n), st.integers(0, n)))


@settings(max_examples=300)
@given(stable=arms, candidate=arms, confidence=st.floats(0.5, 0.999))
def test_interval_properties(stable: Proportion, candidate: Proportion, confidence: float) -> None:
    got = rate_difference_interval(stable, candidate, confidence=confidence)
    assert -1.0 - 1e-12 <= got.low <= got.estimate <= got.high <= 1.0 + 1e-12
    swapped = rate_difference_interval(candidate, stable, confidence=confidence)
    assert (swapped.low, swapped.high) == pytest.approx((-got.high, -got.low), abs=1e-12)
    wider = rate_difference_interval(stable, candidate, confidence=min(0.9999, confidence + 0.0005))
    assert wider.low <= got.low + 1e-12 and wider.high >= got.high - 1e-12


@settings(max_examples=300)
@given(stable=arms, candidate=arms, margin=st.floats(0, 0.5), direction=st.sampled_from(list(Direction)))
def test_verdicts_are_consistent_with_the_interval(
    stable: Proportion, candidate: Proportion, margin: float, direction: Direction
) -> None:
    got = rate_noninferiority(stable, candidate, margin=margin, direction=direction)
    assert got.interval is not None
    limit = margin if direction is Direction.LOWER else -margin
    inside = got.interval.high < limit if direction is Direction.LOWER else got.interval.low > limit
    assert (got.verdict is Verdict.SUCCESSFUL) == inside
    if got.verdict is Verdict.FAILED:
        assert not (got.interval.low <= limit <= got.interval.high)
    # A wider margin never turns a pass into anything else.
    if inside:
        assert rate_noninferiority(stable, candidate, margin=margin + 0.01, direction=direction).non_inferior
