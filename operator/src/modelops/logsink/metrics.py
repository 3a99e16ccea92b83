"""The sink's metrics: the contract the Rollout analysis reads, from real logged traffic, and the
sink's own health.

Owns what is counted when, and the ``/metrics`` exposition:

- **the contract** (``modelops.metrics.names``, served by ``modelops.metrics.contract``) per
  ``namespace``/``model``/``modelversion``, plus ``stage`` (the rollout stage the call was routed
  in, from the forwarded ``X-Modelops-Stage`` header; empty when absent). The built-in checks sum
  ``by (modelversion)`` or ``by (le)``, so the extra label changes none of their answers.
  A call counts once it is known how it ended: a pair counts ``code="200"`` (KServe logs a response
  only for a 200) with its latency; a lone request after the pairing timeout counts
  ``unansweredCode`` (default ``500``: KServe logged no response, so the call failed or its response
  was lost; it cannot say which 4xx/5xx); a lone response counts ``200`` without a latency. Every
  instance with a score is one observation of the score histogram. Joined labels with an outcome
  count in ``modelops_outcomes_total`` for the version that served the prediction. A version's
  request counters and histograms are exported at zero from its first accepted event (``seen``),
  so the first scrape has a baseline and ``increase()`` misses none of its counts.
- **health** (``modelops_logsink_*``): events accepted by kind, duplicates dropped, rejections by
  reason, 503s, rows and bytes written, flush duration, records held in memory, spool depth and
  size, Parquet files compacted, partitions deleted by retention, signature lookups that failed.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from modelops.logsink.records import Half, Pair
from modelops.metrics.contract import ContractSeries

STAGE_LABEL = "stage"
FLUSH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class SinkMetrics:
    def __init__(self, unanswered_code: str = "500") -> None:
        self.unanswered_code = unanswered_code
        self._known: set[tuple[str, str, str, str]] = set()
        self.registry = CollectorRegistry(auto_describe=True)
        self.contract = ContractSeries(extra_labels=(STAGE_LABEL,))
        self.registry.register(self.contract)
        r = self.registry
        self.events = Counter("modelops_logsink_events_total", "CloudEvents accepted (durable), by kind.",
                              ["kind"], registry=r)
        self.events_by_kind = {kind: self.events.labels(kind) for kind in ("request", "response")}
        self.duplicates = Counter("modelops_logsink_duplicates_total",
                                  "Events dropped because their id and kind were already taken.", registry=r)
        self.rejected = Counter("modelops_logsink_rejected_total", "Requests refused with a 4xx, by reason.",
                                ["reason"], registry=r)
        self.overloaded = Counter("modelops_logsink_overloaded_total",
                                  "Requests answered 503 (buffer full or spool unwritable).", registry=r)
        self.rows = Counter("modelops_logsink_rows_written_total", "Prediction rows written to Parquet.",
                            registry=r)
        self.labels = Counter("modelops_logsink_labels_total", "Labels joined and stored.", registry=r)
        self.bytes = Counter("modelops_logsink_bytes_written_total", "Parquet bytes written (flushes).",
                             registry=r)
        self.flush_seconds = Histogram("modelops_logsink_flush_seconds", "Time to write one flush.",
                                       buckets=FLUSH_BUCKETS, registry=r)
        self.flush_errors = Counter("modelops_logsink_flush_errors_total", "Flushes that failed (retried).",
                                    registry=r)
        self.buffered = Gauge("modelops_logsink_buffered_records",
                              "Events held in memory, not yet in Parquet (503 past the cap).", registry=r)
        self.spool_depth = Gauge("modelops_logsink_spool_depth", "Spooled entries not yet in Parquet.", registry=r)
        self.spool_bytes = Gauge("modelops_logsink_spool_bytes", "Size of the spool's segments.", registry=r)
        self.spool_commits = Gauge("modelops_logsink_spool_commits", "fdatasyncs of the spool since start "
                                   "(group commit: many acknowledged events share one).", registry=r)
        self.compacted = Counter("modelops_logsink_compacted_files_total", "Small files merged by compaction.",
                                 registry=r)
        self.retention_deleted = Counter("modelops_logsink_retention_deleted_total",
                                         "Date partitions deleted by retention.", registry=r)
        self.signature_errors = Counter("modelops_logsink_signature_errors_total",
                                        "ModelVersion signature lookups that failed.", registry=r)

    def seen(self, half: Half) -> None:
        """A half of a call was accepted: its version's series exist (at zero) from now on, so the
        first scrape after it already has a baseline and no count is hidden from ``increase()``."""
        identity = (half.namespace, half.model, half.modelversion, half.stage)
        if identity not in self._known:
            self._known.add(identity)
            self.contract.ensure(identity, ("200", self.unanswered_code))

    def call(self, pair: Pair) -> None:
        """One call whose ending is known (complete, or lone after the timeout)."""
        first = pair.first
        identity = (first.namespace, first.model, first.modelversion, first.stage)
        if pair.request is not None and pair.response is None:
            self.contract.add_requests(identity, self.unanswered_code)
            return
        self.contract.add_requests(identity, "200")
        latency = pair.latency
        if latency is not None:
            self.contract.observe_latencies(identity, (latency,))
        if pair.response is not None and pair.response.outputs:
            scores = [score for _, score in pair.response.outputs if score is not None]
            if scores:
                self.contract.observe_scores(identity, scores)

    def outcome(self, namespace: str, model: str, modelversion: str, stage: str, metric: str, outcome: str) -> None:
        self.contract.add_outcomes((namespace, model, modelversion, stage), metric, outcome)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
