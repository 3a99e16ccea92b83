"""The observations of one arm (stable or candidate) of a two-sample comparison.

Owns the two summaries every two-sample statistic in this package takes, so that the A/B test,
the non-inferiority guardrails and the benchmarks agree on one shape: counts of a conversion-like
(Bernoulli) metric, and sufficient statistics (n, mean, standard deviation) of a continuous one.
They are summaries, not raw data, because the metrics pipeline (Prometheus counters, the
prediction-log sink's histograms) only ever gives the operator aggregates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Proportion:
    """A conversion-like metric of one arm: ``successes`` out of ``samples`` observations."""

    samples: int
    successes: int

    def __post_init__(self) -> None:
        # Counters come from Prometheus and can be reset or scraped out of order; an impossible
        # pair must fail loudly here rather than produce a rate above 1 downstream.
        if self.samples < 0 or self.successes < 0 or self.successes > self.samples:
            raise ValueError(f"need 0 <= successes <= samples, got {self.successes}/{self.samples}")

    @property
    def rate(self) -> float | None:
        """successes / samples; None without samples (no data is not a rate of 0)."""
        return self.successes / self.samples if self.samples else None


@dataclass(frozen=True)
class Sample:
    """A continuous metric of one arm: ``samples`` observations with this mean and standard deviation."""

    samples: int
    mean: float
    std: float

    def __post_init__(self) -> None:
        if self.samples < 0 or not math.isfinite(self.mean) or not math.isfinite(self.std) or self.std < 0:
            raise ValueError(
                f"need samples >= 0, a finite mean and a finite std >= 0, got n={self.samples} "
                f"mean={self.mean} std={self.std}"
            )
