"""Performance drift: accuracy, ROC AUC and calibration error of a window against a reference
window, overall and per slice, with minimum-sample refusal.

Owns the metrics as pure functions on arrays or counts, and their comparison:

- ``accuracy`` (labels vs predicted labels, or scores thresholded at ``decision_threshold``);
- ``roc_auc``: the Mann–Whitney form, P(score of a positive > score of a negative) with ties
  counted one half, from average ranks — equal to ``sklearn.metrics.roc_auc_score``;
- ``calibration_bins`` / ``expected_calibration_error``: ECE over ``bins`` equal-width bins of
  the predicted probability on [0, 1] (default 10; a probability p falls in bin
  ``min(⌊p·bins⌋, bins − 1)``), ``Σ_b n_b/n · |mean label_b − mean p_b|``. The per-bin counts
  and sums add across shards and windows, so rolling windows merge by addition;
- ``compare``: per metric and slice, reference value, current value and the degradation (a fall
  of accuracy or AUC, a rise of ECE), judged by ``outcome.decide`` against a threshold, with a
  noise floor (one standard deviation of the difference for accuracy and AUC, Hanley–McNeil's for
  AUC; the expected ECE of a perfectly calibrated model at these bin counts for ECE) and a
  refusal below ``min_samples`` (or fewer than ``min_samples_per_class`` of a class, for AUC).

Evidently's classification presets compute these with sklearn on each run; here they are numpy
because core may not import sklearn, and they are tested against sklearn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from modelops.core.drift.outcome import Verdict, decide

FloatArray = npt.NDArray[np.float64]

DEFAULT_THRESHOLDS: dict[str, float] = {"accuracy": 0.05, "auc": 0.05, "ece": 0.05}
DEFAULT_MIN_SAMPLES = 200
DEFAULT_MIN_SAMPLES_PER_CLASS = 30
DEFAULT_ECE_BINS = 10
OVERALL = "*"


def _labels(y: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError("labels must be one-dimensional")
    return arr


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    t, p = _labels(y_true), _labels(y_pred)
    if t.size != p.size or t.size == 0:
        raise ValueError("accuracy needs as many predictions as labels, at least one")
    return float(np.mean(t == p))


def _average_ranks(values: FloatArray) -> FloatArray:
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    ends = np.concatenate([starts[1:], [values.size]])
    average = (starts + ends + 1) / 2.0  # 1-based ranks, ties share the mean of their ranks
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(average, ends - starts)
    return ranks


def roc_auc(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve of binary labels (1 positive, 0 negative) against scores."""
    t, s = _labels(y_true), _labels(scores)
    if t.size != s.size:
        raise ValueError("AUC needs one score per label")
    positives = int((t == 1).sum())
    negatives = t.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both classes")
    ranks = _average_ranks(s)
    return float((ranks[t == 1].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def calibration_bins(
    y_true: npt.ArrayLike, probabilities: npt.ArrayLike, bins: int = DEFAULT_ECE_BINS
) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
    """(count, sum of probabilities, sum of labels) per equal-width probability bin."""
    t, p = _labels(y_true), _labels(probabilities)
    if t.size != p.size:
        raise ValueError("calibration needs one probability per label")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.int64)
    sum_prob = np.bincount(index, weights=p, minlength=bins).astype(np.float64)
    return counts, sum_prob, np.bincount(index, weights=t, minlength=bins).astype(np.float64)


def expected_calibration_error(counts: npt.ArrayLike, sum_prob: npt.ArrayLike, sum_label: npt.ArrayLike) -> float:
    c = np.asarray(counts, dtype=np.float64)
    if c.sum() <= 0:
        raise ValueError("ECE needs at least one prediction")
    used = c > 0
    gap = np.abs(np.asarray(sum_label)[used] - np.asarray(sum_prob)[used])  # n_b·|mean label − mean p|
    return float(gap.sum() / c.sum())


def _ece_floor(counts: FloatArray, sum_prob: FloatArray) -> float:
    used = counts > 0
    mean_p = sum_prob[used] / counts[used]
    return float(math.sqrt(2 / math.pi) * np.sum(np.sqrt(counts[used] * mean_p * (1 - mean_p))) / counts.sum())


@dataclass(frozen=True)
class Window:
    """One window of labelled predictions: labels, scores (probability of class 1), optional slice keys."""

    labels: FloatArray
    scores: FloatArray
    slices: npt.NDArray[np.str_] | None = None

    @staticmethod
    def of(labels: npt.ArrayLike, scores: npt.ArrayLike, slices: npt.ArrayLike | None = None) -> Window:
        t, s = _labels(labels), _labels(scores)
        keys = None if slices is None else np.asarray(slices).astype(str)
        if t.size != s.size or (keys is not None and keys.size != t.size):
            raise ValueError("labels, scores and slice keys must have the same length")
        return Window(t, s, keys)

    def slice(self, key: str) -> Window:
        if key == OVERALL or self.slices is None:
            return self
        mask = self.slices == key
        return Window(self.labels[mask], self.scores[mask], None)


@dataclass(frozen=True)
class PerformanceResult:
    metric: str
    slice: str
    reference: float | None
    current: float | None
    degradation: float | None  # positive is worse: fall of accuracy/AUC, rise of ECE
    threshold: float
    noise_floor: float
    verdict: Verdict
    n_reference: int
    n_current: int


def _metric(metric: str, w: Window, decision_threshold: float, bins: int) -> float:
    if metric == "accuracy":
        return accuracy(w.labels, (w.scores >= decision_threshold).astype(np.float64))
    if metric == "auc":
        return roc_auc(w.labels, w.scores)
    return expected_calibration_error(*calibration_bins(w.labels, w.scores, bins))


def _floor(metric: str, ref: Window, cur: Window, ref_value: float, cur_value: float, bins: int) -> float:
    if metric == "accuracy":
        a = ref_value
        return math.sqrt(max(a * (1 - a), 1.0 / ref.labels.size) * (1 / ref.labels.size + 1 / cur.labels.size))
    if metric == "auc":  # Hanley & McNeil's variance, simplified to its leading term, both windows
        var = 0.0
        for w, a in ((ref, ref_value), (cur, cur_value)):
            pos = float((w.labels == 1).sum())
            var += max(a * (1 - a), 0.25 / pos) * (1 / pos + 1 / (w.labels.size - pos))
        return math.sqrt(var / 4.0)
    counts, sum_prob, _ = calibration_bins(cur.labels, cur.scores, bins)
    return _ece_floor(counts.astype(np.float64), sum_prob)


def compare(
    reference: Window,
    current: Window,
    *,
    metrics: tuple[str, ...] = ("accuracy", "auc", "ece"),
    thresholds: Mapping[str, float] | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    min_samples_per_class: int = DEFAULT_MIN_SAMPLES_PER_CLASS,
    decision_threshold: float = 0.5,
    ece_bins: int = DEFAULT_ECE_BINS,
) -> list[PerformanceResult]:
    """Every metric, overall (slice ``*``) and per slice key seen in either window."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    keys = [OVERALL]
    for w in (reference, current):
        if w.slices is not None:
            keys.extend(k for k in np.unique(w.slices).tolist() if k not in keys)
    results = []
    for key in keys:
        ref, cur = reference.slice(key), current.slice(key)
        for metric in metrics:
            n, m = ref.labels.size, cur.labels.size
            enough = n >= min_samples and m >= min_samples
            if metric == "auc":
                for w in (ref, cur):
                    pos = int((w.labels == 1).sum())
                    enough = enough and min(pos, w.labels.size - pos) >= min_samples_per_class
            if not enough:
                results.append(
                    PerformanceResult(metric, key, None, None, None, limits[metric], math.inf,
                                      Verdict.NOT_ENOUGH_DATA, n, m)
                )
                continue
            rv = _metric(metric, ref, decision_threshold, ece_bins)
            cv = _metric(metric, cur, decision_threshold, ece_bins)
            change = cv - rv if metric == "ece" else rv - cv
            floor = _floor(metric, ref, cur, rv, cv, ece_bins)
            verdict = decide(change, limits[metric], floor)
            results.append(PerformanceResult(metric, key, rv, cv, change, limits[metric], floor, verdict, n, m))
    return results
