"""The metrics adapters: where the operator reads the numbers its analysis gates decide on.

``prometheus`` is the metric provider (instant PromQL queries over Prometheus' HTTP API, async on
kopf's loop, with a refused-versus-unavailable error model); ``names`` is the contract of the
per-version series the built-in checks query (names, labels, histogram buckets), shared by whatever
exports them; ``queries`` builds the built-in checks' PromQL from that contract. ``rollouts`` is
the other direction: the operator's own per-Rollout series (phase, step, weights, registry sync,
analysis), exported on its metrics port.
"""
