"""Reconciles one Rollout: measure the running step when it is due -> observe (the ModelVersions
it names, the router's object) -> ``core.rollout.machine.plan`` -> execute (server-side apply the
route, bring the MLflow aliases to what status says, tag a failed candidate) -> Events -> one
status write.

Ordering, and why:

- **The route goes first.** It is the only write traffic depends on; the registry and the status
  follow. A rollback (``spec.target`` patched back, ``spec.abort``) is one GET of the Rollout, a
  GET per named ModelVersion and of the route, one apply: no analysis tick, no MLflow call and no
  Prometheus query stands in front of it.
- **Measuring never delays a spec change.** The step is measured only when the stored status
  already describes the current generation (nothing for the machine to react to first); queries
  run concurrently with a timeout, and if the spec changed while they ran, the Rollout is read
  again and the measurement is thrown away rather than applied to a spec it was not taken for.
- **MLflow never holds up traffic or status.** Aliases are level-based and tags are queued
  (``core.rollout.registry``): a write that fails leaves a difference that a later reconcile
  closes, reported by the ``RegistrySynced`` condition.
- **No write when nothing changed.** The route is applied only when the object differs from what
  this generation of the route would be (a hash annotation plus the split read back, so a hand
  edit of the weights is reverted), and the status only when it differs (``finishing``).

The routers are pure (``modelops.routers``): they describe objects; this module reads and applies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from modelops.api.config import OperatorConfig
from modelops.api.modelversion import ModelVersionSpec
from modelops.api.rollout import RolloutSpec
from modelops.core.conditions import get_condition, set_condition
from modelops.core.intents import Event
from modelops.core.ownership import RELEASED_ANNOTATION, Contender, Owner, claim
from modelops.core.rollout import measuring, registry
from modelops.core.rollout.history import spec_actor
from modelops.core.rollout.intents import Route, VersionTag
from modelops.core.rollout.machine import (
    ACCEPTED,
    RolloutDecision,
    RolloutObservation,
    StepAnalysis,
    VersionState,
    plan,
)
from modelops.core.rollout.traffic import ALL_STABLE, Split
from modelops.core.serving.inference import (
    deployment_mode,
    desired_predictor,
    inference_service_name,
    predictor_service_name,
)
from modelops.core.serving.progress import served_storage_uri
from modelops.k8s import objects
from modelops.k8s.errors import KubeError
from modelops.k8s.session import KubeSession
from modelops.reconcilers.cycle import ObjectLocks, as_rejection
from modelops.reconcilers.finishing import finish
from modelops.reconcilers.measuring import Measurer
from modelops.registry.mlflow import MLflowClient, MLflowError
from modelops.routers.choosing import router_for
from modelops.routers.interface import STABLE_STAGE, Backend, RouteTarget, TrafficRouter

API_VERSION = "modelops.io/v1alpha1"
KIND = "Rollout"
ROUTE_HASH_ANNOTATION = "modelops.io/route-hash"
REGISTRY_SYNCED = "RegistrySynced"
REGISTRY_RETRY_SECONDS = 30.0

logger = logging.getLogger(__name__)


def route_hash(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


class RolloutReconciler:
    """One per operator; ``reconcile`` is called by each Rollout's daemon (its single writer) and
    ``release`` by the delete handler. Holds the Prometheus clients (``Measurer``) across Rollouts."""

    def __init__(self, session: KubeSession, mlflow: MLflowClient | None, config: OperatorConfig) -> None:
        self.session = session
        self.mlflow = mlflow
        self.config = config
        self.measurer = Measurer(config.analysis)
        self._locks = ObjectLocks()

    def forget(self, namespace: str, name: str) -> None:
        self._locks.forget(namespace, name)

    async def close(self) -> None:
        await self.measurer.close()

    # -- the reconcile -------------------------------------------------------------------------

    async def reconcile(self, namespace: str, name: str, spec_changed: asyncio.Event | None = None,
                        contenders: Callable[[str], Iterable[Contender]] | None = None) -> float | None:
        """One reconcile; returns seconds until the next one is due. ``spec_changed`` is set by the
        handler layer when the Rollout's spec changes: a measurement under way is then abandoned,
        so a rollback never waits for a slow Prometheus. ``contenders(model)`` lists the Rollouts
        that drive a model (from the handler layer's index; only the oldest acts)."""
        async with self._locks[(namespace, name)]:
            if spec_changed is not None:
                spec_changed.clear()  # what this reconcile reads next includes every change so far
            body = await self._get(namespace, name)
            if body is None or body["metadata"].get("deletionTimestamp"):
                return None
            spec = _parse(body.get("spec"))
            router = router_for(spec) if spec is not None else None
            analysis: StepAnalysis | None = None
            if spec is not None and _settled(body):
                body, analysis = await self._measure(body, spec, namespace, name, spec_changed)
                if body is None:
                    return None
                spec = _parse(body.get("spec"))
                router = router_for(spec) if spec is not None else None
            status: dict[str, Any] = dict(body.get("status") or {})
            # The reads are independent: issued together, a rollback waits for one round trip, not five.
            versions, current = await asyncio.gather(self._versions(namespace, body, spec),
                                                     self._route_object(namespace, router))
            rivals = tuple(contenders(spec.model)) if contenders is not None and spec is not None else ()
            observation = self._observe(body, status, spec, router, current, versions, analysis, rivals)
            now = datetime.now(UTC)
            decision = plan(observation, now)
            if router is not None and spec is not None and not decision.refused:
                try:
                    await self._route(body, spec, router, current, decision, versions)
                except KubeError as error:
                    rejection = as_rejection(error)
                    if rejection is None:
                        raise
                    # Refused for good (a policy, a quota, a schema): plan again knowing it, from the
                    # stored status, so the refusal is one condition and one Event, not a retry loop.
                    decision = plan(replace(observation, rejection=rejection), now)
            new_status = dict(decision.status)
            if router is not None and spec is not None:
                new_status["route"] = f"{router.kind}/{router.name}"
            registry_retry = None
            if not decision.refused:
                registry_retry = await self._registry(body, spec, new_status, decision, versions, now)
            await finish(self.session, body, new_status, decision.events)
            waits = [w for w in (decision.requeue_after, registry_retry) if w is not None]
            if spec is not None:
                look = measuring.next_look(spec, new_status, datetime.now(UTC))
                if look is not None:
                    waits.append(max(look, 0.5))
            return min(waits) if waits else None

    async def _get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await objects.get(self.session, API_VERSION, KIND, namespace, name)

    async def _measure(
        self, body: dict[str, Any], spec: RolloutSpec, namespace: str, name: str,
        spec_changed: asyncio.Event | None,
    ) -> tuple[dict[str, Any] | None, StepAnalysis | None]:
        status = body.get("status") or {}
        due = measuring.due(spec, status, datetime.now(UTC))
        if due is None:
            return body, None
        reading = asyncio.ensure_future(self.measurer.read(spec, due, namespace))
        if spec_changed is not None:
            interrupted = asyncio.ensure_future(spec_changed.wait())
            await asyncio.wait({reading, interrupted}, return_when=asyncio.FIRST_COMPLETED)
            interrupted.cancel()
            if not reading.done():
                reading.cancel()  # the spec changed: react to it now, measure in a later reconcile
                return await self._get(namespace, name), None
        readings = await reading
        fresh = await self._get(namespace, name)
        if fresh is None or fresh["metadata"].get("generation") != body["metadata"].get("generation"):
            return fresh, None  # the spec changed while measuring: react to it first, measure later
        return fresh, measuring.conclude(spec, due, readings, fresh.get("status") or {}, datetime.now(UTC))

    # -- observe -------------------------------------------------------------------------------

    async def _versions(
        self, namespace: str, body: dict[str, Any], spec: RolloutSpec | None
    ) -> dict[str, dict[str, Any] | None]:
        """Every ModelVersion the Rollout names (target, stable, candidate, warm), by name."""
        status = body.get("status") or {}
        wanted = [spec.target if spec is not None else None, status.get("stable"), status.get("candidate"),
                  *(status.get("warm") or [])]
        names = list(dict.fromkeys(v for v in wanted if isinstance(v, str) and v))
        bodies = await asyncio.gather(
            *(objects.get(self.session, API_VERSION, "ModelVersion", namespace, version) for version in names)
        )
        return dict(zip(names, bodies, strict=True))

    async def _route_object(self, namespace: str, router: TrafficRouter | None) -> dict[str, Any] | None:
        if router is None:
            return None
        return await objects.get(self.session, router.api_version, router.kind, namespace, router.name)

    def _observe(
        self,
        body: dict[str, Any],
        status: dict[str, Any],
        spec: RolloutSpec | None,
        router: TrafficRouter | None,
        current: Mapping[str, Any] | None,
        versions: Mapping[str, dict[str, Any] | None],
        analysis: StepAnalysis | None,
        rivals: tuple[Contender, ...] = (),
    ) -> RolloutObservation:
        meta = body["metadata"]
        router_split: Split | None = None
        problems: tuple[str, ...] = ()
        if router is not None and spec is not None:
            stable = status.get("stable")
            if isinstance(stable, str) and stable:
                target = self._target(body, spec, Route(stable, status.get("candidate"), ALL_STABLE), versions)
                router_split = router.observed_split(current, target)
            names = [spec.target, status.get("stable"), status.get("candidate")]
            backends = [self._backend(n, versions.get(n)) for n in names if isinstance(n, str) and n]
            if backends:
                probe = RouteTarget(
                    namespace=meta["namespace"], rollout=meta["name"], rollout_uid=meta["uid"], model=spec.model,
                    stable=backends[0], candidate=None, split=ALL_STABLE, warm=tuple(backends[1:]),
                )
                problems = tuple(router.problems(probe))
        return RolloutObservation(
            name=meta["name"],
            namespace=meta["namespace"],
            generation=meta.get("generation"),
            spec=body.get("spec"),
            status=status,
            versions={name: VersionState.of(mv) for name, mv in versions.items()},
            analysis=analysis,
            router_split=router_split,
            spec_actor=spec_actor(meta.get("managedFields")),
            router_problems=problems,
            route_claim=claim(current, Owner(KIND, meta["name"], meta["uid"])) if router is not None else None,
            route_name=f"{router.kind}/{router.name}" if router is not None else "",
            contenders=rivals,
        )

    # -- routing -------------------------------------------------------------------------------

    def _backend(self, name: str, mv: Mapping[str, Any] | None) -> Backend:
        """A ModelVersion as a routing destination; its KServe predictor when its spec allows one."""
        predictor: dict[str, Any] = {}
        mode: str | None = None
        if mv is not None:
            try:
                mv_spec = ModelVersionSpec.model_validate(mv.get("spec") or {})
            except ValidationError:
                mv_spec = None
            if mv_spec is not None:
                mode = deployment_mode(mv_spec, self.config.serving)
                uri = served_storage_uri(mv_spec, mv.get("status") or {})
                pool_name = (mv_spec.serving.node_pool if mv_spec.serving else None) or self.config.default_node_pool
                pool = self.config.node_pools.get(pool_name) if pool_name else None
                if uri is not None:
                    predictor = desired_predictor(spec=mv_spec, storage_uri=uri, pool=pool,
                                                  settings=self.config.serving, shared_by=name)
        return Backend(
            model_version=name,
            service=predictor_service_name(name),
            predictor_name=inference_service_name(name),
            predictor=predictor,
            deployment_mode=mode,
        )

    def _target(
        self,
        body: Mapping[str, Any],
        spec: RolloutSpec,
        route: Route,
        versions: Mapping[str, dict[str, Any] | None],
        warm: tuple[str, ...] = (),
        stage: str = STABLE_STAGE,
    ) -> RouteTarget:
        meta = body["metadata"]
        return RouteTarget(
            namespace=meta["namespace"],
            rollout=meta["name"],
            rollout_uid=meta["uid"],
            model=spec.model,
            stable=self._backend(route.stable, versions.get(route.stable)),
            candidate=self._backend(route.candidate, versions.get(route.candidate))
            if route.candidate is not None else None,
            split=route.split,
            warm=tuple(self._backend(w, versions.get(w)) for w in warm if w in versions and versions[w] is not None),
            stage=stage,
        )

    async def _route(
        self,
        body: dict[str, Any],
        spec: RolloutSpec,
        router: TrafficRouter,
        current: Mapping[str, Any] | None,
        decision: RolloutDecision,
        versions: Mapping[str, dict[str, Any] | None],
    ) -> None:
        route = decision.route
        status = decision.status
        accepted = get_condition(status.get("conditions"), ACCEPTED)
        refused = accepted is None or accepted.get("status") != "True"
        if route is None and router.deploys_backends and not status.get("stable") and versions.get(spec.target) \
                and not refused:
            # The kserve router's InferenceService is also the deployment: the first version can
            # only become Ready once it is deployed there (KServe itself routes only to Ready
            # predictors, so no request reaches it before).
            route = Route(spec.target, None, ALL_STABLE)
        if route is None:
            return
        in_flight = route.candidate is not None and status.get("currentStepName")
        stage = str(status["currentStepName"]) if in_flight else STABLE_STAGE
        target = self._target(body, spec, route, versions, tuple(decision.warm), stage)
        desired = router.desired(target)
        digest = route_hash(desired)
        desired["metadata"].setdefault("annotations", {})[ROUTE_HASH_ANNOTATION] = digest
        if current is not None:
            applied = ((current.get("metadata") or {}).get("annotations") or {}).get(ROUTE_HASH_ANNOTATION)
            if applied == digest and router.observed_split(current, target) == route.split:
                return
        await objects.apply(self.session, desired)

    async def release(self, namespace: str, name: str) -> None:
        """The Rollout is being deleted: leave its route serving 100% stable, owned by nobody (so
        the garbage collector does not take the traffic with it)."""
        async with self._locks[(namespace, name)]:
            body = await self._get(namespace, name)
            if body is None:
                return
            spec = _parse(body.get("spec"))
            stable = (body.get("status") or {}).get("stable")
            if spec is None or not stable:
                return  # nothing ever served through it
            router = router_for(spec)
            current = await self._route_object(namespace, router)
            if current is None or not claim(current, Owner(KIND, name, body["metadata"]["uid"])).writable:
                return  # gone, or someone else's: never written
            versions = await self._versions(namespace, body, spec)
            warm = tuple((body.get("status") or {}).get("warm") or [])
            target = self._target(body, spec, Route(stable, None, ALL_STABLE), versions, warm)
            released = router.released(target)
            released["metadata"].setdefault("annotations", {})[RELEASED_ANNOTATION] = f"{KIND}/{name}"
            await objects.apply(self.session, released)

    # -- the registry --------------------------------------------------------------------------

    async def _registry(
        self,
        body: dict[str, Any],
        spec: RolloutSpec | None,
        status: dict[str, Any],
        decision: RolloutDecision,
        versions: Mapping[str, dict[str, Any] | None],
        now: datetime,
    ) -> float | None:
        """Bring MLflow to what the new status says; record what it now says. Returns a retry delay
        while something is left undone."""
        if spec is None:
            return None
        generation = body["metadata"].get("generation")
        if self.mlflow is None:
            status["conditions"] = set_condition(
                status.get("conditions"), type=REGISTRY_SYNCED, status="Unknown", reason="MLflowNotConfigured",
                message="the operator has no MLflow server configured; aliases and tags are not written",
                observed_generation=generation, now=now,
            )
            return None
        aliases = dict(registry.recorded_aliases(status))
        problems: list[str] = []
        for move in registry.alias_writes(spec.model, status):
            try:
                await self._move_alias(spec.model, move.alias, move.model_version, versions)
                aliases[move.alias] = move.model_version
            except (MLflowError, LookupError) as error:
                problems.append(f"alias {move.alias} -> {move.model_version or '(none)'}: {error}")
        pending: list[VersionTag] = []
        for tag in [*registry.pending_tags(spec.model, status), *decision.version_tags]:
            try:
                await self._tag(tag, versions)
            except (MLflowError, LookupError) as error:
                problems.append(f"tags on {tag.model_version}: {error}")
                pending.append(tag)
        recorded = registry.recorded_status(registry.RegistryOutcome(aliases=aliases, pending=pending))
        if recorded:
            status["registry"] = recorded
        else:
            status.pop("registry", None)
        if problems:
            message = "; ".join(problems)[:4096]
            old = [c for c in status.get("conditions") or [] if c.get("type") == REGISTRY_SYNCED]
            if not old or old[0].get("status") != "False":
                decision.events.append(Event("Warning", "RegistryNotSynced", message))
            status["conditions"] = set_condition(
                status.get("conditions"), type=REGISTRY_SYNCED, status="False", reason="RegistryWriteFailed",
                message=message, observed_generation=generation, now=now,
            )
            return REGISTRY_RETRY_SECONDS
        champion = aliases.get("champion")
        status["conditions"] = set_condition(
            status.get("conditions"), type=REGISTRY_SYNCED, status="True", reason="Synced",
            message=f"MLflow alias champion -> {champion}" if champion else "nothing to record yet",
            observed_generation=generation, now=now,
        )
        return None

    def _registry_version(self, name: str, versions: Mapping[str, dict[str, Any] | None]) -> tuple[str, str]:
        mv = versions.get(name)
        record = ((mv or {}).get("status") or {}).get("registry") or {}
        if not record.get("name") or not record.get("version"):
            raise LookupError(f"ModelVersion {name} has no MLflow registry version (status.registry) yet")
        return str(record["name"]), str(record["version"])

    async def _move_alias(
        self, model: str, alias: str, version_name: str | None, versions: Mapping[str, dict[str, Any] | None]
    ) -> None:
        assert self.mlflow is not None
        if version_name is None:
            await self.mlflow.delete_alias(model, alias)
            return
        registered, number = self._registry_version(version_name, versions)
        await self.mlflow.set_alias(registered, alias, number)

    async def _tag(self, tag: VersionTag, versions: Mapping[str, dict[str, Any] | None]) -> None:
        assert self.mlflow is not None
        registered, number = self._registry_version(tag.model_version, versions)
        for key, value in tag.tags.items():
            await self.mlflow.set_model_version_tag(registered, number, key, value)


def _parse(raw: Any) -> RolloutSpec | None:
    try:
        return RolloutSpec.model_validate(dict(raw or {}))
    except (ValidationError, TypeError, ValueError):
        return None


def _settled(body: Mapping[str, Any]) -> bool:
    """Has the stored status already been planned for this generation (no spec change pending)?"""
    generation = body["metadata"].get("generation")
    return generation is not None and (body.get("status") or {}).get("observedGeneration") == generation
