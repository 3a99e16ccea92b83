"""Every router's objects against the real API server with the real upstream CRDs (Gateway API
v1.6.3 HTTPRoute, Istio v1.32.0 VirtualService, KServe v0.20.0 InferenceService): each split of a
rollout's life is server-side applied the way the reconciler applies it (field manager
``modelops``, forced), read back with the server's defaults filled in, and must read as the split
it was built from; then released() is applied by the same manager, which must drop the owner
reference (server-side apply removes what a manager stops applying) and leave 100% on stable.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import dynamic

from modelops.api.config import ServingSettings
from modelops.api.modelversion import ModelVersionSpec
from modelops.api.rollout import RolloutSpec
from modelops.core.rollout.capabilities import Feature
from modelops.core.rollout.traffic import ALL_CANDIDATE, ALL_STABLE, Split
from modelops.core.serving.inference import desired_predictor, predictor_service_name
from modelops.routers.choosing import router_for
from modelops.routers.interface import Backend, RouteTarget, TrafficRouter, owner_reference
from tests.support.manifests import apply

FIELD_MANAGER = "modelops"
ROUTINGS: dict[str, dict[str, Any]] = {
    "gatewayAPI": {"gatewayAPI": {"httpRoute": "fraud-detector",
                                  "parentRefs": [{"name": "inference-gateway", "namespace": "gateways",
                                                  "sectionName": "https"}],
                                  "port": 80}},
    "istio": {"istio": {"virtualService": "fraud-detector", "host": "fraud-detector.ml.example.com",
                        "gateways": ["istio-system/ingress", "mesh"]}},
    "kserve": {"kserve": {"inferenceService": "fraud-detector"}},
}
# A rollout's life: shadow, canary, A/B, full, then an SRE's rollback to stable.
LIFE: list[tuple[str, Split, bool]] = [
    ("stable", ALL_STABLE, False),
    ("waiting", ALL_STABLE, True),
    ("shadow-100", Split(100, 0, 100), True),
    ("shadow-20", Split(100, 0, 20), True),
    ("canary-5", Split(95, 5), True),
    ("canary-25", Split(75, 25), True),
    ("abtest-50", Split(50, 50), True),
    ("full", ALL_CANDIDATE, True),
    ("rolled-back", ALL_STABLE, False),
]


def backend(name: str, version: str, min_replicas: int = 1) -> Backend:
    spec = ModelVersionSpec.model_validate({
        "model": "fraud-detector",
        "version": version,
        "artifact": {"storageUri": f"s3://models/fraud-detector/{version}/", "format": "sklearn"},
        "serving": {"resources": {"cpu": "500m", "memory": "1Gi"}, "minReplicas": min_replicas,
                    "maxReplicas": 4, "deploymentMode": "Standard"},
    })
    settings = ServingSettings.model_validate({"logSinkUrl": "http://logsink.modelops.test:8080"})
    predictor = desired_predictor(spec=spec, storage_uri=spec.artifact.storage_uri, pool=None, settings=settings)
    return Backend(model_version=name, service=predictor_service_name(name), predictor_name=name,
                   predictor=predictor, deployment_mode="Standard")


STABLE = backend("fraud-detector-v3", "3", min_replicas=2)
CANDIDATE = backend("fraud-detector-v4", "4")
WARM = (backend("fraud-detector-v1", "1"), backend("fraud-detector-v2", "2", min_replicas=3))


def create_rollout(dyn: dynamic.DynamicClient, namespace: str, routing: dict[str, Any]) -> tuple[RolloutSpec, str]:
    """The owner: a minimal valid Rollout (nothing reconciles it here), so the garbage collector
    sees a live owner and leaves the routed object alone."""
    spec = {"model": "fraud-detector", "target": "fraud-detector-v4", "trafficRouting": routing,
            "steps": [{"canary": {"weight": 5}}, {"full": {}}]}
    created = apply(dyn, {"apiVersion": "modelops.io/v1alpha1", "kind": "Rollout",
                          "metadata": {"name": "fraud-detector"}, "spec": spec}, namespace)
    return RolloutSpec.model_validate(spec), created.metadata.uid


def server_side_apply(dyn: dynamic.DynamicClient, router: TrafficRouter, body: dict[str, Any],
                      namespace: str) -> dict[str, Any]:
    resource = dyn.resources.get(api_version=router.api_version, kind=router.kind)
    resource.server_side_apply(body=body, namespace=namespace, field_manager=FIELD_MANAGER, force_conflicts=True)
    # Read it back rather than trusting the apply response: this is what the reconciler observes.
    obj: dict[str, Any] = resource.get(name=router.name, namespace=namespace).to_dict()
    return obj


def route_target(namespace: str, uid: str, split: Split, in_flight: bool,
                 warm: tuple[Backend, ...] = ()) -> RouteTarget:
    return RouteTarget(namespace=namespace, rollout="fraud-detector", rollout_uid=uid, model="fraud-detector",
                       stable=STABLE, candidate=CANDIDATE if in_flight else None, split=split, warm=warm)


@pytest.mark.parametrize("routing", sorted(ROUTINGS))
def test_every_split_applies_reads_back_and_releases(dyn: dynamic.DynamicClient, namespace: str,
                                                     routing: str) -> None:
    spec, uid = create_rollout(dyn, namespace, ROUTINGS[routing])
    router = router_for(spec)
    warm = WARM if router.deploys_backends else ()
    can_mirror = router.capabilities.can(Feature.MIRROR)
    applied = 0
    for step, split, in_flight in LIFE:
        if split.mirror and not can_mirror:
            continue  # kserve: shadow steps are refused before they reach the router
        target = route_target(namespace, uid, split, in_flight, warm)
        obj = server_side_apply(dyn, router, router.desired(target), namespace)
        applied += 1
        assert router.observed_split(obj, target) == split, f"{routing} {step}: {obj['spec']}"
        assert obj["metadata"]["ownerReferences"] == [owner_reference(target)], step
        assert obj["metadata"]["labels"]["modelops.io/rollout"] == "fraud-detector"
    assert applied == len([step for step in LIFE if can_mirror or not step[1].mirror])

    # Released while a canary is in flight: everything back on stable, the owner reference gone.
    in_flight_target = route_target(namespace, uid, Split(75, 25), True, warm)
    server_side_apply(dyn, router, router.desired(in_flight_target), namespace)
    released = server_side_apply(dyn, router, router.released(in_flight_target), namespace)
    assert "ownerReferences" not in released["metadata"]
    assert router.observed_split(released, in_flight_target) == ALL_STABLE
    assert CANDIDATE.service not in str(released["spec"]) and CANDIDATE.predictor_name not in str(released["spec"])


def test_gateway_api_defaults_do_not_change_the_split(dyn: dynamic.DynamicClient, namespace: str) -> None:
    """The API server fills in group/kind, a PathPrefix / match and the header match type; the
    object still reads as the split, and the variant rules come back in order."""
    spec, uid = create_rollout(dyn, namespace, ROUTINGS["gatewayAPI"])
    router = router_for(spec)
    target = route_target(namespace, uid, Split(95, 5, 20), True)
    obj = server_side_apply(dyn, router, router.desired(target), namespace)
    rules = obj["spec"]["rules"]
    assert [rule["name"] for rule in rules] == ["candidate-variant", "stable-variant", "split"]
    assert rules[2]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rules[2]["backendRefs"][0]["kind"] == "Service" and rules[2]["backendRefs"][0]["group"] == ""
    assert obj["spec"]["parentRefs"][0]["group"] == "gateway.networking.k8s.io"
    assert [f["type"] for f in rules[2]["filters"]] == ["RequestHeaderModifier", "RequestMirror"]
    assert rules[2]["filters"][1]["requestMirror"]["percent"] == 20
    assert router.observed_split(obj, target) == Split(95, 5, 20)


def test_kserve_keeps_warm_versions_deployed_after_release(dyn: dynamic.DynamicClient, namespace: str) -> None:
    spec, uid = create_rollout(dyn, namespace, ROUTINGS["kserve"])
    router = router_for(spec)
    target = route_target(namespace, uid, Split(75, 25), True, WARM)
    obj = server_side_apply(dyn, router, router.desired(target), namespace)
    assert obj["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert obj["spec"]["predictor"]["name"] == "fraud-detector-v3"
    assert [(c["predictor"]["name"], c["trafficPercent"]) for c in obj["spec"]["canary"]] == [
        ("fraud-detector-v4", 25), ("fraud-detector-v1", 0), ("fraud-detector-v2", 0)]
    assert all("maxReplicas" not in c["predictor"] for c in obj["spec"]["canary"])
    released = server_side_apply(dyn, router, router.released(target), namespace)
    assert [(c["predictor"]["name"], c["trafficPercent"]) for c in released["spec"]["canary"]] == [
        ("fraud-detector-v1", 0), ("fraud-detector-v2", 0)]
    assert "ownerReferences" not in released["metadata"]
