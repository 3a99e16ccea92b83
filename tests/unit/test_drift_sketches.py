"""Reference sketches and mergeable windows (core.drift.sketch_numeric, sketch_categorical) and
the default-mode statistics on them (core.drift.statistics)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from modelops.core.drift import statistics as S
from modelops.core.drift.sketch_categorical import CategoricalReference, CategoricalWindow
from modelops.core.drift.sketch_numeric import NumericReference, NumericWindow

floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
batches = hnp.arrays(np.float64, st.integers(0, 300), elements=st.one_of(floats, st.just(math.nan), st.just(math.inf)))
reference_values = hnp.arrays(np.float64, st.integers(1, 400), elements=floats)


def same_window(a: NumericWindow, b: NumericWindow) -> None:
    assert a.counts.tolist() == b.counts.tolist()
    assert (a.nulls, a.pos_inf, a.neg_inf, a.below, a.above) == (b.nulls, b.pos_inf, b.neg_inf, b.below, b.above)
    assert (a.minimum, a.maximum) == (b.minimum, b.maximum)
    np.testing.assert_allclose(a.sums, b.sums, rtol=1e-9, atol=1e-6)


def test_numeric_reference_hand_built() -> None:
    ref = NumericReference.build([3.0, 1.0, 2.0, 2.0, 3.0, 3.0, math.nan, math.inf, -math.inf])
    # Three distinct values: one right-closed bin each, (-inf, 1], (1, 2], (2, inf).
    assert ref.edges.tolist() == [1.0, 2.0]
    assert ref.counts.tolist() == [1, 2, 3]
    assert ref.sums.tolist() == [1.0, 4.0, 9.0]
    assert (ref.nulls, ref.pos_inf, ref.neg_inf, ref.n, ref.total) == (1, 1, 1, 6, 9)
    assert (ref.minimum, ref.maximum) == (1.0, 3.0)
    assert ref.mean == pytest.approx(14 / 6) and ref.std == pytest.approx(float(np.std([1, 2, 2, 3, 3, 3])))


def test_numeric_reference_quantile_edges_and_deciles() -> None:
    x = np.arange(1, 1001, dtype=float)
    ref = NumericReference.build(x, fine_bins=200, coarse_bins=10)
    assert ref.edges.size == 199 and ref.counts.tolist() == [5] * 200
    assert ref.coarse_edges.tolist() == [100.0 * k for k in range(1, 10)]
    assert np.add.reduceat(ref.counts, ref.coarse_starts).tolist() == [100] * 10


@settings(max_examples=60, deadline=None)
@given(reference_values)
def test_numeric_reference_json_round_trip(values: np.ndarray) -> None:
    ref = NumericReference.build(values)
    again = NumericReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert again.to_dict() == ref.to_dict()
    assert again.fingerprint == ref.fingerprint


def test_altered_sketch_is_refused() -> None:
    data = NumericReference.build(np.arange(100.0)).to_dict()
    data["edges"][3] += 0.5
    with pytest.raises(ValueError, match="fingerprint"):
        NumericReference.from_dict(data)


@settings(max_examples=80, deadline=None)
@given(reference_values, batches, batches)
def test_numeric_merge_equals_union(values: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    ref = NumericReference.build(values)
    merged = ref.window().update(a) + ref.window().update(b)
    same_window(merged, ref.window().update(np.concatenate([a, b])))
    # through JSON, as shards hand their windows over
    shard = NumericWindow.from_dict(json.loads(json.dumps(ref.window().update(a).to_dict())), ref)
    same_window(shard + ref.window().update(b), merged)


def test_numeric_sharded_equals_single_at_scale() -> None:
    rng = np.random.default_rng(5)
    ref = NumericReference.build(rng.normal(size=50_000))
    data = rng.normal(0.1, 1.2, size=300_000)
    single = ref.window().update(data)
    shards = [ref.window().update(part) for part in np.array_split(data, 7)]
    total = shards[0]
    for shard in shards[1:]:
        total = total + shard
    same_window(total, single)
    for statistic in (S.psi_numeric, S.ks_numeric, S.js_numeric, S.wasserstein_numeric):
        assert statistic(ref, total).value == pytest.approx(statistic(ref, single).value, rel=1e-9)


@settings(max_examples=80, deadline=None)
@given(reference_values, st.integers(0, 2**32 - 1))
def test_psi_non_negative_and_zero_on_identical(values: np.ndarray, seed: int) -> None:
    ref = NumericReference.build(values)
    same = S.psi_numeric(ref, ref.window().update(values))
    assert same.value == 0.0
    other = np.random.default_rng(seed).permutation(values)[: max(1, values.size // 2)]
    assert (S.psi_numeric(ref, ref.window().update(other)).value or 0.0) >= 0.0


def test_windows_over_other_bins_do_not_merge() -> None:
    a = NumericReference.build(np.arange(10.0)).window()
    b = NumericReference.build(np.arange(20.0)).window()
    with pytest.raises(ValueError, match="fingerprints differ"):
        a + b


def test_sketch_statistics_track_raw_data() -> None:
    rng = np.random.default_rng(11)
    x, y = rng.lognormal(size=100_000), rng.lognormal(0.2, size=100_000)
    ref = NumericReference.build(x)
    win = ref.window().update(y)
    raw_ks = float(stats.ks_2samp(x, y).statistic)
    ks = S.ks_numeric(ref, win)
    assert ks.value is not None and ks.value <= raw_ks + 1e-12
    assert raw_ks - ks.value < 0.005 + float((win.counts / win.n).max())
    raw_w = float(stats.wasserstein_distance(x, y)) / float(np.std(x))
    assert S.wasserstein_numeric(ref, win).value == pytest.approx(raw_w, abs=1e-3)
    # PSI over the deciles, computed by hand from the raw data
    deciles = np.quantile(x, np.arange(1, 10) / 10, method="inverted_cdf")
    rc = np.bincount(np.searchsorted(deciles, x, side="left"), minlength=10) / x.size
    cc = np.bincount(np.searchsorted(deciles, y, side="left"), minlength=10) / y.size
    assert S.psi_numeric(ref, win).value == pytest.approx(float(np.sum((rc - cc) * np.log(rc / cc))), rel=1e-12)


def test_rates_and_out_of_range_hand_computed() -> None:
    ref = NumericReference.build([0.0, 1.0, 2.0, 3.0, math.nan, 4.0, 5.0, 6.0, 7.0, 8.0])
    win = ref.window().update([-1.0, 9.0, 2.0, math.nan, math.nan, math.inf, 3.0, 4.0])
    assert S.null_rate(ref, win).value == pytest.approx(2 / 8 - 1 / 10)
    assert S.inf_rate(ref, win).value == pytest.approx(1 / 8)
    assert S.out_of_range(ref, win).value == pytest.approx(2 / 5)


# ------------------------------------------------------------------------------ categorical

categories = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])
cat_batches = st.lists(st.one_of(categories, st.none()), max_size=200)


def test_categorical_reference_top_k_other_and_json() -> None:
    values = ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"] + [None] * 2
    ref = CategoricalReference.build(np.array(values, dtype=object), top_k=2)
    assert ref.categories == ("a", "b") and ref.counts.tolist() == [5, 3]
    assert (ref.other, ref.other_names, ref.singletons, ref.nulls) == (3, ("c", "d"), 1, 2)
    again = CategoricalReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert again.to_dict() == ref.to_dict()
    win = ref.window().update(np.array(["a", "c", "z", "z", None], dtype=object))
    assert win.bins().tolist() == [1, 0, 1, 2]  # a, b, other (c is known), unseen (z)
    assert win.unseen == {"z": 2} and win.nulls == 1
    assert S.unseen_share(ref, win).value == pytest.approx(2 / 4)


@settings(max_examples=80, deadline=None)
@given(cat_batches, cat_batches, cat_batches)
def test_categorical_merge_equals_union(r: list[str | None], a: list[str | None], b: list[str | None]) -> None:
    ref = CategoricalReference.build(np.array([*r, "a"], dtype=object), top_k=3)
    merged = ref.window().update(np.array(a, dtype=object)) + ref.window().update(np.array(b, dtype=object))
    union = ref.window().update(np.array(a + b, dtype=object))
    assert merged.to_dict() == union.to_dict()
    shard = CategoricalWindow.from_dict(json.loads(json.dumps(merged.to_dict())), ref)
    assert shard.to_dict() == union.to_dict()


def test_categorical_codes_equal_values() -> None:
    dictionary = ["x", "y", "w"]
    codes = np.array([0, 1, 1, -1, 2, 0, 0])
    ref = CategoricalReference.build(np.array(["x", "y", "y", "x"], dtype=object))
    by_codes = ref.window().update_codes(codes, dictionary)
    by_values = ref.window().update(np.array(["x", "y", "y", None, "w", "x", "x"], dtype=object))
    assert by_codes.to_dict() == by_values.to_dict()


def test_categorical_statistics_hand_computed() -> None:
    ref = CategoricalReference.from_counts(["a", "b"], [50, 50])
    win = ref.window().update_counts(["a", "b"], [60, 40])
    # PSI over [a, b, other, unseen]: other and unseen empty on both sides (filled alike, add nothing)
    expected = (0.5 - 0.6) * math.log(0.5 / 0.6) + (0.5 - 0.4) * math.log(0.5 / 0.4)
    assert S.psi_categorical(ref, win).value == pytest.approx(expected, rel=1e-12)
    chi = S.chi_square_categorical(ref, win)
    assert chi.value == pytest.approx(4.0)  # (60-50)²/50 + (40-50)²/50
    assert chi.p_value == pytest.approx(float(stats.chi2.sf(4.0, 1)), rel=1e-12)
