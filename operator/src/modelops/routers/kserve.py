"""The KServe router: one shared ``serving.kserve.io/v1beta1`` InferenceService per Rollout, whose
Standard-mode canary fields carry the split and which deploys the versions itself.

Owns the InferenceService named by ``spec.trafficRouting.kserve.inferenceService`` in the
Rollout's namespace, written against KServe v0.20.0, and ``predictor_readiness``, which reads a
version's readiness from it (the ModelVersions this router serves get no InferenceService of
their own). Fields, and why:

- annotation ``serving.kserve.io/deploymentMode: Standard``: ``spec.canary[]`` is a Standard-mode
  feature (KServe's webhook refuses canaries in any other mode); plus ``modelops.io/model``.
  Nothing else: one object serves several versions, so no annotation can name "the" version.
- ``spec.predictor``: the stable version's PredictorSpec with ``name`` = its predictor name.
  KServe names a predictor's Deployment and Service ``<isvc>-<name>-predictor``, and "to promote
  a canary without restart, set predictor.name to the canary name and remove the canary entry":
  that rename is how promotion and a rollback to a warm version happen, with no new Deployment.
- ``spec.canary``: ``[candidate (trafficPercent = split.candidate)]`` while a candidate is in
  flight, then every warm version at ``trafficPercent: 0`` (deployed, serving nothing, one rename
  away from serving everything); omitted when empty. Each canary predictor is the version's own
  PredictorSpec, with the fields KServe refuses on canaries removed (``maxReplicas``,
  ``scaleTarget``, ``scaleMetric``, ``autoScaling``: canaries run fixed replicas) and
  ``minReplicas`` set explicitly: without it KServe runs ``ceil(stable minReplicas x
  trafficPercent / 100)`` replicas, which is 0 for a candidate before its first weight (it could
  then never become Ready, and only Ready backends get weight) and 0 for every warm version. It is
  capped at the stable's ``minReplicas``, because KServe's webhook refuses a canary with more.
  ``model.name`` (the container name) is set to ``kserve-container``: KServe's v0.20.0 CRD
  requires it on canary predictors only (a schema-generation slip), and that is the name KServe
  gives the container anyway.
- no mirror: KServe cannot shadow traffic (kserve#2978); ``desired`` refuses a split with one, and
  ``core.rollout.capabilities`` keeps shadow steps away from this router.

What KServe does with these fields, read in its v0.20.0 controller (worth knowing when reading a
Rollout's traffic): a canary's Deployment is built from the *stable* PredictorSpec overlaid with
the canary's (``mergo.WithOverride``), so a field the stable sets and the candidate does not
(a GPU nodeSelector, a runtime) is inherited by the canary; the stable's Deployment gives up
``minReplicas`` to the canaries (``stable min - sum(canary replicas)``, at least 1); a canary is
Ready when its Deployment has an available replica (``status.canaryStatuses[].ready``); and none
of its ingress reconcilers (Ingress, HTTPRoute, Istio) reads ``spec.canary``: the
InferenceService's own URL reaches the main predictor's Service only, and ``trafficPercent``
reaches ``status.canaryStatuses`` and the replica arithmetic. Each canary has its own Service
(``<isvc>-<name>-predictor``) that a gateway or mesh can weight.

``observed_split``: the candidate's share is its canary ``trafficPercent`` (the entry of
``status.canaryStatuses`` for it when KServe reports one: that is what it applies; else the
spec's), the main predictor serves the rest; mirror 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from modelops.api.routing import KServeRouting
from modelops.core.rollout.capabilities import CAPABILITIES, Capabilities, Router
from modelops.core.rollout.traffic import ALL_STABLE, Split
from modelops.core.serving.inference import DEPLOYMENT_MODE_ANNOTATION
from modelops.core.serving.readiness import MAX_MESSAGE
from modelops.routers.interface import MODEL_LABEL, Backend, RouteTarget, labels, owner_reference
from modelops.routers.reading import as_list, as_mapping, positive_int, split_from_weights
from modelops.routers.rules import check_target

API_VERSION = "serving.kserve.io/v1beta1"
KIND = "InferenceService"
STANDARD = "Standard"
CANARY_FIELDS = "KServe's Standard-mode canary fields (spec.canary[])"
# Modes whose InferenceService has no spec.canary[]: Knative (formerly called Serverless) splits
# by revision with canaryTrafficPercent and cannot keep a named warm version; ModelMesh has neither.
REFUSED_MODES = {
    "Serverless": f"{CANARY_FIELDS}, whose named predictors allow an instant rollback to a warm version",
    "Knative": f"{CANARY_FIELDS}, whose named predictors allow an instant rollback to a warm version",
    "ModelMesh": f"{CANARY_FIELDS}, which ModelMesh does not have",
}
# Fields KServe's webhook refuses on a canary predictor ("canary uses fixed replicas").
CANARY_REFUSED_FIELDS = ("maxReplicas", "scaleTarget", "scaleMetric", "autoScaling")
# The container KServe runs a model in (constants.InferenceServiceContainerName).
MODEL_CONTAINER = "kserve-container"
# KServe's default minReplicas for a predictor that names none.
DEFAULT_MIN_REPLICAS = 1

READY = "Ready"
NOT_DEPLOYED = "NotDeployed"
PENDING = "Pending"
NOT_READY = "NotReady"
MODEL_NOT_LOADED = "ModelNotLoaded"


class KServeRouter:
    """Splits traffic with an InferenceService's canary fields (see the module docstring)."""

    # The Protocol's read-only properties, as plain attributes: they never change for a router.
    capabilities: Capabilities = CAPABILITIES[Router.KSERVE]
    api_version: str = API_VERSION
    kind: str = KIND
    deploys_backends: bool = True

    def __init__(self, routing: KServeRouting) -> None:
        self._routing = routing
        self.name: str = routing.inference_service

    def desired(self, target: RouteTarget) -> dict[str, Any]:
        check_target(target)
        if target.split.mirror:
            raise ValueError(
                "the kserve router cannot mirror traffic (KServe has no shadow, kserve#2978): "
                f"{target.split.describe()}"
            )
        return self._inference_service(target, owned=True)

    def released(self, target: RouteTarget) -> dict[str, Any]:
        return self._inference_service(dataclasses.replace(target, candidate=None, split=ALL_STABLE), owned=False)

    def problems(self, target: RouteTarget) -> list[str]:
        found: list[str] = []
        seen: set[str] = set()
        for backend in _backends(target):
            if backend.model_version in seen:
                continue
            seen.add(backend.model_version)
            mode = backend.deployment_mode
            if mode in REFUSED_MODES:
                found.append(
                    f"spec.trafficRouting.kserve: ModelVersion {backend.model_version} is {mode}; the kserve router "
                    f"drives {REFUSED_MODES[mode]}; set spec.serving.deploymentMode: {STANDARD} or use "
                    "gatewayAPI/istio"
                )
        needs_canaries = target.candidate is not None or bool(target.warm)
        if needs_canaries and _min_replicas(target.stable.predictor) < 1:
            found.append(
                f"spec.trafficRouting.kserve: ModelVersion {target.stable.model_version} has minReplicas 0; KServe "
                "refuses a canary with more minReplicas than the stable predictor, so no candidate or warm version "
                "could run a replica; set its spec.serving.minReplicas to 1 or more"
            )
        return found

    def observed_split(self, obj: Mapping[str, Any] | None, target: RouteTarget) -> Split | None:
        if not isinstance(obj, Mapping):
            return None
        spec = as_mapping(obj.get("spec"))
        canaries = {
            str(as_mapping(entry.get("predictor")).get("name")): positive_int(entry.get("trafficPercent"), at_most=100)
            for entry in as_list(spec.get("canary"))
        }
        reported = {
            str(entry.get("name")): positive_int(entry.get("trafficPercent"), at_most=100)
            for entry in as_list(as_mapping(obj.get("status")).get("canaryStatuses"))
        }
        shares = {name: reported.get(name, share) for name, share in canaries.items()}
        main_share = 100 - sum(shares.values())
        if main_share < 0:
            return None
        main_name = as_mapping(spec.get("predictor")).get("name")
        stable_weight = candidate_weight = other_weight = 0
        for name, share in [(main_name, main_share), *shares.items()]:
            if name == target.stable.predictor_name:
                stable_weight += share
            elif target.candidate is not None and name == target.candidate.predictor_name:
                candidate_weight += share
            else:
                other_weight += share
        return split_from_weights(stable_weight, candidate_weight, other_weight, 0)

    # ------------------------------------------------------------------------------ building

    def _inference_service(self, target: RouteTarget, *, owned: bool) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": self.name,
            "namespace": target.namespace,
            "labels": labels(target),
            "annotations": {DEPLOYMENT_MODE_ANNOTATION: STANDARD, MODEL_LABEL: target.model},
        }
        if owned:
            metadata["ownerReferences"] = [owner_reference(target)]
        stable_min = _min_replicas(target.stable.predictor)
        spec: dict[str, Any] = {"predictor": _predictor(target.stable)}
        canaries = []
        named = {target.stable.predictor_name}
        if target.candidate is not None:
            canaries.append(_canary(target.candidate, target.split.candidate, stable_min))
            named.add(target.candidate.predictor_name)
        for warm in target.warm:
            # KServe refuses two predictors of one name; a version that is stable or candidate
            # again is already deployed under its name.
            if warm.predictor_name not in named:
                canaries.append(_canary(warm, 0, stable_min))
                named.add(warm.predictor_name)
        if canaries:
            spec["canary"] = canaries
        return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def _backends(target: RouteTarget) -> list[Backend]:
    return [target.stable, *([target.candidate] if target.candidate is not None else []), *target.warm]


def _plain(value: Any) -> Any:
    """A deep copy as plain dicts and lists: the object is dumped to YAML and JSON, and must not
    share (or alias, as a YAML anchor) a sub-object with the Backend it came from."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _min_replicas(predictor: Mapping[str, Any]) -> int:
    value = predictor.get("minReplicas", DEFAULT_MIN_REPLICAS)
    return value if isinstance(value, int) and not isinstance(value, bool) else DEFAULT_MIN_REPLICAS


def _predictor(backend: Backend) -> dict[str, Any]:
    return {"name": backend.predictor_name, **{k: _plain(v) for k, v in backend.predictor.items() if k != "name"}}


def _canary(backend: Backend, traffic_percent: int, stable_min: int) -> dict[str, Any]:
    predictor = {k: v for k, v in _predictor(backend).items() if k not in CANARY_REFUSED_FIELDS}
    model = predictor.get("model")
    if isinstance(model, dict):
        # KServe's v0.20.0 CRD requires the container name under spec.canary[].predictor.model
        # (its Makefile strips that ``required`` from spec.predictor.model only). The one safe value
        # is the name KServe gives the model container anyway: its runtime container and its
        # storage-initializer and logger injectors all look for "kserve-container".
        model.setdefault("name", MODEL_CONTAINER)
    # At least one replica (else never Ready, never warm), at most the stable's (KServe's rule).
    predictor["minReplicas"] = min(max(_min_replicas(backend.predictor), 1), stable_min)
    return {"predictor": predictor, "trafficPercent": traffic_percent}


# ------------------------------------------------------------------------------------ reading





def _message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _model_state(model_status: Mapping[str, Any]) -> tuple[bool, str]:
    """(loaded, what to say) from a KServe ``modelStatus``: loaded unless KServe reports an active
    model state other than Loaded (absent states mean KServe does not track the model: the
    Deployment's readiness is all there is)."""
    active = as_mapping(model_status.get("states")).get("activeModelState")
    if active in (None, "", "Loaded"):
        return True, ""
    failure = as_mapping(model_status.get("lastFailureInfo"))
    detail = f": {failure.get('reason')}: {failure.get('message')}" if failure.get("message") else ""
    return False, f"the model is {active}, not Loaded{detail}"


def predictor_readiness(isvc: Mapping[str, Any] | None, predictor_name: str) -> tuple[bool, str, str]:
    """(ready, reason, message) of the variant ``predictor_name`` of a shared InferenceService.

    The main predictor is Ready when the ISVC's ``PredictorReady`` condition is True and its
    model, when KServe reports one, is Loaded; a canary when its ``status.canaryStatuses`` entry
    says ``ready: true`` (an available replica) and its model, when reported, is Loaded. Reasons:
    ``Ready``, ``NotDeployed`` (the ISVC does not name the variant, or does not exist),
    ``Pending`` (KServe has not reported on it yet), ``NotReady``, ``ModelNotLoaded``. Any shape
    is tolerated: a malformed status is "not ready", never an exception.
    """
    if not isinstance(isvc, Mapping):
        return False, NOT_DEPLOYED, "the InferenceService does not exist yet"
    metadata = as_mapping(isvc.get("metadata"))
    isvc_name = metadata.get("name", "")
    spec = as_mapping(isvc.get("spec"))
    status = as_mapping(isvc.get("status"))
    if as_mapping(spec.get("predictor")).get("name") == predictor_name:
        conditions = {str(c.get("type")): c for c in as_list(status.get("conditions"))}
        condition = conditions.get("PredictorReady")
        if condition is None:
            return False, PENDING, f"waiting for KServe to report predictor {predictor_name} of {isvc_name}"
        if condition.get("status") != "True":
            why = condition.get("message") or condition.get("reason") or "PredictorReady is not True"
            return False, NOT_READY, _message(f"predictor {predictor_name} of {isvc_name} is not ready: {why}")
        loaded, detail = _model_state(as_mapping(status.get("modelStatus")))
        if not loaded:
            return False, MODEL_NOT_LOADED, _message(f"predictor {predictor_name} of {isvc_name}: {detail}")
        return True, READY, f"predictor {predictor_name} of {isvc_name} is Ready"
    if not any(as_mapping(c.get("predictor")).get("name") == predictor_name for c in as_list(spec.get("canary"))):
        return False, NOT_DEPLOYED, f"InferenceService {isvc_name} does not deploy predictor {predictor_name}"
    reports = [entry for entry in as_list(status.get("canaryStatuses")) if entry.get("name") == predictor_name]
    if not reports:
        return False, PENDING, f"waiting for KServe to report canary {predictor_name} of {isvc_name}"
    report = reports[0]
    if report.get("ready") is not True:
        return False, NOT_READY, f"canary {predictor_name} of {isvc_name} has no available replica yet"
    loaded, detail = _model_state(as_mapping(report.get("modelStatus")))
    if not loaded:
        return False, MODEL_NOT_LOADED, _message(f"canary {predictor_name} of {isvc_name}: {detail}")
    return True, READY, f"canary {predictor_name} of {isvc_name} is Ready"
