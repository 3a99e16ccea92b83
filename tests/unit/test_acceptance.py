"""Acceptance: a spec that the models reject becomes Accepted=False/InvalidSpec naming the field;
a valid one Accepted=True; re-planning an unchanged object writes nothing."""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from modelops.api import RolloutSpec, TrainingRunSpec
from modelops.core.acceptance import field_path, judge_spec, plan_acceptance_status
from modelops.core.drafting import status_patch

REPO = Path(__file__).resolve().parents[2]


def status_changes(spec_model: type, body: dict, now: datetime) -> dict:  # type: ignore[type-arg]
    """What the DriftMonitor reconciler writes: the acceptance status as a merge patch from what is stored."""
    stored = body.get("status") or {}
    planned = {**stored, **plan_acceptance_status(spec_model, body.get("spec"), stored,
                                                   body["metadata"].get("generation"), now)}
    return status_patch(stored, planned)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _example(kind: str) -> dict:
    for path in sorted((REPO / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == kind:
                return doc
    raise AssertionError(kind)


def test_field_path() -> None:
    assert field_path(("steps", 0, "canary", "weight")) == "spec.steps[0].canary.weight"
    assert field_path(()) == "spec"


def test_valid_example_is_accepted() -> None:
    verdict = judge_spec(RolloutSpec, _example("Rollout")["spec"])
    assert verdict.accepted and verdict.reason == "Valid"


def test_invalid_spec_names_the_field() -> None:
    spec = deepcopy(_example("Rollout")["spec"])
    spec["steps"] = [{"canary": {"weight": 150}}]
    verdict = judge_spec(RolloutSpec, spec)
    assert not verdict.accepted and verdict.reason == "InvalidSpec"
    assert "spec.steps[0].canary.weight" in verdict.message


def test_missing_spec() -> None:
    verdict = judge_spec(TrainingRunSpec, None)
    assert not verdict.accepted and "spec" in verdict.message


def test_status_plan_carries_generation() -> None:
    status = plan_acceptance_status(TrainingRunSpec, _example("TrainingRun")["spec"], None, 4, NOW)
    assert status["observedGeneration"] == 4
    (accepted,) = status["conditions"]
    assert accepted["type"] == "Accepted" and accepted["observedGeneration"] == 4


def test_unchanged_object_needs_no_write() -> None:
    body = {"metadata": {"generation": 1}, "spec": _example("TrainingRun")["spec"]}
    first = status_changes(TrainingRunSpec, body, NOW)
    assert set(first) == {"observedGeneration", "conditions"}
    body["status"] = first
    assert status_changes(TrainingRunSpec, body, NOW + timedelta(hours=1)) == {}


def test_generation_bump_rewrites_only_what_changed() -> None:
    body = {"metadata": {"generation": 1}, "spec": _example("TrainingRun")["spec"]}
    body["status"] = status_changes(TrainingRunSpec, body, NOW)
    body["metadata"]["generation"] = 2
    changes = status_changes(TrainingRunSpec, body, NOW + timedelta(hours=1))
    assert changes["observedGeneration"] == 2
    # The condition's status did not flip, so its transition time stays.
    assert changes["conditions"][0]["lastTransitionTime"] == "2026-11-25T12:00:00Z"
