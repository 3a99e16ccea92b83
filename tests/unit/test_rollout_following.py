"""``spec.targetFrom``: a Rollout following an MLflow alias (core.rollout.following through the
machine's ``plan``) — the alias moving starts the steps with the alias move as the actor, spec.target
pins and wins, an alias naming nothing or a version no ModelVersion records (or an unreadable
registry) keeps the last followed version, nothing followed yet waits, and the spec needs a target
or a targetFrom (pydantic, as the CRD's CEL rule)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from modelops.api.rollout import TARGET_MESSAGE, RolloutPhase, RolloutSpec
from modelops.core.rollout.actions import Route
from modelops.core.rollout.following import AliasReading
from modelops.core.rollout.machine import RolloutDecision, RolloutObservation, VersionState, plan
from modelops.core.rollout.traffic import ALL_STABLE

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
MODEL = "cancer"
V1, V2, V3 = (f"{MODEL}-v{i}" for i in range(1, 4))
STEPS: list[dict[str, Any]] = [{"canary": {"weight": 25, "duration": "1m"}}, {"full": {}}]
FOLLOW = {"model": MODEL, "targetFrom": {"alias": "challenger"},
          "trafficRouting": {"gatewayAPI": {"httpRoute": MODEL, "parentRefs": [{"name": "gw"}]}}, "steps": STEPS}
READY = {name: VersionState(exists=True, ready=True, model=MODEL) for name in (V1, V2, V3)}


class Following:
    """A Rollout's status carried from plan to plan, with what the registry says each time."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec, self.status, self.generation = spec, {}, 1

    def plan(self, at: datetime, reading: AliasReading | None, **changes: Any) -> RolloutDecision:
        if changes:
            self.spec = {key: value for key, value in {**self.spec, **changes}.items() if value is not None}
            self.generation += 1
        decision = plan(RolloutObservation(name=MODEL, namespace="ml", generation=self.generation, spec=self.spec,
                                           status=self.status, versions=READY, spec_actor="argocd", alias=reading),
                        at)
        self.status = decision.status
        return decision


def alias(version: str | None, model_version: str | None = None, error: str | None = None) -> AliasReading:
    return AliasReading("challenger", version, model_version, error)


def test_the_first_version_the_alias_names_serves_at_once_and_is_recorded_in_status() -> None:
    rollout = Following(FOLLOW)
    decision = rollout.plan(NOW, alias("1", V1))
    assert decision.phase is RolloutPhase.PROMOTED and decision.status["stable"] == V1
    assert decision.status["followed"] == {"alias": "challenger", "version": "1", "modelVersion": V1,
                                           "since": "2026-03-01T12:00:00Z"}
    assert decision.status["history"][-1]["actor"] == "mlflow:alias/challenger"


def test_an_alias_move_starts_the_steps_with_the_move_as_actor_and_the_spec_untouched() -> None:
    rollout = Following(FOLLOW)
    rollout.plan(NOW, alias("1", V1))
    decision = rollout.plan(NOW + timedelta(minutes=5), alias("2", V2))
    assert decision.phase is RolloutPhase.PROGRESSING
    assert (decision.status["stable"], decision.status["candidate"], decision.status["currentStep"]) == (V1, V2, 0)
    entry = next(e for e in decision.status["history"] if e["reason"] == "TargetChanged")
    assert (entry["to"], entry["actor"]) == ("Progressing", "mlflow:alias/challenger")
    assert decision.status["followed"]["modelVersion"] == V2
    assert rollout.spec == FOLLOW  # the operator never writes spec
    # Reading the same alias again changes nothing (no history, same followed record).
    again = rollout.plan(NOW + timedelta(minutes=5, seconds=10), alias("2", V2))
    assert again.status["history"] == decision.status["history"]
    assert again.status["followed"] == decision.status["followed"]


@pytest.mark.parametrize(("reading", "wording"), [
    (alias(None), "names no version"),
    (alias("3"), "registry version 3, which no ModelVersion"),
    (alias(None, error="MLflow at http://mlflow: connection refused"), "could not be read"),
])
def test_the_last_followed_version_stays_the_target(reading: AliasReading, wording: str) -> None:
    rollout = Following(FOLLOW)
    rollout.plan(NOW, alias("1", V1))
    rollout.plan(NOW + timedelta(minutes=1), alias("2", V2))
    decision = rollout.plan(NOW + timedelta(minutes=1, seconds=30), reading)
    assert decision.phase is RolloutPhase.PROGRESSING and decision.status["candidate"] == V2
    assert decision.status["currentStep"] == 0
    followed = decision.status["followed"]
    assert (followed["version"], followed["modelVersion"]) == ("2", V2) and wording in followed["message"]


def test_spec_target_pins_and_wins_over_the_alias() -> None:
    rollout = Following({**FOLLOW, "target": V1})
    rollout.plan(NOW, alias("2", V2))
    assert rollout.status["stable"] == V1 and rollout.status.get("candidate") is None
    assert rollout.status["followed"]["modelVersion"] == V2  # recorded, not served
    decision = rollout.plan(NOW + timedelta(minutes=1), alias("2", V2))
    assert decision.phase is RolloutPhase.PROMOTED and decision.route == Route(V1, None, ALL_STABLE)
    # Unpinning hands the choice to the alias: its version is rolled out through the steps.
    unpinned = rollout.plan(NOW + timedelta(minutes=2), alias("2", V2), target=None)
    assert unpinned.phase is RolloutPhase.PROGRESSING and unpinned.status["candidate"] == V2
    # And pinning back to the stable mid-flight is the SRE rollback, as ever.
    back = rollout.plan(NOW + timedelta(minutes=3), alias("2", V2), target=V1)
    assert back.phase is RolloutPhase.ROLLED_BACK and back.route == Route(V1, None, ALL_STABLE)
    assert back.status["history"][-1]["actor"] == "argocd"


def test_nothing_followed_yet_waits_without_a_route() -> None:
    rollout = Following(FOLLOW)
    decision = rollout.plan(NOW, alias(None))
    assert decision.phase is RolloutPhase.IDLE and decision.route is None
    assert decision.status["stable"] is None
    assert "names no version" in decision.status["message"]
    assert decision.requeue_after is not None


def test_a_spec_needs_a_target_or_a_target_from() -> None:
    with pytest.raises(ValidationError, match=re.escape(TARGET_MESSAGE)):
        RolloutSpec.model_validate({key: value for key, value in FOLLOW.items() if key != "targetFrom"})
    with pytest.raises(ValidationError, match="alias"):
        RolloutSpec.model_validate({**FOLLOW, "targetFrom": {"alias": "not an alias!"}})
