"""The Rollout state machine: ``plan(observation, now) -> RolloutDecision``.

Owns every decision about a Rollout — which version is stable, which is the candidate, which step
runs, what split the router should apply, the whole status, the Events, and the side effects the
reconciler must carry out (MLflow tags on a failed version, versions that stop being kept warm;
the MLflow aliases follow ``status.stable``/``candidate``, see ``registry``). Pure: the
reconciler observes (the Rollout, the ModelVersions it names, the analysis of the current step,
the router's current split), calls ``plan`` and executes; ``now`` is an argument.

**The target decides.** ``spec.target`` says which version should serve — or, without it, the
version the MLflow alias of ``spec.targetFrom`` names (``following``: recorded in
``status.followed``, the last followed version kept while the alias names nothing usable; a move
of the alias is the actor of the transitions it causes, ``mlflow:alias/<alias>``); the status says
where the rollout is. Each plan compares them, in this order:

0. No target (``targetFrom``'s alias has named no ModelVersion yet): Idle with no route, or the
   stable keeps serving 100%; the reason is in ``status.followed.message``.
1. No stable yet: the first target becomes stable at once (Promoted), no steps — there is nothing
   to compare it with. Until it exists and is Ready the phase is Idle and the route is not written.
2. Target == stable: nothing to roll out. A candidate in flight is dropped at once (the SRE
   rollback: RolledBack, actor ``spec``), 100% on stable, no steps replayed.
3. Target is a warm previous champion that is Ready: it becomes stable at once (RolledBack, actor
   ``spec``), 100% on it, the champion alias moves back to it. (A warm version that is not Ready is
   no instant rollback target: it is rolled out through the steps like any new version.)
4. ``spec.abort``: 100% stable at once, phase Aborted, ``status.candidate`` kept for debugging.
   Clearing ``abort`` while the target still names that candidate starts its steps again at 0.
5. Target == the candidate: drive the steps (below). After RolledBack or Failed the candidate is
   out and stays out until the target changes — or ``spec.retry`` carries a token not honoured yet
   (``status.observedRetry``): then its steps start again at 0 (Retried). Every rollout's start
   records the token present then, so a stale token never retries.
6. Any other target: a new rollout — candidate = target, step 0, Progressing.

**Driving the steps**, one transition per plan (a step started in this plan is evaluated in the
next, so every step's split really reaches the router):

- A changed step list (``status.stepHash`` differs) restarts at step 0, with a history entry.
- ``spec.paused`` freezes: phase Paused, the split stays (weights still leave a backend that stops
  being Ready), no step moves, no analysis verdict acts — a Failed analysis rolls back when resumed.
  Clearing it resumes where it was; the step's clock kept running meanwhile (the candidate served
  at that split the whole time, so the time counts).
- ``progressDeadline``: the candidate not Ready for that long (counted from when it stopped being
  Ready, or from the last resume) fails the rollout: Failed, 100% stable, an MLflow tag on it.
- A step with ``approval: true`` waits in AwaitingApproval, at the split before it, until it is
  approved *for this candidate*: ``spec.approved`` lists ``<step>@<candidate>``, or the plain
  ``<step>`` added after the candidate's rollout began (``status.approvedAtStart`` keeps the plain
  names listed then, which approve nothing). A pause step shows phase Paused: a timed one ends on
  time, one without duration when it is approved the same way.
- Analysis of the current step, in order of strength (the verdicts module: a measured failure is
  the strongest evidence; the SRM module: a mismatch makes every comparison suspect, so it also
  disarms an A/B CandidateWorse): Failed assessment → RolledBack; sample-ratio mismatch → hold;
  A/B CandidateWorse → RolledBack; Inconclusive assessment → hold; A/B NoDifference (or
  maxDuration without a decision) → hold. A *hold* is phase Paused with the reason in the
  Progressing condition: never promoted, never rolled back on its own. It applies to every step,
  a pause waiting for its name included (approving a pause is not accepting an analysis).
- A step completes when its time is up, the candidate is Ready, a canary without duration has its
  weight applied, and — when ``spec.analysis`` is set — the step's assessment is Successful (an
  A/B step: the test decided CandidateBetter). ``full`` (or the end of a list without one)
  promotes: stable = candidate, the old stable joins ``warm`` (trimmed to ``keepWarm``; versions
  trimmed off are listed in ``status.retired``, and their ModelVersions stop serving).

**Promoting in full** (``kubectl modelops promote --full``): ``spec.promoteFull`` naming the
candidate in flight jumps to the promotion at once — the remaining steps are skipped with their
durations, pauses, approvals and analysis (a history entry ``PromoteFull`` lists them, actor the
writer of spec) — and the candidate takes 100% once Ready. Tied to the candidate by name like a
``step@candidate`` approval (it does nothing for another one); ``spec.paused`` and ``spec.abort``
still win. The operator never clears it: spec is the user's.

**Leaving a hold** (the analysis module's contract: "a human who accepts the risk approves the next
step"): approve the *next* step for the candidate to accept and go on (after the last step:
``full-<len(steps)>``, the implicit promotion); toggle ``spec.paused`` true then false to measure the
step again from scratch; or roll back by target or abort. Approvals are tied to a candidate: a
plain name left in ``spec.approved`` from an earlier rollout approves nothing for the next one;
``<step>@<candidate>`` approves in advance (in git, beside the target), and a new rollout's start
says which of its steps are so approved. A hold is accepted only by an approval given *after* it
began (``status.approvedAtHold`` keeps the names approved then), because a step approved in
advance — before anyone saw this analysis — must not wave it through.

**A spec the router cannot run** (``capabilities.check``, a check's PromQL that cannot parse
(``promql``), or a duration too long to use) sets
``Accepted=False/InvalidSpec`` and starts or advances nothing: a rollout in flight is frozen at its
split (minus a mirror the router cannot do). Rolling back by target and aborting still work: they
need no steps. A spec that does not even parse moves nothing at all.

**Idempotence.** History entries, Events and intents are produced only on transitions; condition
times move only on a flip; messages carry absolute times, never "x seconds ago". Planning the same
observation again, later, changes nothing until a deadline passes. A restarted operator plans from
the status alone and continues the same step.
"""

from __future__ import annotations

from datetime import datetime

from modelops.api.rollout import RolloutSpec
from modelops.core.acceptance import parse_spec
from modelops.core.drafting import StatusDraft
from modelops.core.rollout import capabilities, driving, promql, targets
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.assembly import finish
from modelops.core.rollout.types import (
    ACCEPTED,
    CANDIDATE_READY,
    HOLD_REASONS,
    IN_FLIGHT,
    PAUSED,
    PROGRESSING,
    READY,
    RolloutDecision,
    RolloutObservation,
    StepAnalysis,
    StepRef,
    VersionState,
    aware,
)
from modelops.core.rollout.working import Working


def plan(obs: RolloutObservation, now: datetime) -> RolloutDecision:
    """Decide the next step of a Rollout from what was observed (see the module docstring)."""
    spec, verdict = parse_spec(RolloutSpec, obs.spec)
    if spec is None:
        # A spec that cannot be read moves nothing: the stored status stays, with the reason.
        draft = StatusDraft(obs.status, obs.generation, aware(now))
        draft.condition(ACCEPTED, False, verdict.reason, verdict.message, event="Warning")
        return RolloutDecision(status=draft.data, events=draft.events)
    w = Working(obs, spec, now)
    refused = targets.refusal(obs, spec)
    if refused is not None:
        targets.refuse(w, *refused)
        return finish(w)
    w.problems = (capabilities.check(spec) + promql.problems(spec) + schedule.problems(spec) + list(obs.router_problems)
                  + targets.target_problems(obs, spec, w.target))
    if w.problems:
        w.draft.condition(ACCEPTED, False, "InvalidSpec", "; ".join(w.problems), event="Warning")
    else:
        notes = capabilities.notes(spec)
        w.draft.condition(ACCEPTED, True, "Valid", "spec accepted" + (f"; {'; '.join(notes)}" if notes else ""))
    driving.paused_condition(w)
    targets.follow(w)
    return finish(w)


__all__ = [
    "ACCEPTED",
    "CANDIDATE_READY",
    "HOLD_REASONS",
    "IN_FLIGHT",
    "PAUSED",
    "PROGRESSING",
    "READY",
    "RolloutDecision",
    "RolloutObservation",
    "StepAnalysis",
    "StepRef",
    "VersionState",
    "plan",
]
