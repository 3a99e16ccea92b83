"""Retraining on persistent drift (pure): whether to create a TrainingRun now, and which.

When ``spec.retrain.enabled`` and the drift job's ``status.consecutiveDrifted`` has reached
``spec.retrain.after`` with the last evaluation drifted, the monitor creates a TrainingRun from
``spec.retrain.template``:

- named ``<monitor>-retrain-<hash of status.lastRun>``: one evaluation retrains at most once, and a
  repeated reconcile (or one after an operator restart) finds the run instead of making another;
- labelled ``modelops.io/drift-monitor: <monitor>`` plus the template's labels; annotated with the
  reason — the window, the drifted statistics, ``lastRun`` — under ``mlflow.modelops.io/`` so the
  same words become tags of the run's MLflow run (``core.training.annotations``);
- at most once per ``spec.retrain.cooldown`` (from ``status.lastRetrain``), and never while
  ``spec.retrain.maxConcurrent`` of the monitor's retraining runs are unfinished: either holds it
  back with the reason (``Cooldown``, ``MaxConcurrent``; condition ``RetrainingThrottled``).

The TrainingRun is a **record**, not a child: it has no owner reference, so deleting the monitor
never deletes a training run (or, through it, the ModelVersion it registers) — the same rule as a
ModelVersion a TrainingRun registers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelops.api.common import API_VERSION, to_wire
from modelops.api.driftmonitor import Retrain
from modelops.core.conditions import format_time, parse_time
from modelops.core.durations import parse_duration
from modelops.core.monitoring.children import MONITOR_LABEL
from modelops.core.naming import dns_label, label_value
from modelops.core.training.annotations import MLFLOW_TAG_PREFIX

MAX_RECORDED_RUNS = 20
REASON_ANNOTATION = f"{MLFLOW_TAG_PREFIX}modelops.drift.reason"
MONITOR_ANNOTATION = f"{MLFLOW_TAG_PREFIX}modelops.drift.monitor"
WINDOW_ANNOTATION = f"{MLFLOW_TAG_PREFIX}modelops.drift.window"
STATISTICS_ANNOTATION = f"{MLFLOW_TAG_PREFIX}modelops.drift.statistics"
LAST_RUN_ANNOTATION = f"{MLFLOW_TAG_PREFIX}modelops.drift.last_run"
MAX_STATISTICS_TEXT = 2000


@dataclass(frozen=True)
class RetrainRun:
    """A TrainingRun this monitor created (labelled with its name), as the watch store holds it."""

    name: str
    finished: bool


@dataclass(frozen=True)
class RetrainDecision:
    create: dict[str, Any] | None = None  # the TrainingRun to create
    record: str | None = None  # the run to record in status.retrainRuns (made now or found made)
    throttled: tuple[str, str] | None = None  # (reason, message) when a due retraining is held back
    retry_after: float | None = None  # seconds until the cooldown ends


def retrain_name(monitor: str, last_run: str) -> str:
    digest = hashlib.sha256(last_run.encode()).hexdigest()[:8]
    return dns_label(f"{monitor}-retrain-{digest}")


def drifted_statistics(results: Sequence[Mapping[str, Any]]) -> str:
    """``income/psi=0.31>0.1, __prediction__/js=0.08>0.05`` (the drifted results, bounded)."""
    parts = []
    for result in results:
        if result.get("drifted") is True:
            value, threshold = result.get("value"), result.get("threshold")
            shown = f"{value:.4g}" if isinstance(value, int | float) else "?"
            limit = f"{threshold:.4g}" if isinstance(threshold, int | float) else "?"
            parts.append(f"{result.get('feature')}/{result.get('statistic')}={shown}>{limit}")
    text = ", ".join(parts) or "none recorded"
    return text if len(text) <= MAX_STATISTICS_TEXT else text[: MAX_STATISTICS_TEXT - 3] + "..."


def _window(status: Mapping[str, Any]) -> str:
    window = status.get("window") or {}
    return f"{window.get('start', '?')}/{window.get('end', '?')}" if window else "unknown"


def training_run(*, monitor: str, namespace: str, name: str, retrain: Retrain, status: Mapping[str, Any],
                 ) -> dict[str, Any]:
    """The TrainingRun manifest (no owner reference: a record, see the module docstring)."""
    assert retrain.template is not None
    template = retrain.template
    metadata_template = template.metadata
    consecutive = int(status.get("consecutiveDrifted") or 0)
    annotations = {
        **(metadata_template.annotations if metadata_template is not None else {}),
        MONITOR_ANNOTATION: f"{namespace}/{monitor}",
        REASON_ANNOTATION: f"drift on {consecutive} consecutive evaluation(s) (retrain.after: {retrain.after})",
        WINDOW_ANNOTATION: _window(status),
        STATISTICS_ANNOTATION: drifted_statistics(status.get("results") or []),
        LAST_RUN_ANNOTATION: str(status.get("lastRun")),
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "TrainingRun",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**(metadata_template.labels if metadata_template is not None else {}),
                       MONITOR_LABEL: label_value(monitor)},
            "annotations": annotations,
        },
        "spec": to_wire(template.spec),
    }


def decide(*, monitor: str, namespace: str, retrain: Retrain | None, status: Mapping[str, Any],
           runs: Sequence[RetrainRun], now: datetime) -> RetrainDecision:
    """Retrain now, hold back (and why), or nothing to do (see the module docstring)."""
    if retrain is None or not retrain.enabled or retrain.template is None:
        return RetrainDecision()
    last_run = status.get("lastRun")
    consecutive = status.get("consecutiveDrifted")
    if not last_run or status.get("drifted") is not True or not isinstance(consecutive, int) \
            or consecutive < retrain.after:
        return RetrainDecision()
    name = retrain_name(monitor, str(last_run))
    if name in {run.name for run in runs} or name in (status.get("retrainRuns") or []):
        return RetrainDecision(record=name)  # made for this evaluation already
    last = parse_time(status.get("lastRetrain"))
    cooldown = parse_duration(retrain.cooldown)
    if last is not None and now < last + cooldown:
        until = last + cooldown
        return RetrainDecision(
            throttled=("Cooldown", f"drift persisted for {consecutive} evaluation(s), but the last retraining "
                                   f"was at {format_time(last)}; spec.retrain.cooldown ({retrain.cooldown}) lets "
                                   f"the next one start at {format_time(until)}"),
            retry_after=max(1.0, (until - now).total_seconds()))
    active = sorted(run.name for run in runs if not run.finished)
    if len(active) >= retrain.max_concurrent:
        return RetrainDecision(
            throttled=("MaxConcurrent", f"drift persisted for {consecutive} evaluation(s), but "
                                        f"{len(active)} retraining run(s) are unfinished ({', '.join(active)}); "
                                        f"spec.retrain.maxConcurrent is {retrain.max_concurrent}"))
    manifest = training_run(monitor=monitor, namespace=namespace, name=name, retrain=retrain, status=status)
    return RetrainDecision(create=manifest, record=name)


def recorded(runs: Sequence[str], name: str) -> list[str]:
    """``status.retrainRuns`` with ``name`` added last (the newest ``MAX_RECORDED_RUNS`` kept)."""
    kept = [run for run in runs if run != name] + [name]
    return kept[-MAX_RECORDED_RUNS:]
