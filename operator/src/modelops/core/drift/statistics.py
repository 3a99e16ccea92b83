"""Default-mode statistics: a reference sketch against a current window, one ``Measurement`` each.

Owns every distribution and integrity statistic the engine computes on sketches, with the sample
sizes and the no-drift noise floor (``noise``) each verdict needs:

- numeric: ``psi`` and ``js`` over the coarse quantile bins (deciles by default), ``ks`` (D at the
  fine bin edges, see ``ks`` for what binning does to it, with its p-value), ``wasserstein``
  (W1 normed by the reference standard deviation, floored at 0.001, as Evidently's
  ``wasserstein_distance_norm.py``), ``out_of_range`` (share of finite values outside the
  reference's [min, max]), ``null_rate`` and ``inf_rate`` (increase over the reference);
- categorical: ``psi``, ``js`` and ``chi_square`` over ``[top-K…, other, unseen]``,
  ``unseen_share`` (share of values in categories the reference never had), ``null_rate``.

PSI uses ``binned.psi`` (Evidently's empty-bin rule: a zero share becomes 0.0001, or the
smallest non-zero share / 10**6 when that is ≤ 0.0001; no renormalisation). JS is the distance
in base 2 (0–1, the API's scale); Evidently's parity number (natural logs) is ``parity``'s.

Wasserstein on a sketch: each side's mass in a fine bin is placed at that side's mean in the
bin (sum / count), and W1 is computed exactly between those two discrete distributions. Each
side moves by at most the mean absolute deviation inside its bins, so the error is at most
Σ_i (r_i + c_i)·width_i, small with the fine quantile bins (measured in the tests against the
raw-data value); parity mode computes it on raw data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from modelops.core.drift import noise
from modelops.core.drift.binned import js_distance, psi
from modelops.core.drift.ks import ks_pvalue, ks_statistic_binned
from modelops.core.drift.sketch_categorical import CategoricalReference, CategoricalWindow
from modelops.core.drift.sketch_numeric import NumericReference, NumericWindow
from modelops.core.drift.special import chi2_sf

FloatArray = npt.NDArray[np.float64]

WASSERSTEIN_MIN_NORM = 0.001  # Evidently: max(std(reference), 0.001)


@dataclass(frozen=True)
class Measurement:
    """One statistic of one feature: its value, what chance alone would give, and the data behind it.

    ``value`` is None when there is no data to compute it on (``n_reference`` or ``n_current`` is 0).
    """

    value: float | None
    noise_floor: float
    n_reference: int
    n_current: int
    p_value: float | None = None


def _empty(n_ref: int, n_cur: int) -> Measurement:
    return Measurement(None, math.inf, n_ref, n_cur)


def _coarse(counts: npt.NDArray[np.int64], starts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.add.reduceat(counts, starts)


# ------------------------------------------------------------------------------ numeric


def _coarse_measure(ref: NumericReference, win: NumericWindow, psi_like: bool) -> Measurement:
    n, m = ref.n, win.n
    if not n or not m:
        return _empty(n, m)
    starts = ref.coarse_starts
    a, b = _coarse(ref.counts, starts), _coarse(win.counts, starts)
    if psi_like:
        return Measurement(psi(a, b), noise.psi_floor(starts.size, n, m), n, m)
    return Measurement(js_distance(a, b), noise.js_floor(starts.size, n, m), n, m)


def psi_numeric(ref: NumericReference, win: NumericWindow) -> Measurement:
    return _coarse_measure(ref, win, psi_like=True)


def js_numeric(ref: NumericReference, win: NumericWindow) -> Measurement:
    return _coarse_measure(ref, win, psi_like=False)


def ks_numeric(ref: NumericReference, win: NumericWindow) -> Measurement:
    n, m = ref.n, win.n
    if not n or not m:
        return _empty(n, m)
    d = ks_statistic_binned(ref.counts, win.counts)
    # D is a lower bound of the raw-data D (see ``ks``); the p-value is that of this D.
    return Measurement(d, noise.ks_floor(n, m), n, m, p_value=ks_pvalue(d, n, m))


def _atoms(counts: npt.NDArray[np.int64], sums: FloatArray) -> tuple[FloatArray, FloatArray]:
    nonempty = counts > 0
    return sums[nonempty] / counts[nonempty], counts[nonempty] / counts.sum()


def wasserstein_between(
    positions_a: FloatArray, weights_a: FloatArray, positions_b: FloatArray, weights_b: FloatArray
) -> float:
    """Exact W1 between two discrete distributions (positions with weights summing to 1 each)."""
    positions = np.concatenate([positions_a, positions_b])
    signed = np.concatenate([weights_a, -weights_b])
    order = np.argsort(positions, kind="stable")
    x = positions[order]
    cdf_diff = np.cumsum(signed[order])
    return float(np.sum(np.abs(cdf_diff[:-1]) * np.diff(x)))


def reference_cdf_points(ref: NumericReference) -> tuple[FloatArray, FloatArray]:
    """(x, F(x)) of the reference at its minimum, every edge and its maximum."""
    x = np.concatenate([[ref.minimum], ref.edges, [ref.maximum]])
    f = np.concatenate([[0.0], np.cumsum(ref.counts)[:-1] / ref.n, [1.0]])
    return x, f


def wasserstein_numeric(ref: NumericReference, win: NumericWindow) -> Measurement:
    n, m = ref.n, win.n
    if not n or not m:
        return _empty(n, m)
    pa, wa = _atoms(ref.counts, ref.sums)
    pb, wb = _atoms(win.counts, win.sums)
    norm = max(ref.std, WASSERSTEIN_MIN_NORM)
    value = wasserstein_between(pa, wa, pb, wb) / norm
    x, f = reference_cdf_points(ref)
    return Measurement(value, noise.wasserstein_floor(x, f, ref.std, n, m), n, m)


def out_of_range(ref: NumericReference, win: NumericWindow) -> Measurement:
    n, m = ref.n, win.n
    if not n or not m:
        return _empty(n, m)
    return Measurement((win.below + win.above) / m, noise.out_of_range_floor(n), n, m)


def _rate_increase(ref_hits: int, ref_total: int, cur_hits: int, cur_total: int) -> Measurement:
    if not ref_total or not cur_total:
        return _empty(ref_total, cur_total)
    ref_rate = ref_hits / ref_total
    value = cur_hits / cur_total - ref_rate
    return Measurement(value, noise.rate_floor(ref_rate, ref_total, cur_total), ref_total, cur_total)


def null_rate(ref: NumericReference | CategoricalReference, win: NumericWindow | CategoricalWindow) -> Measurement:
    """Increase of the null share (current − reference; negative when it fell)."""
    return _rate_increase(ref.nulls, ref.total, win.nulls, win.total)


def inf_rate(ref: NumericReference, win: NumericWindow) -> Measurement:
    """Increase of the ±infinity share (current − reference)."""
    return _rate_increase(ref.pos_inf + ref.neg_inf, ref.total, win.pos_inf + win.neg_inf, win.total)


# ------------------------------------------------------------------------------ categorical


def _categorical_measure(ref: CategoricalReference, win: CategoricalWindow, psi_like: bool) -> Measurement:
    n, m = ref.n, win.n
    if not n or not m:
        return _empty(n, m)
    a, b = ref.bins(), win.bins()
    used = int(((a + b) > 0).sum())
    if psi_like:
        return Measurement(psi(a, b), noise.psi_floor(used, n, m), n, m)
    return Measurement(js_distance(a, b), noise.js_floor(used, n, m), n, m)


def psi_categorical(ref: CategoricalReference, win: CategoricalWindow) -> Measurement:
    return _categorical_measure(ref, win, psi_like=True)


def js_categorical(ref: CategoricalReference, win: CategoricalWindow) -> Measurement:
    return _categorical_measure(ref, win, psi_like=False)


def chi_square(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> tuple[float, float]:
    """(statistic, p-value) of Pearson's test of the current counts against the reference shares.

    Expected counts are the reference counts scaled to the current total, as Evidently's
    ``chisquare_stattest.py`` builds ``f_exp`` for ``scipy.stats.chisquare``; df = bins − 1 over
    the bins present on either side. A bin the reference never had but the current has makes the
    statistic infinite and the p-value 0 (scipy divides by the zero expectation the same way).
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    used = (ref + cur) > 0
    ref, cur = ref[used], cur[used]
    if ref.sum() <= 0 or cur.sum() <= 0:
        raise ValueError("chi-square needs data on both sides")
    if ref.size < 2:
        return 0.0, 1.0
    expected = ref * (cur.sum() / ref.sum())
    if ((expected == 0) & (cur > 0)).any():
        return math.inf, 0.0
    statistic = float(np.sum((cur - expected) ** 2 / expected))
    return statistic, chi2_sf(statistic, ref.size - 1)


def chi_square_categorical(ref: CategoricalReference, win: CategoricalWindow) -> Measurement:
    n, m = ref.n, win.n
    if not n or not m:
        return _empty(n, m)
    statistic, p = chi_square(ref.bins(), win.bins())
    return Measurement(statistic, 0.0, n, m, p_value=p)


def unseen_share(ref: CategoricalReference, win: CategoricalWindow) -> Measurement:
    n, m = ref.n, win.n
    if not n or not m:
        return _empty(n, m)
    return Measurement(win.unseen_total / m, noise.unseen_floor(ref.singletons, n), n, m)
