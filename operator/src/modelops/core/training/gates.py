"""Evaluation gates: ``auc >= 0.9`` against the run's metrics. A metric the run never logged
fails its gate (never a silent pass), and the message says which gate failed and why."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence

from modelops.api.trainingrun import EvaluationGate, GateOp, GateResult

_COMPARE: dict[GateOp, Callable[[float, float], bool]] = {
    GateOp.GE: operator.ge,
    GateOp.GT: operator.gt,
    GateOp.LE: operator.le,
    GateOp.LT: operator.lt,
    GateOp.EQ: operator.eq,
}


def evaluate_gates(gates: Sequence[EvaluationGate], metrics: Mapping[str, float]) -> list[GateResult]:
    results = []
    for gate in gates:
        value = metrics.get(gate.metric)
        passed = value is not None and not math.isnan(value) and _COMPARE[gate.op](value, gate.threshold)
        results.append(GateResult(metric=gate.metric, op=gate.op, threshold=gate.threshold,
                                  value=value, passed=passed))
    return results


def failure_message(results: Sequence[GateResult]) -> str:
    """'auc 0.81 fails >= 0.9; fpr was not logged by the run' — empty when every gate passed."""
    reasons = []
    for result in results:
        if result.passed:
            continue
        if result.value is None:
            reasons.append(f"{result.metric} was not logged by the run (gate {result.op} {result.threshold:g})")
        else:
            reasons.append(f"{result.metric} {result.value:g} fails {result.op} {result.threshold:g}")
    return "; ".join(reasons)
