"""The TrainingRun state machine ``plan(observation, config, now) -> TrainingDecision``: every
transition as a table test, idempotence (no second event, no moving transition time), terminal
phases that never move, and a property over random observation sequences."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.api.config import OperatorConfig
from modelops.api.modelversion import ModelVersionSpec
from modelops.api.trainingrun import TrainingPhase, TrainingRunSpec
from modelops.core.conditions import format_time, get_condition
from modelops.core.ownership import Claim, ClaimState, Rejection
from modelops.core.training.jobs import desired_job
from modelops.core.training.observation import (
    JobState,
    MLflowRunState,
    PodState,
    Registration,
    RunRequest,
    TrainingDecision,
    TrainingObservation,
)
from modelops.core.training.progress import (
    POLL_ACTIVE_SECONDS,
    TERMINAL,
    UID_TAG,
    RegisterRequest,
    model_version_name,
    plan,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=3)
NAME = "fraud-train-42"
NS = "ml"
UID = "5f0c7a52-1d0e-4c53-9f8e-2b4a1c3d5e6f"
DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = f"registry.example.com/fraud/train@{DIGEST}"
TAG_IMAGE = "registry.example.com/fraud/train:1.2.3"
COMMIT = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f9a0b1c2"
REPO = "https://github.com/acme/fraud-model"
JOB_TRACKING_URI = "http://mlflow.mlflow.svc.cluster.local:5000"
SCHEDULER_MESSAGE = "0/4 nodes are available: 4 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available."

CONFIG = OperatorConfig.model_validate({
    "nodePools": {
        "gpu-a100": {
            "nodeSelector": {"modelops.io/pool": "gpu-a100"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "gpuResource": "nvidia.com/gpu",
            "gpuType": "NVIDIA-A100-SXM4-80GB",
        },
        "cpu": {"nodeSelector": {"modelops.io/pool": "cpu"}},
    },
    "mlflow": {"trackingUri": "http://mlflow.mlflow:5000", "jobTrackingUri": JOB_TRACKING_URI},
    "training": {"pendingTimeout": "10m"},
})
NO_MLFLOW = CONFIG.model_copy(update={"mlflow": None})
DEFAULT_POOL = CONFIG.model_copy(update={"default_node_pool": "cpu"})

SPEC: dict[str, Any] = {
    "model": "fraud-detector",
    "image": IMAGE,
    "command": ["python", "-m", "train"],
    "hyperparameters": {"learningRate": "0.01", "maxDepth": "6"},
    "seed": 42,
    "data": {"uri": "s3://datasets/fraud/train/", "version": "2025-01-31"},
    "code": {"repo": REPO, "commit": COMMIT},
    "resources": {"cpu": 8, "memory": "32Gi", "gpus": 2},
    "nodePool": "gpu-a100",
    "maxRetries": 2,
    "timeout": "2h",
    "tracking": {"experiment": "fraud-detection"},
    "evaluation": [{"metric": "auc", "op": ">=", "threshold": 0.9}, {"metric": "fpr", "op": "<=", "threshold": 0.02}],
    "register": {
        "format": "sklearn",
        "modelVersionTemplate": {
            "metadata": {
                "labels": {"team": "fraud", "modelops.io/model": "spoofed"},
                "annotations": {"owner": "fraud-team@example.com"},
            },
            "serving": {"nodePool": "gpu-a100", "minReplicas": 2, "maxReplicas": 4},
        },
    },
}
CPU_SPEC: dict[str, Any] = {"model": "iris", "image": TAG_IMAGE}

RUN = MLflowRunState(
    run_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    experiment_id="7",
    status="RUNNING",
    artifact_uri="s3://mlflow/7/0f1e2d3c4b5a69788796a5b4c3d2e1f0/artifacts",
    metrics={"auc": 0.95, "fpr": 0.01, "loss": 0.21},
    url="https://mlflow.example.com/#/experiments/7/runs/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
)
FINISHED_RUN = MLflowRunState(**{**RUN.__dict__, "status": "FINISHED"})
MLFLOW_STATUS = {"runId": RUN.run_id, "experimentId": "7", "url": RUN.url}

STARTED = "2026-03-01T11:40:00Z"
RUNNING_JOB = JobState(active=1, ready=1, start_time=STARTED)
PENDING_JOB = JobState(active=1, ready=0, start_time=STARTED)
COMPLETE_JOB = JobState(succeeded=1, complete=True, start_time=STARTED, completion_time="2026-03-01T11:58:00Z")
RUNNING_POD = PodState(name=f"{NAME}-abcde", phase="Running", created=NOW - timedelta(minutes=20))


def observe(status: dict[str, Any] | None = None, *, spec: dict[str, Any] | None = SPEC, generation: int = 1,
            **kwargs: Any) -> TrainingObservation:
    return TrainingObservation(name=NAME, namespace=NS, uid=UID, generation=generation, spec=spec,
                               status=status if status is not None else {}, **kwargs)


def run_plan(observation: TrainingObservation, config: OperatorConfig = CONFIG,
             now: datetime = NOW) -> TrainingDecision:
    return plan(observation, config, now)


def events(decision: TrainingDecision) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in decision.events]


def condition(decision: TrainingDecision | dict[str, Any], type: str) -> dict[str, Any] | None:
    status = decision.status if isinstance(decision, TrainingDecision) else decision
    found = get_condition(status.get("conditions"), type)
    return dict(found) if found is not None else None


def assert_no_actions(decision: TrainingDecision) -> None:
    assert decision.start_mlflow_run is None
    assert decision.apply_job is None
    assert decision.register is None
    assert decision.create_model_version is None
    assert decision.end_mlflow_run is None
    assert decision.mlflow_tags == {}
    assert decision.needs_another_pass is False


def transition_times(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["lastTransitionTime"] for c in status.get("conditions") or []}


# -- statuses reached by walking the machine ------------------------------------------------------


def status_run_started(spec: dict[str, Any] = SPEC) -> dict[str, Any]:
    return run_plan(observe(spec=spec)).status


def status_job_created(spec: dict[str, Any] = SPEC) -> dict[str, Any]:
    return run_plan(observe(status_run_started(spec), spec=spec, mlflow_run=RUN)).status


def status_running(spec: dict[str, Any] = SPEC) -> dict[str, Any]:
    return run_plan(observe(status_job_created(spec), spec=spec, mlflow_run=RUN, job=RUNNING_JOB,
                            pods=(RUNNING_POD,))).status


def status_evaluating() -> dict[str, Any]:
    return run_plan(observe(status_running(), mlflow_run=RUN, job=COMPLETE_JOB)).status


def status_succeeded() -> dict[str, Any]:
    registered = run_plan(observe(status_evaluating(), mlflow_run=FINISHED_RUN, job=COMPLETE_JOB,
                                  registered=Registration("fraud-detector", "3"))).status
    return run_plan(observe(registered, mlflow_run=FINISHED_RUN, job=COMPLETE_JOB,
                            registered=Registration("fraud-detector", "3"), model_version_exists=True)).status


def status_rejected() -> dict[str, Any]:
    run = MLflowRunState(**{**RUN.__dict__, "metrics": {"auc": 0.5, "fpr": 0.01}})
    return run_plan(observe(status_running(), mlflow_run=run, job=COMPLETE_JOB)).status


def status_failed() -> dict[str, Any]:
    job = JobState(failed=3, failure=("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
    return run_plan(observe(status_running(), mlflow_run=RUN, job=job)).status


def test_walked_statuses_have_the_expected_phases() -> None:
    assert status_run_started()["phase"] == "Pending"
    assert status_job_created()["phase"] == "Pending"
    assert status_running()["phase"] == "Running"
    assert status_evaluating()["phase"] == "Evaluating"
    assert status_succeeded()["phase"] == "Succeeded"
    assert status_rejected()["phase"] == "Rejected"
    assert status_failed()["phase"] == "Failed"


# -- Accepted -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "field"), [
    ({**SPEC, "maxRetries": -1}, "spec.maxRetries"),
    ({**SPEC, "nodepool": "gpu-a100"}, "spec.nodepool"),
    ({**SPEC, "timeout": "2 hours"}, "spec.timeout"),
    ({**SPEC, "evaluation": [{"metric": "auc", "op": "=>", "threshold": 0.9}]}, "spec.evaluation[0].op"),
    ({k: v for k, v in SPEC.items() if k != "image"}, "spec.image"),
    ({**SPEC, "resources": {"gpus": 65}}, "spec.resources.gpus"),
    ({**SPEC, "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, "spec.env"),
    (None, "spec.model"),
])
def test_invalid_spec(spec: dict[str, Any] | None, field: str) -> None:
    decision = run_plan(observe(spec=spec, generation=3), now=NOW)
    accepted = condition(decision, "Accepted")
    assert accepted is not None
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidSpec")
    assert field in accepted["message"]
    assert accepted["observedGeneration"] == 3
    assert_no_actions(decision)
    assert events(decision) == [("Warning", "InvalidSpec")]
    assert decision.events[0].message == accepted["message"]
    assert decision.status["observedGeneration"] == 3
    assert decision.status["phase"] == "Pending"
    assert decision.requeue_after is None
    again = run_plan(observe(decision.status, spec=spec, generation=3), now=LATER)
    assert again.events == []
    assert transition_times(again.status) == transition_times(decision.status)


def test_unknown_node_pool() -> None:
    decision = run_plan(observe(spec={**SPEC, "nodePool": "gpu-h100"}))
    accepted = condition(decision, "Accepted")
    assert accepted is not None
    assert (accepted["status"], accepted["reason"]) == ("False", "UnknownNodePool")
    assert "spec.nodePool" in accepted["message"] and "'gpu-h100'" in accepted["message"]
    assert "known pools: cpu, gpu-a100" in accepted["message"]
    assert decision.status["phase"] == "Pending"
    assert decision.status["message"] == accepted["message"]
    assert "job" not in decision.status
    assert_no_actions(decision)
    assert events(decision) == [("Warning", "UnknownNodePool")]


def test_unknown_serving_pool_of_the_template_is_refused_before_the_run() -> None:
    """Found by the hostile-input suite (issue 15): the run trained, then its ModelVersion was refused."""
    register = {"format": "sklearn", "modelVersionTemplate": {"serving": {"nodePool": "gpu-h100"}}}
    decision = run_plan(observe(spec={**SPEC, "register": register}))
    accepted = condition(decision, "Accepted")
    assert accepted is not None and (accepted["status"], accepted["reason"]) == ("False", "UnknownNodePool")
    assert accepted["message"].startswith("spec.register.modelVersionTemplate.serving.nodePool: node pool 'gpu-h100'")
    assert_no_actions(decision)
    assert events(decision) == [("Warning", "UnknownNodePool")]


def test_unknown_node_pool_without_any_pool_configured() -> None:
    config = CONFIG.model_copy(update={"node_pools": {}})
    decision = run_plan(observe(), config=config)
    accepted = condition(decision, "Accepted")
    assert accepted is not None and accepted["reason"] == "UnknownNodePool"
    assert "known pools: none" in accepted["message"]


def test_unknown_default_pool() -> None:
    config = CONFIG.model_copy(update={"default_node_pool": "gpu-t4"})
    decision = run_plan(observe(spec={k: v for k, v in SPEC.items() if k != "nodePool"}), config=config)
    accepted = condition(decision, "Accepted")
    assert accepted is not None and accepted["reason"] == "UnknownNodePool"
    assert "'gpu-t4'" in accepted["message"]
    assert decision.apply_job is None and decision.start_mlflow_run is None


def test_pool_removed_from_config_after_the_job_started_keeps_tracking_it() -> None:
    config = CONFIG.model_copy(update={"node_pools": {"cpu": CONFIG.node_pools["cpu"]}})
    decision = run_plan(observe(status_job_created(), mlflow_run=RUN, job=RUNNING_JOB, pods=(RUNNING_POD,)),
                        config=config)
    accepted = condition(decision, "Accepted")
    assert accepted is not None and accepted["status"] == "True"
    assert decision.status["phase"] == "Running"


def test_mlflow_not_configured() -> None:
    decision = run_plan(observe(), config=NO_MLFLOW)
    accepted = condition(decision, "Accepted")
    assert accepted is not None
    assert (accepted["status"], accepted["reason"]) == ("False", "MLflowNotConfigured")
    assert "mlflow.trackingUri" in accepted["message"]
    assert decision.status["phase"] == "Pending"
    assert_no_actions(decision)
    assert events(decision) == [("Warning", "MLflowNotConfigured")]


def test_accepted_true_when_everything_is_configured() -> None:
    accepted = condition(run_plan(observe()), "Accepted")
    assert accepted is not None
    assert (accepted["status"], accepted["reason"]) == ("True", "Valid")
    assert accepted["lastTransitionTime"] == format_time(NOW)


def test_fixing_the_spec_flips_accepted_back() -> None:
    bad = run_plan(observe(spec={**SPEC, "nodePool": "gpu-h100"}))
    good = run_plan(observe(bad.status, spec=SPEC, generation=2), now=LATER)
    accepted = condition(good, "Accepted")
    assert accepted is not None
    assert (accepted["status"], accepted["lastTransitionTime"]) == ("True", format_time(LATER))
    assert good.start_mlflow_run is not None
    assert good.status["observedGeneration"] == 2


# -- Reproducible ---------------------------------------------------------------------------------


def test_tag_image_is_not_reproducible() -> None:
    decision = run_plan(observe(spec={**SPEC, "image": TAG_IMAGE}))
    reproducible = condition(decision, "Reproducible")
    assert reproducible is not None
    assert (reproducible["status"], reproducible["reason"]) == ("False", "ImageNotPinned")
    assert "spec.image" in reproducible["message"] and TAG_IMAGE in reproducible["message"]
    assert events(decision) == [("Warning", "ImageNotPinned")]
    # A warning, not a blocker: the run still starts.
    assert decision.start_mlflow_run is not None
    assert decision.start_mlflow_run.tags["modelops.image.pinned"] == "false"


def test_digest_image_is_reproducible() -> None:
    decision = run_plan(observe())
    reproducible = condition(decision, "Reproducible")
    assert reproducible is not None
    assert (reproducible["status"], reproducible["reason"]) == ("True", "ImagePinned")
    assert events(decision) == []


def test_tag_plus_digest_is_reproducible() -> None:
    decision = run_plan(observe(spec={**SPEC, "image": f"{TAG_IMAGE}@{DIGEST}"}))
    reproducible = condition(decision, "Reproducible")
    assert reproducible is not None and reproducible["status"] == "True"


# -- the MLflow run comes first -------------------------------------------------------------------


def test_no_mlflow_run_starts_one() -> None:
    decision = run_plan(observe())
    assert decision.start_mlflow_run == RunRequest(
        experiment="fraud-detection",
        run_name=NAME,
        tags={
            UID_TAG: UID,
            "modelops.io/trainingrun": f"{NS}/{NAME}",
            "modelops.image": IMAGE,
            "modelops.image.pinned": "true",
            "modelops.seed": "42",
            "modelops.code.repo": REPO,
            "modelops.code.commit": COMMIT,
            "mlflow.source.git.repoURL": REPO,
            "mlflow.source.git.commit": COMMIT,
            "modelops.data.uri": "s3://datasets/fraud/train/",
            "modelops.data.version": "2025-01-31",
            "modelops.node_pool": "gpu-a100",
            "modelops.gpu.count": "2",
            "modelops.gpu.resource": "nvidia.com/gpu",
            "modelops.gpu.type": "NVIDIA-A100-SXM4-80GB",
        },
        params={"learningRate": "0.01", "maxDepth": "6"},
    )
    assert decision.needs_another_pass is True
    assert decision.apply_job is None
    assert decision.status["phase"] == "Pending"
    assert decision.status["message"] == "creating the MLflow run"
    assert "job" not in decision.status and "mlflow" not in decision.status


def test_experiment_defaults_to_model_name_and_minimal_tags() -> None:
    decision = run_plan(observe(spec=CPU_SPEC))
    assert decision.start_mlflow_run == RunRequest(
        experiment="iris",
        run_name=NAME,
        tags={
            UID_TAG: UID,
            "modelops.io/trainingrun": f"{NS}/{NAME}",
            "modelops.image": TAG_IMAGE,
            "modelops.image.pinned": "false",
        },
        params={},
    )


def test_run_tags_use_the_default_pool() -> None:
    spec = {**SPEC, "nodePool": None}
    request = run_plan(observe(spec=spec), config=DEFAULT_POOL).start_mlflow_run
    assert request is not None
    assert request.tags["modelops.node_pool"] == "cpu"
    assert request.tags["modelops.gpu.resource"] == "nvidia.com/gpu"
    assert "modelops.gpu.type" not in request.tags


def test_seed_zero_is_a_tag() -> None:
    request = run_plan(observe(spec={**SPEC, "seed": 0})).start_mlflow_run
    assert request is not None and request.tags["modelops.seed"] == "0"


# -- the Job --------------------------------------------------------------------------------------


def test_run_known_no_job_applies_the_job() -> None:
    decision = run_plan(observe(status_run_started(), mlflow_run=RUN))
    assert decision.apply_job == desired_job(
        name=NAME, namespace=NS, uid=UID, spec=TrainingRunSpec.model_validate(SPEC),
        pool=CONFIG.node_pools["gpu-a100"], pool_name="gpu-a100", mlflow_run_id=RUN.run_id,
        tracking_uri=JOB_TRACKING_URI, settings=CONFIG.training,
    )
    assert decision.status["job"] == NAME
    assert decision.status["phase"] == "Pending"
    assert decision.status["mlflow"] == MLFLOW_STATUS
    assert decision.status["attempts"] == 0
    assert decision.requeue_after == POLL_ACTIVE_SECONDS
    assert decision.start_mlflow_run is None and decision.end_mlflow_run is None
    assert decision.needs_another_pass is False


def test_job_created_emits_a_normal_event() -> None:
    """The reconciler's second pass of the very first reconcile: status is what the first pass wrote."""
    decision = run_plan(observe(status_run_started(), mlflow_run=RUN))
    assert decision.apply_job is not None
    assert events(decision) == [("Normal", "JobCreated")]


def test_job_created_emits_a_normal_event_from_an_empty_status() -> None:
    decision = run_plan(observe({}, mlflow_run=RUN))
    assert decision.apply_job is not None
    assert events(decision) == [("Normal", "JobCreated")]


def test_job_uses_tracking_uri_when_no_job_tracking_uri() -> None:
    config = CONFIG.model_copy(update={"mlflow": CONFIG.mlflow.model_copy(update={"job_tracking_uri": None})})
    decision = run_plan(observe(status_run_started(), mlflow_run=RUN), config=config)
    assert decision.apply_job is not None
    env = {e["name"]: e["value"] for e in decision.apply_job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlflow:5000"
    assert env["MLFLOW_RUN_ID"] == RUN.run_id


def test_job_on_the_default_pool() -> None:
    spec = {**CPU_SPEC, "image": IMAGE}
    decision = run_plan(observe(status_run_started(spec), spec=spec, mlflow_run=RUN), config=DEFAULT_POOL)
    assert decision.apply_job is not None
    pod = decision.apply_job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"modelops.io/pool": "cpu"}
    assert decision.apply_job["metadata"]["labels"]["modelops.io/pool"] == "cpu"


def test_job_deleted_before_it_finished() -> None:
    decision = run_plan(observe(status_running(), mlflow_run=RUN, job=None))
    assert decision.status["phase"] == "Failed"
    completed = condition(decision, "Completed")
    assert completed is not None and (completed["status"], completed["reason"]) == ("True", "JobDeleted")
    assert NAME in decision.status["message"] and "deleted" in decision.status["message"]
    assert decision.end_mlflow_run == "KILLED"
    assert decision.mlflow_tags == {"modelops.outcome": "failed", "modelops.reason": "JobDeleted"}
    assert events(decision) == [("Warning", "JobDeleted")]
    assert decision.status["completionTime"] == format_time(NOW)
    assert decision.apply_job is None  # the lost Job is never silently recreated


def test_job_deleted_while_still_pending() -> None:
    decision = run_plan(observe(status_job_created(), mlflow_run=RUN, job=None))
    assert decision.status["phase"] == "Failed"
    assert events(decision) == [("Warning", "JobDeleted")]
    assert decision.apply_job is None


# -- Running --------------------------------------------------------------------------------------


def test_job_with_ready_pod_is_running() -> None:
    decision = run_plan(observe(status_job_created(), mlflow_run=RUN, job=RUNNING_JOB, pods=(RUNNING_POD,)))
    assert decision.status["phase"] == "Running"
    assert decision.status["message"] == "attempt 1 running"
    assert decision.status["attempts"] == 1
    assert decision.status["startTime"] == STARTED
    scheduled = condition(decision, "Scheduled")
    assert scheduled is not None and (scheduled["status"], scheduled["reason"]) == ("True", "Scheduled")
    assert events(decision) == [("Normal", "Running")]
    assert decision.requeue_after == POLL_ACTIVE_SECONDS
    assert_no_actions(decision)


def test_running_emits_its_event_once() -> None:
    first = run_plan(observe(status_job_created(), mlflow_run=RUN, job=RUNNING_JOB, pods=(RUNNING_POD,)))
    second = run_plan(observe(first.status, mlflow_run=RUN, job=RUNNING_JOB, pods=(RUNNING_POD,)), now=LATER)
    assert second.status["phase"] == "Running"
    assert second.events == []
    assert transition_times(second.status) == transition_times(first.status)
    assert second.status == first.status


def test_running_pod_without_ready_count() -> None:
    decision = run_plan(observe(status_job_created(), mlflow_run=RUN, job=PENDING_JOB, pods=(RUNNING_POD,)))
    assert decision.status["phase"] == "Running"


def test_start_time_is_recorded_once() -> None:
    status = {**status_job_created(), "startTime": "2026-03-01T10:00:00Z"}
    decision = run_plan(observe(status, mlflow_run=RUN, job=RUNNING_JOB, pods=(RUNNING_POD,)))
    assert decision.status["startTime"] == "2026-03-01T10:00:00Z"


def test_attempts_never_decrease() -> None:
    status = {**status_running(), "attempts": 3}
    decision = run_plan(observe(status, mlflow_run=RUN, job=RUNNING_JOB, pods=(RUNNING_POD,)))
    assert decision.status["attempts"] == 3


def test_attempts_count_every_pod_the_job_started() -> None:
    job = JobState(active=1, ready=1, failed=2)
    decision = run_plan(observe(status_running(), mlflow_run=RUN, job=job, pods=(RUNNING_POD,)))
    assert decision.status["attempts"] == 3
    assert decision.status["message"] == "attempt 3 running"


def test_succeeded_pod_before_job_complete_does_not_go_back_to_pending() -> None:
    """Between the Pod succeeding and the Job controller adding Complete, the Job reports
    active=0, ready=0, succeeded=1. The training is over; it must not read "Pending: waiting for
    the training Pod to be scheduled" (the documented order is Pending -> Running -> Evaluating)."""
    done_pod = PodState(name=f"{NAME}-abcde", phase="Succeeded", created=NOW - timedelta(minutes=20))
    job = JobState(active=0, ready=0, succeeded=1, complete=False, start_time=STARTED)
    decision = run_plan(observe(status_running(), mlflow_run=RUN, job=job, pods=(done_pod,)))
    assert decision.status["phase"] != "Pending", decision.status["message"]


# -- Pending for capacity -------------------------------------------------------------------------


def _stuck_pod(waited: timedelta) -> PodState:
    return PodState(name=f"{NAME}-xyz12", phase="Pending", unschedulable_since=NOW - waited,
                    unschedulable_message=SCHEDULER_MESSAGE, created=NOW - waited)


def test_unschedulable_shortly_before_timeout_requeues_for_the_remaining_time() -> None:
    decision = run_plan(observe(status_job_created(), mlflow_run=RUN, job=PENDING_JOB,
                                pods=(_stuck_pod(timedelta(minutes=9, seconds=50)),)))
    assert decision.requeue_after == pytest.approx(10.0, abs=0.5)
    assert condition(decision, "Scheduled") is None
    assert decision.events == []
    assert decision.status["phase"] == "Pending"
    assert decision.status["message"] == "waiting for the training Pod to be scheduled"
    assert_no_actions(decision)


def test_unschedulable_well_before_timeout_requeues_no_later_than_the_deadline() -> None:
    decision = run_plan(observe(status_job_created(), mlflow_run=RUN, job=PENDING_JOB,
                                pods=(_stuck_pod(timedelta(minutes=2)),)))
    remaining = timedelta(minutes=8).total_seconds()
    assert decision.requeue_after is not None and 0 < decision.requeue_after <= remaining + 1
    assert condition(decision, "Scheduled") is None
    assert decision.events == []


@pytest.mark.parametrize("waited", [timedelta(minutes=10), timedelta(minutes=11), timedelta(hours=3)])
def test_unschedulable_past_timeout(waited: timedelta) -> None:
    decision = run_plan(observe(status_job_created(), mlflow_run=RUN, job=PENDING_JOB,
                                pods=(_stuck_pod(waited),)))
    scheduled = condition(decision, "Scheduled")
    assert scheduled is not None
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    assert SCHEDULER_MESSAGE in scheduled["message"]
    assert f"{int(waited.total_seconds())}s" in scheduled["message"]
    assert "pendingTimeout 10m" in scheduled["message"]
    assert events(decision) == [("Warning", "Unschedulable")]
    assert decision.status["phase"] == "Pending"
    assert decision.status["message"] == f"waiting for capacity: {SCHEDULER_MESSAGE}"
    assert decision.requeue_after == POLL_ACTIVE_SECONDS


def test_unschedulable_is_reported_once() -> None:
    first = run_plan(observe(status_job_created(), mlflow_run=RUN, job=PENDING_JOB,
                             pods=(_stuck_pod(timedelta(minutes=11)),)))
    second = run_plan(observe(first.status, mlflow_run=RUN, job=PENDING_JOB,
                              pods=(_stuck_pod(timedelta(minutes=11)),)), now=LATER)
    assert second.events == []
    assert transition_times(second.status) == transition_times(first.status)


def test_scheduled_after_being_unschedulable() -> None:
    stuck = run_plan(observe(status_job_created(), mlflow_run=RUN, job=PENDING_JOB,
                             pods=(_stuck_pod(timedelta(minutes=11)),)))
    running = run_plan(observe(stuck.status, mlflow_run=RUN, job=RUNNING_JOB, pods=(RUNNING_POD,)), now=LATER)
    scheduled = condition(running, "Scheduled")
    assert scheduled is not None
    assert (scheduled["status"], scheduled["lastTransitionTime"]) == ("True", format_time(LATER))
    assert events(running) == [("Normal", "Running")]


def test_pending_timeout_comes_from_config() -> None:
    config = CONFIG.model_copy(update={"training": CONFIG.training.model_copy(update={"pending_timeout": "1m"})})
    decision = run_plan(observe(status_job_created(), mlflow_run=RUN, job=PENDING_JOB,
                                pods=(_stuck_pod(timedelta(minutes=2)),)), config=config)
    scheduled = condition(decision, "Scheduled")
    assert scheduled is not None and scheduled["reason"] == "Unschedulable"
    assert "pendingTimeout 1m" in scheduled["message"]


# -- Failed ---------------------------------------------------------------------------------------


def _failed_pod(name: str, minutes_ago: int, exit_code: int, reason: str, message: str | None) -> PodState:
    return PodState(name=name, phase="Failed", terminated_reason=reason, terminated_message=message,
                    exit_code=exit_code, created=NOW - timedelta(minutes=minutes_ago))


FAILED_PODS = (
    _failed_pod(f"{NAME}-aaaaa", 30, 1, "Error", "ValueError: bad input"),
    _failed_pod(f"{NAME}-ccccc", 5, 137, "OOMKilled", "container exceeded its memory limit"),  # the last one
    _failed_pod(f"{NAME}-bbbbb", 15, 2, "Error", None),
)
BACKOFF_JOB = JobState(active=0, failed=3, start_time=STARTED,
                       failure=("BackoffLimitExceeded", "Job has reached the specified backoff limit"))


def test_backoff_limit_exceeded() -> None:
    decision = run_plan(observe(status_running(), mlflow_run=RUN, job=BACKOFF_JOB, pods=FAILED_PODS))
    assert decision.status["phase"] == "Failed"
    message = decision.status["message"]
    assert message == (f"failed after 3 attempt(s) (maxRetries 2): pod {NAME}-ccccc, exit code 137, OOMKilled: "
                       "container exceeded its memory limit")
    assert decision.status["attempts"] == 3
    completed = condition(decision, "Completed")
    assert completed is not None
    assert (completed["status"], completed["reason"], completed["message"]) == ("True", "BackoffLimitExceeded", message)
    assert decision.end_mlflow_run == "FAILED"
    assert decision.mlflow_tags == {"modelops.outcome": "failed", "modelops.reason": "BackoffLimitExceeded"}
    assert events(decision) == [("Warning", "BackoffLimitExceeded")]
    assert decision.events[0].message == message
    assert decision.status["completionTime"] == format_time(NOW)
    assert decision.apply_job is None and decision.register is None and decision.create_model_version is None


def test_failure_without_message_on_the_last_pod() -> None:
    pods = (_failed_pod(f"{NAME}-bbbbb", 15, 2, "Error", None),)
    decision = run_plan(observe(status_running(), mlflow_run=RUN, job=BACKOFF_JOB, pods=pods))
    assert decision.status["message"].endswith(f": pod {NAME}-bbbbb, exit code 2, Error")


def test_failure_without_failed_pods_uses_the_job_message() -> None:
    decision = run_plan(observe(status_running(), mlflow_run=RUN, job=BACKOFF_JOB, pods=()))
    assert decision.status["message"] == ("failed after 3 attempt(s) (maxRetries 2): "
                                          "Job has reached the specified backoff limit")


def test_deadline_exceeded_is_a_timeout() -> None:
    job = JobState(active=0, failed=1, failure=("DeadlineExceeded", "Job was active longer than specified deadline"))
    decision = run_plan(observe(status_running(), mlflow_run=RUN, job=job, pods=FAILED_PODS[:1]))
    assert decision.status["phase"] == "Failed"
    completed = condition(decision, "Completed")
    assert completed is not None and (completed["status"], completed["reason"]) == ("True", "Timeout")
    assert "spec.timeout (2h, retries included)" in decision.status["message"]
    assert decision.end_mlflow_run == "FAILED"
    assert decision.mlflow_tags == {"modelops.outcome": "failed", "modelops.reason": "Timeout"}
    assert events(decision) == [("Warning", "Timeout")]
    assert decision.status["completionTime"] == format_time(NOW)


def test_failure_wins_over_running_pods() -> None:
    job = JobState(active=1, ready=1, failed=3, failure=("BackoffLimitExceeded", "limit"))
    decision = run_plan(observe(status_running(), mlflow_run=RUN, job=job, pods=(RUNNING_POD, *FAILED_PODS)))
    assert decision.status["phase"] == "Failed"


# -- evaluation -----------------------------------------------------------------------------------


def _run(metrics: dict[str, float], status: str = "RUNNING") -> MLflowRunState:
    return MLflowRunState(**{**RUN.__dict__, "metrics": metrics, "status": status})


def test_gates_fail_rejects() -> None:
    run = _run({"auc": 0.81, "fpr": 0.01})
    decision = run_plan(observe(status_running(), mlflow_run=run, job=COMPLETE_JOB))
    assert decision.status["phase"] == "Rejected"
    message = decision.status["message"]
    assert message == "rejected by evaluation: auc 0.81 fails >= 0.9"
    completed = condition(decision, "Completed")
    assert completed is not None and (completed["status"], completed["reason"]) == ("True", "Rejected")
    assert decision.mlflow_tags == {"modelops.outcome": "rejected", "modelops.rejection": "auc 0.81 fails >= 0.9"}
    assert decision.end_mlflow_run == "FINISHED"
    assert decision.register is None and decision.create_model_version is None
    assert decision.needs_another_pass is False
    assert events(decision) == [("Warning", "Rejected")]
    assert decision.status["metrics"] == {"auc": 0.81, "fpr": 0.01}
    assert decision.status["evaluation"] == [
        {"metric": "auc", "op": ">=", "threshold": 0.9, "value": 0.81, "passed": False},
        {"metric": "fpr", "op": "<=", "threshold": 0.02, "value": 0.01, "passed": True},
    ]
    assert decision.status["completionTime"] == format_time(NOW)


def test_missing_metric_rejects() -> None:
    decision = run_plan(observe(status_running(), mlflow_run=_run({"auc": 0.95}), job=COMPLETE_JOB))
    assert decision.status["phase"] == "Rejected"
    assert "fpr was not logged" in decision.status["message"]
    assert decision.mlflow_tags["modelops.outcome"] == "rejected"
    assert decision.register is None
    assert decision.status["evaluation"][1] == {"metric": "fpr", "op": "<=", "threshold": 0.02, "passed": False}


def test_rejected_run_already_finished_is_not_ended_again() -> None:
    decision = run_plan(observe(status_running(), mlflow_run=_run({"auc": 0.5, "fpr": 0.5}, "FINISHED"),
                                job=COMPLETE_JOB))
    assert decision.status["phase"] == "Rejected"
    assert decision.end_mlflow_run is None


def test_gates_pass_registration_disabled_succeeds() -> None:
    spec = {**SPEC, "register": {"enabled": False}}
    decision = run_plan(observe(status_running(spec), spec=spec, mlflow_run=RUN, job=COMPLETE_JOB))
    assert decision.status["phase"] == "Succeeded"
    completed = condition(decision, "Completed")
    assert completed is not None and (completed["status"], completed["reason"]) == ("True", "Succeeded")
    assert decision.register is None and decision.create_model_version is None
    assert decision.end_mlflow_run == "FINISHED"
    assert decision.mlflow_tags == {"modelops.outcome": "passed"}
    assert events(decision) == [("Normal", "Succeeded")]
    assert "modelVersion" not in decision.status
    assert decision.status["completionTime"] == format_time(NOW)


def test_no_gates_pass() -> None:
    spec = {**SPEC, "evaluation": [], "register": {"enabled": False}}
    decision = run_plan(observe(status_running(spec), spec=spec, mlflow_run=_run({}), job=COMPLETE_JOB))
    assert decision.status["phase"] == "Succeeded"
    assert decision.status["evaluation"] == []


def test_gates_pass_not_registered_requests_registration() -> None:
    decision = run_plan(observe(status_running(), mlflow_run=RUN, job=COMPLETE_JOB))
    assert decision.status["phase"] == "Evaluating"
    assert decision.register == RegisterRequest(
        model="fraud-detector",
        source=f"{RUN.artifact_uri}/model",
        run_id=RUN.run_id,
        tags={
            "modelops.io/trainingrun": NAME,
            "modelops.io/namespace": NS,
            "modelops.image": IMAGE,
            "modelops.data.version": "2025-01-31",
            "modelops.code.commit": COMMIT,
        },
        description=f"trained by TrainingRun {NS}/{NAME}",
    )
    assert decision.needs_another_pass is True
    assert decision.create_model_version is None
    assert decision.end_mlflow_run == "FINISHED"
    assert decision.mlflow_tags == {"modelops.outcome": "passed"}
    assert events(decision) == [("Normal", "Evaluating")]
    assert decision.status["metrics"] == dict(RUN.metrics)
    assert all(r["passed"] for r in decision.status["evaluation"])
    assert "completionTime" not in decision.status


def test_registration_source_uses_artifact_path_and_trims_slash() -> None:
    spec = {**SPEC, "register": {"artifactPath": "sklearn-model"}}
    run = MLflowRunState(**{**RUN.__dict__, "artifact_uri": "s3://mlflow/7/r/artifacts/"})
    decision = run_plan(observe(status_running(spec), spec=spec, mlflow_run=run, job=COMPLETE_JOB))
    assert decision.register is not None
    assert decision.register.source == "s3://mlflow/7/r/artifacts/sklearn-model"


def test_registration_tags_without_data_and_code() -> None:
    spec = {**CPU_SPEC, "image": IMAGE}
    decision = run_plan(observe(status_running(spec), spec=spec, mlflow_run=RUN, job=COMPLETE_JOB))
    assert decision.register is not None
    assert decision.register.tags == {"modelops.io/trainingrun": NAME, "modelops.io/namespace": NS,
                                      "modelops.image": IMAGE}


EXPECTED_MODEL_VERSION = {
    "apiVersion": "modelops.io/v1alpha1",
    "kind": "ModelVersion",
    "metadata": {
        "name": "fraud-detector-v3",
        "namespace": NS,
        "labels": {"team": "fraud", "modelops.io/model": "fraud-detector", "modelops.io/trainingrun": NAME},
        "annotations": {"owner": "fraud-team@example.com"},
    },
    "spec": {
        "model": "fraud-detector",
        "version": "3",
        "artifact": {"storageUri": f"{RUN.artifact_uri}/model", "format": "sklearn"},
        "lineage": {
            "trainingRun": NAME,
            "mlflowRunId": RUN.run_id,
            "image": IMAGE,
            "data": {"uri": "s3://datasets/fraud/train/", "version": "2025-01-31"},
            "code": {"repo": REPO, "commit": COMMIT},
        },
        "metrics": {"auc": 0.95, "fpr": 0.01, "loss": 0.21},
        "serving": {"enabled": True, "nodePool": "gpu-a100", "minReplicas": 2, "maxReplicas": 4},
    },
}


def test_registered_without_model_version_creates_it() -> None:
    decision = run_plan(observe(status_evaluating(), mlflow_run=FINISHED_RUN, job=COMPLETE_JOB,
                                registered=Registration("fraud-detector", "3")))
    manifest = decision.create_model_version
    assert manifest == EXPECTED_MODEL_VERSION
    assert manifest is not None
    assert "ownerReferences" not in manifest["metadata"]
    ModelVersionSpec.model_validate(manifest["spec"])
    assert decision.status["phase"] == "Evaluating"
    assert decision.status["modelVersion"] == "fraud-detector-v3"
    assert decision.needs_another_pass is True
    assert decision.register is None and decision.end_mlflow_run is None
    assert decision.events == []


def test_model_version_with_runtime_and_without_template() -> None:
    spec = {**CPU_SPEC, "image": IMAGE, "register": {"runtime": "kserve-mlserver"}}
    decision = run_plan(observe(status_running(spec), spec=spec, mlflow_run=RUN, job=COMPLETE_JOB,
                                registered=Registration("iris", "12")))
    manifest = decision.create_model_version
    assert manifest is not None
    assert manifest["metadata"] == {"name": "iris-v12", "namespace": NS,
                                    "labels": {"modelops.io/model": "iris", "modelops.io/trainingrun": NAME}}
    assert manifest["spec"]["artifact"] == {"storageUri": f"{RUN.artifact_uri}/model", "format": "mlflow",
                                            "runtime": "kserve-mlserver"}
    assert manifest["spec"]["lineage"] == {"trainingRun": NAME, "mlflowRunId": RUN.run_id, "image": IMAGE}
    assert "serving" not in manifest["spec"]
    ModelVersionSpec.model_validate(manifest["spec"])


def test_registered_and_model_version_exists_succeeds() -> None:
    evaluating = run_plan(observe(status_evaluating(), mlflow_run=FINISHED_RUN, job=COMPLETE_JOB,
                                  registered=Registration("fraud-detector", "3"))).status
    decision = run_plan(observe(evaluating, mlflow_run=FINISHED_RUN, job=COMPLETE_JOB,
                                registered=Registration("fraud-detector", "3"), model_version_exists=True))
    assert decision.status["phase"] == "Succeeded"
    assert decision.status["modelVersion"] == "fraud-detector-v3"
    completed = condition(decision, "Completed")
    assert completed is not None and (completed["status"], completed["reason"]) == ("True", "Succeeded")
    assert "fraud-detector-v3" in decision.status["message"]
    assert events(decision) == [("Normal", "Registered")]
    assert_no_actions(decision)
    assert decision.status["completionTime"] == format_time(NOW)


def test_registered_and_model_version_exists_ends_a_still_running_run() -> None:
    decision = run_plan(observe(status_evaluating(), mlflow_run=RUN, job=COMPLETE_JOB,
                                registered=Registration("fraud-detector", "3"), model_version_exists=True))
    assert decision.status["phase"] == "Succeeded"
    assert decision.end_mlflow_run == "FINISHED"


def test_model_version_name() -> None:
    assert model_version_name("fraud-detector", "3") == "fraud-detector-v3"
    long = model_version_name("m" * 63, "123")
    assert len(long) <= 63
    assert model_version_name("Fraud_Detector", "3") != model_version_name("fraud-detector", "3")


def test_status_is_strict_json_through_the_whole_walk() -> None:
    for status in (status_run_started(), status_job_created(), status_running(), status_evaluating(),
                   status_succeeded(), status_rejected(), status_failed()):
        json.dumps(status, allow_nan=False)


def test_nan_metric_keeps_status_strict_json() -> None:
    """MLflow stores NaN metrics and the gates treat NaN as a failure; what plan returns still goes
    to the API server as JSON, where NaN is not a number (the status write would be refused)."""
    run = _run({"auc": 0.95, "fpr": math.nan})
    decision = run_plan(observe(status_running(), mlflow_run=run, job=COMPLETE_JOB))
    assert decision.status["phase"] == "Rejected"
    json.dumps(decision.status, allow_nan=False)


def test_nan_in_an_ungated_metric_keeps_model_version_strict_json() -> None:
    run = _run({"auc": 0.95, "fpr": 0.01, "val_loss": math.nan})
    decision = run_plan(observe(status_evaluating(), mlflow_run=run, job=COMPLETE_JOB,
                                registered=Registration("fraud-detector", "3")))
    assert decision.create_model_version is not None
    json.dumps(decision.create_model_version, allow_nan=False)


# -- terminal phases ------------------------------------------------------------------------------


TERMINAL_STATUSES: dict[str, Callable[[], dict[str, Any]]] = {
    "Succeeded": status_succeeded, "Rejected": status_rejected, "Failed": status_failed,
}
ANY_OBSERVATION: dict[str, dict[str, Any]] = {
    "nothing": {},
    "no-run": {"job": RUNNING_JOB},
    "running": {"mlflow_run": RUN, "job": RUNNING_JOB, "pods": (RUNNING_POD,)},
    "job-gone": {"mlflow_run": RUN},
    "job-failed": {"mlflow_run": RUN, "job": BACKOFF_JOB, "pods": FAILED_PODS},
    "deadline": {"mlflow_run": RUN, "job": JobState(failure=("DeadlineExceeded", "deadline"))},
    "complete-pass": {"mlflow_run": RUN, "job": COMPLETE_JOB},
    "complete-reject": {"mlflow_run": _run({"auc": 0.1}), "job": COMPLETE_JOB},
    "registered": {"mlflow_run": RUN, "job": COMPLETE_JOB, "registered": Registration("fraud-detector", "9")},
    "mv-exists": {"mlflow_run": RUN, "job": COMPLETE_JOB, "registered": Registration("fraud-detector", "9"),
                  "model_version_exists": True},
    "stuck": {"mlflow_run": RUN, "job": PENDING_JOB, "pods": (_stuck_pod(timedelta(hours=1)),)},
}


@pytest.mark.parametrize("observation", sorted(ANY_OBSERVATION))
@pytest.mark.parametrize("phase", sorted(TERMINAL_STATUSES))
def test_terminal_phases_never_change(phase: str, observation: str) -> None:
    status = TERMINAL_STATUSES[phase]()
    decision = run_plan(observe(status, generation=5, **ANY_OBSERVATION[observation]), now=LATER)
    assert decision.status["phase"] == phase
    assert decision.status["message"] == status["message"]
    assert decision.status["completionTime"] == status["completionTime"]
    assert decision.status["observedGeneration"] == 5
    assert_no_actions(decision)
    assert decision.events == []
    assert decision.requeue_after is None
    assert transition_times(decision.status) == transition_times(status)


@pytest.mark.parametrize("phase", sorted(TERMINAL_STATUSES))
def test_terminal_phase_with_spec_edited_to_invalid_keeps_its_phase(phase: str) -> None:
    status = TERMINAL_STATUSES[phase]()
    decision = run_plan(observe(status, spec={**SPEC, "maxRetries": -1}, generation=2, mlflow_run=RUN,
                                job=RUNNING_JOB), now=LATER)
    assert decision.status["phase"] == phase
    assert decision.status["observedGeneration"] == 2
    accepted = condition(decision, "Accepted")
    assert accepted is not None and accepted["reason"] == "InvalidSpec"
    assert decision.start_mlflow_run is None and decision.apply_job is None and decision.end_mlflow_run is None


def test_plan_does_not_mutate_the_observation() -> None:
    status = status_running()
    frozen = copy.deepcopy(status)
    spec = copy.deepcopy(SPEC)
    run_plan(observe(status, spec=spec, mlflow_run=RUN, job=BACKOFF_JOB, pods=FAILED_PODS))
    run_plan(observe(status, spec=spec, mlflow_run=RUN, job=COMPLETE_JOB,
                     registered=Registration("fraud-detector", "3")))
    assert status == frozen
    assert spec == SPEC


def test_huge_timeout_does_not_crash_plan() -> None:
    """``1000000000000h`` matches the Duration pattern (only the API server's CEL duration() refuses
    it): an object stored before that rule must become a condition, never an exception."""
    spec = {**SPEC, "timeout": "1000000000000h"}
    TrainingRunSpec.model_validate(spec)  # the Python model accepts it
    decision = run_plan(observe(status_run_started(spec), spec=spec, mlflow_run=RUN))
    accepted = next(c for c in decision.status["conditions"] if c["type"] == "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "InvalidSpec")
    assert accepted["message"].startswith("spec.timeout: ")
    assert decision.apply_job is None


# -- idempotence: same inputs at a later time -----------------------------------------------------


IDEMPOTENT: dict[str, Callable[[], TrainingObservation]] = {
    "invalid-spec": lambda: observe(spec={**SPEC, "seed": -1}),
    "unknown-pool": lambda: observe(spec={**SPEC, "nodePool": "gpu-h100"}),
    "no-mlflow": lambda: observe(),
    "tag-image": lambda: observe(spec={**SPEC, "image": TAG_IMAGE}),
    "start-run": lambda: observe(),
    "running": lambda: observe(status_job_created(), mlflow_run=RUN, job=RUNNING_JOB, pods=(RUNNING_POD,)),
    "waiting": lambda: observe(status_job_created(), mlflow_run=RUN, job=PENDING_JOB,
                               pods=(_stuck_pod(timedelta(minutes=2)),)),
    "unschedulable": lambda: observe(status_job_created(), mlflow_run=RUN, job=PENDING_JOB,
                                     pods=(_stuck_pod(timedelta(minutes=20)),)),
    "job-deleted": lambda: observe(status_running(), mlflow_run=RUN),
    "failed": lambda: observe(status_running(), mlflow_run=RUN, job=BACKOFF_JOB, pods=FAILED_PODS),
    "timeout": lambda: observe(status_running(), mlflow_run=RUN, job=JobState(failure=("DeadlineExceeded", "d"))),
    "rejected": lambda: observe(status_running(), mlflow_run=_run({"auc": 0.2}), job=COMPLETE_JOB),
    "register": lambda: observe(status_running(), mlflow_run=RUN, job=COMPLETE_JOB),
    "create-mv": lambda: observe(status_evaluating(), mlflow_run=RUN, job=COMPLETE_JOB,
                                 registered=Registration("fraud-detector", "3")),
    "registered": lambda: observe(status_evaluating(), mlflow_run=RUN, job=COMPLETE_JOB,
                                  registered=Registration("fraud-detector", "3"), model_version_exists=True),
}


@pytest.mark.parametrize("scenario", sorted(IDEMPOTENT))
def test_second_identical_plan_is_quiet_and_keeps_transition_times(scenario: str) -> None:
    config = NO_MLFLOW if scenario == "no-mlflow" else CONFIG
    observation = IDEMPOTENT[scenario]()
    first = run_plan(observation, config=config, now=NOW)
    again = TrainingObservation(**{**observation.__dict__, "status": first.status})
    second = run_plan(again, config=config, now=LATER)
    assert second.events == []
    assert transition_times(second.status) == transition_times(first.status)
    assert all(t <= format_time(NOW) for t in transition_times(second.status).values())
    assert second.status["phase"] == first.status["phase"]
    if first.status["phase"] in {p.value for p in TERMINAL}:
        assert second.status.get("completionTime") == first.status.get("completionTime")


# -- property: random observation sequences -------------------------------------------------------


# The happy path is weighted up, so that long sequences reach every phase, Succeeded included.
_specs = st.sampled_from([
    SPEC, SPEC, SPEC, SPEC,
    CPU_SPEC,
    {**SPEC, "nodePool": "gpu-h100"},
    {**SPEC, "maxRetries": -1},
    {**SPEC, "register": {"enabled": False}},
    {**SPEC, "evaluation": []},
    {**SPEC, "nodePool": None},
    None,
])
_configs = st.sampled_from([CONFIG, CONFIG, CONFIG, CONFIG, NO_MLFLOW, DEFAULT_POOL])
_metric_values = st.one_of(st.sampled_from([0.0, 0.01, 0.5, 0.95, 1.0, math.nan, math.inf]),
                           st.floats(allow_nan=True, allow_infinity=True))
_runs = st.one_of(st.none(), st.just(RUN), st.builds(
    MLflowRunState,
    run_id=st.just(RUN.run_id), experiment_id=st.just("7"),
    status=st.sampled_from(["RUNNING", "FINISHED", "FAILED", "KILLED"]),
    artifact_uri=st.sampled_from([RUN.artifact_uri, RUN.artifact_uri + "/"]),
    metrics=st.dictionaries(st.sampled_from(["auc", "fpr", "loss"]), _metric_values, max_size=3),
    url=st.just(RUN.url),
))
_job_states = st.builds(
    JobState,
    active=st.integers(0, 2), ready=st.integers(0, 2), succeeded=st.integers(0, 1), failed=st.integers(0, 4),
    complete=st.booleans(),
    failure=st.sampled_from([None, None, None, ("BackoffLimitExceeded", "limit"), ("DeadlineExceeded", "late"),
                             ("PodFailurePolicy", "policy")]),
    start_time=st.one_of(st.none(), st.just(STARTED)),
)
_jobs = st.one_of(st.none(), _job_states, _job_states, _job_states)
_times = st.one_of(st.none(), st.datetimes(min_value=datetime(2026, 3, 1, 10), max_value=datetime(2026, 3, 1, 14),
                                           timezones=st.just(UTC)))
_pods = st.lists(st.builds(
    PodState,
    name=st.sampled_from([f"{NAME}-a", f"{NAME}-b", f"{NAME}-c"]),
    phase=st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Unknown"]),
    unschedulable_since=_times,
    unschedulable_message=st.one_of(st.none(), st.just(SCHEDULER_MESSAGE)),
    terminated_reason=st.one_of(st.none(), st.sampled_from(["Error", "OOMKilled"])),
    terminated_message=st.one_of(st.none(), st.text(max_size=20)),
    exit_code=st.one_of(st.none(), st.integers(-1, 255)),
    created=_times,
), max_size=3).map(tuple)
_steps = st.fixed_dictionaries({
    "spec": _specs,
    "config": _configs,
    "mlflow_run": _runs,
    "job": _jobs,
    "pods": _pods,
    "registered": st.one_of(st.none(), st.builds(Registration, name=st.just("fraud-detector"),
                                                 version=st.sampled_from(["1", "3", "12"]))),
    "model_version_exists": st.booleans(),
    "minutes": st.integers(0, 30),
})
PHASES = {p.value for p in TrainingPhase}
# The only events a terminal run may still post: its spec or the configuration changed.
CONDITION_ONLY_EVENTS = {"InvalidSpec", "UnknownNodePool", "MLflowNotConfigured", "ImageNotPinned"}


@settings(max_examples=300, deadline=None)
@given(st.lists(_steps, min_size=1, max_size=10))
def test_terminal_phase_is_absorbing_and_plan_never_raises(steps: list[dict[str, Any]]) -> None:
    status: dict[str, Any] = {}
    now = NOW
    terminal: tuple[str, str | None] | None = None
    for generation, step in enumerate(steps, start=1):
        now += timedelta(minutes=step["minutes"])
        observation = observe(status, spec=step["spec"], generation=generation, mlflow_run=step["mlflow_run"],
                              job=step["job"], pods=step["pods"], registered=step["registered"],
                              model_version_exists=step["model_version_exists"])
        decision = plan(observation, step["config"], now)
        status = decision.status
        assert status["phase"] in PHASES
        assert status["observedGeneration"] == generation
        assert decision.requeue_after is None or decision.requeue_after > 0
        for event in decision.events:
            assert event.type in {"Normal", "Warning"} and event.reason
        if terminal is not None:
            assert (status["phase"], status.get("completionTime")) == terminal
            assert decision.start_mlflow_run is None and decision.apply_job is None
            assert decision.register is None and decision.create_model_version is None
            assert decision.end_mlflow_run is None and decision.mlflow_tags == {}
            assert {e.reason for e in decision.events} <= CONDITION_ONLY_EVENTS
        elif status["phase"] in {p.value for p in TERMINAL}:
            assert status.get("completionTime") == format_time(now)
            terminal = (status["phase"], status.get("completionTime"))


# -- a Job that is not this run's, and a Job write refused for good --------------------------------

def test_a_job_someone_else_made_is_never_taken() -> None:
    foreign = Claim(ClaimState.FOREIGN, managers=("kubectl-create",))
    decision = run_plan(observe({"phase": "Pending"}, mlflow_run=RUN, job_claim=foreign))
    accepted = decision.status["conditions"][0]
    assert (accepted["type"], accepted["status"], accepted["reason"]) == ("Accepted", "False", "JobConflict")
    assert "managed by kubectl-create" in accepted["message"] and decision.apply_job is None
    assert events(decision) == [("Warning", "JobConflict")] and decision.requeue_after == 60.0


def test_a_job_the_api_server_refuses_is_a_condition_naming_the_field() -> None:
    refused = Rejection("Job fraud-train", 422, "Invalid", 'Job.batch "fraud-train" is invalid: spec.template.spec.'
                        "containers[0].resources.requests[memory]: Invalid value: \"64Gi\": denied by policy")
    decision = run_plan(observe({"phase": "Pending"}, mlflow_run=RUN, rejection=refused))
    accepted = next(c for c in decision.status["conditions"] if c["type"] == "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "JobRejected")
    assert "resources.requests[memory]" in accepted["message"] and "spec (image, command" in accepted["message"]
    assert decision.apply_job is None and decision.requeue_after == 60.0
    again = run_plan(observe(decision.status, mlflow_run=RUN, rejection=refused))
    assert again.events == []


def test_a_proxied_artifact_is_served_from_the_artifacts_destination() -> None:
    run = MLflowRunState(**{**RUN.__dict__, "artifact_uri": "mlflow-artifacts:/7/r/artifacts"})
    proxied = OperatorConfig.model_validate({**CONFIG.model_dump(by_alias=True), "mlflow": {
        "trackingUri": "http://mlflow:5000", "artifactsDestination": "s3://mlflow-store"}})
    status = {**status_running(), "modelVersion": "x"}
    registered = observe(status, mlflow_run=run, job=COMPLETE_JOB, registered=Registration("fraud-detector", "3"))
    decision = run_plan(registered, config=proxied)
    assert decision.create_model_version is not None
    assert decision.create_model_version["spec"]["artifact"]["storageUri"] == "s3://mlflow-store/7/r/artifacts/model"
    # Without a destination nothing could serve it: nothing is registered, and the condition says what to set.
    refused = run_plan(observe(status_running(), mlflow_run=run, job=COMPLETE_JOB))
    accepted = next(c for c in refused.status["conditions"] if c["type"] == "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "ArtifactNotFetchable")
    assert "mlflow.artifactsDestination" in accepted["message"] and refused.register is None
