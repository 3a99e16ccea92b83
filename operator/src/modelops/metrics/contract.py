"""The series of the metric contract (``names.py``) as a prometheus_client collector, served by
whatever produces them: the prediction-log sink from real logged traffic, and the simulated
exporter of the tests and ``make dev`` (hack/localcluster/exporter.py).

Owns the exposition of the four families and nothing else; callers say what happened.

A custom collector rather than prometheus_client's Counter/Histogram: those also export
``*_created`` series, which are not part of the contract, and only a process-wide switch turns
them off. ``extra_labels`` (the sink's ``stage``) are appended after the identity labels; the
contract's queries aggregate ``by (modelversion)`` / ``by (le)``, so a further label splits a
series without changing any answer.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from modelops.metrics import names

Key = tuple[str, ...]


class Histogram:
    """Counts per bucket (not cumulative), sum and count: what a Prometheus histogram exposes."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1  # le is inclusive
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        cumulative, out = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            cumulative += count
            out.append((floatToGoString(bound), float(cumulative)))  # type: ignore[no-untyped-call]
        return out


class ContractSeries(Collector):
    """The four families, keyed by the identity labels (+ ``extra_labels``) in that order."""

    def __init__(self, extra_labels: Sequence[str] = ()) -> None:
        self.labels = (*names.IDENTITY_LABELS, *extra_labels)
        self.lock = threading.RLock()  # callers may hold it to make several updates one
        self.requests: dict[Key, int] = {}  # identity + code
        self.durations: dict[Key, Histogram] = {}
        self.scores: dict[Key, Histogram] = {}
        self.outcomes: dict[Key, int] = {}  # identity + metric + outcome

    def ensure(self, identity: Key, codes: Iterable[str]) -> None:
        """Export this identity's request counters (per code) and histograms at zero until they
        count: a series born with a value hides that value from ``increase()``, which takes its
        first sample as the baseline — initialising known series to 0 is Prometheus' own advice."""
        with self.lock:
            for code in codes:
                self.requests.setdefault((*identity, code), 0)
            self.durations.setdefault(identity, Histogram(names.REQUEST_DURATION_BUCKETS))
            self.scores.setdefault(identity, Histogram(names.PREDICTION_SCORE_BUCKETS))

    def add_requests(self, identity: Key, code: str, count: int = 1) -> None:
        with self.lock:
            key = (*identity, code)
            self.requests[key] = self.requests.get(key, 0) + count

    def _observe(self, histograms: dict[Key, Histogram], bounds: Sequence[float], identity: Key,
                 values: Iterable[float]) -> None:
        with self.lock:
            histogram = histograms.get(identity)
            if histogram is None:
                histogram = histograms[identity] = Histogram(bounds)
            for value in values:
                histogram.observe(value)

    def observe_latencies(self, identity: Key, values: Iterable[float]) -> None:
        self._observe(self.durations, names.REQUEST_DURATION_BUCKETS, identity, values)

    def observe_scores(self, identity: Key, values: Iterable[float]) -> None:
        self._observe(self.scores, names.PREDICTION_SCORE_BUCKETS, identity, values)

    def add_outcomes(self, identity: Key, metric: str, outcome: str, count: int = 1) -> None:
        with self.lock:
            key = (*identity, metric, outcome)
            self.outcomes[key] = self.outcomes.get(key, 0) + count

    def collect(self) -> Iterable[Metric]:
        labels = list(self.labels)
        with self.lock:
            requests = CounterMetricFamily(
                names.REQUESTS_TOTAL, "Predictor requests answered, by HTTP status code.",
                labels=[*labels, names.CODE_LABEL],
            )  # fmt: skip
            for key, count in sorted(self.requests.items()):
                requests.add_metric(list(key), float(count))
            durations = HistogramMetricFamily(
                names.REQUEST_DURATION_SECONDS, "Predictor latency in seconds.", labels=labels
            )
            for identity, histogram in sorted(self.durations.items()):
                durations.add_metric(list(identity), histogram.buckets(), histogram.total)
            scores = HistogramMetricFamily(
                names.PREDICTION_SCORE, "The model's output score per prediction.", labels=labels
            )
            for identity, histogram in sorted(self.scores.items()):
                scores.add_metric(list(identity), histogram.buckets(), histogram.total)
            outcomes = CounterMetricFamily(
                names.OUTCOMES_TOTAL, "Business outcomes attributed to the version that served the prediction.",
                labels=[*labels, names.METRIC_LABEL, names.OUTCOME_LABEL],
            )  # fmt: skip
            for key, count in sorted(self.outcomes.items()):
                outcomes.add_metric(list(key), float(count))
        return [requests, durations, scores, outcomes]
