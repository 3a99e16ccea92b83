"""modelops: a Kubernetes operator (on kopf) that runs the life of an ML model from four custom
resources of ``modelops.io/v1alpha1`` — TrainingRun, ModelVersion, Rollout, DriftMonitor — plus
the services and tools around it: the prediction-log sink (``logsink``) and the ``modelops`` /
``kubectl modelops`` command (``cli``).

Layers, inside out (import-linter enforces them): ``api`` (the resource models, from which the
CRDs are generated) <- ``core`` (pure decisions) <- ``http`` <- the adapters ``k8s``, ``registry``,
``metrics``, ``routers``, ``observability`` <- ``reconcilers`` (the engine and one reconciler per
kind) <- ``handlers`` (kopf's decorators). ``python -m modelops`` runs the operator.
"""
