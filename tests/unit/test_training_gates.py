"""Evaluation gates: ``auc >= 0.9`` against the run's metrics. A missing or NaN metric never passes."""

from __future__ import annotations

import math
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.api.trainingrun import EvaluationGate, GateOp, GateResult
from modelops.core.training.gates import evaluate_gates, failure_message


def gate(metric: str, op: str, threshold: float) -> EvaluationGate:
    return EvaluationGate.model_validate({"metric": metric, "op": op, "threshold": threshold})


# (op, value, threshold, passes)
TABLE = [
    (">=", 0.91, 0.9, True),
    (">=", 0.9, 0.9, True),  # boundary: equality passes
    (">=", 0.89, 0.9, False),
    (">", 0.91, 0.9, True),
    (">", 0.9, 0.9, False),  # boundary: equality fails
    (">", 0.89, 0.9, False),
    ("<=", 0.01, 0.02, True),
    ("<=", 0.02, 0.02, True),  # boundary
    ("<=", 0.03, 0.02, False),
    ("<", 0.01, 0.02, True),
    ("<", 0.02, 0.02, False),  # boundary
    ("<", 0.03, 0.02, False),
    ("==", 1.0, 1.0, True),
    ("==", 0.999, 1.0, False),
    ("==", 1.001, 1.0, False),
    (">=", -1.0, -2.0, True),
    ("<=", 0.0, -0.0, True),
    (">=", math.inf, 0.9, True),
    ("<=", -math.inf, 0.02, True),
    (">=", -math.inf, 0.9, False),
]


@pytest.mark.parametrize(("op", "value", "threshold", "passes"), TABLE)
def test_each_operator(op: str, value: float, threshold: float, passes: bool) -> None:
    (result,) = evaluate_gates([gate("m", op, threshold)], {"m": value})
    assert result == GateResult(metric="m", op=GateOp(op), threshold=threshold, value=value, passed=passes)
    message = failure_message([result])
    if passes:
        assert message == ""
    else:
        assert message == f"m {value:g} fails {op} {threshold:g}"


def test_missing_metric_fails_with_was_not_logged() -> None:
    results = evaluate_gates([gate("fpr", "<=", 0.02)], {"auc": 0.95})
    assert results == [GateResult(metric="fpr", op=GateOp.LE, threshold=0.02, value=None, passed=False)]
    assert failure_message(results) == "fpr was not logged by the run (gate <= 0.02)"


@pytest.mark.parametrize("op", [o.value for o in GateOp])
def test_nan_fails_every_operator(op: str) -> None:
    (result,) = evaluate_gates([gate("loss", op, 0.5)], {"loss": math.nan})
    assert result.passed is False
    assert result.value is not None and math.isnan(result.value)
    assert failure_message([result]) == f"loss nan fails {op} 0.5"


def test_all_pass_gives_empty_message() -> None:
    results = evaluate_gates([gate("auc", ">=", 0.9), gate("fpr", "<=", 0.02)], {"auc": 0.93, "fpr": 0.015})
    assert [r.passed for r in results] == [True, True]
    assert failure_message(results) == ""


def test_no_gates_pass_trivially() -> None:
    assert evaluate_gates([], {"auc": 0.5}) == []
    assert failure_message([]) == ""


def test_failures_are_joined_in_gate_order_and_passes_left_out() -> None:
    gates = [gate("auc", ">=", 0.9), gate("precision", ">=", 0.5), gate("fpr", "<=", 0.02)]
    results = evaluate_gates(gates, {"auc": 0.81, "precision": 0.7})
    assert [r.metric for r in results] == ["auc", "precision", "fpr"]
    assert [r.passed for r in results] == [False, True, False]
    assert failure_message(results) == "auc 0.81 fails >= 0.9; fpr was not logged by the run (gate <= 0.02)"


def test_same_metric_in_two_gates_is_judged_twice() -> None:
    results = evaluate_gates([gate("auc", ">=", 0.8), gate("auc", "<", 0.99)], {"auc": 0.995})
    assert [r.passed for r in results] == [True, False]
    assert failure_message(results) == "auc 0.995 fails < 0.99"


def test_extra_metrics_are_ignored() -> None:
    results = evaluate_gates([gate("auc", ">=", 0.9)], {"auc": 0.95, "loss": math.nan, "other": -1.0})
    assert [r.passed for r in results] == [True]


def test_integer_metric_and_threshold() -> None:
    (result,) = evaluate_gates([gate("epochs", "==", 10)], {"epochs": 10})
    assert result.passed
    assert failure_message(evaluate_gates([gate("epochs", ">=", 20)], {"epochs": 10})) == "epochs 10 fails >= 20"


_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
_floats = st.floats(allow_nan=False, allow_infinity=True, width=64)


@given(
    op=st.sampled_from(list(_OPS)),
    threshold=st.floats(allow_nan=False, allow_infinity=False),
    value=st.one_of(st.none(), st.just(math.nan), _floats),
    other=st.dictionaries(st.sampled_from(["auc", "fpr", "loss"]), st.floats(allow_nan=True)),
)
def test_gate_passes_iff_comparison_holds_on_present_non_nan_metric(
    op: str, threshold: float, value: float | None, other: dict[str, float]
) -> None:
    metrics = dict(other)
    if value is not None:
        metrics["m"] = value
    (result,) = evaluate_gates([gate("m", op, threshold)], metrics)
    expected = value is not None and not math.isnan(value) and _OPS[op](value, threshold)
    assert result.passed is expected
    assert result.metric == "m" and result.threshold == threshold and result.op == GateOp(op)
    message = failure_message([result])
    assert (message == "") is expected
    if value is None:
        assert message.startswith("m was not logged by the run")
    elif not expected:
        assert message.startswith("m ") and f"fails {op} " in message
