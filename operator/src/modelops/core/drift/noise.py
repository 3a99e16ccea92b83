"""No-drift noise floors: the value a statistic takes by chance when nothing changed.

Owns the expected value of each statistic when the reference (n values) and the current window
(m values) are two samples of ONE distribution, and the refusal rule built on it. A statistic
whose noise floor is above a third of its threshold cannot tell drift from sampling noise at
these sample sizes, so the verdict layer refuses to judge it ("noise floor too high") instead of
raising false alarms (small windows) — and at large sizes the floors vanish, which is why the
default mode reports the statistic itself, never only a p-value that flags any unshifted column
at a million rows.

The floors (first-order expansions, checked by simulation in the tests):

- PSI over B bins: ``(B − 1)(1/n + 1/m)`` — PSI is asymptotically a chi-square-like sum.
- Jensen–Shannon distance (base 2) over B bins: ``√((B − 1)(1/n + 1/m) / (8 ln 2))``: the
  divergence is about an eighth of the same sum, in nats.
- KS D: ``√(π/2)·ln 2·√(1/n + 1/m)``, the mean of the Kolmogorov distribution, rescaled.
- Wasserstein-1 normed by σ: ``√(2/π)·∫√(F(1 − F))dx / σ · √(1/n + 1/m)`` (the mean of the
  integrated absolute Brownian bridge), the integral taken over the reference sketch's CDF.
- A rate (nulls, infinities): one standard deviation of the difference of two proportions,
  ``√(p(1 − p)(1/n + 1/m))`` with p the reference rate (at least one value in n).
- Share of unseen categories: the Good–Turing estimate of the mass the reference never saw, the
  share of reference values whose category occurs exactly once.
- Share outside the reference range: ``2/(n + 1)``, the chance that a new value from the same
  distribution falls beyond the minimum or maximum of n.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

REFUSAL_FRACTION = 1.0 / 3.0


def refuses(noise_floor: float, threshold: float) -> bool:
    """Whether a verdict must be refused: the noise floor exceeds a third of the threshold."""
    return noise_floor > threshold * REFUSAL_FRACTION


def _inverse_sizes(n: float, m: float) -> float:
    if n <= 0 or m <= 0:
        return math.inf
    return 1.0 / n + 1.0 / m


def psi_floor(bins: int, n: float, m: float) -> float:
    return max(bins - 1, 0) * _inverse_sizes(n, m)


def js_floor(bins: int, n: float, m: float) -> float:
    return math.sqrt(max(bins - 1, 0) * _inverse_sizes(n, m) / (8.0 * math.log(2.0)))


def ks_floor(n: float, m: float) -> float:
    return math.sqrt(math.pi / 2.0) * math.log(2.0) * math.sqrt(_inverse_sizes(n, m))


def wasserstein_floor(points: npt.ArrayLike, cdf: npt.ArrayLike, std: float, n: float, m: float) -> float:
    """``points``: ascending x from the reference minimum to its maximum; ``cdf``: F at them."""
    x = np.asarray(points, dtype=np.float64)
    f = np.clip(np.asarray(cdf, dtype=np.float64), 0.0, 1.0)
    if x.size < 2:
        return 0.0 if math.isfinite(_inverse_sizes(n, m)) else math.inf
    g = np.sqrt(f * (1.0 - f))
    integral = float(np.sum(np.diff(x) * (g[1:] + g[:-1]) / 2.0))
    return math.sqrt(2.0 / math.pi) * integral / max(std, 0.001) * math.sqrt(_inverse_sizes(n, m))


def rate_floor(reference_rate: float, n: float, m: float) -> float:
    if n <= 0:
        return math.inf
    p = min(max(reference_rate, 1.0 / n), 1.0)
    return math.sqrt(p * (1.0 - p) * _inverse_sizes(n, m))


def unseen_floor(singletons: int, n: float) -> float:
    return math.inf if n <= 0 else singletons / n


def out_of_range_floor(n: float) -> float:
    return math.inf if n <= 0 else 2.0 / (n + 1.0)
