"""kopf wiring of Rollouts: one daemon per Rollout is its single writer. It is woken at once by
a spec change (an SRE's rollback must not wait for a timer), by events of the ModelVersions of
its model (a candidate turning Ready, a stable failing), and by events of the route it owns (a
hand edit of the weights is reverted). Deleting a Rollout leaves its route serving 100% stable.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelops.api import GROUP, VERSION
from modelops.core.conditions import parse_time
from modelops.core.ownership import Contender
from modelops.handlers import driving
from modelops.k8s.errors import Unavailable

PLURAL = "rollouts"
ROLLOUT_LABEL = "modelops.io/rollout"
# The objects routers own (routers/interface.py labels them with the Rollout's name).
ROUTES = (
    ("gateway.networking.k8s.io", "v1", "httproutes"),
    ("networking.istio.io", "v1", "virtualservices"),
    ("serving.kserve.io", "v1beta1", "inferenceservices"),
)


@kopf.index(GROUP, VERSION, PLURAL)
def rollouts_by_model(namespace: str, name: str, spec: kopf.Spec, **_: Any) -> dict[tuple[str, Any], str]:
    """(namespace, model) -> Rollout names: which Rollouts a ModelVersion event concerns."""
    return {(namespace, spec.get("model")): name}


@kopf.index(GROUP, VERSION, PLURAL)
def rollouts_of_model(namespace: str, name: str, spec: kopf.Spec, meta: kopf.Meta,
                      **_: Any) -> dict[Any, tuple[str, str, str, str]]:
    """model -> (namespace, name, creationTimestamp, uid) of every Rollout that drives it, in every
    watched namespace: only the oldest acts (they share the MLflow registered model's aliases)."""
    return {spec.get("model"): (namespace, name, str(meta.get("creationTimestamp") or ""), str(meta.get("uid") or ""))}


def _contenders(index: kopf.Index[Any, tuple[str, str, str, str]]) -> Any:
    def lookup(model: str) -> list[Contender]:
        return [Contender(ns, n, parse_time(created), uid) for ns, n, created, uid in index.get(model, [])]

    return lookup


@kopf.daemon(GROUP, VERSION, PLURAL, id="drive", cancellation_backoff=10, cancellation_timeout=30)
async def drive(namespace: str, name: str, memo: kopf.Memo, stopped: kopf.DaemonStopped,
                logger: logging.Logger, rollouts_of_model: kopf.Index[Any, tuple[str, str, str, str]],
                **_: Any) -> None:
    event = driving.waker(memo.rollout_wakers, namespace, name)
    changed = driving.waker(memo.rollout_spec_changes, namespace, name)
    contenders = _contenders(rollouts_of_model)
    await driving.drive(lambda: memo.rollouts.reconcile(namespace, name, changed, contenders), event, stopped,
                        logger)


# Handlers that only wake a daemon are async: kopf runs sync handlers in a thread pool, a hop a
# rollback does not need.
@kopf.on.update(GROUP, VERSION, PLURAL, id="spec-changed", field="spec")
async def spec_changed(namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    driving.wake(memo.rollout_spec_changes, namespace, name)  # abandons a measurement under way
    driving.wake(memo.rollout_wakers, namespace, name)


@kopf.on.event(GROUP, VERSION, "modelversions")
async def model_version_changed(namespace: str, spec: kopf.Spec, memo: kopf.Memo,
                          rollouts_by_model: kopf.Index[tuple[str, Any], str], **_: Any) -> None:
    for rollout in rollouts_by_model.get((namespace, spec.get("model")), []):
        driving.wake(memo.rollout_wakers, namespace, rollout)


def _register_route_watch(group: str, version: str, plural: str) -> None:
    @kopf.on.event(group, version, plural, id=f"route-{plural}", labels={ROLLOUT_LABEL: kopf.PRESENT})
    async def route_changed(body: kopf.Body, namespace: str, memo: kopf.Memo, **_: Any) -> None:
        driving.wake_owner(memo.rollout_wakers, body, namespace, "Rollout")


for _group, _version, _plural in ROUTES:
    _register_route_watch(_group, _version, _plural)


@kopf.on.delete(GROUP, VERSION, PLURAL, id="release")
async def release(namespace: str, name: str, spec: kopf.Spec, memo: kopf.Memo,
                  rollouts_of_model: kopf.Index[Any, tuple[str, str, str, str]], **_: Any) -> None:
    memo.rollout_wakers.pop((namespace, name), None)
    memo.rollout_spec_changes.pop((namespace, name), None)
    try:
        await memo.rollouts.release(namespace, name)
    except Unavailable as error:
        raise kopf.TemporaryError(f"cannot release the route of {name} yet: {error}", delay=5) from error
    memo.rollouts.forget(namespace, name)
    # A Rollout refused because this one drove the model may take over now.
    for other_namespace, other, _created, _uid in rollouts_of_model.get(spec.get("model"), []):
        if (other_namespace, other) != (namespace, name):
            driving.wake(memo.rollout_wakers, other_namespace, other)
