"""The ModelVersion state machine: registry record, artifact resolution, serving, readiness and
role -> actions and the whole status (one status write per reconcile).

- The artifact: a ``models:/name/N`` or ``models:/name@alias`` URI is resolved ONCE to the
  immutable storage URI and the resolution is kept in ``status.registry``; later reconciles use
  the recorded URI, so moving an alias never changes what is served behind anyone's back.
- The registry: the MLflow model version exists — adopted when found (by the TrainingRun's run id,
  or by this object's uid tag), created otherwise — and carries tags naming this object.
- Serving: the InferenceService is server-side applied while ``serving.enabled``; it is deleted
  (and the record kept) when serving is switched off.
- Readiness and role: from the InferenceService's status and from the Rollouts naming this version.

Pure: the reconciler observes (including the MLflow lookups) and executes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelops.api.config import OperatorConfig
from modelops.api.modelversion import ModelVersionSpec, Role
from modelops.core.acceptance import parse_spec
from modelops.core.artifacts import fetchable, not_fetchable_message
from modelops.core.conditions import get_condition
from modelops.core.drafting import StatusDraft
from modelops.core.intents import Event, RegisterRequest
from modelops.core.ownership import (
    REFUSED_RETRY_SECONDS,
    ClaimState,
    Owner,
    Rejection,
    already_applied,
    claim,
    conflict_message,
    refusal_message,
    rejection_reason,
)
from modelops.core.serving.inference import desired_inference_service, inference_service_name
from modelops.core.serving.readiness import Readiness, readiness
from modelops.core.serving.roles import role_of

UID_TAG = "modelops.io/uid"
MODELVERSION_TAG = "modelops.io/modelversion"
NAMESPACE_TAG = "modelops.io/namespace"
REGISTRY_SCHEME = "models:/"
RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class RegistryVersion:
    name: str
    version: str
    source: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersionObservation:
    name: str
    namespace: str
    uid: str
    generation: int | None
    spec: Mapping[str, Any] | None
    status: Mapping[str, Any]
    mlflow_configured: bool = True
    # models:/ URIs: what the registry answered this time (only looked up when not yet resolved).
    resolution: RegistryVersion | None = None
    resolution_error: str | None = None
    # The MLflow version this object is recorded as (adopted or created), if found.
    registered: RegistryVersion | None = None
    registry_error: str | None = None
    inference_service: Mapping[str, Any] | None = None
    rollouts: Sequence[Mapping[str, Any]] = ()
    # Served by a Rollout's kserve router: (InferenceService name, the variant's readiness there).
    routed: tuple[str, Readiness] | None = None
    # Does the TrainingRun named by spec.lineage.trainingRun exist (None: none named, or not looked)?
    training_run_exists: bool | None = None
    # A write refused for good in this reconcile (the plan runs again with it).
    rejection: Rejection | None = None


@dataclass
class ModelVersionDecision:
    status: dict[str, Any]
    register: RegisterRequest | None = None
    apply_inference_service: dict[str, Any] | None = None
    delete_inference_service: str | None = None
    version_tags: dict[str, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None

    @property
    def needs_another_pass(self) -> bool:
        return self.register is not None


def is_registry_uri(uri: str) -> bool:
    return uri.startswith(REGISTRY_SCHEME)


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/fraud/3`` -> (fraud, "3", None); ``models:/fraud@champion`` -> (fraud, None, champion)."""
    rest = uri[len(REGISTRY_SCHEME):].strip("/")
    # MLflow model names cannot contain "/": models:/team/fraud/3 is not a registry URI.
    if "@" in rest:
        name, alias = rest.split("@", 1)
        if name and alias and "/" not in alias and "/" not in name:
            return name, None, alias
    elif "/" in rest:
        name, version = rest.rsplit("/", 1)
        if name and "/" not in name and version.isdigit():
            return name, version, None
    raise ValueError(f"{uri!r} is not models:/<name>/<version> or models:/<name>@<alias>")


def served_storage_uri(spec: ModelVersionSpec, status: Mapping[str, Any]) -> str | None:
    """The storage URI a version is served from: the artifact's own, or for a ``models:/`` URI the
    immutable one it was resolved to once (None until then)."""
    if not is_registry_uri(spec.artifact.storage_uri):
        return spec.artifact.storage_uri
    registry = status.get("registry") or {}
    if registry.get("resolvedFrom") == spec.artifact.storage_uri and registry.get("resolvedUri"):
        return str(registry["resolvedUri"])
    return None


@dataclass(frozen=True)
class Identity:
    """Which ModelVersion asks (a registry version's tags name the record that claims it)."""

    uid: str
    name: str
    namespace: str


def claimant(version: RegistryVersion, me: Identity) -> str | None:
    """The other ModelVersion that already records this MLflow version, if any: one registry version,
    one record. Its uid tag, or (a record a TrainingRun made, not yet adopted) its name tag."""
    tags = version.tags
    namespace = tags.get(NAMESPACE_TAG, me.namespace)
    other = tags.get(MODELVERSION_TAG)
    uid = tags.get(UID_TAG)
    if uid:
        return None if uid == me.uid else f"{namespace}/{other or '(uid ' + uid + ')'}"
    if other and (other, namespace) != (me.name, me.namespace):
        return f"{namespace}/{other}"
    return None


def adoptable(versions: Sequence[RegistryVersion], me: Identity) -> RegistryVersion | None:
    """Of the registry versions a run produced, the one this record may adopt: the newest no other
    record claims; else the newest (so the plan can say who claims it)."""
    free = [version for version in versions if claimant(version, me) is None]
    pool = free or list(versions)
    return max(pool, key=lambda version: int(version.version) if version.version.isdigit() else 0, default=None)


def _identity(obs: ModelVersionObservation) -> Identity:
    return Identity(uid=obs.uid, name=obs.name, namespace=obs.namespace)


def _claimed_message(version: RegistryVersion, other: str) -> str:
    return (f"MLflow {version.name} version {version.version} is already recorded by ModelVersion {other}: one "
            "registry version has one record, so this one does not claim it (its tags are left as they are). "
            "Point spec.artifact.storageUri at another version, or delete this record")


def _registry_tags(obs: ModelVersionObservation, spec: ModelVersionSpec) -> dict[str, str]:
    tags = {UID_TAG: obs.uid, MODELVERSION_TAG: obs.name, NAMESPACE_TAG: obs.namespace}
    lineage = spec.lineage
    if lineage is not None:
        if lineage.training_run:
            tags["modelops.io/trainingrun"] = lineage.training_run
        if lineage.image:
            tags["modelops.image"] = lineage.image
        if lineage.data is not None:
            tags["modelops.data.uri"] = lineage.data.uri
            if lineage.data.version:
                tags["modelops.data.version"] = lineage.data.version
        if lineage.code is not None:
            tags["modelops.code.repo"] = lineage.code.repo
            tags["modelops.code.commit"] = lineage.code.commit
    return tags


def plan(obs: ModelVersionObservation, config: OperatorConfig, now: datetime) -> ModelVersionDecision:
    st = StatusDraft(obs.status, obs.generation, now)
    spec, verdict = parse_spec(ModelVersionSpec, obs.spec or {})
    if spec is None:
        st.condition("Accepted", False, verdict.reason, verdict.message, event="Warning")
        return ModelVersionDecision(status=st.data, events=st.events)

    serving = spec.serving
    serving_enabled = serving is None or serving.enabled
    pool_name, pool = config.pool_for(serving.node_pool if serving else None)
    if serving_enabled and pool_name and pool_name not in config.node_pools:
        known = ", ".join(sorted(config.node_pools)) or "none"
        where = "spec.serving.nodePool" if serving and serving.node_pool else "the operator's defaultNodePool"
        st.condition("Accepted", "False", "UnknownNodePool",
                     f"{where}: node pool {pool_name!r} is not configured (known pools: {known})", event="Warning")
    else:
        st.condition("Accepted", "True", "Valid", "spec accepted")

    if obs.rejection is not None:
        rejected = obs.rejection
        what = "this ModelVersion's spec (artifact, model, version, lineage, serving)"
        if rejection_reason(rejected) == "RegistryRejected":
            st.condition("Registered", False, "RegistryRejected", refusal_message(rejected, what), event="Warning")
        else:
            st.condition("Accepted", False, rejection_reason(rejected), refusal_message(rejected, what),
                         event="Warning")
        return ModelVersionDecision(status=st.data, events=st.events, requeue_after=REFUSED_RETRY_SECONDS)
    isvc_claim = claim(obs.inference_service, Owner("ModelVersion", obs.name, obs.uid))
    if not isvc_claim.writable:
        st.condition("Accepted", False, "InferenceServiceConflict",
                     conflict_message("InferenceService", inference_service_name(obs.name), isvc_claim,
                                      Owner("ModelVersion", obs.name, obs.uid)), event="Warning")

    _lineage_condition(st, spec, obs)
    role, holders = role_of(obs.name, obs.rollouts, previous=(obs.status or {}).get("role"))
    st.data["role"] = role.value
    decision = ModelVersionDecision(status=st.data)

    # -- The artifact: resolved once, then the record is the truth --------------------------------
    destination = config.mlflow.artifacts_destination if config.mlflow is not None else None
    registry = dict(st.data.get("registry") or {})
    storage_uri: str | None = spec.artifact.storage_uri
    if is_registry_uri(spec.artifact.storage_uri):
        if registry.get("resolvedFrom") == spec.artifact.storage_uri and registry.get("resolvedUri"):
            storage_uri = registry["resolvedUri"]
        elif obs.resolution is not None and (other := claimant(obs.resolution, _identity(obs))) is not None:
            storage_uri = None
            st.condition("Registered", False, "VersionClaimed", _claimed_message(obs.resolution, other),
                         event="Warning")
            decision.requeue_after = REFUSED_RETRY_SECONDS
        elif obs.resolution is not None and fetchable(obs.resolution.source, destination) is None:
            storage_uri = None
            st.condition("Registered", False, "ArtifactNotFetchable", not_fetchable_message(obs.resolution.source),
                         event="Warning")
            decision.requeue_after = REFUSED_RETRY_SECONDS
        elif obs.resolution is not None:
            storage_uri = fetchable(obs.resolution.source, destination)
            registry.update(name=obs.resolution.name, version=obs.resolution.version,
                            resolvedFrom=spec.artifact.storage_uri, resolvedUri=storage_uri)
            st.condition("Registered", "True", "Resolved",
                         f"{spec.artifact.storage_uri} resolved to {storage_uri} "
                         f"({obs.resolution.name} version {obs.resolution.version})", event="Normal")
        else:
            storage_uri = None
            why = obs.resolution_error or ("no MLflow server is configured" if not obs.mlflow_configured
                                           else "not resolved yet")
            st.condition("Registered", "False", "ResolutionFailed",
                         f"spec.artifact.storageUri {spec.artifact.storage_uri}: {why}", event="Warning")
            decision.requeue_after = RETRY_SECONDS
    # -- The registry record ----------------------------------------------------------------------
    elif not obs.mlflow_configured:
        st.condition("Registered", "Unknown", "MLflowNotConfigured",
                     "the operator has no MLflow server configured; the version is not recorded in a registry")
    elif obs.registered is not None and (other := claimant(obs.registered, _identity(obs))) is not None:
        st.condition("Registered", False, "VersionClaimed", _claimed_message(obs.registered, other), event="Warning")
        decision.requeue_after = REFUSED_RETRY_SECONDS
    elif obs.registered is not None:
        registry.update(name=obs.registered.name, version=obs.registered.version)
        st.condition("Registered", "True", "Registered",
                     f"recorded as {obs.registered.name} version {obs.registered.version} in MLflow")
    elif obs.registry_error is not None:
        st.condition("Registered", "False", "RegistryUnavailable", obs.registry_error, event="Warning")
        decision.requeue_after = RETRY_SECONDS
    else:
        run_id = spec.lineage.mlflow_run_id if spec.lineage else None
        decision.register = RegisterRequest(
            model=spec.model, source=spec.artifact.storage_uri, run_id=run_id,
            tags=_registry_tags(obs, spec), description=f"ModelVersion {obs.namespace}/{obs.name}",
        )
    if registry:
        st.data["registry"] = registry
    if registry.get("version"):
        decision.version_tags = _registry_tags(obs, spec)

    # -- Serving ----------------------------------------------------------------------------------
    isvc_name = inference_service_name(obs.name)
    accepted = get_condition(st.data.get("conditions"), "Accepted")
    if not serving_enabled:
        if obs.inference_service is not None and isvc_claim.state is ClaimState.OURS:
            decision.delete_inference_service = isvc_name
        st.data.pop("inferenceService", None)
        st.data.pop("url", None)
        st.data.update(ready=False, reason="ServingDisabled", message="spec.serving.enabled is false")
        st.condition("Ready", "False", "ServingDisabled", "serving is switched off; the record is kept")
    elif role is Role.ARCHIVED:
        if obs.inference_service is not None and isvc_claim.state is ClaimState.OURS:
            decision.delete_inference_service = isvc_name
        st.data.pop("inferenceService", None)
        st.data.pop("url", None)
        message = ("retired: no longer kept warm by its Rollout (keepWarm); the record is kept, and naming it in a "
                   "Rollout's spec.target serves it again")
        st.data.update(ready=False, reason="Retired", message=message)
        st.condition("Ready", "False", "Retired", message)
    elif storage_uri is None or (accepted is not None and accepted.get("status") != "True"):
        reason = "ArtifactUnresolved" if storage_uri is None else str(accepted.get("reason") if accepted else "")
        st.data.update(ready=False, reason=reason, message="not served until the problem above is fixed")
        st.condition("Ready", "False", reason, "not served until the Accepted/Registered problem is fixed")
    elif obs.routed is not None:
        # A Rollout's kserve router deploys this version inside its own InferenceService.
        routed_isvc, state = obs.routed
        if obs.inference_service is not None and isvc_claim.state is ClaimState.OURS:
            decision.delete_inference_service = isvc_name
        st.data["inferenceService"] = routed_isvc
        st.data.pop("url", None)
        st.data.update(ready=state.ready, reason=state.reason, message=state.message)
        st.condition("Ready", "True" if state.ready else "False", state.reason, state.message,
                     event="Normal" if state.ready else None)
    else:
        desired = desired_inference_service(
            name=obs.name, namespace=obs.namespace, uid=obs.uid, spec=spec, storage_uri=storage_uri,
            pool=pool, settings=config.serving,
        )
        if not already_applied(obs.inference_service, desired):
            decision.apply_inference_service = desired
        state = readiness(obs.inference_service)
        st.data["inferenceService"] = isvc_name
        if state.url:
            st.data["url"] = state.url
        else:
            st.data.pop("url", None)
        st.data.update(ready=state.ready, reason=state.reason, message=state.message)
        failed = state.reason == "ModelLoadFailed"
        st.condition("Ready", "True" if state.ready else "False", state.reason, state.message,
                     event="Warning" if failed else ("Normal" if state.ready else None))
        logging_on = serving is None or serving.logger is None or serving.logger.enabled
        if logging_on and not config.serving.log_sink_url:
            st.condition("Logging", "False", "NoLogSink",
                         "prediction logging is requested but the operator has no serving.logSinkUrl")
        elif logging_on:
            st.condition("Logging", "True", "Logging", f"predictions are logged to {config.serving.log_sink_url}")
        else:
            st.condition("Logging", "False", "LoggingDisabled", "spec.serving.logger.enabled is false")
    if holders:
        st.data["servedBy"] = holders
    else:
        st.data.pop("servedBy", None)
    decision.events = st.events
    return decision


def _lineage_condition(st: StatusDraft, spec: ModelVersionSpec, obs: ModelVersionObservation) -> None:
    """LineageComplete: the TrainingRun the lineage names exists. A gap is what an auditor must see,
    so it is said (the record is kept and still serves)."""
    run = spec.lineage.training_run if spec.lineage else None
    if run is None or obs.training_run_exists is None:
        conditions = st.data.get("conditions") or []
        st.data["conditions"] = [c for c in conditions if c.get("type") != "LineageComplete"]
        return
    if obs.training_run_exists:
        st.condition("LineageComplete", True, "TrainingRunFound", f"spec.lineage.trainingRun {run} exists")
        return
    kept = (f"; MLflow run {spec.lineage.mlflow_run_id} still holds the training record"
            if spec.lineage and spec.lineage.mlflow_run_id else "")
    st.condition("LineageComplete", False, "TrainingRunNotFound",
                 f"spec.lineage.trainingRun names TrainingRun {run}, which does not exist in namespace "
                 f"{obs.namespace}: the record is kept, with a gap in its lineage{kept}", event="Warning")
