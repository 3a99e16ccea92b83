"""May the running step end, and how? A pure gate in Argo Rollouts' style: what the step measured,
whether the candidate is Ready, the clock and the approvals in — one ``Gate`` out.

The verdicts, in the order they are checked (the strongest evidence first):

1. ``ROLLBACK``: the assessment Failed (a measured failure), or the A/B test decided the
   candidate is worse — unless a sample-ratio mismatch makes every comparison suspect;
2. for the final (``full``) step: ``PROMOTE``, or ``BLOCKED`` when any result for it is not clean
   (a full step is never measured, but a result that arrives for it must still never promote);
3. ``HOLD``, with its reason: a sample-ratio mismatch, an Inconclusive assessment, an A/B test
   that found no difference — or whose ``maxDuration`` ran out undecided;
4. ``ADVANCE``: the step is complete — the candidate is Ready, the step's time is up (an A/B
   step: the test decided CandidateBetter; a pause waiting for its name: the name is approved; a
   canary without duration: its weight is applied) and, with ``spec.analysis``, the assessment
   is Successful;
5. ``WAIT``: none of the above yet.

A hold is never promoted and never rolled back on its own: ``driving`` puts it in front of a
human. Nothing here reads a clock or writes status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from modelops.api.rollout import ABDecision
from modelops.api.steps import Step
from modelops.core.analysis.srm import SampleRatio
from modelops.core.analysis.verdicts import AnalysisPhase, Assessment
from modelops.core.rollout import steps as schedule


class Verdict(StrEnum):
    ROLLBACK = "Rollback"
    PROMOTE = "Promote"
    BLOCKED = "Blocked"
    HOLD = "Hold"
    ADVANCE = "Advance"
    WAIT = "Wait"


@dataclass(frozen=True)
class Gate:
    verdict: Verdict
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class Evidence:
    """What was measured for this run of the step (any part may be absent)."""

    assessment: Assessment | None = None
    ab_decision: ABDecision | None = None
    ab_message: str = ""
    srm: SampleRatio | None = None


def gate(steps: list[Step], index: int, evidence: Evidence, *, started: datetime, now: datetime,
         candidate_ready: bool, approved: list[str], analysed: bool, applied: bool) -> Gate:
    """The verdict on step ``index`` (see the module docstring). ``analysed``: the Rollout has
    ``spec.analysis``; ``applied``: the router applies this step's split."""
    assessment, decision, srm = evidence.assessment, evidence.ab_decision, evidence.srm
    if assessment is not None and assessment.phase is AnalysisPhase.FAILED:
        return Gate(Verdict.ROLLBACK, "AnalysisFailed", f"rolled back: {assessment.message}")
    if decision is ABDecision.CANDIDATE_WORSE and not (srm is not None and srm.mismatch):
        return Gate(Verdict.ROLLBACK, "CandidateWorse", f"rolled back: {evidence.ab_message}")
    if schedule.is_full(steps, index):
        blocked = hold_reason(None, evidence, started=started, now=now)
        return Gate(Verdict.PROMOTE) if blocked is None else Gate(Verdict.BLOCKED, *blocked)
    step = steps[index]
    held = hold_reason(step, evidence, started=started, now=now)
    if held is not None:
        return Gate(Verdict.HOLD, *held)
    if complete(steps, index, evidence, started=started, now=now, candidate_ready=candidate_ready,
                approved=approved, analysed=analysed, applied=applied):
        return Gate(Verdict.ADVANCE)
    return Gate(Verdict.WAIT)


def hold_reason(step: Step | None, evidence: Evidence, *, started: datetime, now: datetime) -> tuple[str, str] | None:
    """(reason, message) of a hold, in order of strength; None when nothing holds the step."""
    srm, assessment, decision = evidence.srm, evidence.assessment, evidence.ab_decision
    if srm is not None and srm.mismatch:
        return ("SampleRatioMismatch", srm.message)
    if assessment is not None and assessment.phase is AnalysisPhase.INCONCLUSIVE:
        return ("AnalysisInconclusive", assessment.message)
    if decision is ABDecision.NO_DIFFERENCE:
        return ("NoDifference", evidence.ab_message)
    if (
        step is not None
        and step.ab_test is not None
        and schedule.time_up(step, started, now)
        and decision is not ABDecision.CANDIDATE_BETTER
    ):
        return ("NoDifference", f"maxDuration {step.ab_test.max_duration} reached without a decision")
    return None


def complete(steps: list[Step], index: int, evidence: Evidence, *, started: datetime, now: datetime,
             candidate_ready: bool, approved: list[str], analysed: bool, applied: bool) -> bool:
    step = steps[index]
    if not candidate_ready:
        return False
    if schedule.waits_for_human(step):
        return schedule.approved(steps, index, approved)
    if step.ab_test is not None:
        if evidence.ab_decision is not ABDecision.CANDIDATE_BETTER:
            return False
    elif not schedule.time_up(step, started, now):
        return False
    if step.canary is not None and step.canary.duration is None and not applied:
        return False
    if analysed:
        return evidence.assessment is not None and evidence.assessment.phase is AnalysisPhase.SUCCESSFUL
    return True
