"""The pure parts of the local stack's serving path: the load driver reads every route object the
routers write (HTTPRoute, VirtualService, the kserve InferenceService) as the split the router meant,
with the mirror and the stage header; the KServe player finds every predictor of an InferenceService
with the Service KServe puts in front of it, reads local, ``file://`` and ``mlflow-artifacts:`` URIs
where they lie and leaves the rest alone, and writes a load failure in the format the operator's
readiness reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcluster.kserve_player import failure_status, last_error, local_model_dir, variants
from localcluster.route_reading import read_split
from modelops.api.config import NodePool, ServingSettings
from modelops.api.modelversion import ModelVersionSpec
from modelops.api.routing import GatewayAPIRouting, IstioRouting, KServeRouting
from modelops.core.rollout.traffic import Split
from modelops.core.serving.inference import desired_predictor, predictor_service_name
from modelops.core.serving.readiness import readiness
from modelops.routers.gateway_api import GatewayAPIRouter
from modelops.routers.interface import Backend, RouteTarget, TrafficRouter
from modelops.routers.istio import IstioRouter
from modelops.routers.kserve import KServeRouter

SETTINGS = ServingSettings.model_validate({"logSinkUrl": "http://127.0.0.1:9"})
CPU = NodePool.model_validate({"nodeSelector": {"modelops.io/pool": "cpu"}})


def backend(name: str, version: str) -> Backend:
    spec = ModelVersionSpec.model_validate({
        "model": "cancer", "version": version, "serving": {"minReplicas": 1, "deploymentMode": "Standard"},
        "artifact": {"storageUri": f"file:///models/cancer/{version}/", "format": "sklearn"}})
    predictor = desired_predictor(spec=spec, storage_uri=spec.artifact.storage_uri, pool=CPU, settings=SETTINGS)
    return Backend(model_version=name, service=predictor_service_name(name), predictor_name=name,
                   predictor=predictor, deployment_mode="Standard")


V1, V2 = backend("cancer-v1", "1"), backend("cancer-v2", "2")
ROUTERS: dict[str, TrafficRouter] = {
    "gateway": GatewayAPIRouter(GatewayAPIRouting.model_validate(
        {"httpRoute": "cancer", "parentRefs": [{"name": "gw"}], "port": 80})),
    "istio": IstioRouter(IstioRouting.model_validate({"virtualService": "cancer", "host": "cancer.example.com"})),
    "kserve": KServeRouter(KServeRouting.model_validate({"inferenceService": "cancer"})),
}


def target(split: Split, stage: str = "stable") -> RouteTarget:
    return RouteTarget(namespace="ml", rollout="cancer", rollout_uid="uid", model="cancer", stable=V1,
                       candidate=V2 if split != Split(100, 0) else None, split=split, stage=stage)


@pytest.mark.parametrize("router", ["gateway", "istio"])
@pytest.mark.parametrize(("split", "stage"), [(Split(100, 0, 100), "shadow"), (Split(75, 25), "canary-25"),
                                              (Split(50, 50), "ab-test"), (Split(100, 0), "stable")])
def test_a_mesh_route_reads_back_as_the_split_it_was_written_for(router: str, split: Split, stage: str) -> None:
    read = read_split(ROUTERS[router].kind, ROUTERS[router].desired(target(split, stage)))
    assert read is not None
    expected = {"cancer-v1-predictor": float(split.stable), "cancer-v2-predictor": float(split.candidate)}
    assert read.percents() == {service: share for service, share in expected.items() if share}
    assert read.mirror == (("cancer-v2-predictor", split.mirror) if split.mirror else None)
    assert {name.lower(): value for name, value in read.headers.items()} == {"x-modelops-stage": f"cancer/{stage}"}


def test_the_kserve_router_reads_back_as_its_predictors_services() -> None:
    router = ROUTERS["kserve"]
    isvc = router.desired(target(Split(75, 25), "canary-25"))
    read = read_split(router.kind, isvc)
    assert read is not None and read.mirror is None
    assert read.percents() == {"cancer-cancer-v1-predictor": 75.0, "cancer-cancer-v2-predictor": 25.0}
    # The player runs one server per predictor, behind the Service the reader routes to.
    assert [(v.service, v.canary) for v, _ in variants(isvc)] == [("cancer-cancer-v1-predictor", False),
                                                                 ("cancer-cancer-v2-predictor", True)]
    manifest = variants(isvc)[1][1]
    assert manifest["metadata"]["name"] == "cancer"
    assert manifest["spec"]["predictor"]["model"]["storageUri"] == "file:///models/cancer/2/"


def test_local_model_dirs(tmp_path: Path) -> None:
    model = tmp_path / "1" / "run" / "artifacts" / "model"
    model.mkdir(parents=True)
    assert local_model_dir(str(model), artifact_root=None, mlflow_url=None) == str(model)
    assert local_model_dir(model.as_uri(), artifact_root=None, mlflow_url=None) == str(model)
    assert local_model_dir("mlflow-artifacts:/1/run/artifacts/model", artifact_root=tmp_path,
                           mlflow_url=None) == str(model)
    assert local_model_dir("mlflow-artifacts://mlflow:5000/1/run/artifacts/model", artifact_root=tmp_path,
                           mlflow_url=None) == str(model)
    assert local_model_dir("s3://bucket/model", artifact_root=tmp_path, mlflow_url=None) is None
    assert local_model_dir((tmp_path / "missing").as_uri(), artifact_root=None, mlflow_url=None) is None


def test_a_load_failure_reads_as_kserve_reports_it() -> None:
    error = "the model server of cancer-v1 exited:\n...\nValueError: invalid load key, 'x'.\n"
    status = failure_status("http://cancer-v1.ml.example.com", last_error(RuntimeError(error)), "2026-12-01T00:00:00Z")
    seen = readiness({"status": status})
    assert (seen.ready, seen.reason) == (False, "ModelLoadFailed")
    assert "invalid load key" in seen.message
