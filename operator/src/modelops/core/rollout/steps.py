"""The step schedule: which step is which, how long each lasts, and who must approve it.

Owns the small facts about ``spec.steps`` that the state machine and the reconciler both need:

- **The step hash.** A digest of the step list as the API server stores it (defaults filled in,
  absent fields left out), recorded in ``status.stepHash`` when a rollout starts. A different hash
  mid-rollout means someone edited the steps: the machine restarts them at step 0 and says so in
  history, instead of carrying an index into a list that no longer means the same thing (Argo
  Rollouts' ``currentStepHash`` does the same).
- **Step names.** The explicit ``name``, or ``<kind>-<index>`` with the kind lower-cased
  (``canary-1``, ``abtest-3``): lower-case so that every name is a DNS label and can be listed in
  ``spec.approved`` (whose items are DNS labels). A schedule that does not end with ``full`` ends
  with an implicit promotion at index ``len(steps)``, named ``full-<len>``: that is the name to
  approve to accept a held last step (see machine).
- **Durations and deadlines**, parsed with ``core.durations``: a step's time is up when its
  duration has elapsed since ``status.stepStartedAt``. A canary without duration is up at once
  ("move on once the weight is applied"); a pause without duration never is (it waits for its name
  in ``spec.approved``); an A/B test ends when the test decides, and ``maxDuration`` is its deadline.
- **Approvals.** A step with ``approval: true`` starts only once it is approved for the candidate
  in flight (``approved_steps``): ``spec.approved`` lists ``step@candidate`` (that candidate only)
  or a plain ``step`` name, which counts only when it was not listed yet as the candidate's rollout
  began (``status.approvedAtStart``) — so a name left from an earlier rollout approves nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from modelops.api.common import to_wire
from modelops.api.rollout import ABDecision, RolloutSpec
from modelops.api.steps import Step
from modelops.core.durations import parse_duration

HASH_LENGTH = 16
# The reconciler measures every analysis interval; a 0s interval would be a hot loop.
MIN_INTERVAL = timedelta(seconds=1)


def step_hash(steps: Sequence[Step]) -> str:
    """A stable digest of the step list: equal for lists the API server would store identically."""
    canonical = json.dumps([to_wire(step) for step in steps], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def step_name(step: Step, index: int) -> str:
    return step.name if step.name is not None else f"{step.kind.lower()}-{index}"


def name_at(steps: Sequence[Step], index: int) -> str:
    """The name of step ``index``; ``len(steps)`` is the implicit promotion, ``full-<len>``."""
    return step_name(steps[index], index) if index < len(steps) else f"full-{len(steps)}"


def step_names(steps: Sequence[Step]) -> list[str]:
    return [step_name(step, index) for index, step in enumerate(steps)]


def last_index(steps: Sequence[Step]) -> int:
    """The index of the promotion: the explicit ``full`` step, or the implicit one after the list."""
    return len(steps) - 1 if steps and steps[-1].full is not None else len(steps)


def is_full(steps: Sequence[Step], index: int) -> bool:
    return index >= len(steps) or steps[index].full is not None


def step_duration(step: Step) -> timedelta | None:
    """How long a step holds: shadow, canary and pause durations; an A/B test's maxDuration."""
    if step.shadow is not None:
        return parse_duration(step.shadow.duration)
    if step.canary is not None and step.canary.duration is not None:
        return parse_duration(step.canary.duration)
    if step.pause is not None and step.pause.duration is not None:
        return parse_duration(step.pause.duration)
    if step.ab_test is not None:
        return parse_duration(step.ab_test.max_duration)
    return None


def deadline(step: Step, started_at: datetime) -> datetime | None:
    """When the step's time is up (an A/B test's maxDuration); None for steps without a clock."""
    duration = step_duration(step)
    return started_at + duration if duration is not None else None


def time_up(step: Step, started_at: datetime, now: datetime) -> bool:
    """Has the step held long enough? True at once for a canary without duration and for ``full``;
    never for a pause without duration; for an A/B test, True once ``maxDuration`` has passed."""
    if step.pause is not None and step.pause.duration is None:
        return False
    end = deadline(step, started_at)
    return end is None or now >= end


def waits_for_human(step: Step) -> bool:
    """A pause without duration: it ends when its name is in spec.approved."""
    return step.pause is not None and step.pause.duration is None


def gated(step: Step) -> bool:
    """Does the analysis gate this step's completion? Every step that holds traffic for a while:
    shadow, canary, A/B test and a timed pause. A pause that waits for a human is ended by the
    human; ``full`` ends the rollout."""
    return step.full is None and not waits_for_human(step)


def approved_steps(entries: Sequence[str], candidate: str | None, standing: Sequence[str] | None) -> list[str]:
    """The step names ``spec.approved`` approves for ``candidate``: every ``step@candidate`` entry,
    and every plain name not in ``standing`` (the plain names listed when its rollout began)."""
    found: list[str] = []
    for entry in entries:
        step, at, who = entry.partition("@")
        if (who == candidate if at else entry not in (standing or ())) and step not in found:
            found.append(step)
    return found


def plain_approvals(entries: Sequence[str]) -> list[str]:
    """The plain step names of ``spec.approved`` (the baseline a new rollout records)."""
    return [entry for entry in entries if "@" not in entry]


def approved(steps: Sequence[Step], index: int, names: Sequence[str]) -> bool:
    """Is step ``index``'s name listed in spec.approved?"""
    return name_at(steps, index) in names


def needs_approval(steps: Sequence[Step], index: int, names: Sequence[str]) -> bool:
    """Must step ``index`` wait for a human before it starts? (approval: true and not yet approved)"""
    return index < len(steps) and steps[index].approval and not approved(steps, index, names)


def analysis_complete(step: Step, started_at: datetime, now: datetime, ab_decision: ABDecision | None = None) -> bool:
    """For the reconciler: should this tick's assessment be taken with ``complete=True`` (the step's
    own condition is met, so only the analysis stands between it and the next step)?"""
    if step.ab_test is not None:
        return ab_decision is ABDecision.CANDIDATE_BETTER
    return gated(step) and time_up(step, started_at, now)


def analysis_interval(spec: RolloutSpec) -> timedelta | None:
    if spec.analysis is None:
        return None
    return max(parse_duration(spec.analysis.interval), MIN_INTERVAL)


def problems(spec: RolloutSpec) -> list[str]:
    """Durations the schema admitted but that cannot be used (longer than Kubernetes' ~292 years:
    stored before a rule existed). Each names its field."""
    fields: list[tuple[str, str | None]] = [("spec.progressDeadline", spec.progress_deadline)]
    if spec.analysis is not None:
        fields.append(("spec.analysis.interval", spec.analysis.interval))
    for index, step in enumerate(spec.steps):
        where = f"spec.steps[{index}]"
        if step.shadow is not None:
            fields.append((f"{where}.shadow.duration", step.shadow.duration))
        if step.canary is not None:
            fields.append((f"{where}.canary.duration", step.canary.duration))
        if step.pause is not None:
            fields.append((f"{where}.pause.duration", step.pause.duration))
        if step.ab_test is not None:
            fields.append((f"{where}.abTest.maxDuration", step.ab_test.max_duration))
    found: list[str] = []
    for path, text in fields:
        if text is None:
            continue
        try:
            parse_duration(text)
        except ValueError as error:
            found.append(f"{path}: {error}")
    return found
