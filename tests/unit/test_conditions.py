"""Conditions: one per type, and the transition time moves only when the status flips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from modelops.core.conditions import format_time, get_condition, set_condition

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def test_new_condition_gets_now() -> None:
    conditions = set_condition([], type="Ready", status="True", reason="Up", message="m", observed_generation=3, now=T0)
    assert conditions == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Up",
            "message": "m",
            "lastTransitionTime": "2026-11-25T12:00:00Z",
            "observedGeneration": 3,
        }
    ]


def test_same_status_keeps_time_but_updates_reason_message_generation() -> None:
    first = set_condition([], type="Ready", status="False", reason="A", message="a", observed_generation=1, now=T0)
    second = set_condition(
        first,
        type="Ready",
        status="False",
        reason="B",
        message="b",
        observed_generation=2,
        now=T0 + timedelta(minutes=5),
    )
    (cond,) = second
    assert cond["lastTransitionTime"] == "2026-11-25T12:00:00Z"
    assert (cond["reason"], cond["message"], cond["observedGeneration"]) == ("B", "b", 2)


def test_flip_moves_time() -> None:
    first = set_condition([], type="Ready", status="False", reason="A", message="a", observed_generation=1, now=T0)
    second = set_condition(
        first,
        type="Ready",
        status="True",
        reason="A",
        message="a",
        observed_generation=1,
        now=T0 + timedelta(minutes=5),
    )
    assert second[0]["lastTransitionTime"] == "2026-11-25T12:05:00Z"


def test_other_conditions_are_kept_in_order() -> None:
    base = [{"type": "A", "status": "True"}, {"type": "B", "status": "False"}]
    result = set_condition(base, type="A", status="True", reason="r", message="m", observed_generation=None, now=T0)
    assert [c["type"] for c in result] == ["A", "B"]
    assert get_condition(result, "B") == {"type": "B", "status": "False"}
    assert get_condition(result, "C") is None
    assert "observedGeneration" not in result[0]


def test_input_is_not_mutated() -> None:
    base = [{"type": "A", "status": "False", "lastTransitionTime": "x"}]
    set_condition(base, type="A", status="True", reason="r", message="m", observed_generation=1, now=T0)
    assert base == [{"type": "A", "status": "False", "lastTransitionTime": "x"}]


@given(st.lists(st.sampled_from(["True", "False", "Unknown"]), min_size=1, max_size=20))
def test_transition_time_moves_exactly_on_flips(statuses: list[str]) -> None:
    conditions: list[dict] = []
    last_flip = None
    previous = None
    for minute, status in enumerate(statuses):
        now = T0 + timedelta(minutes=minute)
        conditions = set_condition(
            conditions,
            type="X",
            status=status,  # type: ignore[arg-type]
            reason="r",
            message="m",
            observed_generation=minute,
            now=now,
        )
        if status != previous:
            last_flip = now
        previous = status
        assert len(conditions) == 1
        assert conditions[0]["lastTransitionTime"] == format_time(last_flip)


def test_status_patch_sends_changes_deletes_dropped_keys_and_is_empty_when_equal() -> None:
    from modelops.core.drafting import status_patch

    stored = {"phase": "Progressing", "url": "http://old", "candidate": "v2", "ready": True}
    planned = {"phase": "Promoted", "candidate": None, "ready": True, "stable": "v2"}
    assert status_patch(stored, planned) == {"phase": "Promoted", "stable": "v2", "url": None, "candidate": None}
    assert status_patch(stored, dict(stored)) == {}
    assert status_patch({}, {"x": None}) == {}


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 applied, as the API server applies a merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def test_status_patch_deletes_a_nested_key_the_plan_dropped() -> None:
    from modelops.core.drafting import status_patch

    stored = {"registry": {"champion": "v1", "challenger": "v2"}, "phase": "Progressing"}
    planned = {"registry": {"champion": "v2"}, "phase": "Promoted"}
    patch = status_patch(stored, planned)
    assert patch == {"registry": {"champion": "v2", "challenger": None}, "phase": "Promoted"}
    assert _merge(stored, patch) == planned


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=3),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abcd"), inner,
                                                                                 max_size=4), max_leaves=12)


@given(st.dictionaries(st.sampled_from("pqrs"), _json, max_size=4),
       st.dictionaries(st.sampled_from("pqrs"), _json, max_size=4))
def test_status_patch_applied_as_a_merge_patch_gives_the_planned_status(stored: dict[str, Any],
                                                                         planned: dict[str, Any]) -> None:
    from modelops.core.drafting import status_patch

    stored = _without_nulls(stored)
    assert _merge(stored, status_patch(stored, planned)) == _without_nulls(planned)
