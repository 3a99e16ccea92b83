"""Drift: distances between distributions, on binned sketches, in pure numpy.

A Rollout's ``predictionDivergence`` check and the DriftMonitor's drift job both reduce to "how
far apart are these two distributions?". Nothing here reads logs, Parquet or Prometheus: an
adapter brings the numbers (arrays of a batch, value counts, Prometheus buckets), this package
only summarises and compares them, one idea per module:

- ``binned``: PSI (Evidently's empty-bin rule) and Jensen–Shannon distance on counts over shared
  bins; Prometheus cumulative ``le`` buckets into such counts.
- ``sketch_numeric`` / ``sketch_categorical``: the stored reference sketch (fine quantile bins
  with counts and sums; top-K categories plus "other") and current windows over the same bins,
  updated from batches and merged by addition, JSON-able both.
- ``statistics``: default-mode statistics on a sketch pair (PSI, KS, JS, Wasserstein, chi-square,
  null / infinity rates, unseen categories, out-of-range share), each with its noise floor.
- ``noise``: no-drift noise floors and the refusal rule; ``outcome``: the verdicts.
- ``ks`` / ``special``: KS statistic and scipy-equal p-values; chi-square and Kolmogorov tails.
- ``parity``: Evidently 0.7.23's column drift (methods, thresholds, verdicts) on raw data.
- ``performance``: accuracy, AUC and calibration error per slice, window against reference.
- ``schema``: missing, new and wrong-typed columns against a model signature.
- ``verdict``: feature specs + sketches → per feature × statistic results and an overall verdict.

Numbers in parity mode equal Evidently's on the same data (DESIGN §6); each module cites the
Evidently source it matches.
"""
