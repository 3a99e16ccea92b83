"""Reconciles one DriftMonitor (``cycle.Reconciler``): observe (the ModelVersion or Rollout its
``modelRef`` names, its children by their deterministic names, the TrainingRuns it created) ->
``core.monitoring.progress.plan`` -> execute (server-side apply of the CronJob, the job's
ServiceAccount/Role/RoleBinding and the PrometheusRule with field manager ``modelops``; delete a
PrometheusRule once alerts are disabled; create a retraining TrainingRun) -> Events and one status
write.

The drift job (``modelops.drift_job``) writes its results into the same status with its own field
manager; the plan carries its keys untouched, so this status write never drops or rewrites them.
A write of the job wakes this reconciler through the DriftMonitor watch: that is when gauges,
``Evaluated`` and retraining move.

Idempotent across restarts: children are applied under fixed names (and not at all when the stored
object already holds every desired field); the retraining TrainingRun's name is derived from the
evaluation it answers, and a 409 on its create means an earlier reconcile made it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from modelops.api import API_VERSION
from modelops.api.driftmonitor import ModelRefKind
from modelops.core.alerts.drift import API_VERSION as RULE_API
from modelops.core.alerts.drift import rule_name
from modelops.core.monitoring.children import RBAC_API, cron_job_name, job_account_name
from modelops.core.monitoring.progress import ChildKey, DriftDecision, DriftObservation, ModelRefState, plan
from modelops.core.ownership import Claim, Owner, claim
from modelops.core.sharding import inherit
from modelops.k8s import objects
from modelops.k8s.errors import Conflict, NotFound
from modelops.reconcilers.cycle import Reconciler


def child_keys(monitor: str) -> list[ChildKey]:
    """Every object a monitor may own, by its deterministic name."""
    account = job_account_name(monitor)
    return [("v1", "ServiceAccount", account), (RBAC_API, "Role", account), (RBAC_API, "RoleBinding", account),
            ("batch/v1", "CronJob", cron_job_name(monitor)), (RULE_API, "PrometheusRule", rule_name(monitor))]


class DriftReconciler(Reconciler[DriftObservation, DriftDecision]):
    KIND = "DriftMonitor"
    MAX_PASSES = 2

    def _plan(self, observation: DriftObservation, now: datetime) -> DriftDecision:
        return plan(observation, self.config, now)

    async def _observe(self, body: dict[str, Any], status: dict[str, Any]) -> DriftObservation:
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        spec = body.get("spec") or {}
        owner = Owner(self.KIND, name, meta["uid"])
        children: dict[ChildKey, dict[str, Any] | None] = {}
        claims: dict[ChildKey, Claim] = {}
        rules_served = True
        keys = []
        for key in child_keys(name):
            if key[1] == "PrometheusRule":
                try:
                    await self.session.resource(key[0], key[1])
                except NotFound:
                    rules_served = False  # no Prometheus Operator CRDs: no alerts, said in Ready
                    continue
            keys.append(key)
        # The children's GETs are independent: issued together (a restart reads every monitor's).
        found = await asyncio.gather(*(objects.get(self.session, k[0], k[1], namespace, k[2]) for k in keys))
        for key, child in zip(keys, found, strict=True):
            children[key], claims[key] = child, claim(child, owner)
        return DriftObservation(
            name=name, namespace=namespace, uid=meta["uid"], generation=meta.get("generation"), spec=spec,
            status=status, model_ref=await self.model_ref(namespace, spec.get("modelRef")), children=children,
            claims=claims, retrain_runs=self.view.retrain_runs_of(namespace, name), rules_served=rules_served,
        )

    async def model_ref(self, namespace: str, ref: Any) -> ModelRefState:
        """What ``spec.modelRef`` names: found or not, its model, the version it serves."""
        if not isinstance(ref, dict) or ref.get("kind") not in {k.value for k in ModelRefKind} or not ref.get("name"):
            return ModelRefState(found=False)
        target = await self.view.get(API_VERSION, str(ref["kind"]), namespace, str(ref["name"]))
        if target is None:
            return ModelRefState(found=False)
        model = (target.get("spec") or {}).get("model")
        if ref["kind"] == ModelRefKind.MODEL_VERSION.value:
            return ModelRefState(True, model, str(ref["name"]))
        return ModelRefState(True, model, (target.get("status") or {}).get("stable"))

    async def _execute(self, body: dict[str, Any], decision: DriftDecision) -> dict[str, Any]:
        for child in decision.apply:
            await objects.apply(self.session, inherit(body, child))
        namespace = body["metadata"]["namespace"]
        for api_version, kind, name in decision.delete:
            await objects.delete(self.session, api_version, kind, namespace, name)
        if decision.create_training_run is not None:
            try:
                self.view.remember(await objects.create(self.session, inherit(body, decision.create_training_run)))
            except Conflict:
                pass  # made by an earlier reconcile that died before its status write
        return dict(decision.status)

