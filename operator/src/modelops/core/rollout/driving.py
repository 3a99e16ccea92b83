"""Driving the steps of the candidate in flight, one transition per plan: restarts when the step
list changed, ``spec.paused``, ``spec.promoteFull`` (skip to the promotion), the progress
deadline, approvals, starting a step (``full`` promotes), the step's gate (``gate``: roll back,
hold, advance or wait), holds and their acceptance, promotion and failure. The rules, in the order
``drive`` checks them, are those of the machine's docstring ("Driving the steps", "Promoting in
full", "Leaving a hold").
"""

from __future__ import annotations

from dataclasses import replace

from modelops.api.rollout import RolloutPhase
from modelops.core.analysis.verdicts import AnalysisPhase
from modelops.core.conditions import format_time, get_condition, parse_time
from modelops.core.durations import parse_duration
from modelops.core.intents import Event
from modelops.core.rollout import capabilities
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.actions import VersionTag, clip_tag
from modelops.core.rollout.assembly import matching, record
from modelops.core.rollout.gate import Evidence, Verdict, gate
from modelops.core.rollout.traffic import ALL_CANDIDATE, ALL_STABLE, Split, split_at, split_before
from modelops.core.rollout.types import (
    APPLY_SECONDS,
    CANDIDATE_READY,
    HOLD_REASONS,
    OPERATOR,
    PAUSED,
    POLL_SECONDS,
    StepAnalysis,
    StepRef,
)
from modelops.core.rollout.working import Working


def drive(w: Working) -> None:
    assert w.candidate is not None  # drive() is only called with a candidate in flight
    steps = w.steps
    candidate_ready = w.ready(w.candidate)
    candidate_condition(w, candidate_ready)
    if w.problems:
        freeze(w)
        return
    digest = schedule.step_hash(steps)
    if w.hash != digest:
        restart_steps(w, "StepsChanged", f"spec.steps changed (hash {w.hash} -> {digest}): restarting at step 0")
    index = w.step
    if index is None or not 0 <= index <= schedule.last_index(steps):
        restart_steps(w, "StepOutOfRange", f"status.currentStep {index} is not a step of spec.steps: restarting")
        index = 0

    if w.spec.paused:
        paused_by_spec(w, index)
        return
    held_before = w.phase is RolloutPhase.PAUSED and w.reason in HOLD_REASONS
    if w.resumed and w.initial.phase is RolloutPhase.PAUSED:
        name = schedule.name_at(steps, index)
        if held_before:
            reason = "StepRetried"
            message = f"spec.paused cleared after a hold: step {index} ({name}) is measured again"
            w.started, held_before = None, False
        else:
            reason, message = "Resumed", f"spec.paused cleared: resuming at step {index} ({name})"
        w.log(RolloutPhase.PAUSED.value, name, reason, message, w.actor)
        w.events.append(Event("Normal", reason, message))

    if promoting_full(w, index):
        return
    if not candidate_ready and deadline_passed(w):
        return

    if w.started is None:
        if schedule.needs_approval(steps, index, w.approved):
            name = schedule.name_at(steps, index)
            w.move(RolloutPhase.AWAITING_APPROVAL, "AwaitingApproval",
                   f"step {index} ({name}) waits for approval: add {name}@{w.candidate} to spec.approved",
                   event="Normal")
            w.note(w.in_flight_split(split_before(steps, index)))
            w.wait(POLL_SECONDS)
            return
        start_step(w, index, w.phase.value if w.phase else None)
        return

    evaluate(w, index, held_before)


def promoting_full(w: Working, index: int) -> bool:
    """``spec.promoteFull`` names the candidate: jump to the promotion, skipping what remains (the
    steps' durations, pauses, approvals and analysis). Once at the promotion step it runs as usual
    (it waits for the candidate to be Ready), so the jump is made, and logged, once."""
    last = schedule.last_index(w.steps)
    if w.spec.promote_full is None or w.spec.promote_full != w.candidate:
        return False
    if index == last and w.started is not None:
        return False
    skipped = [schedule.name_at(w.steps, i) for i in range(index, last)]
    message = (f"spec.promoteFull names {w.candidate}: promoting it now, skipping "
               f"{', '.join(skipped) or 'nothing'} (durations, approvals and analysis included)")
    w.log(schedule.name_at(w.steps, index), schedule.name_at(w.steps, last), "PromoteFull", message, w.actor)
    w.events.append(Event("Normal", "PromoteFull", message))
    start_step(w, last, schedule.name_at(w.steps, index), by_human=False)
    return True


def freeze(w: Working) -> None:
    """Hold an in-flight rollout where it is (the spec cannot be run): the split in status,
    minus any weight a backend that is not Ready may not have, minus a mirror the router
    cannot do."""
    w.reason = "InvalidSpec"
    current = Split.from_traffic(w.initial.traffic) or w.obs.router_split or ALL_STABLE
    if not capabilities.capabilities_of(w.spec).can(capabilities.Feature.MIRROR):
        current = replace(current, mirror=0)
    w.message = "frozen: the spec is invalid (see the Accepted condition)"
    w.note(w.in_flight_split(current))
    w.wait(POLL_SECONDS)


def restart_steps(w: Working, reason: str, message: str) -> None:
    steps = w.steps
    w.log(
        schedule.name_at(steps, w.step) if w.step is not None and w.step < len(steps) else None,
        schedule.name_at(steps, 0),
        reason,
        message,
        w.actor if reason == "StepsChanged" else OPERATOR,
    )
    w.events.append(Event("Normal", reason, message))
    w.step, w.started = 0, None
    w.hash = schedule.step_hash(steps)
    w.reset_analysis(None)


def candidate_condition(w: Working, ready: bool) -> None:
    candidate = w.candidate
    if ready:
        w.draft.condition(CANDIDATE_READY, True, "Ready", f"candidate {candidate} is Ready")
    elif w.exists(candidate or "") is False or candidate not in w.obs.versions:
        w.draft.condition(CANDIDATE_READY, False, "NotFound", f"ModelVersion {candidate} does not exist",
                          event="Warning")
    else:
        w.draft.condition(CANDIDATE_READY, False, "NotReady", f"candidate {candidate} is not Ready")


def paused_condition(w: Working) -> None:
    """Paused mirrors spec.paused; a True -> False flip is a resume."""
    old = get_condition(w.draft.data.get("conditions"), PAUSED)
    was = old is not None and old.get("status") == "True"
    if w.spec.paused:
        w.pausing = not was
        w.draft.condition(PAUSED, True, "PausedBySpec", "spec.paused is true: the rollout is frozen")
    elif was:
        w.resumed = True
        w.draft.condition(PAUSED, False, "Resumed", "spec.paused was cleared")
    elif old is None:
        w.draft.condition(PAUSED, False, "NotPaused", "spec.paused is false")


def paused_by_spec(w: Working, index: int) -> None:
    steps = w.steps
    wanted = split_at(steps, index) if w.started is not None else split_before(steps, index)
    hold = w.reason if w.reason in HOLD_REASONS else None
    w.move(RolloutPhase.PAUSED, "PausedBySpec",
           f"paused by spec.paused at step {index} ({schedule.name_at(steps, index)}): traffic frozen; "
           "set paused: false to resume", actor=w.actor, event="Normal", always=w.pausing)
    if hold is not None:
        w.reason = hold  # keep the hold visible: resuming measures the step again
    if w.started is not None:
        record(w, matching(w, index))
        w.measure = StepRef(w.candidate or "", index, w.started)
    w.note(w.in_flight_split(wanted))
    w.wait(POLL_SECONDS)


def deadline_passed(w: Working) -> bool:
    """Fail when the candidate has not been Ready for progressDeadline; else wake at the deadline."""
    conditions = w.draft.data.get("conditions")
    since = parse_time((get_condition(conditions, CANDIDATE_READY) or {}).get("lastTransitionTime"))
    paused = get_condition(conditions, PAUSED)
    if paused is not None and paused.get("status") == "False" and paused.get("reason") == "Resumed":
        resumed_at = parse_time(paused.get("lastTransitionTime"))
        if resumed_at is not None and (since is None or resumed_at > since):
            since = resumed_at
    since = since or w.stamp
    limit = parse_duration(w.spec.progress_deadline)
    if w.now - since < limit:
        w.until(since + limit)
        return False
    message = (
        f"candidate {w.candidate or ''} was not Ready within progressDeadline {w.spec.progress_deadline} "
        f"(not Ready since {format_time(since)}): 100% on the stable {w.stable}"
    )
    fail(w, RolloutPhase.FAILED, "ProgressDeadlineExceeded", message)
    return True


def fail(w: Working, phase: RolloutPhase, reason: str, message: str) -> None:
    failed = w.candidate or ""
    w.drop_candidate_condition()
    w.move(phase, reason, message, event="Warning")
    w.tags.append(VersionTag(w.spec.model, failed, {
        "modelops.io/rollout": f"{w.obs.namespace}/{w.obs.name}",
        "modelops.rollout.outcome": phase.value,
        "modelops.rollout.reason": reason,
        "modelops.rollout.message": clip_tag(message),
    }))
    w.stable_only()


def start_step(w: Working, index: int, origin: str | None, by_human: bool | None = None) -> None:
    """Start step ``index`` now (``origin``: the step or phase before, for history; ``by_human``:
    started by its approval, by default when it asks for one); ``full`` promotes in the same plan."""
    steps = w.steps
    name = schedule.name_at(steps, index)
    if by_human is None:
        by_human = index < len(steps) and steps[index].approval
    w.started = w.stamp
    w.step = index
    w.reset_analysis(steps[index] if index < len(steps) else None)
    w.log(origin, name, "Approved" if by_human else "StepStarted",
          f"step {index} ({name}) started" + (f": {name} is in spec.approved" if by_human else ""),
          w.actor if by_human else OPERATOR)
    w.events.append(Event("Normal", "StepStarted", f"step {index} ({name}) started"))
    if schedule.is_full(steps, index):
        promote_or_wait(w, index)
        return
    running(w, index)


def running(w: Working, index: int) -> None:
    steps = w.steps
    step = steps[index]
    name = schedule.name_at(steps, index)
    assert w.started is not None and w.candidate is not None  # a running step has both
    split = split_at(steps, index)
    end = schedule.deadline(step, w.started)
    until = f" until {format_time(end)}" if end is not None else ""
    if step.pause is not None:
        how = until or f" until {name}@{w.candidate} is in spec.approved"
        w.move(RolloutPhase.PAUSED, "PauseStep", f"step {index} ({name}): pause at {split.describe()}{how}")
    elif step.ab_test is not None:
        w.move(RolloutPhase.PROGRESSING, "StepRunning",
               f"step {index} ({name}): A/B test of {step.ab_test.metric} at {split.describe()}, until decided "
               f"or{until}")
    else:
        after = until or " until the weight is applied"
        w.move(RolloutPhase.PROGRESSING, "StepRunning", f"step {index} ({name}): {split.describe()}{after}")
    w.note(w.in_flight_split(split))
    if end is not None and end > w.now:
        w.until(end)
    if step.canary is not None and step.canary.duration is None:
        w.wait(APPLY_SECONDS)
    if w.spec.analysis is not None or step.ab_test is not None:
        w.measure = StepRef(w.candidate, index, w.started)
        interval = schedule.analysis_interval(w.spec)
        w.wait(interval.total_seconds() if interval is not None else POLL_SECONDS)
    w.wait(POLL_SECONDS)


def promote_or_wait(w: Working, index: int) -> None:
    if not w.ready(w.candidate):
        w.move(RolloutPhase.PROGRESSING, "WaitingForCandidate",
               f"step {index} ({schedule.name_at(w.steps, index)}): waiting for candidate {w.candidate} "
               "to become Ready before it takes all traffic")
        w.note(w.in_flight_split(ALL_CANDIDATE))
        w.wait(POLL_SECONDS)
        return
    old, new = w.stable, w.candidate
    assert old is not None and new is not None  # promotion replaces a stable by the candidate
    w.stable, w.candidate = new, None
    w.clear_steps()
    w.drop_candidate_condition()
    w.warm = [old, *[name for name in w.warm if name != new]]
    w.move(RolloutPhase.PROMOTED, "Promoted", f"{new} promoted to champion: it serves 100% (was {old})",
           event="Normal", always=True)
    w.stable_only()


def _evidence(result: StepAnalysis | None) -> Evidence:
    if result is None:
        return Evidence()
    ab = result.ab
    return Evidence(assessment=result.assessment, ab_decision=ab.decision if ab is not None else None,
                    ab_message=ab.message if ab is not None else "", srm=result.srm)


def applied(w: Working, index: int) -> bool:
    """Has the router applied this step's split? When it cannot say, a step started in an
    earlier plan counts as applied (the reconciler applies the route before writing status)."""
    wanted = split_at(w.steps, index)
    if w.obs.router_split is not None:
        return w.obs.router_split.served == wanted.served
    return w.started is not None and w.started < w.stamp


def evaluate(w: Working, index: int, held_before: bool) -> None:
    """Act on the gate of the running step (``gate``); a hold that began before this plan is left
    only by an approval given after it began."""
    steps = w.steps
    assert w.started is not None and w.candidate is not None  # only a started step is evaluated
    result = matching(w, index)
    record(w, result)
    evidence = _evidence(result)
    verdict = gate(steps, index, evidence, started=w.started, now=w.now, candidate_ready=w.ready(w.candidate),
                   approved=w.approved, analysed=w.spec.analysis is not None, applied=applied(w, index))
    if verdict.verdict is Verdict.ROLLBACK:
        fail(w, RolloutPhase.ROLLED_BACK, verdict.reason, verdict.message)
        return
    if verdict.verdict is Verdict.PROMOTE:
        promote_or_wait(w, index)
        return
    if verdict.verdict is Verdict.BLOCKED:
        w.move(RolloutPhase.PROGRESSING, "PromotionBlocked",
               f"step {index} ({schedule.name_at(steps, index)}): not promoting: {verdict.message}",
               event="Warning", always=w.reason != "PromotionBlocked")
        w.note(w.in_flight_split(split_at(steps, index)))
        w.wait(POLL_SECONDS)
        return
    next_name = schedule.name_at(steps, index + 1)
    if held_before:
        if next_name in w.approved and next_name not in (w.approved_at_hold or []):
            w.log(RolloutPhase.PAUSED.value, next_name, "HoldAccepted",
                  f"{next_name} is in spec.approved: the hold on step {index} ({schedule.name_at(steps, index)}) "
                  "is accepted", w.actor)
            advance(w, index)
            return
        stay_held(w, index)
        return
    # Holds apply to every step, a pause waiting for its name included: approving the pause (perhaps
    # long ago, in git) is not accepting an analysis nobody has seen.
    if verdict.verdict is Verdict.HOLD:
        hold(w, index, verdict.reason, verdict.message)
        return
    if verdict.verdict is Verdict.ADVANCE:
        advance(w, index)
        return
    running(w, index)
    assessment = evidence.assessment
    if assessment is not None and assessment.phase is AnalysisPhase.RUNNING and schedule.time_up(
        steps[index], w.started, w.now
    ):
        w.message = f"{w.message}; waiting for the analysis: {assessment.message}"


def hold(w: Working, index: int, reason: str, message: str) -> None:
    steps = w.steps
    name, next_name = schedule.name_at(steps, index), schedule.name_at(steps, index + 1)
    w.approved_at_hold = list(w.approved)
    go_on = f"add {next_name}@{w.candidate} to spec.approved"
    if next_name in w.approved:
        go_on = (f"remove {next_name} from spec.approved and add it again (it was approved before this hold "
                 "began, which does not accept the hold)")
    w.move(RolloutPhase.PAUSED, reason,
           f"held at step {index} ({name}): {message}. To go on, {go_on}; to measure again, set spec.paused to "
           f"true and back to false; to roll back, set spec.target to {w.stable}", event="Warning")
    stay_held(w, index)


def stay_held(w: Working, index: int) -> None:
    assert w.started is not None and w.candidate is not None  # a hold is on a started step
    w.note(w.in_flight_split(split_at(w.steps, index)))
    w.measure = StepRef(w.candidate, index, w.started)
    w.wait(POLL_SECONDS)


def advance(w: Working, index: int) -> None:
    steps = w.steps
    following = index + 1
    w.step, w.started = following, None
    if schedule.needs_approval(steps, following, w.approved):
        name = schedule.name_at(steps, following)
        w.log(schedule.name_at(steps, index), name, "StepCompleted", f"step {index} completed", OPERATOR)
        w.move(RolloutPhase.AWAITING_APPROVAL, "AwaitingApproval",
               f"step {following} ({name}) waits for approval: add {name}@{w.candidate} to spec.approved",
               event="Normal")
        w.note(w.in_flight_split(split_at(steps, index)))
        w.wait(POLL_SECONDS)
        return
    start_step(w, following, schedule.name_at(steps, index))
