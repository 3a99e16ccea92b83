"""The view ``make dev`` draws (modelops.cli.dashboard), without a cluster: objects shaped as the
API server returns them — statuses built by the operator's own status models and written in their
wire form (camelCase, what the operator patches), the quick-start Rollout as
examples/00-quickstart.yaml has it — rendered to text by a rich console and read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from rich.console import Console, RenderableType

from modelops.api.common import to_wire
from modelops.api.driftmonitor import DriftMonitorStatus, DriftResult
from modelops.api.modelversion import ModelVersionStatus, RegistryRef
from modelops.api.rollout import RolloutStatus
from modelops.api.trainingrun import GateResult, MLflowRunRef, TrainingRunStatus
from modelops.cli.liveview import render, step_progress, training_progress
from tests.support.cli import measurement, rollout_body
from tests.support.manifests import REPO

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
QUICKSTART = [d for d in yaml.safe_load_all((REPO / "examples" / "00-quickstart.yaml").read_text()) if d]


def text(renderable: RenderableType) -> str:
    console = Console(record=True, width=160, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def obj(kind: str, name: str, spec: dict[str, Any], status: Any) -> dict[str, Any]:
    return {"apiVersion": "modelops.io/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": "demo", "creationTimestamp": "2026-03-01T11:50:00Z"},
            "spec": spec, "status": to_wire(status) if status is not None else {}}


def training(name: str, **status: Any) -> dict[str, Any]:
    spec = next(d["spec"] for d in QUICKSTART if d["kind"] == "TrainingRun")
    return obj("TrainingRun", name, spec, TrainingRunStatus(**status) if status else None)


def quickstart_rollout(**status: Any) -> dict[str, Any]:
    spec = next(d["spec"] for d in QUICKSTART if d["kind"] == "Rollout")
    return obj("Rollout", "quickstart", spec, RolloutStatus.model_validate(status))


def test_a_training_run_moves_through_its_life_and_shows_its_metrics_and_version() -> None:
    pending = training("quickstart-train-1")
    running = training("quickstart-train-2", phase="Running", start_time="2026-03-01T11:59:20Z", job="qs-2",
                       attempts=1)
    done = training("quickstart-train-1", phase="Succeeded", start_time="2026-03-01T11:58:00Z",
                    completion_time="2026-03-01T11:58:42Z", metrics={"auc": 0.9912, "fpr": 0.021},
                    mlflow=MLflowRunRef(run_id="abc"), model_version="quickstart-v1",
                    evaluation=[GateResult(metric="auc", op=">=", threshold=0.9, value=0.9912, passed=True)])
    assert [training_progress(r) for r in (pending, running, done)] == [(0, 4), (1, 4), (4, 4)]
    shown = text(render("demo", {"TrainingRun": [done, running, pending]}, NOW)).splitlines()
    row = next(line for line in shown if "quickstart-train-1" in line and "Succeeded" in line)
    assert "42s" in row and "auc 0.9912" in row and "fpr 0.021" in row and "quickstart-v1" in row
    assert "━" * 20 in row  # the bar full
    running_row = next(line for line in shown if "quickstart-train-2" in line)
    assert "Running" in running_row and "40s" in running_row
    assert any("quickstart-train-1" in line and "Pending" in line for line in shown)


def test_model_versions_show_registry_readiness_and_role() -> None:
    ready = obj("ModelVersion", "quickstart-v1", {"model": "quickstart", "version": "1"}, ModelVersionStatus(
        registry=RegistryRef(name="quickstart", version="1"), ready=True, role="champion", served_by=["quickstart"]))
    loading = obj("ModelVersion", "quickstart-v2", {"model": "quickstart", "version": "2"}, ModelVersionStatus(
        ready=False, reason="PredictorNotReady"))
    shown = text(render("demo", {"ModelVersion": [ready, loading]}, NOW))
    assert any("quickstart-v1" in line and "Ready" in line and "champion" in line and "quickstart v1" in line
               for line in shown.splitlines()), shown
    assert any("quickstart-v2" in line and "PredictorNotReady" in line for line in shown.splitlines()), shown


def test_the_quickstart_rollout_in_its_shadow_step_shows_steps_progress_mirror_and_checks() -> None:
    rollout = quickstart_rollout(
        phase="Progressing", stable="quickstart-v1", candidate="quickstart-v2", currentStep=0, currentStepName="shadow",
        stepStartedAt="2026-03-01T11:59:54Z", traffic={"stable": 100, "candidate": 0, "mirror": 100},
        followed={"alias": "challenger", "version": "2", "modelVersion": "quickstart-v2"},
        analysis={"lastRun": "2026-03-01T11:59:58Z", "checks": [
            {"name": "error-rate", "last": measurement("error-rate", "2026-03-01T11:59:58Z", "Successful", 0.0, 0),
             "successful": 2},
            {"name": "latency-p99", "last": measurement("latency-p99", "2026-03-01T11:59:58Z", "Inconclusive", None, 0),
             "inconclusive": 2}]})
    assert step_progress(rollout, NOW) == ("shadow: held", 6.0, 10.0)
    shown = text(render("demo", {"Rollout": [rollout]}, NOW))
    lines = [line.strip(" │") for line in shown.splitlines()]
    assert "Rollout quickstart (model quickstart)" in shown
    assert any(line.startswith("target") and "alias challenger → quickstart-v2" in line for line in lines), shown
    assert any(line.startswith("▶ shadow") and "mirror 100% for 10s" in line for line in lines), shown
    assert any(line.startswith("canary-25") for line in lines)  # not started: no mark
    assert any(line.startswith("shadow: held") and line.endswith("6/10s") for line in lines), shown
    assert any("stable 100%" in line and "candidate 0%" in line and "mirror 100%" in line for line in lines)
    assert any(line.startswith("error-rate") and "0" in line and "Successful" in line for line in lines), shown
    assert any(line.startswith("latency-p99") and "-" in line and "Inconclusive" in line for line in lines), shown


def test_a_later_step_marks_the_earlier_ones_done_and_an_ab_test_counts_samples() -> None:
    body = rollout_body(step=2, traffic={"stable": 50, "candidate": 50, "mirror": 0}, abTest={
        "metric": "conversion", "stable": {"samples": 640, "successes": 64}, "candidate": {"samples": 655}})
    assert step_progress(body, NOW) == ("ab-test: samples/arm", 640.0, 1000.0)
    lines = [line.strip(" │") for line in text(render("ml", {"Rollout": [body]}, NOW)).splitlines()]
    assert any(line.startswith("✓ shadow") for line in lines) and any(line.startswith("✓ canary-5") for line in lines)
    assert any(line.startswith("▶ ab-test") for line in lines)
    assert any(line.startswith("ab-test: samples/arm") and line.endswith("640/1000") for line in lines), lines


def test_a_promoted_rollout_shows_no_step_running_and_its_history() -> None:
    rollout = quickstart_rollout(
        phase="Promoted", stable="quickstart-v2", warm=["quickstart-v1"], traffic={"stable": 100, "candidate": 0,
                                                                                   "mirror": 0},
        history=[{"time": "2026-03-01T11:59:30Z", "from": "canary-50", "to": "full", "reason": "StepStarted",
                  "actor": "operator"},
                 {"time": "2026-03-01T11:59:31Z", "from": "full", "to": "Promoted", "reason": "Promoted",
                  "actor": "operator"}])
    assert step_progress(rollout, NOW) is None
    lines = [line.strip(" │") for line in text(render("demo", {"Rollout": [rollout]}, NOW)).splitlines()]
    assert any(line.startswith("phase") and "Promoted" in line for line in lines)
    assert any(line.startswith("stable") and "quickstart-v2" in line for line in lines)
    assert not any(line.startswith("▶") for line in lines)
    assert any("full → Promoted  Promoted" in line for line in lines), lines


def test_a_drift_monitor_shows_each_feature_against_its_threshold() -> None:
    status = DriftMonitorStatus(
        last_run="2026-03-01T11:45:00Z", rows_seen=1200, verdict="Drift", drifted=True,
        retrain_runs=["quickstart-retrain-1"],
        results=[DriftResult(feature="mean_radius", statistic="psi", value=0.41, threshold=0.2, drifted=True,
                             verdict="Drift"),
                 DriftResult(feature="mean_texture", statistic="psi", value=0.03, threshold=0.2, drifted=False,
                             verdict="NoDrift")])
    monitor = obj("DriftMonitor", "quickstart", {"modelRef": {"kind": "Rollout", "name": "quickstart"}}, status)
    lines = [line.strip(" │") for line in text(render("demo", {"DriftMonitor": [monitor]}, NOW)).splitlines()]
    assert any("DriftMonitor quickstart" in line for line in lines)
    assert any(line.startswith("last run 15m ago, 1200 rows, verdict Drift, retraining quickstart-retrain-1")
               for line in lines), lines
    assert any(line.startswith("mean_radius") and "0.41" in line and "0.2" in line and line.endswith("Drift")
               for line in lines), lines
    assert any(line.startswith("mean_texture") and line.endswith("NoDrift") for line in lines), lines


def test_the_screen_holds_the_note_and_the_latest_lines_and_tolerates_objects_without_status() -> None:
    bare = {"metadata": {"name": "quickstart"}, "spec": {"model": "quickstart"}}
    shown = text(render("demo", {"Rollout": [bare], "TrainingRun": [], "ModelVersion": []}, NOW,
                        events=["12:00:00 applied Rollout quickstart"], note="training quickstart-train-1"))
    assert "modelops dev — namespace demo  12:00:00" in shown
    assert "training quickstart-train-1" in shown and "12:00:00 applied Rollout quickstart" in shown
    assert "Rollout quickstart (model quickstart)" in shown
