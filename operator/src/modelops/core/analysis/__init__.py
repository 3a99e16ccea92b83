"""Analysis: measurements in, verdicts out — the pure statistics a Rollout's steps are gated on.

Nothing here measures anything: a metrics adapter runs the queries, the Rollout state machine
decides what a verdict does to traffic. This package only judges numbers, one idea per module:

- ``verdicts``: one measurement against a check's min/max, and the Argo-style limits
  (failureLimit, inconclusiveLimit, consecutiveErrorLimit) over a step's measurements.
- ``arms``: the per-arm summaries (counts, or n/mean/std) the two-sample statistics take.
- ``sequential``: the always-valid A/B test (mixture SPRT) that may be checked after every
  batch, and the fixed-horizon z-test it is compared with.
- ``group_sequential``: the planned A/B test (``abTest.effect``): a boundary valid under any
  peeking, a futility wedge, a maximum sample size from the planned effect and power.
- ``srm``: sample-ratio mismatch — is the observed split of requests the configured one?
- ``noninferiority``: guardrails as non-inferiority margins on a rate or a mean.

Every function is deterministic and free of I/O and wall-clock reads: time arrives as an argument.
"""
