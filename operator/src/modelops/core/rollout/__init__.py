"""The Rollout's pure core: everything the operator decides about moving traffic from the champion
to a candidate, kept apart from the side effects (Argo Rollouts keeps ``GetCurrentCanaryStep`` and
its weight maths apart from its reconciler in the same way). One idea per module:

- ``capabilities``: what each traffic router can do (weights, mirror, a header-forced variant) and
  which steps of a spec it cannot run — the ``InvalidSpec`` reasons.
- ``traffic``: the split (stable %, candidate %, mirror %) a step asks for, and the one that is
  safe to apply given which backends are Ready.
- ``steps``: the step schedule — the step-list hash, step names, durations, deadlines, approvals.
- ``history``: the bounded audit trail in ``status.history`` (oldest entries summarised).
- ``actions``: the side effects a plan asks the reconciler for (the route to apply, MLflow alias
  moves and version tags).
- ``aliases``: what the MLflow registry should say (``champion``/``challenger``, pending tags) and
  what the status says after the writes (``RegistrySynced``).
- ``measuring``: when a step is due for a look, what to query, and the numbers judged.
- ``machine``: ``plan(observation, now) -> RolloutDecision``, the state machine itself, with its
  rules in order; built from ``types`` (observation, decision, constants), ``working`` (one
  plan's state), ``targets`` (which version serves), ``driving`` (the steps), ``gate`` (may a step
  end?) and ``assembly`` (the status).

Nothing here reads the clock, the API server, Prometheus or MLflow: the time and every
observation are arguments, and the decision says what to do.
"""
