"""Reconciles one ModelVersion: observe (MLflow registry record or the models:/ resolution, the
InferenceService, the Rollouts in its namespace) -> ``core.serving.progress.plan`` -> execute
(register in MLflow, server-side apply or delete the InferenceService, tag the registry version)
-> Events -> one status write.

Idempotent across restarts: the registry version is found (by the TrainingRun's run id, else by
this object's uid tag) before one is created; the InferenceService has a deterministic name and
is server-side applied; a models:/ URI is resolved only while status has no resolution.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from modelops.api import API_VERSION
from modelops.core.intents import Event
from modelops.core.serving.inference import inference_service_name
from modelops.core.serving.progress import (
    UID_TAG,
    Identity,
    ModelVersionDecision,
    ModelVersionObservation,
    RegistryVersion,
    adoptable,
    is_registry_uri,
    parse_registry_uri,
    plan,
)
from modelops.core.serving.readiness import Readiness
from modelops.core.serving.roles import kserve_router_of, role_of
from modelops.core.sharding import inherit
from modelops.k8s import objects
from modelops.reconcilers.cycle import Reconciler
from modelops.reconcilers.finishing import announce
from modelops.registry.records import MLflowError, MLflowUnavailable, ModelVersionInfo
from modelops.routers.kserve import predictor_readiness

KIND = "ModelVersion"
ISVC_API = "serving.kserve.io/v1beta1"
ARCHIVED_TAG = "modelops.archived"

logger = logging.getLogger(__name__)


def _version(info: ModelVersionInfo) -> RegistryVersion:
    return RegistryVersion(name=info.name, version=info.version, source=info.source, tags=dict(info.tags))


class ServingReconciler(Reconciler[ModelVersionObservation, ModelVersionDecision]):
    KIND = "ModelVersion"
    MAX_PASSES = 3

    def _plan(self, observation: ModelVersionObservation, now: datetime) -> ModelVersionDecision:
        return plan(observation, self.config, now)

    async def servers_of(self, namespace: str, name: str) -> list[str]:
        """The Rollouts that name this ModelVersion (it must not go while any does)."""
        body = await self.view.get(API_VERSION, KIND, namespace, name)
        model = ((body or {}).get("spec") or {}).get("model") or ""
        return role_of(name, self.view.rollouts_of(namespace, model))[1]

    async def announce(self, namespace: str, name: str, type: str, reason: str, message: str) -> None:
        """Post an Event on the ModelVersion (best effort)."""
        body = await self.view.get(API_VERSION, KIND, namespace, name)
        if body is not None:
            await announce(self.session, body, [Event(type, reason, message)])

    async def archive(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Mark the registry version archived; MLflow versions are never deleted by the operator."""
        registry = status.get("registry") or {}
        if self.mlflow is not None and registry.get("name") and registry.get("version"):
            await self.mlflow.set_model_version_tag(registry["name"], str(registry["version"]), ARCHIVED_TAG, "true")

    # -- observe ---------------------------------------------------------------------------------

    async def _observe(self, body: dict[str, Any], status: dict[str, Any]) -> ModelVersionObservation:
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        spec = body.get("spec") or {}
        model = spec.get("model") or ""
        storage_uri = str((spec.get("artifact") or {}).get("storageUri") or "")
        registry = status.get("registry") or {}
        resolution = resolution_error = registered = registry_error = None
        if self.mlflow is not None and model:
            try:
                if is_registry_uri(storage_uri):
                    if registry.get("resolvedFrom") != storage_uri or not registry.get("resolvedUri"):
                        resolution, resolution_error = await self._resolve(storage_uri)
                elif _recorded(body, status):
                    # Recorded for this generation already: the record is the truth at rest (a
                    # thousand versions re-reconciled after a restart ask MLflow nothing).
                    registered = RegistryVersion(name=str(registry["name"]), version=str(registry["version"]),
                                                 source=storage_uri, tags={UID_TAG: meta["uid"]})
                else:
                    registered = await self._find_registered(model, spec, registry,
                                                             Identity(meta["uid"], name, namespace))
            except MLflowUnavailable as error:
                registry_error = resolution_error = f"MLflow is unavailable: {error}"
        isvc = await self.view.get(ISVC_API, "InferenceService", namespace, inference_service_name(name))
        rollouts = self.view.rollouts_of(namespace, model)
        routed: tuple[str, Readiness] | None = None
        router = kserve_router_of(name, rollouts)
        if router is not None:
            shared = await self.view.get(ISVC_API, "InferenceService", namespace, router[1])
            ready, reason, message = predictor_readiness(shared, inference_service_name(name))
            routed = (router[1], Readiness(ready, reason, f"{message} (InferenceService {router[1]} of Rollout "
                                                          f"{router[0]}, kserve router)"))
        training_run = (spec.get("lineage") or {}).get("trainingRun")
        training_run_exists = None
        if training_run:
            found = await self.view.get(API_VERSION, "TrainingRun", namespace, str(training_run))
            training_run_exists = found is not None
        return ModelVersionObservation(
            name=name, namespace=namespace, uid=meta["uid"], generation=meta.get("generation"), spec=spec,
            status=status, mlflow_configured=self.mlflow is not None, resolution=resolution,
            resolution_error=resolution_error, registered=registered, registry_error=registry_error,
            inference_service=isvc, rollouts=rollouts, routed=routed, training_run_exists=training_run_exists,
        )

    async def _resolve(self, uri: str) -> tuple[RegistryVersion | None, str | None]:
        assert self.mlflow is not None
        try:
            model, version, alias = parse_registry_uri(uri)
        except ValueError as error:
            return None, str(error)
        try:
            if alias is not None:
                info = await self.mlflow.get_model_version_by_alias(model, alias)
                missing = f"the registered model {model!r} has no alias {alias!r}"
            else:
                assert version is not None
                info = await self.mlflow.get_model_version(model, version)
                missing = f"the registered model {model!r} has no version {version}"
        except MLflowUnavailable:
            raise
        except MLflowError as error:
            return None, str(error)
        return (_version(info), None) if info is not None else (None, missing)

    async def _find_registered(self, model: str, spec: dict[str, Any], registry: dict[str, Any],
                               me: Identity) -> RegistryVersion | None:
        assert self.mlflow is not None
        if registry.get("version"):
            info = await self.mlflow.get_model_version(model, str(registry["version"]))
            if info is not None:
                return _version(info)
        # This record's own claim first (its uid tag), then what its training run registered.
        try:
            info = await self.mlflow.find_model_version_by_tag(model, UID_TAG, me.uid)
        except MLflowError as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            info = None
        if info is not None:
            return _version(info)
        run_id = (spec.get("lineage") or {}).get("mlflowRunId")
        if not run_id:
            return None
        found = await self.mlflow.model_versions_by_run(model, run_id)
        return adoptable([_version(v) for v in found], me)

    # -- execute ---------------------------------------------------------------------------------

    async def _execute(self, body: dict[str, Any], decision: ModelVersionDecision) -> dict[str, Any]:
        status = dict(decision.status)
        mlflow = self.mlflow
        if decision.register is not None and mlflow is not None:
            request = decision.register
            await mlflow.ensure_registered_model(request.model)
            try:
                await mlflow.create_model_version(request.model, request.source, request.run_id, request.tags,
                                                  request.description)
            except MLflowUnavailable:
                raise
            except MLflowError as error:
                if request.run_id is None:
                    raise
                # MLflow links a run only if it knows it and (for its own artifact stores) the run's
                # artifacts hold the source; otherwise register unlinked, the run id kept as a tag.
                logger.info("registering %s without linking run %s: %s", request.model, request.run_id, error)
                await mlflow.create_model_version(request.model, request.source, None,
                                                  {**request.tags, "modelops.mlflow_run_id": request.run_id},
                                                  request.description)
        if decision.apply_inference_service is not None:
            self.view.remember(await objects.apply(self.session, inherit(body, decision.apply_inference_service)))
        if decision.delete_inference_service is not None:
            meta = body["metadata"]
            await objects.delete(self.session, ISVC_API, "InferenceService", meta["namespace"],
                                 decision.delete_inference_service)
        registry = status.get("registry") or {}
        recorded = ((body.get("status") or {}).get("registry") or {}).get("version")
        if mlflow is not None and decision.version_tags and registry.get("version") \
                and recorded != registry.get("version"):
            for key, value in decision.version_tags.items():
                await mlflow.set_model_version_tag(registry["name"], str(registry["version"]), key, value)
        return status


def _recorded(body: dict[str, Any], status: dict[str, Any]) -> bool:
    """Is the registry version recorded, with Registered=True, for the object's current generation?"""
    registry = status.get("registry") or {}
    if not registry.get("name") or not registry.get("version"):
        return False
    if status.get("observedGeneration") != body["metadata"].get("generation"):
        return False
    registered = next((c for c in status.get("conditions") or [] if c.get("type") == "Registered"), None)
    return registered is not None and registered.get("status") == "True"
