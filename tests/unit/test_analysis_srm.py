"""Sample-ratio mismatch (core.analysis.srm): chi-square goodness of fit of the observed served
requests against the configured weights; p < 0.001 halts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.core.analysis.srm import SRM_THRESHOLD, check_sample_ratio, chi_square_sf_1df

# (statistic, P(chi-square with 1 df > statistic)) — standard table values.
CHI_SQUARE_1DF = [
    (0.0, 1.0),
    (1.0, 0.31731050786291415),  # = P(|Z| > 1)
    (2.705543454095404, 0.10),
    (3.841458820694124, 0.05),
    (6.634896601021214, 0.01),
    (10.827566170662733, 0.001),
    (15.136705226623606, 0.0001),
]


@pytest.mark.parametrize(("statistic", "p"), CHI_SQUARE_1DF)
def test_chi_square_survival_function(statistic: float, p: float) -> None:
    assert chi_square_sf_1df(statistic) == pytest.approx(p, rel=1e-9)


def test_exact_split_is_no_mismatch() -> None:
    for stable, candidate, ws, wc in [(9000, 1000, 90, 10), (5000, 5000, 50, 50), (7500, 2500, 75, 25)]:
        got = check_sample_ratio(stable, candidate, stable_weight=ws, candidate_weight=wc)
        assert got.checked and not got.mismatch
        assert got.chi_square == 0.0 and got.p_value == 1.0


def test_even_traffic_against_a_90_10_split_is_a_mismatch() -> None:
    got = check_sample_ratio(5000, 5000, stable_weight=90, candidate_weight=10)
    assert (got.expected_stable, got.expected_candidate) == (9000.0, 1000.0)
    # (5000 − 9000)²/9000 + (5000 − 1000)²/1000
    assert got.chi_square == pytest.approx(4000**2 / 9000 + 4000**2 / 1000)
    assert got.mismatch and got.p_value < SRM_THRESHOLD
    assert "sample ratio mismatch: observed 5000/5000" in got.message and "configured 90/10" in got.message


def test_the_threshold_boundary() -> None:
    """50/50 of 10,000: chi-square = 2·d²/5000 for a deviation d; p crosses 0.001 between d = 164 and 165."""
    below = check_sample_ratio(5164, 4836, stable_weight=50, candidate_weight=50)
    above = check_sample_ratio(5165, 4835, stable_weight=50, candidate_weight=50)
    assert below.chi_square == pytest.approx(2 * 164**2 / 5000)
    assert below.p_value == pytest.approx(math.erfc(math.sqrt(below.chi_square / 2)))
    assert below.p_value > 0.001 and not below.mismatch
    assert above.p_value < 0.001 and above.mismatch


def test_too_little_traffic_is_not_checked() -> None:
    got = check_sample_ratio(3, 1, stable_weight=50, candidate_weight=50)
    assert not got.checked and not got.mismatch and got.p_value == 1.0
    # 95/5 of 60 requests expects 3 for the candidate: below Cochran's 5.
    assert not check_sample_ratio(60, 0, stable_weight=95, candidate_weight=5).checked
    enough = check_sample_ratio(100, 0, stable_weight=95, candidate_weight=5)
    assert enough.checked and not enough.mismatch  # p = 0.022: odd, but not 0.001-odd
    assert check_sample_ratio(1000, 0, stable_weight=95, candidate_weight=5).mismatch


def test_zero_weight_versions() -> None:
    # Configured to get nothing, yet served: certain mismatch (mirrored requests must not be counted).
    got = check_sample_ratio(995, 5, stable_weight=100, candidate_weight=0)
    assert got.mismatch and got.p_value == 0.0
    assert check_sample_ratio(3, 997, stable_weight=0, candidate_weight=100).mismatch
    assert not check_sample_ratio(1000, 0, stable_weight=100, candidate_weight=0).mismatch


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="counts"):
        check_sample_ratio(-1, 5, stable_weight=50, candidate_weight=50)
    with pytest.raises(ValueError, match="weights"):
        check_sample_ratio(1, 5, stable_weight=0, candidate_weight=0)


def test_false_halts_of_a_correct_router_are_rare() -> None:
    """A router that splits 90/10 correctly, 10,000 requests a look, 20,000 looks: the check halts
    about 0.1% of them, the rate the threshold promises (binomial 20 ± 4.5; 4 standard errors allowed)."""
    rng = np.random.default_rng(5)
    candidate = rng.binomial(10_000, 0.10, size=20_000)
    halts = sum(
        check_sample_ratio(10_000 - int(c), int(c), stable_weight=90, candidate_weight=10).mismatch for c in candidate
    )
    assert halts <= 20 + 4 * math.sqrt(20)


@given(stable=st.integers(0, 10**7), candidate=st.integers(0, 10**7), ws=st.integers(1, 99))
def test_properties(stable: int, candidate: int, ws: int) -> None:
    got = check_sample_ratio(stable, candidate, stable_weight=ws, candidate_weight=100 - ws)
    assert 0.0 <= got.p_value <= 1.0
    assert got.mismatch == (got.checked and got.p_value < SRM_THRESHOLD)
    swapped = check_sample_ratio(candidate, stable, stable_weight=100 - ws, candidate_weight=ws)
    assert swapped.p_value == pytest.approx(got.p_value, rel=1e-9, abs=1e-300)
    assert swapped.mismatch == got.mismatch


@given(total=st.integers(10, 10**6), ws=st.integers(1, 99))
def test_weights_scale_freely(total: int, ws: int) -> None:
    """Percent or fractions: the same split is the same test."""
    stable = total * ws // 100
    a = check_sample_ratio(stable, total - stable, stable_weight=ws, candidate_weight=100 - ws)
    b = check_sample_ratio(stable, total - stable, stable_weight=ws / 100, candidate_weight=(100 - ws) / 100)
    assert a.p_value == pytest.approx(b.p_value, rel=1e-9)
