"""KS and its p-values (core.drift.ks, core.drift.special) against scipy and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special as sp
from scipy import stats

from modelops.core.drift.ks import ks_pvalue, ks_statistic_binned, ks_statistic_sorted
from modelops.core.drift.special import chi2_sf, gamma_q, kolmogorov_sf, normal_cdf, normal_sf, smirnov_sf


def test_ks_hand_computed() -> None:
    # Disjoint samples: D = 1; every one of the C(6, 3) = 20 orderings is equally likely and only
    # the two fully separated ones reach D = 1, so the exact p-value is 2/20.
    assert ks_statistic_sorted([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == 1.0
    assert ks_pvalue(1.0, 3, 3) == pytest.approx(0.1, rel=1e-14)
    # D = 1/3 at x = 1 (F_a = 1/3, F_b = 0), and the ECDFs meet again later.
    assert ks_statistic_sorted([1.0, 2.0, 5.0], [1.5, 2.0, 5.0]) == pytest.approx(1 / 3)
    assert ks_pvalue(0.0, 5, 7) == 1.0


def test_ks_binned_hand_computed() -> None:
    # cumulative shares: ref 0.1, 0.5, 1.0; cur 0.4, 0.6, 1.0 → D = 0.3
    assert ks_statistic_binned([1, 4, 5], [4, 2, 4]) == pytest.approx(0.3)


@pytest.mark.parametrize(("n1", "n2"), [(5, 7), (10, 10), (40, 25), (300, 200), (1000, 997), (2, 10_000)])
@pytest.mark.parametrize("shift", [0.0, 0.2, 1.0])
def test_ks_exact_equals_scipy(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(n1 * 31 + n2)
    a, b = np.sort(rng.normal(size=n1)), np.sort(rng.normal(shift, size=n2))
    expected = stats.ks_2samp(a, b)
    d = ks_statistic_sorted(a, b)
    assert d == pytest.approx(float(expected.statistic), abs=1e-15)
    assert ks_pvalue(d, n1, n2) == pytest.approx(float(expected.pvalue), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("n1", "n2"), [(20_000, 15_000), (200_000, 100_000), (11_000, 100)])
@pytest.mark.parametrize("shift", [0.0, 0.02, 0.1])
def test_ks_asymptotic_equals_scipy(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(n1 + n2)
    a, b = np.sort(rng.normal(size=n1)), np.sort(rng.normal(shift, size=n2))
    expected = stats.ks_2samp(a, b)
    d = ks_statistic_sorted(a, b)
    assert d == pytest.approx(float(expected.statistic), abs=1e-15)
    assert ks_pvalue(d, n1, n2) == pytest.approx(float(expected.pvalue), abs=3e-6)


def test_kolmogorov_sf_equals_scipy_kstwo() -> None:
    worst_small = worst_large = 0.0
    for n in (1, 2, 3, 10, 50, 140, 141, 1000, 100_000, 2_000_000):
        small = [np.linspace(1e-4, 0.999, 60), np.geomspace(1e-5, 0.05, 20)]
        grid = small if n < 50_000 else [np.geomspace(1e-4, 0.01, 20)]
        for d in np.concatenate(grid):
            err = abs(kolmogorov_sf(n, float(d)) - float(stats.kstwo.sf(d, n)))
            if n <= 140:
                worst_small = max(worst_small, err)
            else:
                worst_large = max(worst_large, err)
    assert worst_small < 1e-12  # exact branches
    assert worst_large < 3e-6  # Pelz–Good where scipy uses the Durbin matrix


@pytest.mark.parametrize(("n", "d"), [(5, 0.8), (10, 0.6), (100, 0.1), (1000, 0.05), (200_000, 0.005)])
def test_smirnov_equals_scipy(n: int, d: float) -> None:
    assert smirnov_sf(n, d) == pytest.approx(float(sp.smirnov(n, d)), rel=1e-9)


def test_chi2_and_normal_equal_scipy() -> None:
    for df in (1, 2, 3, 7, 30, 200):
        for x in np.linspace(0.01, 5 * df + 40, 50):
            expected = float(stats.chi2.sf(x, df))
            assert chi2_sf(float(x), df) == pytest.approx(expected, rel=1e-11, abs=1e-300)
    assert chi2_sf(0.0, 3) == 1.0 and chi2_sf(math.inf, 3) == 0.0
    assert gamma_q(1.0, 2.0) == pytest.approx(math.exp(-2.0), rel=1e-14)  # Q(1, x) = e^-x
    for z in (-3.0, -0.5, 0.0, 1.0, 2.5, 8.0):
        assert normal_cdf(z) == pytest.approx(float(stats.norm.cdf(z)), rel=1e-14)
        assert normal_sf(z) == pytest.approx(float(stats.norm.sf(z)), rel=1e-13)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_binned_d_bounds_raw_d(n1: int, n2: int, seed: int) -> None:
    # D at bin edges ≤ raw D ≤ D at edges + the largest bin share of either side.
    rng = np.random.default_rng(seed)
    a, b = np.sort(rng.normal(size=n1)), np.sort(rng.normal(0.3, size=n2))
    edges = np.quantile(a, [0.25, 0.5, 0.75])
    ca = np.bincount(np.searchsorted(edges, a, side="left"), minlength=4)
    cb = np.bincount(np.searchsorted(edges, b, side="left"), minlength=4)
    binned, raw = ks_statistic_binned(ca, cb), ks_statistic_sorted(a, b)
    assert binned <= raw + 1e-12
    assert raw <= binned + max((ca / n1).max(), (cb / n2).max()) + 1e-12
