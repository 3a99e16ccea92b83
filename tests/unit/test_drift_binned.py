"""Binned divergences (core.drift.binned): PSI equal to Evidently's, Jensen–Shannon distance equal to
scipy's, and Prometheus cumulative buckets turned into per-bin counts."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from modelops.core.drift.binned import (
    EVIDENTLY_ZERO_FILL,
    align,
    counts_from_cumulative,
    has_data,
    js_distance,
    psi,
)

# ------------------------------------------------------------------------------ references


def evidently_psi(reference_counts: Sequence[float], current_counts: Sequence[float]) -> float:
    """Evidently 0.7's PSI on already-binned data, transcribed from
    evidentlyai/evidently src/evidently/legacy/calculations/stattests/utils.py (get_binned_data,
    feel_zeroes=True) and .../stattests/psi.py (_psi). Evidently divides each histogram by the
    number of rows, which for counts over bins is their sum."""
    reference_percents = np.array(reference_counts, dtype=float) / sum(reference_counts)
    current_percents = np.array(current_counts, dtype=float) / sum(current_counts)
    np.place(
        reference_percents,
        reference_percents == 0,
        min(reference_percents[reference_percents != 0]) / 10**6
        if min(reference_percents[reference_percents != 0]) <= 0.0001
        else 0.0001,
    )
    np.place(
        current_percents,
        current_percents == 0,
        min(current_percents[current_percents != 0]) / 10**6
        if min(current_percents[current_percents != 0]) <= 0.0001
        else 0.0001,
    )
    psi_values = (reference_percents - current_percents) * np.log(reference_percents / current_percents)
    return float(np.sum(psi_values))


def scipy_js(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    return float(jensenshannon(np.asarray(p, dtype=float), np.asarray(q, dtype=float), base=2))


# Counts that exercise every branch: many empty bins, small bins, and bins big enough that another
# bin's share drops to 0.0001 or below (Evidently's "smallest / 10**6" fill).
count = st.one_of(st.just(0), st.integers(1, 20), st.integers(0, 10**7))
# What increase() returns: non-integer, never subnormal (a subnormal share divided by 10**6 would
# underflow to 0 in Evidently's rule, and in ours, which is no case to test parity on).
fractional_count = st.one_of(st.just(0.0), st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False))


@st.composite
def count_pairs(draw: st.DrawFn, elements: st.SearchStrategy[float] = count) -> tuple[list[float], list[float]]:
    n = draw(st.integers(1, 40))
    a = draw(st.lists(elements, min_size=n, max_size=n))
    b = draw(st.lists(elements, min_size=n, max_size=n))
    assume(sum(a) > 0 and sum(b) > 0)
    return a, b


# ------------------------------------------------------------------------------ Jensen–Shannon


@settings(max_examples=500)
@given(count_pairs())
def test_js_distance_equals_scipy_base_2(pair: tuple[list[float], list[float]]) -> None:
    p, q = pair
    expected = scipy_js(p, q)
    got = js_distance(p, q)
    if math.isnan(expected):  # scipy: sqrt of a divergence rounded a few ulps below zero
        assert got == 0.0
    else:
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-7)
        # Near zero the square root magnifies rounding; the divergences themselves agree tightly.
        assert got**2 == pytest.approx(expected**2, rel=1e-9, abs=1e-14)


@settings(max_examples=200)
@given(count_pairs(fractional_count))
def test_js_distance_equals_scipy_on_fractional_counts(pair: tuple[list[float], list[float]]) -> None:
    p, q = pair
    assume(sum(p) > 1e-300 and sum(q) > 1e-300)
    expected = scipy_js(p, q)
    assume(not math.isnan(expected))
    assert js_distance(p, q) == pytest.approx(expected, rel=1e-9, abs=1e-7)


@settings(max_examples=300)
@given(count_pairs())
def test_js_distance_is_symmetric_and_bounded(pair: tuple[list[float], list[float]]) -> None:
    p, q = pair
    d = js_distance(p, q)
    assert d == js_distance(q, p)
    assert 0.0 <= d <= 1.0


@given(st.lists(count, min_size=1, max_size=40).filter(lambda c: sum(c) > 0))
def test_js_distance_of_identical_distributions_is_zero(counts: list[int]) -> None:
    assert js_distance(counts, counts) == 0.0
    # Same shape, other sample size: counts are normalised, so only the shape matters.
    assert js_distance(counts, [3 * c for c in counts]) == pytest.approx(0.0, abs=1e-7)


def test_js_distance_of_disjoint_supports_is_one() -> None:
    assert js_distance([5, 0, 0, 0], [0, 1, 0, 0]) == 1.0
    # Proportions that sum to 1 only up to rounding land within an ulp of 1, never above it.
    for p, q in [([1, 2, 3, 0, 0, 0], [0, 0, 0, 4, 5, 6]), ([7, 0, 3, 0], [0, 2, 0, 9])]:
        assert js_distance(p, q) == pytest.approx(1.0, abs=1e-15)
        assert js_distance(p, q) <= 1.0
        assert js_distance(p, q) == pytest.approx(scipy_js(p, q), abs=1e-15)


def test_js_distance_hand_computed() -> None:
    # p = (1, 0), q = (½, ½), m = (¾, ¼):
    # KL(p‖m) = ln(4/3); KL(q‖m) = ½ ln(2/3) + ½ ln 2 = ½ ln(4/3); JS = ¾ ln(4/3) / ln 2 in bits.
    expected = math.sqrt(0.75 * math.log(4 / 3) / math.log(2))
    assert js_distance([10, 0], [5, 5]) == pytest.approx(expected, rel=1e-12)
    # scipy's documented example: jensenshannon([1.0, 0.0], [0.5, 0.5]) = 0.46450140402245893 in
    # nats; in bits the divergence is divided by ln 2, so the distance by √(ln 2).
    assert js_distance([10, 0], [5, 5]) == pytest.approx(0.46450140402245893 / math.sqrt(math.log(2)), rel=1e-12)
    assert js_distance([10, 0], [5, 5], base=math.e) == pytest.approx(0.46450140402245893, rel=1e-12)


def test_js_distance_base_e_is_evidentlys_default() -> None:
    # Evidently's jensenshannon stat test calls scipy with base=None (natural logs).
    p, q = [1, 2, 3, 4], [4, 3, 2, 1]
    assert js_distance(p, q, base=math.e) == pytest.approx(float(jensenshannon(p, q)), rel=1e-12)
    assert js_distance([1, 0], [0, 1], base=math.e) == pytest.approx(math.sqrt(math.log(2)), rel=1e-12)


@pytest.mark.parametrize("base", [0.0, -2.0, 1.0, math.inf, math.nan])
def test_js_distance_rejects_bad_base(base: float) -> None:
    with pytest.raises(ValueError, match="base"):
        js_distance([1, 2], [2, 1], base=base)


# ------------------------------------------------------------------------------ PSI


@settings(max_examples=500)
@given(count_pairs())
def test_psi_equals_evidentlys_formula(pair: tuple[list[float], list[float]]) -> None:
    reference, current = pair
    # Same operations in the same order: equal to the last bit, not just approximately.
    assert psi(reference, current) == evidently_psi(reference, current)


@settings(max_examples=200)
@given(count_pairs(fractional_count))
def test_psi_equals_evidentlys_formula_on_fractional_counts(pair: tuple[list[float], list[float]]) -> None:
    reference, current = pair
    assume(sum(reference) > 1e-300 and sum(current) > 1e-300)
    expected = evidently_psi(reference, current)
    assume(math.isfinite(expected))
    assert psi(reference, current) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@settings(max_examples=300)
@given(count_pairs())
def test_psi_is_symmetric_and_non_negative(pair: tuple[list[float], list[float]]) -> None:
    a, b = pair
    assert psi(a, b) >= 0.0
    assert psi(a, b) == pytest.approx(psi(b, a), rel=1e-12, abs=1e-15)


# (reference counts, current counts, PSI worked out by hand). Each row is given twice: as the
# formula and as its decimal value (evaluated with 40-digit decimal arithmetic, not with this code).
PSI_TABLE = [
    # No empty bins: 0.1·ln 2 + 0 + 0 + 0.1·ln(4/3).
    ([10, 20, 30, 40], [20, 20, 30, 30], 0.1 * math.log(2) + 0.1 * math.log(4 / 3)),
    ([10, 20, 30, 40], [20, 20, 30, 30], 0.09808292530117262),
    # Identical shapes.
    ([1, 2, 3], [10, 20, 30], 0.0),
    # An empty reference bin, smallest other share 0.5 > 0.0001: filled with 0.0001.
    # (0.0001 − 0.1)·ln(0.0001/0.1) + (0.5 − 0.4)·ln(0.5/0.4) + 0
    ([0, 50, 50], [10, 40, 50], 0.7123991075017365),
    # Smallest reference share is exactly 0.0001, so the empty bin gets 0.0001 / 10**6 = 1e-10,
    # not 0.0001 (which would make the middle bin contribute nothing):
    # 0 + (1e-10 − 1e-4)·ln(1e-10/1e-4) + (0.9999 − 0.9998)·ln(0.9999/0.9998)
    (
        [1, 0, 9999],
        [1, 1, 9998],
        (1e-10 - 1e-4) * math.log(1e-10 / 1e-4) + (0.9999 - 0.9998) * math.log(0.9999 / 0.9998),
    ),
    ([1, 0, 9999], [1, 1, 9998], 0.001381559675745605),
]


@pytest.mark.parametrize(("reference", "current", "expected"), PSI_TABLE)
def test_psi_hand_computed(reference: list[int], current: list[int], expected: float) -> None:
    assert psi(reference, current) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert psi(reference, current) == pytest.approx(evidently_psi(reference, current), rel=1e-15, abs=0)


def test_psi_bin_empty_on_both_sides_counts_when_the_fills_differ() -> None:
    # Kept for parity with Evidently: the reference's fill is 1e-10 (its smallest share is 0.0001),
    # the current's is 0.0001, so the third bin, empty on both sides, still contributes.
    reference, current = [1, 9999, 0], [5000, 5000, 0]
    with_empty_bin = psi(reference, current)
    assert with_empty_bin == evidently_psi(reference, current)
    assert with_empty_bin > psi([1, 9999], [5000, 5000])
    # With ordinary fills on both sides (both 0.0001), a bin empty on both sides adds nothing.
    assert psi([10, 20, 0], [20, 10, 0]) == pytest.approx(psi([10, 20], [20, 10]), rel=1e-12)


def test_psi_eps_is_evidentlys_literal_and_adjustable() -> None:
    assert EVIDENTLY_ZERO_FILL == 0.0001
    assert psi([0, 50, 50], [10, 40, 50]) == psi([0, 50, 50], [10, 40, 50], eps=0.0001)
    # A larger eps gives an empty bin more weight, so the shift reads smaller.
    assert psi([0, 50, 50], [10, 40, 50], eps=0.01) < psi([0, 50, 50], [10, 40, 50])
    with pytest.raises(ValueError, match="eps"):
        psi([1, 2], [2, 1], eps=0.0)


def test_psi_readings_match_the_usual_scale() -> None:
    assert psi([100] * 10, [100] * 10) == 0.0
    assert psi([100] * 10, [95, 105] * 5) < 0.1
    assert psi([100] * 10, [10, 190] * 5) > 0.25


# ------------------------------------------------------------------------------ input validation


@pytest.mark.parametrize("statistic", [psi, js_distance])
def test_statistics_reject_invalid_counts(statistic: object) -> None:
    assert callable(statistic)
    with pytest.raises(ValueError, match="negative"):
        statistic([1, -1, 2], [1, 1, 2])
    with pytest.raises(ValueError, match="negative"):
        statistic([1, 1, 2], [1, 1, -0.5])
    with pytest.raises(ValueError, match="share the bins"):
        statistic([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="all zeros"):
        statistic([0, 0, 0], [1, 2, 3])
    with pytest.raises(ValueError, match="all zeros"):
        statistic([1, 2, 3], [0, 0, 0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        statistic([1, math.nan], [1, 2])
    with pytest.raises(ValueError, match="NaN or infinite"):
        statistic([1, 2], [math.inf, 2])
    with pytest.raises(ValueError, match="one-dimensional"):
        statistic([[1, 2], [3, 4]], [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="no bins"):
        statistic([], [])


def test_has_data() -> None:
    assert has_data([0, 0, 1])
    assert has_data(np.array([0.25, 0.0]))
    assert not has_data([0, 0, 0])
    assert not has_data([0.0])
    with pytest.raises(ValueError, match="negative"):
        has_data([1, -1])


def test_statistics_do_not_modify_their_input() -> None:
    a = np.array([0.0, 3.0, 7.0])
    b = np.array([5.0, 0.0, 5.0])
    psi(a, b)
    js_distance(a, b)
    assert a.tolist() == [0.0, 3.0, 7.0] and b.tolist() == [5.0, 0.0, 5.0]


# ------------------------------------------------------------------------------ Prometheus buckets

# `sum by (le) (increase(model_prediction_score_bucket{...}[10m]))` as the HTTP API returns it:
# label le as text, values as text, no order, +Inf included, float noise from the extrapolation.
PROMETHEUS_VECTOR: list[dict[str, Any]] = [
    {"metric": {"le": "+Inf"}, "value": [1718000000.0, "1200.0000000000002"]},
    {"metric": {"le": "0.5"}, "value": [1718000000.0, "700.0000000000001"]},
    {"metric": {"le": "0.1"}, "value": [1718000000.0, "100"]},
    {"metric": {"le": "1"}, "value": [1718000000.0, "1200.0000000000005"]},
    {"metric": {"le": "0.25"}, "value": [1718000000.0, "400"]},
    {"metric": {"le": "0.75"}, "value": [1718000000.0, "700"]},
]


def as_buckets(vector: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(float(sample["metric"]["le"]), float(sample["value"][1])) for sample in vector]


def test_counts_from_realistic_prometheus_output() -> None:
    counts = counts_from_cumulative(as_buckets(PROMETHEUS_VECTOR))
    # Ascending le: 0.1, 0.25, 0.5, 0.75, 1, +Inf. The 0.75 bucket reads a hair below 0.5 and +Inf
    # a hair below 1 — rounding, so those bins are empty, not negative.
    assert counts.dtype == np.float64
    assert counts.tolist() == pytest.approx([100, 300, 300, 0, 500, 0], abs=1e-9)
    assert counts[3] == 0.0 and counts[5] == 0.0
    assert (counts >= 0).all()
    assert counts.sum() == pytest.approx(1200.0)


def test_counts_from_cumulative_ignores_order() -> None:
    buckets = [(0.1, 3.0), (0.5, 10.0), (1.0, 12.0), (math.inf, 15.0)]
    expected = [3.0, 7.0, 2.0, 3.0]
    assert counts_from_cumulative(buckets).tolist() == expected
    rng = random.Random(7)
    for _ in range(20):
        shuffled = buckets[:]
        rng.shuffle(shuffled)
        assert counts_from_cumulative(shuffled).tolist() == expected


def test_counts_from_cumulative_only_inf_bucket() -> None:
    assert counts_from_cumulative([(math.inf, 42.0)]).tolist() == [42.0]


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_counts_from_cumulative_inverts_cumsum(counts: list[int]) -> None:
    bounds = [*(0.1 * (i + 1) for i in range(len(counts) - 1)), math.inf]
    buckets = list(zip(bounds, np.cumsum(counts, dtype=float).tolist(), strict=True))
    assert counts_from_cumulative(buckets[::-1]).tolist() == [float(c) for c in counts]


def test_counts_from_cumulative_rejects_a_real_decrease() -> None:
    # A counter reset in some bucket series within the window: 0.5 → 1 goes down by 50.
    buckets = [(0.5, 700.0), (1.0, 650.0), (math.inf, 800.0)]
    with pytest.raises(ValueError, match=r"decreases from le=0\.5 to le=1\.0 \(by 50\)"):
        counts_from_cumulative(buckets)
    with pytest.raises(ValueError, match=r"decreases from 0 to le=0\.5"):
        counts_from_cumulative([(0.5, -3.0), (math.inf, 10.0)])


def test_noise_tolerance_is_relative_and_adjustable() -> None:
    # 1e-6 below at a total of 1e6 is 1e-12 relative: noise. 1e-3 below is not.
    assert counts_from_cumulative([(1.0, 1e6), (math.inf, 1e6 - 1e-6)]).tolist() == [1e6, 0.0]
    with pytest.raises(ValueError, match="decreases"):
        counts_from_cumulative([(1.0, 1e6), (math.inf, 1e6 - 1e-3)])
    assert counts_from_cumulative([(1.0, 1e6), (math.inf, 1e6 - 1e-3)], rel_tol=1e-6).tolist() == [1e6, 0.0]


def test_counts_from_cumulative_structural_errors() -> None:
    with pytest.raises(ValueError, match=r"no le=\+Inf bucket \(highest le is 1\.0\)"):
        counts_from_cumulative([(0.5, 1.0), (1.0, 2.0)])
    with pytest.raises(ValueError, match="no buckets"):
        counts_from_cumulative([])
    with pytest.raises(ValueError, match=r"more than one bucket for le=0\.5"):
        counts_from_cumulative([(0.5, 1.0), (0.5, 1.0), (math.inf, 2.0)])
    with pytest.raises(ValueError, match="le=NaN"):
        counts_from_cumulative([(math.nan, 1.0), (math.inf, 2.0)])
    with pytest.raises(ValueError, match="NaN or infinite cumulative"):
        counts_from_cumulative([(0.5, math.nan), (math.inf, 2.0)])


def test_align_same_boundaries_in_different_orders() -> None:
    a = [(math.inf, 10.0), (0.5, 4.0), (1.0, 9.0)]
    b = [(0.5, 2.0), (1.0, 2.0), (math.inf, 8.0)]
    a_counts, b_counts = align(a, b)
    assert a_counts.tolist() == [4.0, 5.0, 1.0]
    assert b_counts.tolist() == [2.0, 0.0, 6.0]
    # Ready for the statistics.
    assert psi(a_counts, b_counts) == evidently_psi(a_counts.tolist(), b_counts.tolist())
    assert js_distance(a_counts, b_counts) == pytest.approx(scipy_js(a_counts, b_counts), rel=1e-12)


def test_align_names_the_mismatched_boundaries() -> None:
    a = [(0.5, 4.0), (1.0, 9.0), (math.inf, 10.0)]
    b = [(0.25, 1.0), (0.5, 2.0), (math.inf, 8.0)]
    with pytest.raises(ValueError, match=r"only in the first: \[1\.0\]; only in the second: \[0\.25\]"):
        align(a, b)
    with pytest.raises(ValueError, match=r"only in the first: \[\]; only in the second: \[2\.0\]"):
        align(a, [*a, (2.0, 9.5)])


def test_align_checks_each_histogram() -> None:
    good = [(1.0, 1.0), (math.inf, 2.0)]
    with pytest.raises(ValueError, match=r"second histogram has no le=\+Inf"):
        align(good, [(1.0, 1.0)])
    with pytest.raises(ValueError, match="first histogram: cumulative count decreases"):
        align([(1.0, 5.0), (math.inf, 2.0)], good)
