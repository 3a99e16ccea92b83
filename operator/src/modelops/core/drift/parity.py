"""Parity mode: Evidently 0.7's per-column drift numbers and verdicts, on raw data, in numpy.

Owns the reproduction of ``ValueDrift`` / ``DataDriftPreset`` column drift in Evidently 0.7.23
(``src/evidently/legacy/calculations/data_drift.py``, ``get_one_column_drift``), so a user who
compares the engine with an Evidently report sees the same method, score, threshold and verdict:

- cleaning: ±inf become NaN and NaN is dropped, on each side, before anything else;
- the default method (``_get_default_stattest`` in ``.../stattests/registry.py``), chosen from the
  cleaned reference size and the number of distinct values of both sides together: reference ≤
  1000 rows — numeric with more than 5 distinct values ``ks``, else ``chisquare`` (3–5 values) or
  ``z`` (≤ 2); categorical ``chisquare`` or ``z`` (≤ 2); reference > 1000 rows — numeric
  ``wasserstein`` (> 5 values) or ``jensenshannon``; categorical ``jensenshannon``;
- each method's default threshold and comparison (``StatTest.default_threshold``, 0.05 unless
  set): ``ks`` p ≤ 0.05, ``chisquare`` p < 0.05, ``z`` p < 0.05, ``psi`` ≥ 0.1,
  ``jensenshannon`` ≥ 0.1, ``wasserstein`` ≥ 0.1 — the score is a p-value for the first three;
- binning for ``psi`` and ``jensenshannon`` (``get_binned_data`` in ``.../stattests/utils.py``):
  a numeric column whose REFERENCE has more than 20 distinct values gets
  ``np.histogram_bin_edges(reference ∪ current, bins="sturges")`` — equal-width bins over both
  sides, rebuilt every run (its ``n_bins=30`` argument is never used) — else one bin per value of
  either side; PSI fills empty bins (``binned.psi``), JS does not and uses natural logs.

Tolerance (checked in the tests against Evidently itself): method names and verdicts identical;
scores within 1e-9 relative (summation order, pandas' ``std``) for psi, jensenshannon,
wasserstein, chisquare and z; KS p-values within 1e-12 relative when exact (both sides ≤ 10,000
values), within 3e-6 absolute when asymptotic (see ``special``). Verdicts can differ only when a
score lies within that tolerance of its threshold.

Why not call Evidently: it rebuilds pandas frames per column and runs each column's test three
times in a preset; this module sorts each numeric column once and derives every statistic from
the two sorted arrays (KS and Wasserstein from one merge, the histogram from ``searchsorted`` of
the edges), which is what makes it two orders of magnitude faster on the same data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.api.driftmonitor import FeatureType
from modelops.core.drift.binned import js_distance, psi
from modelops.core.drift.ks import ks_pvalue, ks_statistic_sorted
from modelops.core.drift.sketch_categorical import value_counts
from modelops.core.drift.sketch_numeric import as_float_column
from modelops.core.drift.special import normal_cdf
from modelops.core.drift.statistics import WASSERSTEIN_MIN_NORM, chi_square

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EVIDENTLY_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "psi": 0.1,
    "jensenshannon": 0.1,
    "wasserstein": 0.1,
}
P_VALUE_METHODS = frozenset({"ks", "chisquare", "z"})
NUMERIC_METHODS = frozenset(EVIDENTLY_THRESHOLDS)
CATEGORICAL_METHODS = frozenset({"chisquare", "z", "psi", "jensenshannon"})
SMALL_REFERENCE = 1000
FEW_VALUES_BINNING = 20


@dataclass(frozen=True)
class NumericSample:
    """A numeric column cleaned as Evidently cleans it (±inf and NaN dropped) and sorted once."""

    values: FloatArray
    integer: bool = False  # numpy's "sturges" width is at least 1 for integer data

    @staticmethod
    def of(values: npt.ArrayLike) -> NumericSample:
        raw = np.asarray(values)
        x = np.sort(as_float_column(raw))
        x = x[np.isfinite(x)]
        return NumericSample(x, integer=raw.dtype.kind in "iub")

    def distinct(self) -> tuple[FloatArray, IntArray]:
        """Distinct values and their counts, from the sorted values."""
        x = self.values
        if x.size == 0:
            return x, np.zeros(0, dtype=np.int64)
        starts = np.flatnonzero(np.concatenate([[True], x[1:] != x[:-1]]))
        counts = np.diff(np.concatenate([starts, [x.size]])).astype(np.int64)
        return x[starts], counts


@dataclass(frozen=True)
class CategoricalSample:
    """A categorical column as value counts, nulls dropped (names compared as strings)."""

    names: tuple[str, ...]
    counts: IntArray

    @staticmethod
    def of(values: npt.ArrayLike) -> CategoricalSample:
        names, counts, _ = value_counts(values)
        return CategoricalSample(tuple(names), counts)

    @staticmethod
    def from_codes(codes: npt.ArrayLike, dictionary: Sequence[Any]) -> CategoricalSample:
        c = np.asarray(codes, dtype=np.int64)
        counts = np.bincount(c[c >= 0], minlength=len(dictionary)).astype(np.int64)
        return CategoricalSample(tuple(str(v) for v in dictionary), counts)

    @property
    def n(self) -> int:
        return int(self.counts.sum())


Sample = NumericSample | CategoricalSample


@dataclass(frozen=True)
class ParityResult:
    """Evidently's answer for one column: method, score, threshold, and whether it calls it drift."""

    method: str
    value: float
    threshold: float
    drifted: bool


def _size(sample: Sample) -> int:
    return int(sample.values.size) if isinstance(sample, NumericSample) else sample.n


def _aligned_counts(ref: Sample, cur: Sample) -> tuple[IntArray, IntArray]:
    """Counts of both sides over the union of their distinct values (Evidently's value binning)."""
    if isinstance(ref, NumericSample) and isinstance(cur, NumericSample):
        rv, rc = ref.distinct()
        cv, cc = cur.distinct()
        keys = np.union1d(rv, cv)
        a = np.zeros(keys.size, dtype=np.int64)
        b = np.zeros(keys.size, dtype=np.int64)
        a[np.searchsorted(keys, rv)] = rc
        b[np.searchsorted(keys, cv)] = cc
        return a, b
    if isinstance(ref, CategoricalSample) and isinstance(cur, CategoricalSample):
        names = sorted(set(ref.names) | set(cur.names))
        index = {name: i for i, name in enumerate(names)}
        a = np.zeros(len(names), dtype=np.int64)
        b = np.zeros(len(names), dtype=np.int64)
        np.add.at(a, [index[n] for n in ref.names], ref.counts)
        np.add.at(b, [index[n] for n in cur.names], cur.counts)
        return a, b
    raise TypeError("reference and current must be samples of the same kind")


def n_distinct(ref: Sample, cur: Sample, *, at_most: int | None = None) -> int:
    """Distinct values of both sides together (``pd.concat([ref, cur]).nunique()``).

    With ``at_most``, stops counting exactly once a side alone has more (the default-method rule
    only asks whether there are more than 5).
    """
    if isinstance(ref, NumericSample) and isinstance(cur, NumericSample):
        rv, _ = ref.distinct()
        if at_most is not None and rv.size > at_most:
            return int(rv.size)
        cv, _ = cur.distinct()
        if at_most is not None and cv.size > at_most:
            return int(cv.size)
        return int(np.union1d(rv, cv).size)
    a, _ = _aligned_counts(ref, cur)
    return int(a.size)


def default_method(kind: FeatureType, ref: Sample, cur: Sample) -> str:
    """Evidently's default stat test for a column of this type and these cleaned samples."""
    values = n_distinct(ref, cur, at_most=5)
    if _size(ref) <= SMALL_REFERENCE:
        if kind == FeatureType.NUMERIC and values > 5:
            return "ks"
        return "chisquare" if values > 2 else "z"
    if kind == FeatureType.NUMERIC:
        return "wasserstein" if values > 5 else "jensenshannon"
    return "jensenshannon"


def sturges_edges(ref: NumericSample, cur: NumericSample) -> FloatArray:
    """``np.histogram_bin_edges(concat(ref, cur), bins="sturges")`` without concatenating."""
    a, b = ref.values, cur.values
    n = a.size + b.size
    first, last = min(a[0], b[0]), max(a[-1], b[-1])
    ptp = float(last - first)
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = ptp / (math.log2(n) + 1.0)
    if ref.integer and cur.integer and width < 1:
        width = 1.0
    bins = math.ceil((last - first) / width) if width else 1
    return np.linspace(first, last, bins + 1, endpoint=True)


def _histogram_sorted(sorted_values: FloatArray, edges: FloatArray) -> IntArray:
    """``np.histogram(x, edges)[0]`` for sorted x: half-open bins, the last one closed."""
    cum = np.concatenate(
        [np.searchsorted(sorted_values, edges[:-1], side="left"), np.searchsorted(sorted_values, edges[-1:], "right")]
    )
    return np.diff(cum).astype(np.int64)


def binned_counts(ref: Sample, cur: Sample) -> tuple[IntArray, IntArray]:
    """The two histograms Evidently's ``psi`` and ``jensenshannon`` compare."""
    if isinstance(ref, NumericSample) and isinstance(cur, NumericSample):
        distinct_ref = ref.distinct()[0].size
        if distinct_ref > FEW_VALUES_BINNING:
            edges = sturges_edges(ref, cur)
            return _histogram_sorted(ref.values, edges), _histogram_sorted(cur.values, edges)
    return _aligned_counts(ref, cur)


def wasserstein_sorted(a: FloatArray, b: FloatArray) -> float:
    """``scipy.stats.wasserstein_distance(a, b)`` for sorted samples: ∫|F_a − F_b| dx.

    One stable merge of the two sorted runs (timsort merges them in linear time) gives both
    ECDFs as running counts; inside a group of tied values the running counts are partial, but
    the gap to the next value is zero there, so the integral is exact. (``searchsorted`` of every
    merged value, scipy's way, is five times slower on this machine.)
    """
    values = np.concatenate([a, b])
    order = np.argsort(values, kind="stable")
    merged = values[order]
    from_a = order < a.size
    cdf_a = np.cumsum(from_a)[:-1] / a.size
    cdf_b = np.cumsum(~from_a)[:-1] / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(merged)))


def z_test_pvalue(ref_counts: IntArray, cur_counts: IntArray) -> float:
    """Evidently's two-proportion z-test on the first of (at most two) values: 2·(1 − Φ(|z|))."""
    n1, n2 = int(ref_counts.sum()), int(cur_counts.sum())
    if ref_counts.size == 1 or ((ref_counts > 0).sum() == 1 and (cur_counts > 0).sum() == 1 and
                                int(np.argmax(ref_counts)) == int(np.argmax(cur_counts))):
        return 1.0
    p1 = float(n1 - ref_counts[0]) / n1
    p2 = float(n2 - cur_counts[0]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    denominator = math.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    if denominator == 0:
        return math.nan
    z = (p1 - p2) / denominator
    return 2 * (1 - normal_cdf(abs(z)))


def score(method: str, ref: Sample, cur: Sample) -> float:
    """Evidently's drift score of ``method`` on two cleaned samples."""
    if method == "ks":
        if not (isinstance(ref, NumericSample) and isinstance(cur, NumericSample)):
            raise ValueError("ks is for numeric columns only")
        d = ks_statistic_sorted(ref.values, cur.values)
        return ks_pvalue(d, ref.values.size, cur.values.size)
    if method == "wasserstein":
        if not (isinstance(ref, NumericSample) and isinstance(cur, NumericSample)):
            raise ValueError("wasserstein is for numeric columns only")
        norm = max(float(np.std(ref.values)), WASSERSTEIN_MIN_NORM)
        return wasserstein_sorted(ref.values, cur.values) / norm
    if method == "psi":
        return psi(*binned_counts(ref, cur))
    if method == "jensenshannon":
        return js_distance(*binned_counts(ref, cur), base=math.e)
    if method == "chisquare":
        return chi_square(*_aligned_counts(ref, cur))[1]
    if method == "z":
        return z_test_pvalue(*_aligned_counts(ref, cur))
    raise ValueError(f"unknown Evidently method {method!r}; known: {sorted(EVIDENTLY_THRESHOLDS)}")


def is_drift(method: str, value: float, threshold: float) -> bool:
    """Evidently's comparison for ``method`` (NaN is never drift)."""
    if method == "ks":
        return value <= threshold
    if method in P_VALUE_METHODS:
        return value < threshold
    return value >= threshold


def column_drift(
    kind: FeatureType, ref: Sample, cur: Sample, *, method: str | None = None, threshold: float | None = None
) -> ParityResult:
    """Evidently's ``ValueDrift`` for one column: default method and threshold unless given."""
    if _size(ref) == 0 or _size(cur) == 0:
        raise ValueError("an empty column (after dropping nulls and infinities) has no drift score, as in Evidently")
    chosen = method or default_method(kind, ref, cur)
    allowed = NUMERIC_METHODS if kind == FeatureType.NUMERIC else CATEGORICAL_METHODS
    if chosen not in allowed:
        raise ValueError(f"Evidently's {chosen} does not apply to {kind.value} columns")
    limit = EVIDENTLY_THRESHOLDS[chosen] if threshold is None else threshold
    value = score(chosen, ref, cur)
    return ParityResult(chosen, value, limit, is_drift(chosen, value, limit))


def sample(kind: FeatureType, values: npt.ArrayLike) -> Sample:
    """The cleaned sample of a raw column for ``column_drift``."""
    return NumericSample.of(values) if kind == FeatureType.NUMERIC else CategoricalSample.of(values)
