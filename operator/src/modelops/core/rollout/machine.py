"""The Rollout state machine: ``plan(observation, now) -> RolloutDecision``.

Owns every decision about a Rollout — which version is stable, which is the candidate, which step
runs, what split the router should apply, the whole status, the Events, and the side effects the
reconciler must carry out (MLflow tags on a failed version, versions that stop being kept warm;
the MLflow aliases follow ``status.stable``/``candidate``, see ``registry``). Pure: the
reconciler observes (the Rollout, the ModelVersions it names, the analysis of the current step,
the router's current split), calls ``plan`` and executes; ``now`` is an argument.

**The target decides.** ``spec.target`` says which version should serve; the status says where
the rollout is. Each plan compares them, in this order:

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
   out and stays out until the target changes.
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
- A step with ``approval: true`` waits in AwaitingApproval, at the split before it, until its name
  is in ``spec.approved``. A pause step shows phase Paused: a timed one ends on time, one without
  duration when its name is in ``spec.approved``.
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

**Leaving a hold** (the analysis module's contract: "a human who accepts the risk approves the next
step"): list the *next* step's name in ``spec.approved`` to accept and go on (after the last step:
``full-<len(steps)>``, the implicit promotion); toggle ``spec.paused`` true then false to measure the
step again from scratch; or roll back by target or abort. Approvals are standing: a name left in
``spec.approved`` from an earlier rollout approves that step again, so a new rollout's start says
which of its steps are already approved. A hold is the exception: it is accepted only by a name
added *after* it began (``status.approvedAtHold`` keeps ``spec.approved`` as it was then), because a
step approved in advance — in git, before anyone saw this analysis — must not wave it through.

**A spec the router cannot run** (``capabilities.check``, or a duration too long to use) sets
``Accepted=False/InvalidSpec`` and starts or advances nothing: a rollout in flight is frozen at its
split (minus a mirror the router cannot do). Rolling back by target and aborting still work: they
need no steps. A spec that does not even parse moves nothing at all.

**Idempotence.** History entries, Events and intents are produced only on transitions; condition
times move only on a flip; messages carry absolute times, never "x seconds ago". Planning the same
observation again, later, changes nothing until a deadline passes. A restarted operator plans from
the status alone and continues the same step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from modelops.api.common import to_wire
from modelops.api.rollout import (
    ABArm,
    ABDecision,
    ABTestStatus,
    AnalysisStatus,
    HistoryEntry,
    Measurement,
    RolloutPhase,
    RolloutSpec,
    RolloutStatus,
    Step,
)
from modelops.core.acceptance import field_path
from modelops.core.analysis.sequential import SequentialDecision
from modelops.core.analysis.srm import SampleRatio
from modelops.core.analysis.verdicts import AnalysisPhase, Assessment
from modelops.core.conditions import format_time, get_condition, parse_time
from modelops.core.drafting import StatusDraft
from modelops.core.durations import parse_duration
from modelops.core.intents import Event
from modelops.core.ownership import Claim, Contender, Owner, Rejection, conflict_message, winner
from modelops.core.rollout import capabilities
from modelops.core.rollout import history as audit
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.intents import Route, VersionTag, clip_tag
from modelops.core.rollout.traffic import (
    ALL_CANDIDATE,
    ALL_STABLE,
    Split,
    SplitChoice,
    desired_split,
    safe_split,
    split_at,
    split_before,
)

IN_FLIGHT = frozenset({RolloutPhase.PROGRESSING, RolloutPhase.PAUSED, RolloutPhase.AWAITING_APPROVAL})
CANDIDATE_OUT = frozenset({RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED})
HOLD_REASONS = frozenset({"AnalysisInconclusive", "NoDifference", "SampleRatioMismatch"})
OPERATOR = audit.OPERATOR
MEASUREMENTS_KEPT = 100
RETIRED_KEPT = 20

# Condition types. Progressing carries the reason of the state (and so remembers a hold across
# plans); Paused remembers spec.paused, so that clearing it is seen as a resume; CandidateReady's
# transition time is when the candidate stopped being Ready, which the progress deadline counts from.
ACCEPTED = "Accepted"
PROGRESSING = "Progressing"
PAUSED = "Paused"
CANDIDATE_READY = "CandidateReady"
READY = "Ready"

# Safety nets only: spec and ModelVersion changes wake the reconciler at once.
POLL_SECONDS = 30.0
# A refused Rollout (a conflict, a refused route write) looks again this often: slowly, because
# only a change elsewhere can lift the refusal, and a spec change wakes it at once anyway.
REFUSED_RETRY_SECONDS = 60.0
# A canary without duration moves on once the router shows its weight; look again soon.
APPLY_SECONDS = 1.0
MIN_REQUEUE_SECONDS = 1.0


# ------------------------------------------------------------------------------ observation


@dataclass(frozen=True)
class VersionState:
    """What the reconciler saw of one ModelVersion."""

    exists: bool = True
    ready: bool = False
    model: str | None = None  # spec.model of the ModelVersion

    @classmethod
    def of(cls, model_version: Mapping[str, Any] | None) -> VersionState:
        """From a ModelVersion object as read from the API server (None: not found)."""
        if model_version is None:
            return cls(exists=False, ready=False)
        status = model_version.get("status") or {}
        model = (model_version.get("spec") or {}).get("model")
        return cls(exists=True, ready=status.get("ready") is True, model=str(model) if model else None)


@dataclass(frozen=True)
class StepRef:
    """One run of one step: the candidate, the step's index and when it started. Analysis results
    carry it back, so a result measured for an earlier run (before a restart, a retry or another
    candidate) is never applied to this one."""

    candidate: str
    step: int
    started_at: datetime


@dataclass(frozen=True)
class StepAnalysis:
    """What the reconciler measured for the step ``ref`` names (any part may be absent).

    ``assessment`` folds the step's measurements (``verdicts.assess``, with ``complete`` from
    ``steps.analysis_complete``); ``measurements`` are the new ones, appended to status;
    ``ab`` is the sequential test's look (abTest steps); ``srm`` the sample-ratio check."""

    ref: StepRef
    at: datetime | None = None
    assessment: Assessment | None = None
    measurements: tuple[Measurement, ...] = ()
    ab: SequentialDecision | None = None
    ab_arms: tuple[ABArm, ABArm] | None = None
    srm: SampleRatio | None = None


@dataclass(frozen=True)
class RolloutObservation:
    name: str
    namespace: str
    generation: int | None
    spec: Mapping[str, Any] | None
    status: Mapping[str, Any]
    # Every ModelVersion named by spec.target and status.stable/candidate/warm; a name missing
    # here is treated as not Ready (and, for warm versions, as not known to be gone).
    versions: Mapping[str, VersionState] = field(default_factory=dict)
    analysis: StepAnalysis | None = None
    # The split the router applies now, when it can say (None: unknown, or no route yet).
    router_split: Split | None = None
    # Who changed spec, for history (e.g. the field manager: kubectl-patch, argocd-controller).
    spec_actor: str = "spec"
    # What the router says it cannot do for these versions (e.g. a Serverless InferenceService
    # under the kserve router): treated like the step capabilities, an InvalidSpec.
    router_problems: tuple[str, ...] = ()
    # Whose the route object is (ownership.claim); a foreign route refuses the Rollout.
    route_claim: Claim | None = None
    route_name: str = ""
    # Every Rollout that drives spec.model, this one included: only the oldest acts.
    contenders: tuple[Contender, ...] = ()
    # The route write the API server refused for good in this reconcile (plan again with it).
    rejection: Rejection | None = None


# --------------------------------------------------------------------------------- decision


@dataclass
class RolloutDecision:
    """What to do. ``status`` is the whole status to write; a key whose value is None is to be
    removed (JSON merge-patch semantics: e.g. ``candidate`` after a promotion)."""

    status: dict[str, Any]
    route: Route | None = None  # None: leave the route as it is
    events: list[Event] = field(default_factory=list)
    version_tags: list[VersionTag] = field(default_factory=list)
    warm: list[str] = field(default_factory=list)
    retire: list[str] = field(default_factory=list)  # previous champions no longer kept warm
    measure: StepRef | None = None  # the step run the reconciler should analyse next
    requeue_after: float | None = None
    # The Rollout is refused (a route or model it may not take, a refused write): nothing may be
    # written for it but its status — no route, no alias, no tag.
    refused: bool = False

    @property
    def desired_split(self) -> Split | None:
        return self.route.split if self.route is not None else None

    @property
    def phase(self) -> RolloutPhase | None:
        try:
            return RolloutPhase(str(self.status.get("phase")))
        except ValueError:
            return None


# ---------------------------------------------------------------------------------- helpers


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> datetime:
    """A time as status stores it (UTC, whole seconds), so a re-read status compares equal."""
    return _aware(moment).astimezone(UTC).replace(microsecond=0)


def _read_status(status: Mapping[str, Any]) -> RolloutStatus:
    """The stored status as a model. Status is written by the operator and checked by the API
    server, but a field this version cannot read (written by another version, or by hand) must not
    stop the rollout: such fields are dropped, one by one, and the rest is kept."""
    data = dict(status)
    for _ in range(len(data) + 1):
        try:
            return RolloutStatus.model_validate(data)
        except ValidationError as error:
            bad = {e["loc"][0] for e in error.errors() if e["loc"]}
            if not bad:
                break
            data = {key: value for key, value in data.items() if key not in bad}
        except (TypeError, ValueError):
            break
    return RolloutStatus()


# ---------------------------------------------------------------------------------- planner


class _Planner:
    """One plan: the working copy of the status, and what it produces."""

    def __init__(self, obs: RolloutObservation, now: datetime) -> None:
        self.obs = obs
        self.now = _aware(now)
        self.stamp = _stamp(now)
        self.draft = StatusDraft(obs.status, obs.generation, self.now)
        self.events = self.draft.events
        current = _read_status(obs.status)
        self.initial = current
        self.phase: RolloutPhase | None = current.phase
        self.message: str | None = current.message
        self.stable: str | None = current.stable
        self.candidate: str | None = current.candidate
        self.step: int | None = current.current_step
        self.started: datetime | None = _stamp(current.step_started_at) if current.step_started_at else None
        self.hash: str | None = current.step_hash
        self.analysis: AnalysisStatus | None = current.analysis
        self.ab: ABTestStatus | None = current.ab_test
        self.warm: list[str] = list(current.warm)
        self.approved_at_hold: list[str] | None = current.approved_at_hold
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
        self.spec: RolloutSpec | None = None
        self.problems: list[str] = []
        self.refused = False

    # -- small readers ---------------------------------------------------------------------

    @property
    def actor(self) -> str:
        return self.obs.spec_actor or "spec"

    @property
    def steps(self) -> list[Step]:
        assert self.spec is not None
        return self.spec.steps

    def ready(self, name: str | None) -> bool:
        if name is None:
            return False
        state = self.obs.versions.get(name)
        return state is not None and state.exists and state.ready

    def same_model(self, name: str) -> bool:
        """Is the ModelVersion a version of spec.model (or not known to be another model's)?"""
        state = self.obs.versions.get(name)
        return state is None or state.model is None or self.spec is None or state.model == self.spec.model

    def exists(self, name: str) -> bool | None:
        state = self.obs.versions.get(name)
        return None if state is None else state.exists

    def wait(self, seconds: float | None) -> None:
        if seconds is not None:
            self.requeue.append(max(MIN_REQUEUE_SECONDS, seconds))

    def until(self, moment: datetime) -> None:
        self.wait((moment - self.now).total_seconds())

    # -- transitions -----------------------------------------------------------------------

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

    def refuse(self, reason: str, message: str) -> None:
        """This Rollout may not act: say why (one Warning Event, on the flip), write no route, and
        keep every other part of the status as it was."""
        self.draft.condition(ACCEPTED, False, reason, message, event="Warning")
        self.refused = True
        self.route_decided = True
        if self.phase is None:
            self.phase = RolloutPhase.IDLE
        self.reason, self.message = reason, f"refused: {message}"
        self.wait(REFUSED_RETRY_SECONDS)

    # -- the plan --------------------------------------------------------------------------

    def run(self) -> None:
        spec = self.spec
        assert spec is not None
        target = spec.target
        if self.stable is None:
            self.first_target(target)
        elif target == self.stable:
            self.keep_stable()
        elif target in self.warm and self.ready(target) and self.same_model(target):
            self.rollback_to_warm(target)
        elif spec.abort:
            self.abort(target)
        elif self.candidate == target and self.phase in CANDIDATE_OUT:
            self.stable_only()  # out until the target changes; the message keeps why
        elif self.candidate == target and self.phase is RolloutPhase.ABORTED:
            self.begin(target, "AbortCleared", f"spec.abort cleared: rolling out {target} again from step 0")
        elif self.candidate == target and self.phase in IN_FLIGHT:
            self.drive()
        else:
            self.start(target)

    def first_target(self, target: str) -> None:
        if self.problems:
            # A refused spec moves nothing: no route, no stable, so no alias and no role.
            self.move(RolloutPhase.IDLE, "InvalidSpec",
                      f"{target} is not served: the spec is invalid (see the Accepted condition)")
            self.route_decided = True
            self.wait(POLL_SECONDS)
            return
        if self.ready(target):
            self.stable = target
            self.move(
                RolloutPhase.PROMOTED,
                "FirstTarget",
                f"{target} is the first version of the model: it serves 100% without steps",
                actor=self.actor,
                event="Normal",
            )
            self.stable_only()
            return
        missing = self.exists(target) is False or target not in self.obs.versions
        state = "to exist" if missing else "to become Ready"
        self.move(RolloutPhase.IDLE, "WaitingForTarget", f"waiting for ModelVersion {target} {state}")
        self.route_decided = True  # nothing may serve yet: no route
        self.wait(POLL_SECONDS)

    @property
    def spec_model(self) -> str:
        assert self.spec is not None
        return self.spec.model

    def keep_stable(self) -> None:
        stable = self.stable
        assert stable is not None
        if self.candidate is not None:
            dropped, was = self.candidate, self.phase
            self.candidate = None
            self.clear_steps()
            self.drop_candidate_condition()
            if was in IN_FLIGHT:
                self.move(
                    RolloutPhase.ROLLED_BACK,
                    "TargetReverted",
                    f"spec.target set back to the stable {stable}: 100% on it, candidate {dropped} dropped",
                    actor=self.actor,
                    event="Normal",
                )
            else:
                phase = was or RolloutPhase.PROMOTED
                self.move(
                    phase,
                    "CandidateCleared",
                    f"spec.target is the stable {stable}; candidate {dropped} cleared",
                    actor=self.actor,
                    always=True,
                )
        elif self.phase is None or self.phase is RolloutPhase.IDLE or self.phase in IN_FLIGHT:
            self.move(RolloutPhase.PROMOTED, "Stable", f"{stable} serves 100%")
        self.note(self.stable_only())

    def rollback_to_warm(self, target: str) -> None:
        old, dropped = self.stable, self.candidate
        assert old is not None
        self.stable, self.candidate = target, None
        self.clear_steps()
        self.drop_candidate_condition()
        self.warm = [old, *[w for w in self.warm if w != target]]
        also = f", candidate {dropped} dropped" if dropped is not None and dropped != target else ""
        self.move(
            RolloutPhase.ROLLED_BACK,
            "RolledBackToWarm",
            f"spec.target set to the warm version {target}: it serves 100% again (was {old}){also}",
            actor=self.actor,
            event="Normal",
            always=True,
        )
        self.stable_only()

    def abort(self, target: str) -> None:
        stable = self.stable
        if self.candidate is None or self.phase in CANDIDATE_OUT:
            if self.phase is None or self.phase is RolloutPhase.IDLE:
                self.phase = RolloutPhase.PROMOTED
            self.message = f"spec.abort is set: {target} is not rolled out; {stable} serves 100%"
        elif self.phase is not RolloutPhase.ABORTED:
            self.drop_candidate_condition()
            self.move(
                RolloutPhase.ABORTED,
                "Aborted",
                f"aborted by spec.abort: 100% on the stable {stable}; candidate {self.candidate} is kept "
                "(status.candidate) for debugging",
                actor=self.actor,
                event="Warning",
            )
        self.note(self.stable_only())

    def start(self, target: str) -> None:
        if self.problems:
            self.message = f"{target} is not rolled out: the spec is invalid (see the Accepted condition)"
            if self.candidate is not None and self.phase in IN_FLIGHT:
                self.freeze()
            else:
                self.stable_only()
            return
        old = self.candidate if self.phase in IN_FLIGHT else None
        replacing = f", replacing candidate {old}" if old is not None and old != target else ""
        count = schedule.last_index(self.steps) + 1
        if target in self.warm:
            note = f"; the warm version {target} is not Ready, so it is rolled out through the steps"
        else:
            warm = ", ".join(self.warm) or "none"
            note = (f"; a full rollout through {count} step(s), not an instant rollback: {target} is neither the "
                    f"stable nor a warm version (warm: {warm})")
        names = [schedule.name_at(self.steps, i) for i in range(count)]
        standing = [name for name in names if name in self.spec_approved]
        if standing:
            note += f"; spec.approved already lists {', '.join(standing)}: those steps will not wait"
        self.begin(target, "TargetChanged", f"rolling out {target} (stable {self.stable}){replacing}{note}")

    @property
    def spec_approved(self) -> list[str]:
        assert self.spec is not None
        return self.spec.approved

    def begin(self, target: str, reason: str, message: str) -> None:
        """Start the steps of ``target`` at 0 (the step itself starts in ``drive``)."""
        self.candidate = target
        self.step, self.started = 0, None
        self.hash = schedule.step_hash(self.steps)
        self.reset_analysis(None)
        self.drop_candidate_condition()
        self.move(RolloutPhase.PROGRESSING, reason, message, actor=self.actor, event="Normal", always=True)
        self.drive()

    def freeze(self) -> None:
        """Hold an in-flight rollout where it is (the spec cannot be run): the split in status,
        minus any weight a backend that is not Ready may not have, minus a mirror the router
        cannot do."""
        assert self.spec is not None
        self.reason = "InvalidSpec"
        current = Split.from_traffic(self.initial.traffic) or self.obs.router_split or ALL_STABLE
        if not capabilities.capabilities_of(self.spec).can(capabilities.Feature.MIRROR):
            current = replace(current, mirror=0)
        self.message = "frozen: the spec is invalid (see the Accepted condition)"
        self.note(self.in_flight_split(current))
        self.wait(POLL_SECONDS)

    # -- driving the steps -----------------------------------------------------------------

    def drive(self) -> None:
        spec = self.spec
        assert spec is not None and self.candidate is not None
        steps = spec.steps
        candidate_ready = self.ready(self.candidate)
        self.candidate_condition(candidate_ready)
        if self.problems:
            self.freeze()
            return
        digest = schedule.step_hash(steps)
        if self.hash != digest:
            message = f"spec.steps changed (hash {self.hash} -> {digest}): restarting at step 0"
            self.restart_steps("StepsChanged", message)
        index = self.step
        if index is None or not 0 <= index <= schedule.last_index(steps):
            self.restart_steps("StepOutOfRange", f"status.currentStep {index} is not a step of spec.steps: restarting")
            index = 0

        if spec.paused:
            self.paused_by_spec(index)
            return
        held_before = self.phase is RolloutPhase.PAUSED and self.reason in HOLD_REASONS
        if self.resumed and self.initial.phase is RolloutPhase.PAUSED:
            name = schedule.name_at(steps, index)
            if held_before:
                reason = "StepRetried"
                message = f"spec.paused cleared after a hold: step {index} ({name}) is measured again"
                self.started, held_before = None, False
            else:
                reason, message = "Resumed", f"spec.paused cleared: resuming at step {index} ({name})"
            self.log(RolloutPhase.PAUSED.value, name, reason, message, self.actor)
            self.events.append(Event("Normal", reason, message))

        if not candidate_ready and self.deadline_passed():
            return

        if self.started is None:
            if schedule.needs_approval(steps, index, spec.approved):
                name = schedule.name_at(steps, index)
                self.move(
                    RolloutPhase.AWAITING_APPROVAL,
                    "AwaitingApproval",
                    f"step {index} ({name}) waits for approval: add {name} to spec.approved",
                    event="Normal",
                )
                self.note(self.in_flight_split(split_before(steps, index)))
                self.wait(POLL_SECONDS)
                return
            self.start_step(index, self.phase.value if self.phase else None)
            return

        self.evaluate(index, held_before)

    def restart_steps(self, reason: str, message: str) -> None:
        self.log(
            schedule.name_at(self.steps, self.step) if self.step is not None and self.step < len(self.steps) else None,
            schedule.name_at(self.steps, 0),
            reason,
            message,
            self.actor if reason == "StepsChanged" else OPERATOR,
        )
        self.events.append(Event("Normal", reason, message))
        self.step, self.started = 0, None
        self.hash = schedule.step_hash(self.steps)
        self.reset_analysis(None)

    def candidate_condition(self, ready: bool) -> None:
        candidate = self.candidate
        if ready:
            self.draft.condition(CANDIDATE_READY, True, "Ready", f"candidate {candidate} is Ready")
        elif self.exists(candidate or "") is False or candidate not in self.obs.versions:
            self.draft.condition(
                CANDIDATE_READY, False, "NotFound", f"ModelVersion {candidate} does not exist", event="Warning"
            )
        else:
            self.draft.condition(CANDIDATE_READY, False, "NotReady", f"candidate {candidate} is not Ready")

    def paused_condition(self) -> None:
        """Paused mirrors spec.paused; a True -> False flip is a resume."""
        assert self.spec is not None
        old = get_condition(self.draft.data.get("conditions"), PAUSED)
        was = old is not None and old.get("status") == "True"
        if self.spec.paused:
            self.pausing = not was
            self.draft.condition(PAUSED, True, "PausedBySpec", "spec.paused is true: the rollout is frozen")
        elif was:
            self.resumed = True
            self.draft.condition(PAUSED, False, "Resumed", "spec.paused was cleared")
        elif old is None:
            self.draft.condition(PAUSED, False, "NotPaused", "spec.paused is false")

    def paused_by_spec(self, index: int) -> None:
        steps = self.steps
        wanted = split_at(steps, index) if self.started is not None else split_before(steps, index)
        hold = self.reason if self.reason in HOLD_REASONS else None
        self.move(
            RolloutPhase.PAUSED,
            "PausedBySpec",
            f"paused by spec.paused at step {index} ({schedule.name_at(steps, index)}): traffic frozen; "
            "set paused: false to resume",
            actor=self.actor,
            event="Normal",
            always=self.pausing,
        )
        if hold is not None:
            self.reason = hold  # keep the hold visible: resuming measures the step again
        if self.started is not None:
            self.record(self.matching(index))
            self.measure = StepRef(self.candidate or "", index, self.started)
        self.note(self.in_flight_split(wanted))
        self.wait(POLL_SECONDS)

    def deadline_passed(self) -> bool:
        """Fail when the candidate has not been Ready for progressDeadline; else wake at the deadline."""
        assert self.spec is not None
        conditions = self.draft.data.get("conditions")
        since = parse_time((get_condition(conditions, CANDIDATE_READY) or {}).get("lastTransitionTime"))
        paused = get_condition(conditions, PAUSED)
        if paused is not None and paused.get("status") == "False" and paused.get("reason") == "Resumed":
            resumed_at = parse_time(paused.get("lastTransitionTime"))
            if resumed_at is not None and (since is None or resumed_at > since):
                since = resumed_at
        since = since or self.stamp
        limit = parse_duration(self.spec.progress_deadline)
        if self.now - since < limit:
            self.until(since + limit)
            return False
        failed = self.candidate or ""
        message = (
            f"candidate {failed} was not Ready within progressDeadline {self.spec.progress_deadline} "
            f"(not Ready since {format_time(since)}): 100% on the stable {self.stable}"
        )
        self.fail(RolloutPhase.FAILED, "ProgressDeadlineExceeded", message)
        return True

    def fail(self, phase: RolloutPhase, reason: str, message: str) -> None:
        failed = self.candidate or ""
        self.drop_candidate_condition()
        self.move(phase, reason, message, event="Warning")
        self.tags.append(
            VersionTag(
                self.spec_model,
                failed,
                {
                    "modelops.io/rollout": f"{self.obs.namespace}/{self.obs.name}",
                    "modelops.rollout.outcome": phase.value,
                    "modelops.rollout.reason": reason,
                    "modelops.rollout.message": clip_tag(message),
                },
            )
        )
        self.stable_only()

    def start_step(self, index: int, origin: str | None) -> None:
        """Start step ``index`` now (``origin``: the step or phase before, for history); ``full``
        promotes in the same plan."""
        steps = self.steps
        name = schedule.name_at(steps, index)
        by_human = index < len(steps) and steps[index].approval
        self.started = self.stamp
        self.step = index
        step = steps[index] if index < len(steps) else None
        self.reset_analysis(step)
        self.log(
            origin,
            name,
            "Approved" if by_human else "StepStarted",
            f"step {index} ({name}) started" + (f": {name} is in spec.approved" if by_human else ""),
            self.actor if by_human else OPERATOR,
        )
        self.events.append(Event("Normal", "StepStarted", f"step {index} ({name}) started"))
        if schedule.is_full(steps, index):
            self.promote_or_wait(index)
            return
        self.running(index)

    def running(self, index: int) -> None:
        steps = self.steps
        step = steps[index]
        name = schedule.name_at(steps, index)
        assert self.started is not None and self.candidate is not None
        split = split_at(steps, index)
        end = schedule.deadline(step, self.started)
        until = f" until {format_time(end)}" if end is not None else ""
        if step.pause is not None:
            how = until or f" until {name} is in spec.approved"
            self.move(RolloutPhase.PAUSED, "PauseStep", f"step {index} ({name}): pause at {split.describe()}{how}")
        elif step.ab_test is not None:
            self.move(
                RolloutPhase.PROGRESSING,
                "StepRunning",
                f"step {index} ({name}): A/B test of {step.ab_test.metric} at {split.describe()}, until decided "
                f"or{until}",
            )
        else:
            after = until or " until the weight is applied"
            self.move(RolloutPhase.PROGRESSING, "StepRunning", f"step {index} ({name}): {split.describe()}{after}")
        self.note(self.in_flight_split(split))
        if end is not None and end > self.now:
            self.until(end)
        if step.canary is not None and step.canary.duration is None:
            self.wait(APPLY_SECONDS)
        if self.spec is not None and (self.spec.analysis is not None or step.ab_test is not None):
            self.measure = StepRef(self.candidate, index, self.started)
            interval = schedule.analysis_interval(self.spec)
            self.wait(interval.total_seconds() if interval is not None else POLL_SECONDS)
        self.wait(POLL_SECONDS)

    def promote_or_wait(self, index: int) -> None:
        if not self.ready(self.candidate):
            self.move(
                RolloutPhase.PROGRESSING,
                "WaitingForCandidate",
                f"step {index} ({schedule.name_at(self.steps, index)}): waiting for candidate {self.candidate} "
                "to become Ready before it takes all traffic",
            )
            self.note(self.in_flight_split(ALL_CANDIDATE))
            self.wait(POLL_SECONDS)
            return
        old, new = self.stable, self.candidate
        assert old is not None and new is not None
        self.stable, self.candidate = new, None
        self.clear_steps()
        self.drop_candidate_condition()
        self.warm = [old, *[w for w in self.warm if w != new]]
        self.move(
            RolloutPhase.PROMOTED,
            "Promoted",
            f"{new} promoted to champion: it serves 100% (was {old})",
            event="Normal",
            always=True,
        )
        self.stable_only()

    # -- analysis --------------------------------------------------------------------------

    def matching(self, index: int) -> StepAnalysis | None:
        result = self.obs.analysis
        if result is None or self.started is None:
            return None
        ref = result.ref
        if ref.candidate != self.candidate or ref.step != index or _stamp(ref.started_at) != self.started:
            return None  # measured for another run of a step: never applied to this one
        return result

    def record(self, result: StepAnalysis | None) -> None:
        """Put what was measured into status.analysis and status.abTest (for humans and auditors)."""
        if result is None:
            return
        current = self.analysis or AnalysisStatus()
        seen = {(m.check, m.at, m.step, m.verdict, m.value) for m in current.measurements}
        added = [m for m in result.measurements if (m.check, m.at, m.step, m.verdict, m.value) not in seen]
        measurements = [*current.measurements, *added][-MEASUREMENTS_KEPT:]
        last = result.at or (max(_aware(m.at) for m in added) if added else None) or current.last_run
        update: dict[str, Any] = {"measurements": measurements, "last_run": _stamp(last) if last else None}
        if result.assessment is not None:
            update |= {
                "failures": result.assessment.failures,
                "inconclusives": result.assessment.inconclusives,
                "consecutive_errors": result.assessment.consecutive_errors,
            }
        self.analysis = current.model_copy(update=update)
        if result.ab is not None:
            ab = self.ab or ABTestStatus()
            arms: dict[str, Any] = {}
            if result.ab_arms is not None:
                arms = {"stable": result.ab_arms[0], "candidate": result.ab_arms[1]}
            self.ab = ab.model_copy(
                update={"p_value": min(1.0, max(0.0, result.ab.p_value)), "decision": result.ab.decision, **arms}
            )

    def evaluate(self, index: int, held_before: bool) -> None:
        spec, steps = self.spec, self.steps
        assert spec is not None and self.started is not None and self.candidate is not None
        full = schedule.is_full(steps, index)
        result = self.matching(index)
        self.record(result)
        assessment = result.assessment if result is not None else None
        decision = result.ab.decision if result is not None and result.ab is not None else None
        srm = result.srm if result is not None else None
        ab_message = result.ab.message if result is not None and result.ab is not None else ""

        # Roll back on a measured failure or a decided loss, whatever else holds.
        if assessment is not None and assessment.phase is AnalysisPhase.FAILED:
            self.fail(RolloutPhase.ROLLED_BACK, "AnalysisFailed", f"rolled back: {assessment.message}")
            return
        srm_mismatch = srm is not None and srm.mismatch
        if decision is ABDecision.CANDIDATE_WORSE and not srm_mismatch:
            self.fail(RolloutPhase.ROLLED_BACK, "CandidateWorse", f"rolled back: {ab_message}")
            return

        if full:
            # Nothing asks for a full step to be measured (promotion comes with its start), but a
            # result for it that is not clean must still never promote: wait for a clean plan.
            blocked = self.hold_reason(None, srm, assessment, decision, ab_message)
            if blocked is None:
                self.promote_or_wait(index)
                return
            self.move(
                RolloutPhase.PROGRESSING,
                "PromotionBlocked",
                f"step {index} ({schedule.name_at(steps, index)}): not promoting: {blocked[1]}",
                event="Warning",
                always=self.reason != "PromotionBlocked",
            )
            self.note(self.in_flight_split(split_at(steps, index)))
            self.wait(POLL_SECONDS)
            return
        step = steps[index]
        next_name = schedule.name_at(steps, index + 1)
        if held_before:
            if next_name in spec.approved and next_name not in (self.approved_at_hold or []):
                self.log(
                    RolloutPhase.PAUSED.value,
                    next_name,
                    "HoldAccepted",
                    f"{next_name} is in spec.approved: the hold on step {index} ({schedule.name_at(steps, index)}) "
                    "is accepted",
                    self.actor,
                )
                self.advance(index)
                return
            self.stay_held(index)
            return

        # Holds apply to every step, a pause waiting for its name included: approving the pause (perhaps
        # long ago, in git) is not accepting an analysis nobody has seen.
        hold = self.hold_reason(step, srm, assessment, decision, ab_message)
        if hold is not None:
            self.hold(index, *hold)
            return

        if self.complete(index, step, assessment, decision):
            self.advance(index)
            return
        self.running(index)
        if assessment is not None and assessment.phase is AnalysisPhase.RUNNING and schedule.time_up(
            step, self.started, self.now
        ):
            self.message = f"{self.message}; waiting for the analysis: {assessment.message}"

    def hold_reason(
        self,
        step: Step | None,
        srm: SampleRatio | None,
        assessment: Assessment | None,
        decision: ABDecision | None,
        ab_message: str,
    ) -> tuple[str, str] | None:
        """(reason, message) of a hold, in order of strength; None when nothing holds the step."""
        assert self.started is not None
        if srm is not None and srm.mismatch:
            return ("SampleRatioMismatch", srm.message)
        if assessment is not None and assessment.phase is AnalysisPhase.INCONCLUSIVE:
            return ("AnalysisInconclusive", assessment.message)
        if decision is ABDecision.NO_DIFFERENCE:
            return ("NoDifference", ab_message)
        if (
            step is not None
            and step.ab_test is not None
            and schedule.time_up(step, self.started, self.now)
            and decision is not ABDecision.CANDIDATE_BETTER
        ):
            return ("NoDifference", f"maxDuration {step.ab_test.max_duration} reached without a decision")
        return None

    def complete(self, index: int, step: Step, assessment: Assessment | None, decision: ABDecision | None) -> bool:
        spec = self.spec
        assert spec is not None and self.started is not None
        if not self.ready(self.candidate):
            return False
        if schedule.waits_for_human(step):
            return schedule.approved(self.steps, index, spec.approved)
        if step.ab_test is not None:
            if decision is not ABDecision.CANDIDATE_BETTER:
                return False
        elif not schedule.time_up(step, self.started, self.now):
            return False
        if step.canary is not None and step.canary.duration is None and not self.applied(index):
            return False
        if spec.analysis is not None:
            return assessment is not None and assessment.phase is AnalysisPhase.SUCCESSFUL
        return True

    def applied(self, index: int) -> bool:
        """Has the router applied this step's split? When it cannot say, a step started in an
        earlier plan counts as applied (the reconciler applies the route before writing status)."""
        wanted = split_at(self.steps, index)
        if self.obs.router_split is not None:
            return self.obs.router_split.served == wanted.served
        return self.started is not None and self.started < self.stamp

    def hold(self, index: int, reason: str, message: str) -> None:
        spec, steps = self.spec, self.steps
        assert spec is not None
        name, next_name = schedule.name_at(steps, index), schedule.name_at(steps, index + 1)
        self.approved_at_hold = list(spec.approved)
        go_on = f"add {next_name} to spec.approved"
        if next_name in spec.approved:
            go_on = (f"remove {next_name} from spec.approved and add it again (it was approved before this hold "
                     "began, which does not accept the hold)")
        self.move(
            RolloutPhase.PAUSED,
            reason,
            f"held at step {index} ({name}): {message}. To go on, {go_on}; to measure again, set spec.paused to "
            f"true and back to false; to roll back, set spec.target to {self.stable}",
            event="Warning",
        )
        self.stay_held(index)

    def stay_held(self, index: int) -> None:
        assert self.started is not None and self.candidate is not None
        self.note(self.in_flight_split(split_at(self.steps, index)))
        self.measure = StepRef(self.candidate, index, self.started)
        self.wait(POLL_SECONDS)

    def advance(self, index: int) -> None:
        spec, steps = self.spec, self.steps
        assert spec is not None
        following = index + 1
        self.step, self.started = following, None
        if schedule.needs_approval(steps, following, spec.approved):
            name = schedule.name_at(steps, following)
            self.log(schedule.name_at(steps, index), name, "StepCompleted", f"step {index} completed", OPERATOR)
            self.move(
                RolloutPhase.AWAITING_APPROVAL,
                "AwaitingApproval",
                f"step {following} ({name}) waits for approval: add {name} to spec.approved",
                event="Normal",
            )
            self.note(self.in_flight_split(split_at(steps, index)))
            self.wait(POLL_SECONDS)
            return
        self.start_step(following, schedule.name_at(steps, index))

    # -- the status --------------------------------------------------------------------------

    def finish(self) -> RolloutDecision:
        spec = self.spec
        data = self.draft.data
        warm, retire = self.trim_warm()
        if self.route is None and not self.route_decided and self.stable is not None:
            self.stable_only()
        split = self.route.split if self.route is not None else None
        traffic = split.to_traffic() if split is not None else self.initial.traffic
        if traffic is None and self.obs.router_split is not None:
            traffic = self.obs.router_split.to_traffic()
        name = None
        if spec is not None and self.step is not None and self.step <= len(spec.steps):
            name = schedule.name_at(spec.steps, self.step)
        history = audit.append(self.initial.history, self.entries)
        data.update(
            {
                "phase": self.phase.value if self.phase is not None else None,
                "message": (self.message or "")[:4096] or None,
                "stable": self.stable,
                "candidate": self.candidate,
                "currentStep": self.step,
                "currentStepName": name,
                "stepStartedAt": format_time(self.started) if self.started is not None else None,
                "stepHash": self.hash,
                "traffic": to_wire(traffic) if traffic is not None else None,
                "analysis": to_wire(self.analysis) if self.analysis is not None else None,
                "abTest": to_wire(self.ab) if self.ab is not None else None,
                "warm": warm,
                "retired": self.retired(warm, retire),
                "approvedAtHold": self.hold_baseline(),
                "history": [to_wire(item) for item in history],
            }
        )
        self.conditions()
        for name_ in retire:
            self.events.append(Event("Normal", "Retired", f"{name_} is no longer kept warm (keepWarm)"))
        return RolloutDecision(
            status=data,
            route=self.route,
            events=self.events,
            version_tags=self.tags,
            warm=warm,
            retire=retire,
            measure=self.measure,
            requeue_after=min(self.requeue) if self.requeue else None,
            refused=self.refused,
        )

    def trim_warm(self) -> tuple[list[str], list[str]]:
        keep = self.spec.keep_warm if self.spec is not None else len(self.warm)
        kept: list[str] = []
        for name in self.warm:
            if name in (self.stable, self.candidate) or name in kept or self.exists(name) is False \
                    or not self.same_model(name):
                continue
            kept.append(name)
        warm = kept[:keep]
        considered = [*self.initial.warm, *self.warm]
        retire: list[str] = []
        for name in considered:
            if name in warm or name in retire or name in (self.stable, self.candidate) or self.exists(name) is False:
                continue
            retire.append(name)
        return warm, retire

    def hold_baseline(self) -> list[str] | None:
        """status.approvedAtHold while held: the names approved when the hold began that are still
        approved now — a name removed and listed again counts as approved after the hold."""
        if not self.held or self.approved_at_hold is None:
            return None
        approved = self.spec.approved if self.spec is not None else []
        return [name for name in self.approved_at_hold if name in approved]

    @property
    def held(self) -> bool:
        """Is the rollout on hold (analysis), paused by spec on top of one included?"""
        return self.phase is RolloutPhase.PAUSED and self.reason in HOLD_REASONS

    def retired(self, warm: Sequence[str], retire: Sequence[str]) -> list[str]:
        """status.retired: versions retired now or before, newest first, minus any version that serves
        again (stable, candidate, warm) or is the target (it is about to be rolled out again)."""
        serving = {self.stable, self.candidate, *warm}
        if self.spec is not None:
            serving.add(self.spec.target)
        kept: list[str] = []
        for name in [*retire, *self.initial.retired]:
            if name not in serving and name not in kept:
                kept.append(name)
        return kept[:RETIRED_KEPT]

    def conditions(self) -> None:
        if self.spec is None:
            return
        phase, reason = self.phase, self.reason or (self.phase.value if self.phase else "Idle")
        moving = phase is RolloutPhase.PROGRESSING
        self.draft.condition(PROGRESSING, moving, reason, self.message or reason)
        if self.candidate is None or phase not in IN_FLIGHT:
            self.drop_candidate_condition()
        if self.stable is None:
            self.draft.condition(READY, False, "NoStable", "no version serves yet")
        elif self.ready(self.stable):
            self.draft.condition(READY, True, "StableReady", f"the stable {self.stable} is Ready")
        else:
            self.draft.condition(
                READY, False, "StableNotReady", f"the stable {self.stable} is not Ready", event="Warning"
            )


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


def target_problems(obs: RolloutObservation, spec: RolloutSpec) -> list[str]:
    """spec.target must be a version of spec.model (a warm version of another model is dropped)."""
    state = obs.versions.get(spec.target)
    if state is not None and state.exists and state.model is not None and state.model != spec.model:
        return [f"spec.target: ModelVersion {spec.target} is a version of model {state.model!r}, not of spec.model "
                f"{spec.model!r}; nothing is rolled out"]
    return []


def plan(obs: RolloutObservation, now: datetime) -> RolloutDecision:
    """Decide the next step of a Rollout from what was observed (see the module docstring)."""
    planner = _Planner(obs, now)
    try:
        spec = RolloutSpec.model_validate(dict(obs.spec or {}))
    except ValidationError as error:
        message = "; ".join(f"{field_path(tuple(e['loc']))}: {e['msg']}" for e in error.errors())
        planner.draft.condition(ACCEPTED, False, "InvalidSpec", message, event="Warning")
        planner.route_decided = True  # a spec that cannot be read moves nothing
        return planner.finish()
    planner.spec = spec
    refused = refusal(obs, spec)
    if refused is not None:
        planner.refuse(*refused)
        return planner.finish()
    planner.problems = (capabilities.check(spec) + schedule.problems(spec) + list(obs.router_problems)
                        + target_problems(obs, spec))
    if planner.problems:
        planner.draft.condition(ACCEPTED, False, "InvalidSpec", "; ".join(planner.problems), event="Warning")
    else:
        notes = capabilities.notes(spec)
        message = "spec accepted" + (f"; {'; '.join(notes)}" if notes else "")
        planner.draft.condition(ACCEPTED, True, "Valid", message)
    planner.paused_condition()
    planner.run()
    return planner.finish()


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
