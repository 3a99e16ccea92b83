"""One DriftMonitor reconcile, decided (pure): observation in, the children to apply, the
retraining run to create, the conditions and the status out.

Conditions (one status write per reconcile, transition times move only on a flip, Events only
when a condition's status or reason changes):

- ``Accepted``: the spec is valid (``monitoring.acceptance``); refused, nothing is applied and
  the children already made are left as they are;
- ``Ready``: the CronJob, the job's ServiceAccount/Role/RoleBinding and the PrometheusRule are
  applied (``ChildrenApplied``); ``NotAccepted``; ``<Kind>Conflict`` when an object of a child's
  name is someone else's (left untouched); ``<Kind>Rejected`` when the API server refused a write;
- ``Evaluated``: from the drift job's ``status.verdict`` — ``DriftDetected``/``NoDrift`` (True),
  ``InsufficientData`` (False: Inconclusive, never a pass), ``AwaitingFirstRun`` (Unknown);
- ``RetrainingThrottled`` (only with ``spec.retrain.enabled``): ``Cooldown`` or ``MaxConcurrent``
  when a due retraining is held back, else ``NotThrottled``.

The status is the stored one with the operator's keys set: the drift job's keys (``lastRun``,
``window``, ``rowsSeen``, ``referenceRows``, ``results``, ``drifted``, ``verdict``,
``consecutiveDrifted``, ``reportUri``, ``servedModelVersion``, ``message``) are carried untouched,
so the merge patch from stored to planned never deletes or rewrites them. The operator's own:
``conditions``, ``observedGeneration``, ``cronJob``, ``shards``, ``prometheusRule``,
``lastRetrain``, ``retrainRuns``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelops.api.config import OperatorConfig
from modelops.api.driftmonitor import DriftMonitorSpec
from modelops.core.alerts.drift import Monitored, alerts_enabled, desired_rule, rule_name
from modelops.core.conditions import format_time
from modelops.core.drafting import StatusDraft
from modelops.core.intents import Event
from modelops.core.monitoring import retraining
from modelops.core.monitoring.acceptance import judge
from modelops.core.monitoring.children import (
    cron_job_name,
    desired_cron_job,
    desired_job_access,
    holds,
    shard_count,
)
from modelops.core.ownership import (
    REFUSED_RETRY_SECONDS,
    Claim,
    Owner,
    Rejection,
    conflict_message,
    rejection_reason,
)

ACCEPTED, READY, EVALUATED, THROTTLED = "Accepted", "Ready", "Evaluated", "RetrainingThrottled"
JOB_KEYS = ("lastRun", "window", "rowsSeen", "referenceRows", "results", "drifted", "verdict",
            "consecutiveDrifted", "reportUri", "servedModelVersion", "message")
ChildKey = tuple[str, str, str]  # (apiVersion, kind, name)


@dataclass(frozen=True)
class ModelRefState:
    """What ``spec.modelRef`` names, as observed: its model and the version it serves."""

    found: bool
    model: str | None = None
    model_version: str | None = None


@dataclass(frozen=True)
class DriftObservation:
    name: str
    namespace: str
    uid: str
    generation: int | None
    spec: Mapping[str, Any] | None
    status: Mapping[str, Any]
    model_ref: ModelRefState
    # Every child of the monitor's (by its deterministic name): the object as stored, None if absent.
    children: Mapping[ChildKey, Mapping[str, Any] | None] = field(default_factory=dict)
    claims: Mapping[ChildKey, Claim] = field(default_factory=dict)
    retrain_runs: tuple[retraining.RetrainRun, ...] = ()
    # Whether the cluster serves monitoring.coreos.com/v1 PrometheusRules (the Prometheus Operator's CRDs).
    rules_served: bool = True
    rejection: Rejection | None = None


@dataclass
class DriftDecision:
    status: dict[str, Any]
    apply: list[dict[str, Any]] = field(default_factory=list)
    delete: list[ChildKey] = field(default_factory=list)
    create_training_run: dict[str, Any] | None = None
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None

    @property
    def needs_another_pass(self) -> bool:
        return False


def _key(body: Mapping[str, Any]) -> ChildKey:
    return (str(body["apiVersion"]), str(body["kind"]), str(body["metadata"]["name"]))


def _evaluated(draft: StatusDraft, status: Mapping[str, Any]) -> None:
    verdict = status.get("verdict")
    message = str(status.get("message") or "")
    if verdict == "Drift":
        draft.condition(EVALUATED, True, "DriftDetected", message or "the last evaluation found drift",
                        event="Warning")
    elif verdict == "NoDrift":
        draft.condition(EVALUATED, True, "NoDrift", message or "the last evaluation found no drift")
    elif verdict == "Inconclusive":
        draft.condition(EVALUATED, False, "InsufficientData",
                        message or "the last evaluation could not judge drift (too little data, or the noise "
                                   "floor above a third of a threshold): never taken for a pass", event="Warning")
    else:
        draft.condition(EVALUATED, "Unknown", "AwaitingFirstRun",
                        "no evaluation yet: the drift job reports after its first scheduled run")


def _children(obs: DriftObservation, spec: DriftMonitorSpec, config: OperatorConfig
              ) -> tuple[list[dict[str, Any]], int, bool]:
    shards = shard_count(obs.status.get("rowsSeen"), config.drift_job)
    desired = desired_job_access(monitor=obs.name, namespace=obs.namespace, uid=obs.uid)
    desired.append(desired_cron_job(monitor=obs.name, namespace=obs.namespace, uid=obs.uid, spec=spec,
                                    shards=shards, settings=config.drift_job))
    with_rule = alerts_enabled(spec) and obs.model_ref.model is not None and obs.rules_served
    if with_rule:
        who = Monitored(obs.namespace, obs.name, obs.uid, str(obs.model_ref.model),
                        obs.model_ref.model_version if spec.model_ref.kind.value == "ModelVersion" else None)
        desired.append(desired_rule(who, spec))
    return desired, shards, with_rule


def plan(obs: DriftObservation, config: OperatorConfig, now: datetime) -> DriftDecision:
    draft = StatusDraft(obs.status, obs.generation, now)
    decision = DriftDecision(status=draft.data, events=draft.events)
    judgement = judge(obs.spec, config, obs.model_ref.found)
    verdict, spec = judgement.verdict, judgement.spec
    _evaluated(draft, obs.status)
    if not verdict.accepted or spec is None:
        draft.condition(ACCEPTED, False, verdict.reason, verdict.message, event="Warning")
        draft.condition(READY, False, "NotAccepted", "nothing is applied while the spec is refused (Accepted=False); "
                                                     "objects applied before are left as they were")
        return decision
    draft.condition(ACCEPTED, True, verdict.reason, verdict.message)
    desired, shards, with_rule = _children(obs, spec, config)
    owner = Owner("DriftMonitor", obs.name, obs.uid)
    foreign = [(body, obs.claims[_key(body)]) for body in desired
               if _key(body) in obs.claims and not obs.claims[_key(body)].writable]
    if obs.rejection is not None:
        draft.condition(READY, False, rejection_reason(obs.rejection),
                        f"{obs.rejection.describe()}. Retrying every {int(REFUSED_RETRY_SECONDS)}s, and at once "
                        "when the spec changes", event="Warning")
        decision.requeue_after = REFUSED_RETRY_SECONDS
    elif foreign:
        body, found = foreign[0]
        draft.condition(READY, False, f"{body['kind']}Conflict",
                        conflict_message(body["kind"], body["metadata"]["name"], found, owner), event="Warning")
        decision.requeue_after = REFUSED_RETRY_SECONDS
    else:
        decision.apply = [body for body in desired if not holds(obs.children.get(_key(body)), body)]
        stale_rule = ("monitoring.coreos.com/v1", "PrometheusRule", rule_name(obs.name))
        if not with_rule and obs.children.get(stale_rule) is not None and obs.claims.get(stale_rule) is not None \
                and obs.claims[stale_rule].writable:
            decision.delete.append(stale_rule)
        draft.data["cronJob"] = cron_job_name(obs.name)
        draft.data["shards"] = shards
        draft.data["prometheusRule"] = rule_name(obs.name) if with_rule else None
        sharding = f" in {shards} shards (Indexed Job)" if shards > 1 else ""
        alerting = f", PrometheusRule {rule_name(obs.name)}" if with_rule else ", no PrometheusRule (alerts disabled)"
        if alerts_enabled(spec) and not obs.rules_served:
            alerting = (", no PrometheusRule: the cluster does not serve monitoring.coreos.com/v1 (install the "
                        "Prometheus Operator's CRDs for drift alerts; the gauges are exported all the same)")
        draft.condition(READY, True, "ChildrenApplied",
                        f"CronJob {cron_job_name(obs.name)} runs the drift job on {spec.schedule!r}{sharding}"
                        f"{alerting}")
    _retrain(obs, spec, draft, decision, now)
    return decision


def _retrain(obs: DriftObservation, spec: DriftMonitorSpec, draft: StatusDraft, decision: DriftDecision,
             now: datetime) -> None:
    retrain = spec.retrain
    if retrain is None or not retrain.enabled:
        draft.data["conditions"] = [c for c in draft.data.get("conditions") or [] if c.get("type") != THROTTLED]
        return
    choice = retraining.decide(monitor=obs.name, namespace=obs.namespace, retrain=retrain, status=obs.status,
                               runs=obs.retrain_runs, now=now)
    if choice.record is not None and choice.record not in (obs.status.get("retrainRuns") or []):
        draft.data["retrainRuns"] = retraining.recorded(list(obs.status.get("retrainRuns") or []), choice.record)
        draft.data["lastRetrain"] = format_time(now)
    if choice.create is not None:
        decision.create_training_run = choice.create
        draft.events.append(Event("Normal", "RetrainingStarted",
                                  f"created TrainingRun {choice.record}: drift on "
                                  f"{obs.status.get('consecutiveDrifted')} consecutive evaluation(s), last at "
                                  f"{obs.status.get('lastRun')}"))
    if choice.throttled is not None:
        reason, message = choice.throttled
        draft.condition(THROTTLED, True, reason, message, event="Normal")
        if choice.retry_after is not None:
            decision.requeue_after = min(decision.requeue_after or choice.retry_after, choice.retry_after)
    else:
        draft.condition(THROTTLED, False, "NotThrottled", "no retraining is being held back")
