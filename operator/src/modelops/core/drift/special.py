"""Special functions the drift statistics need for their p-values, in numpy and ``math``.

Owns: the normal tail (z-test), the chi-square survival function (chi-square test), and the
Kolmogorov distribution of the two-sided one-sample statistic ``D_n`` (``scipy.stats.kstwo``),
which scipy's ``ks_2samp`` uses for its asymptotic p-value with ``n = round(n1·n2/(n1+n2))``.

Why hand-written: ``modelops.core`` may import only the standard library, numpy and
``modelops.api`` (import-linter), so scipy — what Evidently calls
(``src/evidently/legacy/calculations/stattests/{chisquare,z,ks}_stattest.py``) — is out of reach.
Each function follows the textbook algorithm scipy itself uses, and the unit tests compare them
with scipy on grids of arguments:

- ``chi2_sf``: regularised upper incomplete gamma Q(k/2, x/2), by the power series below
  ``a + 1`` and Lentz's continued fraction above (Numerical Recipes §6.2); relative error ~1e-13.
- ``kolmogorov_sf``: the branches of scipy's ``_kolmogn`` (Simard & L'Ecuyer 2011): the exact
  Ruben–Gambino ends, ``2·smirnov`` (Birnbaum–Tingey's exact one-sided sum) in the upper tail,
  Durbin's exact matrix for n ≤ 140 (scipy also uses Pomeranz's, equally exact, for part of that
  range), and Pelz–Good's asymptotic series for n > 140. scipy uses the Durbin matrix where
  ``n ≤ 100000`` and ``n·d^1.5 ≤ 1.4`` (p-values within 1e-5 of 1) where this uses Pelz–Good:
  the difference there is below 1e-6 absolute (measured by the tests).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_PI2 = math.pi**2
_PI4 = math.pi**4
_PI6 = math.pi**6
_SQRT2PI = math.sqrt(2.0 * math.pi)
_SQRT3 = math.sqrt(3.0)


# ------------------------------------------------------------------------------ normal


def normal_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z, accurate in the far tail (``erfc``, not ``1 − cdf``)."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def normal_cdf(x: float) -> float:
    """P(Z ≤ x) for a standard normal Z (``scipy.stats.norm.cdf``)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# ------------------------------------------------------------------------------ chi-square


def _gamma_p_series(a: float, x: float) -> float:
    term = 1.0 / a
    total = term
    ap = a
    for _ in range(10_000):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * 1e-16:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_q_fraction(a: float, x: float) -> float:
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma function Q(a, x) = Γ(a, x)/Γ(a), a > 0, x ≥ 0."""
    if a <= 0:
        raise ValueError(f"gamma_q needs a > 0, got {a!r}")
    if math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _gamma_p_series(a, x))
    return min(1.0, _gamma_q_fraction(a, x))


def chi2_sf(x: float, df: float) -> float:
    """P(X > x) for X ~ chi-square with ``df`` degrees of freedom (``scipy.stats.chi2.sf``)."""
    if df <= 0:
        raise ValueError(f"chi-square needs df > 0, got {df!r}")
    return gamma_q(df / 2.0, x / 2.0)


# ------------------------------------------------------------------------------ Kolmogorov


def _log_binomial(n: int, k: npt.NDArray[np.int64]) -> FloatArray:
    """ln C(n, k) for an array of k, through ``math.lgamma`` of the few distinct arguments' ends
    plus exact cumulative log sums in between (vectorised, no Python loop over k)."""
    # ln k! for k = 0..n by cumulative sums of ln i, anchored every 4096 terms to math.lgamma so
    # rounding does not accumulate over millions of terms.
    idx = np.arange(n + 1, dtype=np.float64)
    logs = np.log(np.maximum(idx, 1.0))
    log_fact = np.empty(n + 1)
    block = 4096
    for start in range(0, n + 1, block):
        stop = min(n + 1, start + block)
        anchor = math.lgamma(start + 1.0)
        segment = np.cumsum(logs[start + 1 : stop]) if stop > start + 1 else np.empty(0)
        log_fact[start] = anchor
        log_fact[start + 1 : stop] = anchor + segment
    return np.asarray(log_fact[n] - log_fact[k] - log_fact[n - k], dtype=np.float64)


def smirnov_sf(n: int, d: float) -> float:
    """P(D⁺_n ≥ d), the exact one-sided one-sample Kolmogorov–Smirnov tail (``scipy.special.smirnov``).

    Birnbaum & Tingey (1951): ``d · Σ_{j=0}^{⌊n(1−d)⌋} C(n, j) (1 − d − j/n)^(n−j) (d + j/n)^(j−1)``,
    summed in log space (all terms are positive, so there is no cancellation).
    """
    if d <= 0:
        return 1.0
    if d >= 1:
        return 0.0
    jmax = math.floor(n * (1.0 - d))
    j = np.arange(jmax + 1, dtype=np.int64)
    jf = j.astype(np.float64)
    base = np.maximum(1.0 - d - jf / n, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 0^0 = 1: the last term when n(1 − d) is an integer j = n has exponent n − j = 0.
        power = np.where((n - jf) == 0, 0.0, (n - jf) * np.log(base))
        log_terms = _log_binomial(n, j) + power + (jf - 1.0) * np.log(d + jf / n)
    peak = float(np.max(log_terms))
    if not math.isfinite(peak):
        return 0.0
    return min(1.0, d * math.exp(peak) * float(np.sum(np.exp(log_terms - peak))))


def _pelz_good_cdf(n: int, x: float) -> float:
    """Pelz–Good (1976) asymptotic series for P(D_n ≤ x), as scipy's ``_kolmogn_PelzGood``."""
    z = math.sqrt(n) * x
    z2, z3, z4, z6 = z * z, z**3, z**4, z**6
    qlog = -_PI2 / 8.0 / z2
    if qlog < -708:
        return 0.0
    q = math.exp(qlog)
    k1a, k1b = -z2, _PI2 / 4.0
    k2a = 6 * z6 + 2 * z4
    k2b = (2 * z4 - 5 * z2) * _PI2 / 4.0
    k2c = _PI4 * (1 - 2 * z2) / 16.0
    k3d = _PI6 * (5 - 30 * z2) / 64.0
    k3c = _PI4 * (-60 * z2 + 212 * z4) / 16.0
    k3b = _PI2 * (135 * z4 - 96 * z6) / 4.0
    k3a = -30 * z6 - 90 * z**8
    sums = np.zeros(4)
    maxk = math.ceil(16 * z / math.pi)
    for k in range(maxk, 0, -1):  # Horner scheme over odd m = 2k − 1 of Σ c_m q^(m²)
        m = 2 * k - 1
        m2, m4, m6 = m * m, m**4, m**6
        sums *= q ** (8 * k)
        sums += np.array(
            [1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6]
        )
    sums *= q * _SQRT2PI
    sums /= np.array([z, 6 * z4, 72 * z**7, 6480 * z**10])
    q2 = math.exp(-_PI2 / 2.0 / z2)
    ks = np.arange(maxk, 0, -1, dtype=np.float64)
    ksq = ks**2
    powers = q2**ksq
    sums[2] += float(np.sum(ksq * powers)) * _PI2 * _SQRT2PI / (-36.0 * z3)
    sqrt3z = _SQRT3 * z
    kspi = math.pi * ks
    sums[3] += float(np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksq * powers)) * _PI2 * _SQRT2PI / (216.0 * z6)
    sums /= np.power(float(n), np.arange(4) / 2.0)
    return float(np.sum(sums))


def _durbin_cdf(n: int, d: float) -> float:
    """P(D_n ≤ d) exactly, by Durbin's matrix (Marsaglia, Tsang & Wang 2003), for n ≤ 140.

    ``d = (k − h)/n`` with integer k and 0 ≤ h < 1; the answer is ``n!/n^n · (H^n)[k−1, k−1]``.
    For n ≤ 140 the matrix power stays within float64 (entries grow at most like e^n).
    """
    k = math.ceil(n * d)
    h = k - n * d
    m = 2 * k - 1
    i = np.arange(m)
    diff = i[:, None] - i[None, :] + 1
    factorials = np.array([math.factorial(v) for v in range(m + 1)], dtype=np.float64)
    hmat = np.where(diff >= 0, 1.0 / factorials[np.clip(diff, 0, m)], 0.0)
    powers = h ** np.arange(1, m + 1)
    hmat[:, 0] -= powers / factorials[1 : m + 1]
    hmat[m - 1, :] -= powers[::-1] / factorials[1 : m + 1][::-1]
    if 2 * h - 1 > 0:
        hmat[m - 1, 0] += (2 * h - 1) ** m / factorials[m]
    power = np.linalg.matrix_power(hmat, n)
    return float(power[k - 1, k - 1]) * math.exp(math.lgamma(n + 1.0) - n * math.log(n))


def kolmogorov_sf(n: int, d: float) -> float:
    """P(D_n ≥ d) for the two-sided one-sample Kolmogorov–Smirnov statistic (``scipy.stats.kstwo.sf``)."""
    if n <= 0:
        raise ValueError(f"kolmogorov_sf needs n ≥ 1, got {n}")
    if d >= 1.0:
        return 0.0
    if d <= 0.0:
        return 1.0
    t = n * d
    if t <= 1.0:  # Ruben–Gambino, exact: P(D_n ≤ d) = n!/n^n (2t − 1)^n for 1/2n ≤ d ≤ 1/n
        if t <= 0.5:
            return 1.0
        cdf = math.exp(math.lgamma(n + 1.0) - n * math.log(n) + n * math.log(2 * t - 1))
        return min(1.0, max(0.0, 1.0 - cdf))
    if t >= n - 1:  # Ruben–Gambino, exact
        return min(1.0, max(0.0, 2.0 * (1.0 - d) ** n))
    if d >= 0.5:  # exact: the two one-sided tails cannot both be crossed
        return min(1.0, 2.0 * smirnov_sf(n, d))
    nxx = t * d
    if n <= 140:  # exact Durbin matrix, then Miller's 2·smirnov in the far tail, as scipy
        if nxx <= 4.0:
            return min(1.0, max(0.0, 1.0 - _durbin_cdf(n, d)))
        return min(1.0, 2.0 * smirnov_sf(n, d))
    if nxx >= 370.0:
        return 0.0
    if nxx >= 2.2:
        return min(1.0, 2.0 * smirnov_sf(n, d))
    return min(1.0, max(0.0, 1.0 - _pelz_good_cdf(n, d)))
