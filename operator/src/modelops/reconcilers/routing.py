"""Carrying out a Rollout's route: its ModelVersions as routing destinations (``backend``), the
router's object built for a decided route (``route_target``), server-side applied only when it
differs from what is there (``apply_route``: a hash annotation plus the split read back, so a hand
edit of the weights is reverted and an unchanged route costs no write), and the route a deleted
Rollout leaves behind (``release``: 100% on the stable, no owner, marked released).

The routers are pure (``modelops.routers``): they describe objects; this module builds their
input from what the reconciler read and writes what they describe. Nothing here decides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from modelops.api.config import OperatorConfig
from modelops.api.modelversion import ModelVersionSpec
from modelops.core.acceptance import parse_spec
from modelops.core.ownership import RELEASED_ANNOTATION
from modelops.core.rollout.actions import Route
from modelops.core.serving.inference import (
    deployment_mode,
    desired_predictor,
    inference_service_name,
    predictor_service_name,
)
from modelops.core.serving.progress import served_storage_uri
from modelops.k8s import objects
from modelops.k8s.session import KubeSession
from modelops.reconcilers.view import ClusterView
from modelops.routers.interface import STABLE_STAGE, Backend, RouteTarget, TrafficRouter

ROUTE_HASH_ANNOTATION = "modelops.io/route-hash"

Versions = Mapping[str, Mapping[str, Any] | None]


def route_hash(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def backend(name: str, mv: Mapping[str, Any] | None, config: OperatorConfig) -> Backend:
    """A ModelVersion as a routing destination; its KServe predictor when its spec allows one."""
    predictor: dict[str, Any] = {}
    mode: str | None = None
    mv_spec = parse_spec(ModelVersionSpec, mv.get("spec") or {})[0] if mv is not None else None
    if mv is not None and mv_spec is not None:
        mode = deployment_mode(mv_spec, config.serving)
        uri = served_storage_uri(mv_spec, mv.get("status") or {})
        if uri is not None:
            _, pool = config.pool_for(mv_spec.serving.node_pool if mv_spec.serving else None)
            predictor = desired_predictor(spec=mv_spec, storage_uri=uri, pool=pool, settings=config.serving,
                                          shared_by=name)
    return Backend(model_version=name, service=predictor_service_name(name),
                   predictor_name=inference_service_name(name), predictor=predictor, deployment_mode=mode)


def route_target(body: Mapping[str, Any], model: str, route: Route, versions: Versions, config: OperatorConfig,
                 warm: tuple[str, ...] = (), stage: str | None = None) -> RouteTarget:
    meta = body["metadata"]
    return RouteTarget(
        namespace=meta["namespace"],
        rollout=meta["name"],
        rollout_uid=meta["uid"],
        model=model,
        stable=backend(route.stable, versions.get(route.stable), config),
        candidate=backend(route.candidate, versions.get(route.candidate), config)
        if route.candidate is not None else None,
        split=route.split,
        warm=tuple(backend(w, versions.get(w), config) for w in warm if versions.get(w) is not None),
        stage=stage or STABLE_STAGE,
    )


async def apply_route(session: KubeSession, view: ClusterView, router: TrafficRouter, target: RouteTarget,
                      current: Mapping[str, Any] | None) -> None:
    """Server-side apply the router's object for ``target`` unless it already is exactly that."""
    desired = router.desired(target)
    digest = route_hash(desired)
    desired["metadata"].setdefault("annotations", {})[ROUTE_HASH_ANNOTATION] = digest
    if current is not None:
        applied = ((current.get("metadata") or {}).get("annotations") or {}).get(ROUTE_HASH_ANNOTATION)
        if applied == digest and router.observed_split(current, target) == target.split:
            return
    view.remember(await objects.apply(session, desired))


async def release(session: KubeSession, view: ClusterView, router: TrafficRouter, target: RouteTarget) -> None:
    """The route of a deleted Rollout: 100% on its stable, owned by nobody (the garbage collector
    must not take the traffic with it), marked so a new Rollout of the same name may take it back."""
    released = router.released(target)
    released["metadata"].setdefault("annotations", {})[RELEASED_ANNOTATION] = f"Rollout/{target.rollout}"
    view.remember(await objects.apply(session, released))
