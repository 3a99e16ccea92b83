"""The Rollout state machine's vocabulary, at the bottom of its import graph: what the reconciler
observed (``RolloutObservation``, ``VersionState``, ``StepRef``, ``StepAnalysis``), what a plan
decides (``RolloutDecision``), the phase sets and condition types the machine's rules name, its
requeue times, and how a time is stamped into status (UTC, whole seconds) and the stored status
read back tolerantly. ``measuring`` and ``aliases`` build on these without importing the machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from modelops.api.rollout import ABArm, Measurement, RolloutPhase, RolloutStatus
from modelops.core.analysis.sequential import SequentialDecision
from modelops.core.analysis.srm import SampleRatio
from modelops.core.analysis.verdicts import Assessment
from modelops.core.intents import Event
from modelops.core.ownership import Claim, Contender, Rejection
from modelops.core.rollout import history as audit
from modelops.core.rollout.actions import Route, VersionTag
from modelops.core.rollout.following import AliasReading
from modelops.core.rollout.traffic import Split

IN_FLIGHT = frozenset({RolloutPhase.PROGRESSING, RolloutPhase.PAUSED, RolloutPhase.AWAITING_APPROVAL})
CANDIDATE_OUT = frozenset({RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED})
HOLD_REASONS = frozenset({"AnalysisInconclusive", "NoDifference", "SampleRatioMismatch"})
OPERATOR = audit.OPERATOR
# status.analysis keeps a short tail; per check the summary (checks) and the series in Prometheus.
MEASUREMENTS_KEPT = 12
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
    # Every ModelVersion named by the target (spec.target, or the one spec.targetFrom follows) and
    # status.stable/candidate/warm; a name missing
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
    # The router's object also deploys the versions (kserve): a first version is deployed there
    # before it can become Ready.
    deploys_backends: bool = False
    # What MLflow said about spec.targetFrom's alias in this reconcile (None: not read).
    alias: AliasReading | None = None


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
    # The rollout stage the routed requests are served in: the running step's name while a
    # candidate gets traffic through the route, None for the stable alone.
    stage: str | None = None

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


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def stamp(moment: datetime) -> datetime:
    """A time as status stores it (UTC, whole seconds), so a re-read status compares equal."""
    return aware(moment).astimezone(UTC).replace(microsecond=0)


def read_status(status: Mapping[str, Any]) -> RolloutStatus:
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


