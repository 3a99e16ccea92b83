"""Performance drift (core.drift.performance) against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from modelops.core.drift.outcome import Verdict
from modelops.core.drift.performance import (
    Window,
    accuracy,
    calibration_bins,
    compare,
    expected_calibration_error,
    roc_auc,
)


def test_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 3000)
    s = np.clip(0.3 * y + rng.random(3000) * 0.7, 0, 1).round(2)  # ties on purpose
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), rel=1e-12)
    pred = (s >= 0.5).astype(int)
    assert accuracy(y, pred) == accuracy_score(y, pred)


def test_ece_hand_computed() -> None:
    # bin [0.1, 0.2): p 0.1, 0.1, labels 0, 1 → |0.5 − 0.1| · 2; bin [0.9, 1]: p 0.9, 1.0, labels 1, 1 → |1 − 0.95| · 2
    y, p = [0, 1, 1, 1], [0.1, 0.1, 0.9, 1.0]
    counts, sum_p, sum_y = calibration_bins(y, p, bins=10)
    assert counts.tolist() == [0, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert expected_calibration_error(counts, sum_p, sum_y) == pytest.approx((0.4 * 2 + 0.05 * 2) / 4)
    # bins add across shards
    a, b = calibration_bins(y[:2], p[:2]), calibration_bins(y[2:], p[2:])
    assert expected_calibration_error(a[0] + b[0], a[1] + b[1], a[2] + b[2]) == pytest.approx((0.8 + 0.1) / 4)


def labelled(rng: np.random.Generator, n: int, skill: float, group: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(-skill * (2 * y - 1) - rng.normal(size=n)))
    return y, p, np.full(n, group)


def test_sliced_accuracy_drop_on_one_group_is_flagged() -> None:
    rng = np.random.default_rng(2)
    parts = [labelled(rng, 3000, 2.0, "a"), labelled(rng, 3000, 2.0, "b")]
    ref = Window.of(*[np.concatenate(x) for x in zip(*parts, strict=True)])
    parts = [labelled(rng, 3000, 2.0, "a"), labelled(rng, 3000, 0.3, "b")]
    cur = Window.of(*[np.concatenate(x) for x in zip(*parts, strict=True)])
    results = {(r.metric, r.slice): r for r in compare(ref, cur)}
    assert results[("accuracy", "b")].verdict == Verdict.DRIFT
    assert results[("auc", "b")].verdict == Verdict.DRIFT
    assert results[("accuracy", "a")].verdict == Verdict.NO_DRIFT
    assert results[("auc", "a")].verdict == Verdict.NO_DRIFT
    assert results[("accuracy", "*")].degradation is not None


def test_too_few_samples_are_refused() -> None:
    rng = np.random.default_rng(3)
    ref = Window.of(*labelled(rng, 1000, 2.0, "a"))
    cur = Window.of(*labelled(rng, 50, 0.1, "a"))
    assert {r.verdict for r in compare(ref, cur)} == {Verdict.NOT_ENOUGH_DATA}
    # enough rows, but a noise floor above a third of a tight threshold
    cur = Window.of(*labelled(rng, 300, 2.0, "a"))
    results = compare(ref, cur, thresholds={"accuracy": 0.01})
    assert next(r for r in results if r.metric == "accuracy").verdict == Verdict.NOISE_FLOOR_TOO_HIGH
