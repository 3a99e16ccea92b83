"""Traffic routers: the adapters that turn a Rollout's split into the one Kubernetes object that
carries it, and read the split back from that object.

The package owns one router per choice of ``spec.trafficRouting`` (``choosing.router_for`` picks
it), each a pure implementation of ``interface.TrafficRouter``: it builds and parses dicts, and
the Rollout reconciler does every read and server-side apply.

- ``gateway_api``: a ``gateway.networking.k8s.io/v1`` HTTPRoute (backendRefs weights,
  ``RequestMirror`` filter for shadow);
- ``istio``: a ``networking.istio.io/v1`` VirtualService (route weights, ``mirror`` +
  ``mirrorPercentage`` for shadow);
- ``kserve``: a ``serving.kserve.io/v1beta1`` InferenceService whose Standard-mode canary fields
  carry the split and which also deploys the versions, plus ``predictor_readiness`` for the
  ModelVersion reconciler.

What the three share lives in two modules of its own: ``rules`` (the rule names and when the
header-forced variant rules exist) and ``reading`` (relative weights read back into a ``Split``,
and tolerant readers of hand-edited objects).
"""
