"""Every decision the operator makes, as pure functions: no I/O, no kopf, no Kubernetes client, no
wall clock (the time is an argument). A reconciler observes, calls a ``plan`` here, and carries the
decision out. One package per concern:

- ``training``, ``serving``, ``rollout``: each kind's state machine (``plan(observation, now)``)
  and the children it asks for (Job, InferenceService, route);
- ``analysis``: measurements to verdicts (Argo's limits, the sequential A/B test, sample ratio,
  non-inferiority); ``drift``: drift statistics on sketches, in numpy;
- shared pieces: ``acceptance`` (a spec parsed, with errors naming the field), ``conditions``
  (flip-only transition times), ``drafting`` (a status being planned, its Events and the merge
  patch), ``ownership`` (whose object it is, one Rollout per model, refused writes),
  ``artifacts`` (an MLflow artifact URI KServe can fetch), ``naming``, ``durations``,
  ``resources``, ``intents``.

``core`` imports only the standard library, pydantic, numpy and ``modelops.api``.
"""
