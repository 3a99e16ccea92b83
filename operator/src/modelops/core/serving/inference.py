"""ModelVersion -> the KServe ``serving.kserve.io/v1beta1`` InferenceService that serves it.

One predictor, ``model.modelFormat``/``runtime``/``storageUri`` from the (resolved, immutable)
artifact, GPUs under the pool's resource name, the pool's nodeSelector and tolerations,
min/max replicas, the deployment-mode annotation, and KServe's request logger pointed at the
prediction-log sink. KServe's logger forwards the values of the ISVC annotations listed in
``metadataAnnotations`` with every logged record, so each record names the model, version and
ModelVersion that answered: a prediction can be traced back to its training data through the
ModelVersion's lineage.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from modelops.api.common import API_VERSION
from modelops.api.config import NodePool, ServingSettings
from modelops.api.modelversion import ModelVersionSpec
from modelops.core.naming import MAX_LABEL, dns_label
from modelops.core.resources import container_resources
from modelops.core.rollout.capabilities import STAGE_HEADER

MODELVERSION_LABEL = "modelops.io/modelversion"
MODEL_LABEL = "modelops.io/model"
VERSION_LABEL = "modelops.io/version"
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
# Only values fixed for the version's life: KServe copies ISVC annotations into the predictor's
# pod template, so a value that changed on promotion (the role) would restart serving Pods. The
# rollout stage reaches the log records through the router's request header instead
# (``metadataHeaders``: capabilities.STAGE_HEADER, set by the gatewayAPI and istio routers).
LOGGED_ANNOTATIONS = (MODEL_LABEL, VERSION_LABEL, MODELVERSION_LABEL)


def canonical_header(name: str) -> str:
    """Go's canonical form of a header name (``x-modelops-stage`` -> ``X-Modelops-Stage``). KServe's
    logger (v0.20.0 pkg/logger/handler.go:134-137) compares ``metadataHeaders`` with the request's
    header keys, which Go has already canonicalised: any other spelling never matches."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def inference_service_name(modelversion_name: str) -> str:
    """KServe names must be DNS-1035 labels (start with a letter). A ModelVersion name that
    starts with a digit gets a prefix and a hash of the original, so it cannot take the name of
    a ModelVersion that is literally called ``mv-<name>``."""
    name = dns_label(modelversion_name)
    if re.match(r"^[a-z]", name):
        return name
    digest = hashlib.sha256(modelversion_name.encode()).hexdigest()[:8]
    return dns_label("mv", modelversion_name, max_length=MAX_LABEL - 9) + f"-{digest}"


def predictor_service_name(modelversion_name: str) -> str:
    """The Service KServe puts in front of a ModelVersion's own predictor (``<isvc>-predictor``,
    KServe's ``constants.PredictorServiceName``): the backend the gatewayAPI and istio routers use."""
    return f"{inference_service_name(modelversion_name)}-predictor"


def deployment_mode(spec: ModelVersionSpec, settings: ServingSettings) -> str | None:
    serving = spec.serving
    return (serving.deployment_mode.value if serving and serving.deployment_mode else None) or settings.deployment_mode


def desired_predictor(
    *,
    spec: ModelVersionSpec,
    storage_uri: str,
    pool: NodePool | None,
    settings: ServingSettings,
    shared_by: str | None = None,
) -> dict[str, Any]:
    """The KServe ``PredictorSpec`` that serves this version: its own InferenceService's predictor,
    and what the kserve router puts in the shared InferenceService's predictor or canary entry.

    ``shared_by`` (the ModelVersion's name) marks the second use: several versions then share one
    InferenceService, whose annotations cannot say which version answered, so the predictor
    carries them itself — KServe copies a predictor's ``annotations`` onto its Pods, and the
    request logger reads ``metadataAnnotations`` from the Pod, so each variant logs its own version."""
    serving = spec.serving
    model: dict[str, Any] = {"modelFormat": {"name": spec.artifact.format}, "storageUri": storage_uri}
    if spec.artifact.runtime:
        model["runtime"] = spec.artifact.runtime
    resources = container_resources(serving.resources if serving else None, pool)
    if resources:
        model["resources"] = resources
    predictor: dict[str, Any] = {"model": model, "minReplicas": serving.min_replicas if serving else 1}
    if serving is not None and serving.max_replicas is not None:
        predictor["maxReplicas"] = serving.max_replicas
    if pool is not None and pool.node_selector:
        predictor["nodeSelector"] = dict(pool.node_selector)
    if pool is not None and pool.tolerations:
        predictor["tolerations"] = [dict(t) for t in pool.tolerations]
    if settings.service_account_name:
        predictor["serviceAccountName"] = settings.service_account_name
    logger = serving.logger if serving else None
    if settings.log_sink_url and (logger is None or logger.enabled):
        predictor["logger"] = {
            "mode": logger.mode.value if logger else "all",
            "url": settings.log_sink_url,
            "metadataHeaders": [canonical_header(STAGE_HEADER)],
            "metadataAnnotations": list(LOGGED_ANNOTATIONS),
        }
    if shared_by is not None:
        predictor["annotations"] = {MODEL_LABEL: spec.model, VERSION_LABEL: spec.version, MODELVERSION_LABEL: shared_by}
    return predictor


def desired_inference_service(
    *,
    name: str,
    namespace: str,
    uid: str,
    spec: ModelVersionSpec,
    storage_uri: str,
    pool: NodePool | None,
    settings: ServingSettings,
) -> dict[str, Any]:
    labels = {
        MODELVERSION_LABEL: dns_label(name),
        MODEL_LABEL: spec.model,
        VERSION_LABEL: spec.version,
        "app.kubernetes.io/managed-by": "modelops",
        "app.kubernetes.io/component": "serving",
    }
    annotations = {MODEL_LABEL: spec.model, VERSION_LABEL: spec.version, MODELVERSION_LABEL: name}
    mode = deployment_mode(spec, settings)
    if mode:
        annotations[DEPLOYMENT_MODE_ANNOTATION] = mode
    predictor = desired_predictor(spec=spec, storage_uri=storage_uri, pool=pool, settings=settings)
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": inference_service_name(name),
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": API_VERSION, "kind": "ModelVersion", "name": name, "uid": uid,
                "controller": True, "blockOwnerDeletion": True,
            }],
        },
        "spec": {"predictor": predictor},
    }
