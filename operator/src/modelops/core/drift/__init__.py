"""Drift: distances between distributions, on binned sketches, in pure numpy.

A Rollout's ``predictionDivergence`` check and (later) the DriftMonitor both reduce to "how far
apart are these two distributions?". Nothing here reads logs, Parquet or Prometheus: an adapter
brings the numbers (for Prometheus, histogram buckets), this package only compares them, one idea
per module:

- ``binned``: PSI and Jensen–Shannon distance between two distributions given as counts over the
  same bins, and the conversion of Prometheus' cumulative ``le`` buckets into such counts.

Numbers are meant to equal Evidently's on the same data and bins (DESIGN §6); each module cites
the Evidently source it matches.
"""
