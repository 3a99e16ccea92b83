"""Which version serves: the target rules of the machine, checked in order by ``follow`` (rules 0–6
of the machine's docstring) — no target yet (an alias followed names nothing), the first target,
the target back on the stable (the SRE rollback), a warm previous champion, ``spec.abort``, the
candidate in flight (handed to ``driving``), any other target (a new rollout, said to be a full
one) — and the refusals that stop a Rollout before any of them: another Rollout drives the model,
the route is someone else's, the route write was refused, the target is another model's version.
"""

from __future__ import annotations

from modelops.api.rollout import RolloutPhase, RolloutSpec
from modelops.core.ownership import Owner, conflict_message, winner
from modelops.core.rollout import driving
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.actions import Route
from modelops.core.rollout.traffic import ALL_STABLE
from modelops.core.rollout.types import (
    ACCEPTED,
    CANDIDATE_OUT,
    IN_FLIGHT,
    POLL_SECONDS,
    REFUSED_RETRY_SECONDS,
    RolloutObservation,
)
from modelops.core.rollout.working import Working


def refusal(obs: RolloutObservation, spec: RolloutSpec) -> tuple[str, str] | None:
    """(reason, message) when this Rollout may not act at all, in the order checked: another
    Rollout drives the model; the route is someone else's; the route write was refused."""
    first = winner(obs.contenders)
    if first is not None and (first.namespace, first.name) != (obs.namespace, obs.name):
        return ("RolloutConflict",
                f"Rollout {first.describe()} already drives model {spec.model} (the oldest Rollout of a model acts; "
                f"the MLflow registered model {spec.model} and its aliases belong to it): this Rollout is refused, "
                "touches no route, alias or role, and takes over when that one is deleted")
    if obs.route_claim is not None and not obs.route_claim.writable:
        kind, _, name = obs.route_name.partition("/")
        return ("RouteConflict", conflict_message(kind, name, obs.route_claim, Owner("Rollout", obs.name, "")))
    if obs.rejection is not None:
        return ("RouteRejected", f"{obs.rejection.describe()}; retrying every {int(REFUSED_RETRY_SECONDS)}s "
                "and at once when the spec changes")
    return None


def target_problems(obs: RolloutObservation, spec: RolloutSpec, target: str | None) -> list[str]:
    """The target must be a version of spec.model (a warm version of another model is dropped)."""
    state = obs.versions.get(target) if target is not None else None
    if state is not None and state.exists and state.model is not None and state.model != spec.model:
        field = "spec.target" if spec.target is not None else "status.followed"
        return [f"{field}: ModelVersion {target} is a version of model {state.model!r}, not of spec.model "
                f"{spec.model!r}; nothing is rolled out"]
    return []


def refuse(w: Working, reason: str, message: str) -> None:
    """This Rollout may not act: say why (one Warning Event, on the flip), write no route, and
    keep every other part of the status as it was."""
    w.draft.condition(ACCEPTED, False, reason, message, event="Warning")
    w.refused = True
    w.route_decided = True
    if w.phase is None:
        w.phase = RolloutPhase.IDLE
    w.reason, w.message = reason, f"refused: {message}"
    w.wait(REFUSED_RETRY_SECONDS)


def follow(w: Working) -> None:
    """The target rules, in the order of the machine's docstring."""
    target = w.target
    if target is None:
        no_target(w)
    elif w.stable is None:
        first_target(w, target)
    elif target == w.stable:
        keep_stable(w)
    elif target in w.warm and w.ready(target) and w.same_model(target):
        rollback_to_warm(w, target)
    elif w.spec.abort:
        abort(w, target)
    elif w.candidate == target and w.phase in CANDIDATE_OUT and retried(w):
        begin(w, target, "Retried", f"spec.retry set to {w.spec.retry}: rolling out {target} again from step 0")
    elif w.candidate == target and w.phase in CANDIDATE_OUT:
        w.stable_only()  # out until the target changes or spec.retry does; the message keeps why
    elif w.candidate == target and w.phase is RolloutPhase.ABORTED:
        begin(w, target, "AbortCleared", f"spec.abort cleared: rolling out {target} again from step 0")
    elif w.candidate == target and w.phase in IN_FLIGHT:
        driving.drive(w)
    else:
        start(w, target)


def retried(w: Working) -> bool:
    """Does spec.retry carry a token not honoured yet (a retry of the candidate that is out)?"""
    return w.spec.retry is not None and w.spec.retry != w.observed_retry


def no_target(w: Working) -> None:
    """Rule 0: spec.targetFrom's alias has named no ModelVersion yet (status.followed says why)."""
    why = (w.followed or {}).get("message") or "the followed alias names no ModelVersion yet"
    if w.stable is None:
        w.move(RolloutPhase.IDLE, "WaitingForAlias", f"nothing to serve yet: {why}")
        w.route_decided = True
    else:
        w.message = f"{w.stable} serves 100%; {why}"
        if w.phase is None or w.phase is RolloutPhase.IDLE:
            w.phase = RolloutPhase.PROMOTED
        w.stable_only()
    w.wait(POLL_SECONDS)


def first_target(w: Working, target: str) -> None:
    if w.problems:
        # A refused spec moves nothing: no route, no stable, so no alias and no role.
        w.move(RolloutPhase.IDLE, "InvalidSpec", f"{target} is not served: the spec is invalid (see the Accepted "
               "condition)")
        w.route_decided = True
        w.wait(POLL_SECONDS)
        return
    if w.ready(target):
        w.stable = target
        w.move(RolloutPhase.PROMOTED, "FirstTarget",
               f"{target} is the first version of the model: it serves 100% without steps", actor=w.actor,
               event="Normal")
        w.stable_only()
        return
    missing = w.exists(target) is False or target not in w.obs.versions
    # A target that does not exist (a typo, or a version in another namespace) is said once with a
    # Warning; one that exists and is not Ready yet is the normal start, said without one.
    w.move(RolloutPhase.IDLE, "WaitingForTarget",
           f"spec.target: waiting for ModelVersion {target} "
           f"{'to exist in this namespace' if missing else 'to become Ready'}",
           event="Warning" if missing else None)
    w.route_decided = True  # nothing may serve yet: no route
    if w.obs.deploys_backends and not missing:
        # The kserve router's InferenceService is also the deployment: the first version can only
        # become Ready once it is deployed there (KServe routes only to Ready predictors, so no
        # request reaches it before).
        w.route, w.deploy_only = Route(target, None, ALL_STABLE), True
    w.wait(POLL_SECONDS)


def keep_stable(w: Working) -> None:
    stable = w.stable
    if w.candidate is not None:
        dropped, was = w.candidate, w.phase
        w.candidate = None
        w.clear_steps()
        w.drop_candidate_condition()
        if was in IN_FLIGHT:
            w.move(RolloutPhase.ROLLED_BACK, "TargetReverted",
                   f"spec.target set back to the stable {stable}: 100% on it, candidate {dropped} dropped",
                   actor=w.actor, event="Normal")
        else:
            w.move(was or RolloutPhase.PROMOTED, "CandidateCleared",
                   f"spec.target is the stable {stable}; candidate {dropped} cleared", actor=w.actor, always=True)
    elif w.phase is None or w.phase is RolloutPhase.IDLE or w.phase in IN_FLIGHT:
        w.move(RolloutPhase.PROMOTED, "Stable", f"{stable} serves 100%")
    w.note(w.stable_only())


def rollback_to_warm(w: Working, target: str) -> None:
    old, dropped = w.stable, w.candidate
    w.stable, w.candidate = target, None
    w.clear_steps()
    w.drop_candidate_condition()
    w.warm = [name for name in [old, *[n for n in w.warm if n != target]] if name is not None]
    also = f", candidate {dropped} dropped" if dropped is not None and dropped != target else ""
    w.move(RolloutPhase.ROLLED_BACK, "RolledBackToWarm",
           f"spec.target set to the warm version {target}: it serves 100% again (was {old}){also}",
           actor=w.actor, event="Normal", always=True)
    w.stable_only()


def abort(w: Working, target: str) -> None:
    if w.candidate is None or w.phase in CANDIDATE_OUT:
        if w.phase is None or w.phase is RolloutPhase.IDLE:
            w.phase = RolloutPhase.PROMOTED
        w.message = f"spec.abort is set: {target} is not rolled out; {w.stable} serves 100%"
    elif w.phase is not RolloutPhase.ABORTED:
        w.drop_candidate_condition()
        w.move(RolloutPhase.ABORTED, "Aborted",
               f"aborted by spec.abort: 100% on the stable {w.stable}; candidate {w.candidate} is kept "
               "(status.candidate) for debugging", actor=w.actor, event="Warning")
    w.note(w.stable_only())


def start(w: Working, target: str) -> None:
    if w.problems:
        w.message = f"{target} is not rolled out: the spec is invalid (see the Accepted condition)"
        if w.candidate is not None and w.phase in IN_FLIGHT:
            driving.freeze(w)
        else:
            w.stable_only()
        return
    old = w.candidate if w.phase in IN_FLIGHT else None
    replacing = f", replacing candidate {old}" if old is not None and old != target else ""
    count = schedule.last_index(w.steps) + 1
    if target in w.warm:
        note = f"; the warm version {target} is not Ready, so it is rolled out through the steps"
    else:
        note = (f"; a full rollout through {count} step(s), not an instant rollback: {target} is neither the "
                f"stable nor a warm version (warm: {', '.join(w.warm) or 'none'})")
    ahead = schedule.approved_steps(w.spec.approved, target, schedule.plain_approvals(w.spec.approved))
    standing = [name for name in (schedule.name_at(w.steps, i) for i in range(count)) if name in ahead]
    if standing:
        note += f"; spec.approved already approves {', '.join(standing)} for {target}: those steps will not wait"
    if w.spec.promote_full == target:
        note += f"; spec.promoteFull names {target}: it is promoted at once, skipping the steps"
    begin(w, target, "TargetChanged", f"rolling out {target} (stable {w.stable}){replacing}{note}")


def begin(w: Working, target: str, reason: str, message: str) -> None:
    """Start the steps of ``target`` at 0 (the step itself starts in ``driving.drive``)."""
    w.candidate = target
    w.step, w.started = 0, None
    w.hash = schedule.step_hash(w.steps)
    # Approvals and retries present now were given for an earlier rollout (or this very start).
    w.approved_at_start = schedule.plain_approvals(w.spec.approved)
    w.observed_retry = w.spec.retry
    w.reset_analysis(None)
    w.drop_candidate_condition()
    w.move(RolloutPhase.PROGRESSING, reason, message, actor=w.actor, event="Normal", always=True)
    driving.drive(w)
