"""The audit trail: appended in order, bounded at 100, the oldest folded into one summary that
keeps counting across foldings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelops.api.common import to_wire
from modelops.api.rollout import HistoryEntry, RolloutStatus
from modelops.core.rollout import history

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def entries(count: int, start: int = 0, reason: str = "StepStarted") -> list[HistoryEntry]:
    return [
        history.entry(T0 + timedelta(minutes=start + i), "Progressing", f"step-{start + i}", reason, "operator")
        for i in range(count)
    ]


def test_appends_below_the_limit() -> None:
    old, new = entries(3), entries(2, start=3)
    assert history.append(old, new) == [*old, *new]


def test_the_oldest_are_summarised_never_dropped() -> None:
    combined = history.append(entries(99), entries(3, start=99, reason="Promoted"))
    assert len(combined) == history.MAX_ENTRIES
    summary = combined[0]
    assert summary.reason == history.SUMMARY_REASON
    assert summary.time == T0 and summary.from_ == "Progressing" and summary.to == "step-2"
    assert summary.message is not None and summary.message.startswith("3 earlier transitions")
    assert "StepStarted×3" in summary.message
    assert combined[1].to == "step-3" and combined[-1].to == "step-101"


def test_summaries_fold_into_each_other_and_keep_counting() -> None:
    trail: list[HistoryEntry] = []
    for i in range(350):
        trail = history.append(trail, entries(1, start=i, reason="RolledBack" if i % 7 == 0 else "StepStarted"))
        assert len(trail) <= history.MAX_ENTRIES
    summary = trail[0]
    assert summary.message is not None
    assert summary.message.startswith(f"{350 - 99} earlier transitions")
    rolled_back = sum(1 for i in range(350 - 99) if i % 7 == 0)
    assert f"RolledBack×{rolled_back}" in summary.message
    assert f"StepStarted×{350 - 99 - rolled_back}" in summary.message
    # The status model accepts what is written.
    RolloutStatus.model_validate({"history": [to_wire(e) for e in trail]})


def test_the_actor_is_the_newest_field_manager_that_owns_spec() -> None:
    from modelops.core.rollout.history import spec_actor

    managed = [
        {"manager": "argocd-controller", "operation": "Apply", "time": "2026-03-01T10:00:00Z",
         "fieldsV1": {"f:spec": {"f:target": {}}}},
        {"manager": "kubectl-patch", "operation": "Update", "time": "2026-03-01T11:00:00Z",
         "fieldsV1": {"f:spec": {"f:target": {}}}},
        {"manager": "modelops", "operation": "Update", "subresource": "status", "time": "2026-03-01T12:00:00Z",
         "fieldsV1": {"f:status": {}}},
        {"manager": "kopf", "operation": "Update", "time": "2026-03-01T12:30:00Z",
         "fieldsV1": {"f:metadata": {"f:annotations": {}}}},
    ]
    assert spec_actor(managed) == "kubectl-patch"
    assert spec_actor([]) == "spec" and spec_actor(None, default="unknown") == "unknown"
