"""Status assembly: the working state of a plan turned back into the whole status and the
``RolloutDecision`` — the route (stable only when no rule chose one), the traffic as applied or
about to be, ``warm`` trimmed to ``keepWarm`` with the rest ``retired``, the hold baseline, the
history, the Progressing/Ready conditions — and the analysis a step measured, put into
``status.analysis`` and ``status.abTest`` (``matching``: only the result measured for this very run
of the step is ever applied).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelops.api.common import to_wire
from modelops.api.rollout import ABTestStatus, AnalysisStatus, CheckSummary, Measurement, RolloutPhase, Verdict
from modelops.core.conditions import format_time
from modelops.core.intents import Event
from modelops.core.rollout import history as audit
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.traffic import Split
from modelops.core.rollout.types import (
    HOLD_REASONS,
    IN_FLIGHT,
    MEASUREMENTS_KEPT,
    PROGRESSING,
    READY,
    RETIRED_KEPT,
    RolloutDecision,
    StepAnalysis,
    aware,
    stamp,
)
from modelops.core.rollout.working import Working


def finish(w: Working) -> RolloutDecision:
    data = w.draft.data
    warm, retire = trim_warm(w)
    if w.route is None and not w.route_decided and w.stable is not None:
        w.stable_only()
    split = w.route.split if w.route is not None and not w.deploy_only else None
    traffic = split.to_traffic() if split is not None else w.initial.traffic
    if traffic is None and w.obs.router_split is not None:
        traffic = w.obs.router_split.to_traffic()
    name = schedule.name_at(w.steps, w.step) if w.step is not None and w.step <= len(w.steps) else None
    history = audit.append(w.initial.history, w.entries)
    data.update(
        {
            "phase": w.phase.value if w.phase is not None else None,
            "message": (w.message or "")[:4096] or None,
            "stable": w.stable,
            "candidate": w.candidate,
            "currentStep": w.step,
            "currentStepName": name,
            "stepStartedAt": format_time(w.started) if w.started is not None else None,
            "stepHash": w.hash,
            "traffic": to_wire(traffic) if traffic is not None else None,
            "trafficSince": traffic_since(w, split),
            "analysis": to_wire(w.analysis) if w.analysis is not None else None,
            "abTest": to_wire(w.ab) if w.ab is not None else None,
            "warm": warm,
            "retired": retired(w, warm, retire),
            "approvedAtHold": hold_baseline(w),
            "approvedAtStart": standing_baseline(w),
            "observedRetry": w.observed_retry,
            "history": [to_wire(item) for item in history],
            "followed": w.followed,
        }
    )
    conditions(w)
    for name_ in retire:
        w.events.append(Event("Normal", "Retired", f"{name_} is no longer kept warm (keepWarm)"))
    return RolloutDecision(
        status=data,
        route=w.route,
        events=w.events,
        version_tags=w.tags,
        warm=warm,
        retire=retire,
        measure=w.measure,
        requeue_after=min(w.requeue) if w.requeue else None,
        refused=w.refused,
        stage=name if w.route is not None and w.route.candidate is not None and name else None,
    )


def trim_warm(w: Working) -> tuple[list[str], list[str]]:
    kept: list[str] = []
    for name in w.warm:
        if name in (w.stable, w.candidate) or name in kept or w.exists(name) is False or not w.same_model(name):
            continue
        kept.append(name)
    warm = kept[: w.spec.keep_warm]
    retire: list[str] = []
    for name in [*w.initial.warm, *w.warm]:
        if name in warm or name in retire or name in (w.stable, w.candidate) or w.exists(name) is False:
            continue
        retire.append(name)
    return warm, retire


def held(w: Working) -> bool:
    """Is the rollout on hold (analysis), paused by spec on top of one included?"""
    return w.phase is RolloutPhase.PAUSED and w.reason in HOLD_REASONS


def hold_baseline(w: Working) -> list[str] | None:
    """status.approvedAtHold while held: the names approved when the hold began that are still
    approved now — a name removed and listed again counts as approved after the hold."""
    if not held(w) or w.approved_at_hold is None:
        return None
    return [name for name in w.approved_at_hold if name in w.approved]


def standing_baseline(w: Working) -> list[str] | None:
    """status.approvedAtStart while a candidate is in flight: the plain names listed when its
    rollout began that are still listed (a name removed and listed again approves)."""
    if w.candidate is None or w.approved_at_start is None:
        return None
    return [name for name in w.approved_at_start if name in w.spec.approved]


def traffic_since(w: Working, split: Split | None) -> str | None:
    """status.trafficSince: now when this plan sets the router to a split it was not carrying — one
    other than status.traffic, or the same one over a route read back with another (put back after
    a human's edit, or after a stop between the route write and the status write, which leaves the
    route a step ahead of status) — otherwise as it was. The route read back is compared by its
    served weights only (as ``driving.applied`` does: not every router reads a mirror back), and a
    route that cannot be read back moves nothing: a plan at rest writes nothing."""
    before = w.initial.traffic_since
    kept = format_time(before) if before is not None else None
    if split is None:
        return kept
    routed = w.obs.router_split
    if split != Split.from_traffic(w.initial.traffic) or (routed is not None and routed.served != split.served):
        return format_time(w.stamp)
    return kept


def retired(w: Working, warm: Sequence[str], retire: Sequence[str]) -> list[str]:
    """status.retired: versions retired now or before, newest first, minus any version that serves
    again (stable, candidate, warm) or is the target (it is about to be rolled out again)."""
    serving = {w.stable, w.candidate, w.target, *warm}
    kept: list[str] = []
    for name in [*retire, *w.initial.retired]:
        if name not in serving and name not in kept:
            kept.append(name)
    return kept[:RETIRED_KEPT]


def conditions(w: Working) -> None:
    phase, reason = w.phase, w.reason or (w.phase.value if w.phase else "Idle")
    w.draft.condition(PROGRESSING, phase is RolloutPhase.PROGRESSING, reason, w.message or reason)
    if w.candidate is None or phase not in IN_FLIGHT:
        w.drop_candidate_condition()
    if w.stable is None:
        w.draft.condition(READY, False, "NoStable", "no version serves yet")
    elif w.ready(w.stable):
        w.draft.condition(READY, True, "StableReady", f"the stable {w.stable} is Ready")
    else:
        w.draft.condition(READY, False, "StableNotReady", f"the stable {w.stable} is not Ready", event="Warning")


# ---------------------------------------------------------------------------- what was measured


def matching(w: Working, index: int) -> StepAnalysis | None:
    """The analysis the reconciler brought, if it was measured for this very run of step ``index``."""
    result = w.obs.analysis
    if result is None or w.started is None:
        return None
    ref = result.ref
    if ref.candidate != w.candidate or ref.step != index or stamp(ref.started_at) != w.started:
        return None  # measured for another run of a step: never applied to this one
    return result


VERDICT_FIELDS = {Verdict.SUCCESSFUL: "successful", Verdict.FAILED: "failed",
                  Verdict.INCONCLUSIVE: "inconclusive", Verdict.ERROR: "error"}


def summarise(checks: Sequence[CheckSummary], added: Sequence[Measurement]) -> list[CheckSummary]:
    """status.analysis.checks: each check's last measurement, verdict counts and run of Errors in
    the current step (the summary a human reads; the series is Prometheus')."""
    summaries = {c.name: c for c in checks}
    for m in added:
        held = summaries.get(m.check) or CheckSummary(name=m.check, successful=0, failed=0, inconclusive=0, error=0,
                                                        consecutive_errors=0)
        field = VERDICT_FIELDS[m.verdict]
        run = (held.consecutive_errors or 0) + 1 if m.verdict is Verdict.ERROR else 0
        summaries[m.check] = held.model_copy(update={field: (getattr(held, field) or 0) + 1, "last": m,
                                                     "consecutive_errors": run})
    return list(summaries.values())


def record(w: Working, result: StepAnalysis | None) -> None:
    """Put what was measured into status.analysis and status.abTest (for humans and auditors)."""
    if result is None:
        return
    current = w.analysis or AnalysisStatus()
    seen = {(m.check, m.at, m.step, m.verdict, m.value) for m in current.measurements}
    added = [m for m in result.measurements if (m.check, m.at, m.step, m.verdict, m.value) not in seen]
    measurements = [*current.measurements, *added][-MEASUREMENTS_KEPT:]
    last = result.at or (max(aware(m.at) for m in added) if added else None) or current.last_run
    update: dict[str, Any] = {"measurements": measurements, "last_run": stamp(last) if last else None,
                              "checks": summarise(current.checks, added)}
    if result.assessment is not None:
        update |= {
            "failures": result.assessment.failures,
            "inconclusives": result.assessment.inconclusives,
            "consecutive_errors": result.assessment.consecutive_errors,
        }
    w.analysis = current.model_copy(update=update)
    if result.ab is not None:
        ab = w.ab or ABTestStatus()
        arms: dict[str, Any] = {}
        if result.ab_arms is not None:
            arms = {"stable": result.ab_arms[0], "candidate": result.ab_arms[1]}
        w.ab = ab.model_copy(
            update={"p_value": min(1.0, max(0.0, result.ab.p_value)), "decision": result.ab.decision, **arms}
        )
