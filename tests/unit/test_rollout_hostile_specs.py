"""What the hostile-input suite (issue 15) found in the Rollout machine: a check's PromQL whose
brackets or strings do not close was Accepted=True (it would only have collected Error
measurements), and a spec.target naming no ModelVersion was said with no Warning Event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.api.rollout import RolloutSpec
from modelops.core.rollout import promql
from tests.support.hostile import base
from tests.support.hostile_refs import BAD_PROMQL

GOOD = [
    'sum(rate(requests_total{model="${model}",version="${candidate}",code=~"5.."}[5m]))',
    "histogram_quantile(0.99, sum by (le) (rate(x_bucket[${window}])))",
    'x{a="(unclosed in a string is fine"}',
    "x{a='it\\'s'} # a comment with ( and {",
    "x{a=`raw \\ string`}",
    "up",
]


@pytest.mark.parametrize("query", GOOD)
def test_queries_that_may_parse_pass(query: str) -> None:
    assert promql.query_problem(query) is None


@given(BAD_PROMQL)
def test_unclosed_brackets_and_strings_are_named(query: str) -> None:
    problem = promql.query_problem(query)
    assert problem is not None and ("never" in problem or "closes nothing" in problem)


def test_an_empty_query_is_named() -> None:
    assert promql.query_problem("   ") == "is empty"


@given(st.lists(st.sampled_from(["(", "[", "{"]), max_size=8))
def test_any_nesting_closed_in_order_passes(opened: list[str]) -> None:
    query = "x" + "".join(opened) + "y" + "".join(promql.CLOSING[c] for c in reversed(opened))
    assert promql.query_problem(query) is None


def test_the_rollout_machine_refuses_the_spec_naming_the_check() -> None:
    from modelops.core.rollout.machine import plan
    from modelops.core.rollout.types import RolloutObservation

    doc = base("Rollout", "r")
    doc["spec"]["analysis"]["checks"][3]["prometheus"]["query"] = "sum(rate(x[5m])"
    spec = RolloutSpec.model_validate(doc["spec"])
    assert promql.problems(spec) == [
        "spec.analysis.checks[3].prometheus.query: PromQL that cannot parse: '(' at character 4 is never closed"]
    obs = RolloutObservation(namespace="ns", name="r", generation=1, spec=doc["spec"], status={})
    decision = plan(obs, datetime(2026, 12, 1, tzinfo=UTC))
    (accepted,) = [c for c in decision.status["conditions"] if c["type"] == "Accepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidSpec")
    assert "spec.analysis.checks[3].prometheus.query" in accepted["message"]
    assert [e.reason for e in decision.events if e.type == "Warning"] == ["InvalidSpec"]


def test_a_target_that_does_not_exist_is_said_once_with_a_warning() -> None:
    from modelops.core.rollout.machine import plan
    from modelops.core.rollout.types import RolloutObservation

    doc = base("Rollout", "r")
    doc["spec"].update(target="no-such-version", approved=[])
    first = plan(RolloutObservation(namespace="ns", name="r", generation=1, spec=doc["spec"], status={}),
                 datetime(2026, 12, 1, tzinfo=UTC))
    progressing = next(c for c in first.status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "WaitingForTarget")
    assert progressing["message"] == "spec.target: waiting for ModelVersion no-such-version to exist in this namespace"
    assert [(e.type, e.reason) for e in first.events] == [("Warning", "WaitingForTarget")]
    again = plan(RolloutObservation(namespace="ns", name="r", generation=1, spec=doc["spec"], status=first.status),
                 datetime(2026, 12, 1, 0, 1, tzinfo=UTC))
    assert again.events == []
