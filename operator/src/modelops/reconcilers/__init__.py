"""The operator's working parts between kopf and the decisions: the reconcile engine (``engine``:
a keyed work queue per kind; ``store`` and ``view``: reads served from what the watches delivered;
``runtime``: all of it wired, and which keys a watch event concerns) and one reconciler per kind
(``training``, ``serving``, ``rollout``, ``drifting``), each observe -> ``core`` plan -> execute
-> one status write (``cycle``, ``finishing``). ``routing``, ``aliasing`` and ``querying`` carry out
a Rollout's route, registry writes and measurements; ``wiring`` builds the adapters.
"""
