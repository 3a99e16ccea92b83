"""Reconciles one Rollout (on ``cycle.Cycle``: lock, read, one status write): measure the running
step when it is due -> observe (the ModelVersions it names, the router's object, the Rollouts of
its model) -> ``core.rollout.machine.plan`` -> execute (the route through ``routing``, then the
MLflow aliases and tags through ``aliasing``) -> ``core.rollout.aliases.registry_status``.

Ordering, and why:

- **The route goes first.** It is the only write traffic depends on; the registry and the status
  follow. A rollback (``spec.target`` patched back, ``spec.abort``) is reads from the watch
  stores and one apply: no analysis tick, no MLflow call and no Prometheus query stands in front.
- **Measuring never delays a spec change.** The step is measured only when the stored status
  already describes the current generation (nothing for the machine to react to first); queries
  run concurrently with a timeout, and if the spec changes meanwhile (``interrupt``) the
  measurement is abandoned and the new spec is planned at once.
- **MLflow never holds up traffic or status.** Aliases are level-based and tags are queued
  (``core.rollout.aliases``): a write that fails leaves a difference that a later reconcile
  closes, reported by the ``RegistrySynced`` condition.
- **A write refused for good** (an admission policy on the route) is planned again with the
  refusal (``cycle.as_rejection``): one condition, one Event, no retry loop.
- **No write when nothing changed**: ``routing.apply_route`` compares a hash and the split read
  back, and the status is written only when it differs (``finishing``).

Every decision is in ``plan`` and ``registry_status``; this module reads and writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from modelops.api.config import OperatorConfig
from modelops.api.rollout import RolloutSpec
from modelops.core.acceptance import parse_spec
from modelops.core.ownership import Contender, Owner, claim
from modelops.core.rollout import aliases, measuring
from modelops.core.rollout.actions import Route
from modelops.core.rollout.following import AliasReading, effective_target
from modelops.core.rollout.history import spec_actor
from modelops.core.rollout.machine import RolloutObservation, StepAnalysis, VersionState, plan
from modelops.core.rollout.traffic import ALL_STABLE, Split
from modelops.core.serving.inference import inference_service_name
from modelops.k8s.errors import KubeError
from modelops.k8s.session import KubeSession
from modelops.metrics import rollouts as rollout_metrics
from modelops.reconcilers import aliasing, routing
from modelops.reconcilers.cycle import Cycle, Outcome, as_rejection
from modelops.reconcilers.following import AliasFollower
from modelops.reconcilers.querying import Measurer
from modelops.reconcilers.view import ClusterView
from modelops.registry.mlflow import MLflowClient
from modelops.routers.choosing import router_for
from modelops.routers.interface import RouteTarget, TrafficRouter
from modelops.routers.kserve import predictor_readiness

KIND = "Rollout"
MODEL_VERSION = "ModelVersion"
MIN_LOOK_SECONDS = 0.5


class RolloutReconciler(Cycle):
    """One per operator; holds the Prometheus clients (``Measurer``) across Rollouts."""

    KIND = KIND

    def __init__(self, session: KubeSession, mlflow: MLflowClient | None, config: OperatorConfig,
                 view: ClusterView | None = None,
                 contenders: Callable[[str], Iterable[Contender]] | None = None) -> None:
        super().__init__(session, mlflow, config, view)
        self.measurer = Measurer(config.analysis)
        self.follower = AliasFollower(mlflow, config, self.view)
        self._contenders = contenders or (lambda model: ())

    async def close(self) -> None:
        await self.measurer.close()

    def forget(self, namespace: str, name: str) -> None:
        super().forget(namespace, name)
        self.follower.forget(namespace, name)

    async def _reconcile(self, body: dict[str, Any], interrupt: asyncio.Event | None) -> Outcome | None:
        spec = _parse(body)
        analysis: StepAnalysis | None = None
        if spec is not None and _settled(body):
            read_again, analysis = await self._measure(body, spec, interrupt)
            if read_again is None or read_again["metadata"].get("deletionTimestamp"):
                return None
            body, spec = read_again, _parse(read_again)
        meta = body["metadata"]
        namespace = meta["namespace"]
        router = router_for(spec) if spec is not None else None
        now = datetime.now(UTC)
        # spec.targetFrom: the alias as MLflow names it (read only when following, and not often).
        reading = await self.follower.read(namespace, meta["name"], spec)
        target_name = self._target(body, spec, reading, now)
        # The reads are independent (and served from the stores): issued together.
        versions, current = await asyncio.gather(self._versions(namespace, body, target_name),
                                                 self._route_object(namespace, router))
        observation = self._observe(body, spec, router, current, versions, analysis, target_name, reading)
        decision = plan(observation, now)
        if router is not None and spec is not None and not decision.refused and decision.route is not None:
            target = routing.route_target(body, spec.model, decision.route, versions, self.config,
                                          tuple(decision.warm), decision.stage)
            try:
                await routing.apply_route(self.session, self.view, router, target, current)
            except KubeError as error:
                rejection = as_rejection(error)
                if rejection is None:
                    raise
                decision = plan(replace(observation, rejection=rejection), now)
        status = dict(decision.status)
        events = list(decision.events)
        if router is not None:
            status["route"] = f"{router.kind}/{router.name}"
        registry_retry = None
        if spec is not None and not decision.refused:
            outcome = None
            if self.mlflow is not None:
                outcome = await aliasing.sync(self.mlflow, spec.model, status, decision.version_tags, versions)
                if reading is not None and reading.error is not None:
                    problem = f"reading alias {reading.alias} of {spec.model}: {reading.error}"
                    outcome = replace(outcome, problems=[*outcome.problems, problem])
            status, said, registry_retry = aliases.registry_status(status, outcome, generation=meta.get("generation"),
                                                                   now=now)
            events += said
        rollout_metrics.count_verdicts(namespace, meta["name"], body.get("status"), status)
        waits = [w for w in (decision.requeue_after, registry_retry) if w is not None]
        if reading is not None:
            waits.append(self.follower.poll_seconds)
        if spec is not None:
            look = measuring.next_look(spec, status, now)
            if look is not None:
                waits.append(max(look, MIN_LOOK_SECONDS))
        return Outcome(body, status, events, min(waits) if waits else None)

    async def _measure(self, body: dict[str, Any], spec: RolloutSpec,
                       interrupt: asyncio.Event | None) -> tuple[dict[str, Any] | None, StepAnalysis | None]:
        """Measure the running step if a look is due; (the Rollout as it is now, the analysis).
        A spec change meanwhile abandons the measurement: it was not taken for the new spec."""
        meta = body["metadata"]
        due = measuring.due(spec, body.get("status") or {}, datetime.now(UTC))
        if due is None:
            return body, None
        reading = asyncio.ensure_future(self.measurer.read(spec, due, meta["namespace"]))
        if interrupt is not None:
            interrupted = asyncio.ensure_future(interrupt.wait())
            await asyncio.wait({reading, interrupted}, return_when=asyncio.FIRST_COMPLETED)
            interrupted.cancel()
            if not reading.done():
                reading.cancel()  # react to the new spec now, measure in a later reconcile
                return await self._get(meta["namespace"], meta["name"]), None
        readings = await reading
        fresh = await self._get(meta["namespace"], meta["name"])
        if fresh is None or fresh["metadata"].get("generation") != meta.get("generation"):
            return fresh, None  # the spec changed while measuring: react to it first, measure later
        return fresh, measuring.conclude(spec, due, readings, fresh.get("status") or {}, datetime.now(UTC))

    # -- observe -------------------------------------------------------------------------------

    async def _get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.view.get(self.API_VERSION, KIND, namespace, name)

    @staticmethod
    def _target(body: Mapping[str, Any], spec: RolloutSpec | None, reading: AliasReading | None,
                now: datetime) -> str | None:
        """The version the plan will target: spec.target, or the one spec.targetFrom follows."""
        if spec is None:
            return None
        followed = (body.get("status") or {}).get("followed")
        return effective_target(spec, followed if isinstance(followed, Mapping) else None, reading, now).name

    async def _versions(self, namespace: str, body: Mapping[str, Any],
                        target: str | None) -> dict[str, dict[str, Any] | None]:
        """Every ModelVersion the Rollout names (target, stable, candidate, warm), by name."""
        status = body.get("status") or {}
        wanted = [target, status.get("stable"), status.get("candidate"), *(status.get("warm") or [])]
        names = list(dict.fromkeys(v for v in wanted if isinstance(v, str) and v))
        bodies = await asyncio.gather(*(self.view.get(self.API_VERSION, MODEL_VERSION, namespace, v) for v in names))
        return dict(zip(names, bodies, strict=True))

    async def _route_object(self, namespace: str, router: TrafficRouter | None) -> dict[str, Any] | None:
        if router is None:
            return None
        return await self.view.get(router.api_version, router.kind, namespace, router.name)

    def _observe(self, body: dict[str, Any], spec: RolloutSpec | None, router: TrafficRouter | None,
                 current: Mapping[str, Any] | None, versions: Mapping[str, dict[str, Any] | None],
                 analysis: StepAnalysis | None, target: str | None = None,
                 reading: AliasReading | None = None) -> RolloutObservation:
        meta = body["metadata"]
        status: dict[str, Any] = dict(body.get("status") or {})
        router_split: Split | None = None
        problems: tuple[str, ...] = ()
        if router is not None and spec is not None:
            stable = status.get("stable")
            if isinstance(stable, str) and stable:
                now_routed = Route(stable, status.get("candidate"), ALL_STABLE)
                router_split = router.observed_split(
                    current, routing.route_target(body, spec.model, now_routed, versions, self.config))
            names = [target, status.get("stable"), status.get("candidate")]
            backends = [routing.backend(n, versions.get(n), self.config) for n in names if isinstance(n, str) and n]
            if backends:
                probe = RouteTarget(namespace=meta["namespace"], rollout=meta["name"], rollout_uid=meta["uid"],
                                    model=spec.model, stable=backends[0], candidate=None, split=ALL_STABLE,
                                    warm=tuple(backends[1:]))
                problems = tuple(router.problems(probe))
        return RolloutObservation(
            name=meta["name"],
            namespace=meta["namespace"],
            generation=meta.get("generation"),
            spec=body.get("spec"),
            status=status,
            versions=_states(versions, router, current),
            analysis=analysis,
            router_split=router_split,
            spec_actor=spec_actor(meta.get("managedFields")),
            router_problems=problems,
            route_claim=claim(current, Owner(KIND, meta["name"], meta["uid"])) if router is not None else None,
            route_name=f"{router.kind}/{router.name}" if router is not None else "",
            contenders=tuple(self._contenders(spec.model)) if spec is not None else (),
            deploys_backends=router is not None and router.deploys_backends,
            alias=reading,
        )

    # -- deletion ------------------------------------------------------------------------------

    async def release(self, namespace: str, name: str) -> None:
        """The Rollout is being deleted: leave its route serving 100% stable, owned by nobody (so
        the garbage collector does not take the traffic with it) — if the route is its own."""
        async with self._locks[(namespace, name)]:
            body = await self._get(namespace, name)
            if body is None:
                return
            spec = _parse(body)
            stable = (body.get("status") or {}).get("stable")
            if spec is None or not stable:
                return  # nothing ever served through it
            router = router_for(spec)
            current = await self._route_object(namespace, router)
            if current is None or not claim(current, Owner(KIND, name, body["metadata"]["uid"])).writable:
                return  # gone, or someone else's: never written
            versions = await self._versions(namespace, body, None)
            warm = tuple((body.get("status") or {}).get("warm") or [])
            target = routing.route_target(body, spec.model, Route(stable, None, ALL_STABLE), versions, self.config,
                                          warm)
            await routing.release(self.session, self.view, router, target)


def _states(versions: Mapping[str, dict[str, Any] | None], router: TrafficRouter | None,
            current: Mapping[str, Any] | None) -> dict[str, VersionState]:
    """What the plan knows of each version. Under a router that deploys the versions itself (kserve),
    a version is Ready only once that object reports its predictor Ready: the ModelVersion's own
    status may still say Ready from its own InferenceService, which it is about to give up (the
    ModelVersion reconciler follows a reconcile later), and a canary weighted before its predictor
    answers would get traffic nobody serves."""
    states = {name: VersionState.of(mv) for name, mv in versions.items()}
    if router is None or not router.deploys_backends:
        return states
    return {name: replace(state, ready=state.ready and predictor_readiness(current, inference_service_name(name))[0])
            for name, state in states.items()}


def _parse(body: Mapping[str, Any]) -> RolloutSpec | None:
    return parse_spec(RolloutSpec, dict(body.get("spec") or {}))[0]


def _settled(body: Mapping[str, Any]) -> bool:
    """Has the stored status already been planned for this generation (no spec change pending)?"""
    generation = body["metadata"].get("generation")
    return generation is not None and (body.get("status") or {}).get("observedGeneration") == generation
