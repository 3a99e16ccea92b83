"""One drift run, start to finish: observe (the DriftMonitor, the served ModelVersion, the reference
summary, the current window's files) → count (this shard's files; shard 0 merges every shard's
partial) → judge (``core.drift`` on the sketches, ``judging`` for the status) → report (HTML) →
one status write.

Owns the order of the steps and what each exit code means (``Exit``): 0 judged, 3 Inconclusive
(too little data: the status says so), 2 the monitor does not exist, 1 anything else. A shard
other than 0 writes its partial and exits 0 without judging or writing status.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

from modelops.api.driftmonitor import PREDICTION_FEATURE, DriftMonitorSpec, DriftVerdict, FeatureType, Statistic
from modelops.core.drift.schema import SchemaReport, check_schema, compatible
from modelops.core.drift.verdict import evaluate
from modelops.core.durations import parse_duration
from modelops.drift_job import cluster, judging
from modelops.drift_job.artifacts import Artifacts
from modelops.drift_job.counting import count_files, gather, write_partial
from modelops.drift_job.logs import label_files, open_store, window_files
from modelops.drift_job.planning import TimeWindow, current_window, reference_window, run_id, shard_files
from modelops.drift_job.reference import load_or_build
from modelops.drift_job.reporting import render
from modelops.drift_job.sketching import DEFAULT_SAMPLE_ROWS, Partial
from modelops.k8s.session import KubeSession
from modelops.logsink.layout import PREDICTIONS

logger = logging.getLogger("modelops.drift_job")


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    NOT_FOUND = 2
    INCONCLUSIVE = 3


@dataclass(frozen=True)
class Options:
    namespace: str
    monitor: str
    logs: str
    reports: str
    shards: int = 1
    index: int = 0
    run: str = ""
    min_rows: int = judging.DEFAULT_MIN_ROWS
    sample_rows: int = DEFAULT_SAMPLE_ROWS
    shard_timeout: float = 600.0
    now: datetime | None = None


def observed_schema(signature: Mapping[str, str], observed: Mapping[str, list[str]]) -> SchemaReport | None:
    """The schema check against the signature; a column logged with several types counts as
    wrong-typed if any of them is incompatible. None when the ModelVersion has no signature."""
    if not signature:
        return None
    chosen = {}
    for name, kinds in observed.items():
        bad = [k for k in kinds if name in signature and not compatible(signature[name], k)]
        chosen[name] = (bad or kinds)[0]
    return check_schema(signature, chosen)


@dataclass(frozen=True)
class Judged:
    results: list[dict[str, object]]
    outcome: judging.Outcome


def judge(spec: DriftMonitorSpec, reference_prediction: FeatureType | None, reference_sketches: Mapping[str, object],
          ref_labelled: object, partial: Partial, signature: Mapping[str, str], min_rows: int) -> Judged:
    """Engine results and the overall outcome of a merged partial (pure given its inputs)."""
    from modelops.drift_job.sketching import Labelled

    assert isinstance(ref_labelled, Labelled)
    specs = judging.feature_specs(spec, reference_prediction)
    evaluation = evaluate(specs, reference_sketches, partial.windows,  # type: ignore[arg-type]
                          schema=observed_schema(signature, partial.observed))
    ref, cur = ref_labelled.ordered(), partial.labelled.ordered()
    performance = judging.performance_results(ref.labels, ref.scores, ref.slices, cur.labels, cur.scores,
                                              cur.slices, spec.slices)
    requested = [s.value for s in spec.statistics]
    outcome = judging.overall(evaluation.results, performance, partial.rows, min_rows, requested)
    return Judged(judging.status_results(evaluation, performance), outcome)


async def run(options: Options, session: KubeSession) -> Exit:
    started = time.monotonic()
    now = options.now or datetime.now(UTC)
    run = options.run or run_id(os.environ, now)
    monitor = await cluster.get_monitor(session, options.namespace, options.monitor)
    spec = DriftMonitorSpec.model_validate(monitor.get("spec") or {})
    served = await cluster.served_model_version(session, options.namespace, spec.model_ref)
    window = current_window(now, parse_duration(spec.window))
    ref_window: TimeWindow | None = None
    if spec.reference is not None and spec.reference.window:
        ref_window = reference_window(window, parse_duration(spec.reference.window))
    artifacts = Artifacts(options.reports)
    reference = load_or_build(artifacts, options.logs, options.namespace, options.monitor, spec, served, ref_window)
    store = open_store(options.logs)
    files = window_files(store, PREDICTIONS, options.namespace, served.model, served.version, window)
    mine = shard_files(files, options.shards, options.index)
    labels = label_files(store, options.namespace, served.model, served.version, window) \
        if reference.labelled.labels else []
    partial = count_files(store, mine, window, reference, spec, labels, options.sample_rows)
    if options.shards > 1:
        write_partial(artifacts, partial, options.namespace, options.monitor, run, options.index)
        if options.index != 0:
            logger.info("drift run %s shard %d/%d: %d rows from %d files, partial written in %.2fs", run,
                        options.index, options.shards, partial.rows, len(mine), time.monotonic() - started)
            return Exit.OK
        partial = gather(artifacts, partial, reference, options.namespace, options.monitor, run, options.shards,
                         options.shard_timeout)
    judged = judge(spec, reference.prediction, reference.sketches, reference.labelled, partial, served.signature,
                   options.min_rows)
    kinds = {f.name: f.type for f in spec.features}
    if reference.prediction is not None:
        kinds[PREDICTION_FEATURE] = reference.prediction
    title = f"Drift of {options.namespace}/{options.monitor} ({served.name}), run {run}"
    summary = (f"Window {window.start.isoformat()} .. {window.end.isoformat()}: {partial.rows} rows; reference: "
               f"{reference.source}, {reference.rows} rows. Verdict {judged.outcome.verdict.value}: "
               f"{judged.outcome.message}")
    report = render(title, summary, judged.results, reference.sample, partial.sample.rows, kinds,
                    options.sample_rows)
    report_uri = artifacts.write_bytes(report.html.encode(), options.namespace, options.monitor, f"{run}.html")
    message = f"{judged.outcome.message}. Reference: {reference.source}. Report: {report.description}."
    if reference.prediction is None:
        message += f" No prediction column in the reference: {PREDICTION_FEATURE} not checked."
    outcome = judging.Outcome(judged.outcome.verdict, message)
    finished = datetime.now(UTC) if options.now is None else now
    previous = await cluster.consecutive_drifted(session, options.namespace, options.monitor)
    body = judging.status_patch(judging.RunSummary(finished, window, partial.rows, reference.rows, judged.results,
                                                   outcome, report_uri, served.name), previous)
    await cluster.write_status(session, options.namespace, options.monitor, body)
    logger.info("drift run %s of %s/%s: rows=%d referenceRows=%d verdict=%s seconds=%.2f", run, options.namespace,
                options.monitor, partial.rows, reference.rows, outcome.verdict.value, time.monotonic() - started)
    return Exit.INCONCLUSIVE if outcome.verdict == DriftVerdict.INCONCLUSIVE else Exit.OK


__all__ = ["Exit", "Options", "Statistic", "run"]
