"""Our CRDs and the upstream ones (read from Go modules) are installed and Established."""

from __future__ import annotations

from kubernetes import client

OURS = {
    "trainingruns.modelops.io": ("TrainingRun", "tr"),
    "modelversions.modelops.io": ("ModelVersion", "mv"),
    "rollouts.modelops.io": ("Rollout", "mro"),
    "driftmonitors.modelops.io": ("DriftMonitor", "dm"),
}
UPSTREAM = [
    "inferenceservices.serving.kserve.io",
    "servingruntimes.serving.kserve.io",
    "httproutes.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
    "virtualservices.networking.istio.io",
    "prometheusrules.monitoring.coreos.com",
    "servicemonitors.monitoring.coreos.com",
]


def test_our_crds_are_established_with_names_and_category(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    for name, (kind, short) in OURS.items():
        crd = ext.read_custom_resource_definition(name)
        assert crd.spec.names.kind == kind
        assert short in crd.spec.names.short_names
        assert crd.spec.names.categories == ["modelops"]
        assert crd.spec.versions[0].subresources.status is not None
        assert crd.spec.versions[0].additional_printer_columns
        established = {c.type: c.status for c in crd.status.conditions}
        assert established.get("Established") == "True"


def test_category_lists_all_four_kinds(api: client.ApiClient) -> None:
    """`kubectl get modelops` lists whatever discovery puts in the category."""
    resources = client.CustomObjectsApi(api).get_api_resources("modelops.io", "v1alpha1").resources
    in_category = {r.name for r in resources if "modelops" in (r.categories or [])}
    assert in_category == {"trainingruns", "modelversions", "rollouts", "driftmonitors"}


def test_upstream_crds_are_established(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    for name in UPSTREAM:
        crd = ext.read_custom_resource_definition(name)
        established = {c.type: c.status for c in crd.status.conditions}
        assert established.get("Established") == "True", name
