"""One plan's working state: the stored status read into fields, the parsed spec, and the primitive
transitions every rule uses — set the phase (history and Event on a change), choose the route,
wait, stamp history. The rules themselves live in ``targets`` (which version serves), ``driving``
(the steps) and ``gate`` (may a step end?); ``assembly`` turns the state back into a status.

Built from an already-parsed spec (``RolloutSpec``, never None): a spec that does not parse never
gets this far (``machine.plan`` answers it alone).
"""

from __future__ import annotations

from datetime import datetime

from modelops.api.rollout import ABDecision, ABTestStatus, AnalysisStatus, HistoryEntry, RolloutPhase, RolloutSpec
from modelops.api.steps import Step
from modelops.core.conditions import get_condition
from modelops.core.drafting import StatusDraft
from modelops.core.intents import Event
from modelops.core.rollout import history as audit
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.actions import Route, VersionTag
from modelops.core.rollout.following import effective_target
from modelops.core.rollout.traffic import Split, SplitChoice, desired_split, safe_split
from modelops.core.rollout.types import (
    CANDIDATE_READY,
    MIN_REQUEUE_SECONDS,
    OPERATOR,
    PROGRESSING,
    RolloutObservation,
    StepRef,
    aware,
    read_status,
    stamp,
)


class Working:
    """The status being planned (fields), and what the plan produces beside it."""

    def __init__(self, obs: RolloutObservation, spec: RolloutSpec, now: datetime) -> None:
        self.obs = obs
        self.spec = spec
        self.now = aware(now)
        self.stamp = stamp(now)
        self.draft = StatusDraft(obs.status, obs.generation, self.now)
        self.events = self.draft.events
        current = read_status(obs.status)
        self.initial = current
        self.phase: RolloutPhase | None = current.phase
        self.message: str | None = current.message
        self.stable: str | None = current.stable
        self.candidate: str | None = current.candidate
        self.step: int | None = current.current_step
        self.started: datetime | None = stamp(current.step_started_at) if current.step_started_at else None
        self.hash: str | None = current.step_hash
        self.analysis: AnalysisStatus | None = current.analysis
        self.ab: ABTestStatus | None = current.ab_test
        self.warm: list[str] = list(current.warm)
        self.approved_at_hold: list[str] | None = current.approved_at_hold
        self.approved_at_start: list[str] | None = current.approved_at_start
        self.observed_retry: str | None = current.observed_retry
        progressing = get_condition(self.draft.data.get("conditions"), PROGRESSING)
        self.reason: str | None = str(progressing.get("reason")) if progressing else None
        self.entries: list[HistoryEntry] = []
        self.route: Route | None = None
        self.route_decided = False
        self.tags: list[VersionTag] = []
        self.measure: StepRef | None = None
        self.requeue: list[float] = []
        self.resumed = False
        self.pausing = False
        self.problems: list[str] = []
        self.refused = False
        # The route only deploys a version that is not Ready yet (kserve): no traffic to report.
        self.deploy_only = False
        # spec.target, or the version spec.targetFrom's alias names (following.py).
        chosen = effective_target(spec, obs.status.get("followed"), obs.alias, self.stamp)
        self.target: str | None = chosen.name
        self.target_actor = chosen.actor
        self.followed = chosen.followed

    # -- small readers ---------------------------------------------------------------------

    @property
    def actor(self) -> str:
        """Who changed what the rules react to: the alias move when it changed the target, else
        the field manager that changed spec."""
        return self.target_actor or self.obs.spec_actor or "spec"

    @property
    def approved(self) -> list[str]:
        """The step names approved for the candidate in flight (``steps.approved_steps``)."""
        return schedule.approved_steps(self.spec.approved, self.candidate, self.approved_at_start)

    @property
    def steps(self) -> list[Step]:
        return self.spec.steps

    def ready(self, name: str | None) -> bool:
        if name is None:
            return False
        state = self.obs.versions.get(name)
        return state is not None and state.exists and state.ready

    def same_model(self, name: str) -> bool:
        """Is the ModelVersion a version of spec.model (or not known to be another model's)?"""
        state = self.obs.versions.get(name)
        return state is None or state.model is None or state.model == self.spec.model

    def exists(self, name: str) -> bool | None:
        state = self.obs.versions.get(name)
        return None if state is None else state.exists

    def wait(self, seconds: float | None) -> None:
        if seconds is not None:
            self.requeue.append(max(MIN_REQUEUE_SECONDS, seconds))

    def until(self, moment: datetime) -> None:
        self.wait((moment - self.now).total_seconds())

    # -- primitive transitions -------------------------------------------------------------

    def log(self, from_: str | None, to: str, reason: str, message: str | None, actor: str = OPERATOR) -> None:
        text = message[:4096] if message is not None else None
        self.entries.append(audit.entry(self.stamp, from_, to, reason, actor[:253], text))

    def move(
        self,
        phase: RolloutPhase,
        reason: str,
        message: str,
        *,
        actor: str = OPERATOR,
        event: str | None = None,
        always: bool = False,
    ) -> None:
        """Set the phase; on a change (or ``always``, for a stable change within one phase) record
        history and post the Event."""
        before = self.phase
        if before != phase or always:
            self.log(before.value if before else None, phase.value, reason, message, actor)
            if event:
                self.events.append(Event(event, reason, message))
        self.phase, self.reason, self.message = phase, reason, message

    def set_route(self, stable: str | None, choice: SplitChoice, *, with_candidate: bool) -> None:
        self.route_decided = True
        if stable is None or choice.split is None:
            self.route = None
            return
        candidate = self.candidate if with_candidate else None
        split = choice.split
        if candidate is None and (split.candidate or split.mirror):
            # Out of flight the candidate has no backend: only the stable may serve.
            self.route = None
            return
        self.route = Route(stable=stable, candidate=candidate, split=split)

    def stable_only(self) -> SplitChoice:
        choice = desired_split(None, stable_ready=self.ready(self.stable), candidate_ready=False)
        self.set_route(self.stable, choice, with_candidate=False)
        return choice

    def in_flight_split(self, wanted: Split) -> SplitChoice:
        choice = safe_split(wanted, stable_ready=self.ready(self.stable), candidate_ready=self.ready(self.candidate))
        self.set_route(self.stable, choice, with_candidate=True)
        return choice

    def note(self, choice: SplitChoice) -> None:
        if choice.note and self.message and choice.note not in self.message:
            self.message = f"{self.message} ({choice.note})"

    def drop_candidate_condition(self) -> None:
        conditions = self.draft.data.get("conditions") or []
        self.draft.data["conditions"] = [c for c in conditions if c.get("type") != CANDIDATE_READY]

    def clear_steps(self) -> None:
        self.step, self.started = None, None

    def reset_analysis(self, step: Step | None) -> None:
        """Counters restart with every step run (status.analysis); measurements stay, tagged by step."""
        kept = self.analysis.measurements if self.analysis is not None else []
        last = self.analysis.last_run if self.analysis is not None else None
        self.analysis = AnalysisStatus(
            last_run=last, measurements=list(kept), failures=0, inconclusives=0, consecutive_errors=0
        )
        if step is not None and step.ab_test is not None:
            # The sequential module: the running p-value restarts at 1 with every (re)start.
            self.ab = ABTestStatus(metric=step.ab_test.metric, p_value=1.0, decision=ABDecision.UNDECIDED)
