"""The TrainingRun state machine: observation of the run's MLflow run, Job and Pods -> the next
actions and the whole status (one status write per reconcile).

Phases: Pending -> Running -> Evaluating -> Succeeded | Rejected, or Failed from any of the
first three. Terminal phases never move again. Events are emitted only on a transition (a phase
change or a condition flip), so a reconcile repeated a thousand times posts nothing new.

Pure: no I/O, the time is an argument; the reconciler observes, calls ``plan`` and executes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelops.api.common import API_VERSION, to_wire
from modelops.api.config import OperatorConfig
from modelops.api.trainingrun import RegisterSpec, TrainingPhase, TrainingRunSpec
from modelops.core.acceptance import parse_spec
from modelops.core.artifacts import fetchable, not_fetchable_message
from modelops.core.conditions import format_time, get_condition
from modelops.core.drafting import StatusDraft
from modelops.core.durations import parse_duration
from modelops.core.intents import Event, RegisterRequest
from modelops.core.naming import dns_label
from modelops.core.ownership import (
    REFUSED_RETRY_SECONDS,
    Owner,
    conflict_message,
    refusal_message,
    rejection_reason,
)
from modelops.core.training.annotations import annotation_tags
from modelops.core.training.gates import evaluate_gates, failure_message
from modelops.core.training.jobs import MODEL_LABEL, RUN_LABEL, desired_job, image_pinned, job_name
from modelops.core.training.observation import (
    MLflowRunState,
    PodState,
    Registration,
    RunRequest,
    TrainingDecision,
    TrainingObservation,
)

TERMINAL = frozenset({TrainingPhase.SUCCEEDED, TrainingPhase.REJECTED, TrainingPhase.FAILED})
UID_TAG = "modelops.io/uid"
# Safety nets only: Job events wake the reconciler at once; these bound a missed event.
POLL_ACTIVE_SECONDS = 15.0





def finished(status: Mapping[str, Any]) -> bool:
    """A run in a terminal phase: its plan reads nothing but its spec and status (no MLflow, Job or
    Pod), so the reconciler observes nothing else."""
    return status.get("phase") in {phase.value for phase in TERMINAL}


def model_version_name(model: str, version: str) -> str:
    return dns_label(f"{model}-v{version}")


def alternative_model_version_name(model: str, version: str, run_id: str) -> str:
    """Deterministic fallback when ``<model>-v<N>`` is taken by a record of another run (or a
    hand-written one): the registry version plus the run id keeps it unique and stable."""
    return dns_label(f"{model}-v{version}-{run_id[:8]}")


class _Status(StatusDraft):
    """The status being planned, with the phase transitions of a TrainingRun."""

    def __init__(self, observation: TrainingObservation, now: datetime) -> None:
        super().__init__(observation.status, observation.generation, now)
        self.data.setdefault("phase", TrainingPhase.PENDING.value)

    @property
    def phase(self) -> str:
        return str(self.data["phase"])

    def move(self, phase: TrainingPhase, message: str, *, event: str | None = None,
             reason: str | None = None) -> None:
        changed = self.phase != phase.value
        self.data["phase"] = phase.value
        self.data["message"] = message
        if phase in TERMINAL and changed:
            self.data["completionTime"] = format_time(self.now)
        if event and changed:
            self.events.append(Event(event, reason or phase.value, message))


def _run_request(obs: TrainingObservation, spec: TrainingRunSpec, config: OperatorConfig) -> RunRequest:
    pool_name, pool = config.pool_for(spec.node_pool)
    tags = {
        # Asked for by annotations (a DriftMonitor records why it retrains); the record below wins.
        **annotation_tags(obs.annotations),
        UID_TAG: obs.uid,
        "modelops.io/trainingrun": f"{obs.namespace}/{obs.name}",
        "modelops.image": spec.image,
        "modelops.image.pinned": str(image_pinned(spec.image)).lower(),
    }
    if spec.seed is not None:
        tags["modelops.seed"] = str(spec.seed)
    if spec.code is not None:
        tags["modelops.code.repo"] = spec.code.repo
        tags["modelops.code.commit"] = spec.code.commit
        # MLflow's own keys, so its UI links the run to the commit.
        tags["mlflow.source.git.repoURL"] = spec.code.repo
        tags["mlflow.source.git.commit"] = spec.code.commit
    if spec.data is not None:
        tags["modelops.data.uri"] = spec.data.uri
        if spec.data.version is not None:
            tags["modelops.data.version"] = spec.data.version
    if pool_name:
        tags["modelops.node_pool"] = pool_name
    if spec.resources is not None and spec.resources.gpus:
        tags["modelops.gpu.count"] = str(spec.resources.gpus)
        if pool is not None:
            tags["modelops.gpu.resource"] = pool.gpu_resource
            if pool.gpu_type:
                tags["modelops.gpu.type"] = pool.gpu_type
    experiment = spec.tracking.experiment if spec.tracking and spec.tracking.experiment else spec.model
    return RunRequest(experiment=experiment, run_name=obs.name, tags=tags, params=dict(spec.hyperparameters))


def _model_version_manifest(obs: TrainingObservation, spec: TrainingRunSpec, registration: Registration,
                            register: RegisterSpec, run: MLflowRunState, source: str,
                            name: str) -> dict[str, Any]:
    template = register.model_version_template
    labels = {MODEL_LABEL: spec.model, RUN_LABEL: dns_label(obs.name)}
    annotations: dict[str, str] = {}
    if template is not None and template.metadata is not None:
        labels = {**(template.metadata.labels or {}), **labels}
        annotations = dict(template.metadata.annotations or {})
    lineage: dict[str, Any] = {"trainingRun": obs.name, "mlflowRunId": run.run_id, "image": spec.image}
    if spec.data is not None:
        lineage["data"] = to_wire(spec.data)
    if spec.code is not None:
        lineage["code"] = to_wire(spec.code)
    artifact: dict[str, Any] = {"storageUri": source, "format": register.format}
    if register.runtime:
        artifact["runtime"] = register.runtime
    mv_spec: dict[str, Any] = {
        "model": spec.model,
        "version": registration.version,
        "artifact": artifact,
        "lineage": lineage,
        "metrics": finite_metrics(run.metrics),
    }
    if template is not None and template.serving is not None:
        mv_spec["serving"] = to_wire(template.serving)
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": obs.namespace,
        "labels": labels,
    }
    if annotations:
        metadata["annotations"] = annotations
    # No ownerReferences: a registered model must outlive the run that made it.
    return {"apiVersion": API_VERSION, "kind": "ModelVersion", "metadata": metadata, "spec": mv_spec}


def _last_failure(pods: tuple[PodState, ...]) -> str:
    failed = [p for p in pods if p.phase == "Failed"]
    if not failed:
        return ""
    last = max(failed, key=lambda p: p.created.timestamp() if p.created else 0.0)
    parts = [f"pod {last.name}"]
    if last.exit_code is not None:
        parts.append(f"exit code {last.exit_code}")
    if last.terminated_reason:
        parts.append(last.terminated_reason)
    text = ", ".join(parts)
    return f"{text}: {last.terminated_message}" if last.terminated_message else text


def _template_pool(spec: TrainingRunSpec) -> str | None:  # where the registered ModelVersion would serve
    template = spec.registration.model_version_template if spec.registration else None
    return template.serving.node_pool if template and template.serving else None


def _duration_problem(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        parse_duration(text)
    except ValueError as error:
        return str(error)
    return None


def finite_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """Metrics that JSON (and so the API server) can carry: NaN and infinities are left out."""
    return {key: value for key, value in metrics.items() if math.isfinite(value)}


def plan(obs: TrainingObservation, config: OperatorConfig, now: datetime) -> TrainingDecision:
    st = _Status(obs, now)

    # -- Accepted: the spec parses, the pool and MLflow are configured -------------------------
    spec, verdict = parse_spec(TrainingRunSpec, obs.spec or {})
    if spec is None:
        st.condition("Accepted", False, verdict.reason, verdict.message, event="Warning")
        return TrainingDecision(status=st.data, events=st.events)

    pool_name, pool = config.pool_for(spec.node_pool)
    started = bool(st.data.get("job"))
    timeout_problem = _duration_problem(spec.timeout)
    if timeout_problem:
        st.condition("Accepted", False, "InvalidSpec", f"spec.timeout: {timeout_problem}", event="Warning")
    elif pool_name and pool_name not in config.node_pools and not started:
        known = ", ".join(sorted(config.node_pools)) or "none"
        where = "spec.nodePool" if spec.node_pool else "the operator's defaultNodePool"
        st.condition("Accepted", False, "UnknownNodePool",
                     f"{where}: node pool {pool_name!r} is not configured (known pools: {known})",
                     event="Warning")
    elif (served := _template_pool(spec)) and served not in config.node_pools and not started:
        known = ", ".join(sorted(config.node_pools)) or "none"
        st.condition("Accepted", False, "UnknownNodePool", "spec.register.modelVersionTemplate.serving.nodePool: "
                     f"node pool {served!r} is not configured (known pools: {known})", event="Warning")
    elif config.mlflow is None:
        st.condition("Accepted", False, "MLflowNotConfigured",
                     "the operator has no MLflow server configured (mlflow.trackingUri)", event="Warning")
    else:
        st.condition("Accepted", True, "Valid", "spec accepted")
    if image_pinned(spec.image):
        st.condition("Reproducible", True, "ImagePinned", "image is pinned by digest")
    else:
        st.condition("Reproducible", False, "ImageNotPinned",
                     f"spec.image {spec.image!r} is referenced by tag, which can move: pin it by digest "
                     "(repo@sha256:...) so the run can be reproduced", event="Warning")

    if obs.rejection is not None:
        made_from = ("this TrainingRun's spec.register (modelVersionTemplate, format) and the MLflow run's artifact URI"
                     if obs.rejection.what.startswith("ModelVersion") else
                     "this TrainingRun's spec (image, command, args, env, resources, nodePool, hyperparameters)")
        st.condition("Accepted", False, rejection_reason(obs.rejection), refusal_message(obs.rejection, made_from),
                     event="Warning")
        return TrainingDecision(status=st.data, events=st.events, requeue_after=REFUSED_RETRY_SECONDS)
    if st.phase in {p.value for p in TERMINAL}:
        return TrainingDecision(status=st.data, events=st.events)
    if obs.job_claim is not None and not obs.job_claim.writable:
        message = conflict_message("Job", job_name(obs.name), obs.job_claim, Owner("TrainingRun", obs.name, obs.uid))
        st.condition("Accepted", False, "JobConflict", message, event="Warning")
        st.move(TrainingPhase.PENDING, message)
        return TrainingDecision(status=st.data, events=st.events, requeue_after=REFUSED_RETRY_SECONDS)
    accepted = get_condition(st.data.get("conditions"), "Accepted")
    if accepted is None or accepted.get("status") != "True":
        st.move(TrainingPhase.PENDING, str(accepted.get("message") if accepted else ""))
        return TrainingDecision(status=st.data, events=st.events)
    assert config.mlflow is not None

    # -- The MLflow run comes first: its id goes into the Job -----------------------------------
    run = obs.mlflow_run
    if run is None:
        st.move(TrainingPhase.PENDING, "creating the MLflow run")
        return TrainingDecision(status=st.data, events=st.events,
                                start_mlflow_run=_run_request(obs, spec, config))
    st.data["mlflow"] = {"runId": run.run_id, "experimentId": run.experiment_id, "url": run.url}

    # -- The Job ------------------------------------------------------------------------------
    job = obs.job
    if job is None:
        if started:
            message = (f"Job {st.data['job']} was deleted before it finished; the training is lost. "
                       "Create a new TrainingRun to train again.")
            st.condition("Completed", True, "JobDeleted", message)
            st.move(TrainingPhase.FAILED, message, event="Warning", reason="JobDeleted")
            return TrainingDecision(status=st.data, events=st.events, end_mlflow_run="KILLED",
                                    mlflow_tags={"modelops.outcome": "failed", "modelops.reason": "JobDeleted"})
        manifest = desired_job(
            name=obs.name, namespace=obs.namespace, uid=obs.uid, spec=spec,
            pool=pool, pool_name=pool_name,
            mlflow_run_id=run.run_id,
            tracking_uri=config.mlflow.job_tracking_uri or config.mlflow.tracking_uri,
            settings=config.training,
        )
        st.data["job"] = job_name(obs.name)
        st.data.setdefault("attempts", 0)
        message = f"Job {st.data['job']} created, waiting for its Pod to be scheduled"
        st.move(TrainingPhase.PENDING, message)
        # Once: the next plan sees status.job and never comes back here.
        st.events.append(Event("Normal", "JobCreated", message))
        return TrainingDecision(status=st.data, events=st.events, apply_job=manifest,
                                requeue_after=POLL_ACTIVE_SECONDS)

    st.data["attempts"] = max(int(st.data.get("attempts") or 0), job.active + job.succeeded + job.failed)
    if job.start_time and not st.data.get("startTime"):
        st.data["startTime"] = job.start_time

    if job.failure is not None:
        reason, job_message = job.failure
        if reason == "DeadlineExceeded":
            message = f"the run exceeded spec.timeout ({spec.timeout}, retries included) and was stopped"
            reason = "Timeout"
        else:
            detail = _last_failure(obs.pods) or job_message
            message = f"failed after {st.data['attempts']} attempt(s) (maxRetries {spec.max_retries}): {detail}"
        st.condition("Completed", True, reason, message)
        st.move(TrainingPhase.FAILED, message, event="Warning", reason=reason)
        return TrainingDecision(status=st.data, events=st.events, end_mlflow_run="FAILED",
                                mlflow_tags={"modelops.outcome": "failed", "modelops.reason": reason})

    if job.complete:
        return _evaluate(obs, spec, st, run, config.mlflow.artifacts_destination)

    # -- Still running or waiting for capacity -------------------------------------------------
    requeue = POLL_ACTIVE_SECONDS
    # Once a Pod has run, the run stays Running through retries and the moment between a Pod's
    # end and the Job's Complete condition: phases never go backwards.
    running = job.ready > 0 or any(p.phase in ("Running", "Succeeded", "Failed") for p in obs.pods) \
        or job.succeeded > 0 or job.failed > 0 or st.phase == TrainingPhase.RUNNING.value
    timeout = parse_duration(config.training.pending_timeout)
    stuck = [p for p in obs.pods if p.phase == "Pending" and p.unschedulable_since is not None]
    if running:
        if not stuck:
            st.condition("Scheduled", True, "Scheduled", "the training Pod is placed and running")
        st.move(TrainingPhase.RUNNING, f"attempt {st.data['attempts']} running", event="Normal",
                reason="Running")
    else:
        st.move(TrainingPhase.PENDING, "waiting for the training Pod to be scheduled")
    for pod in stuck:
        assert pod.unschedulable_since is not None
        waited = now - pod.unschedulable_since
        if waited >= timeout:
            st.condition(
                "Scheduled", False, "Unschedulable",
                f"Pod {pod.name} has been unschedulable for {int(waited.total_seconds())}s "
                f"(pendingTimeout {config.training.pending_timeout}): {pod.unschedulable_message}",
                event="Warning")
            st.data["message"] = f"waiting for capacity: {pod.unschedulable_message}"
        else:
            requeue = min(requeue, (timeout - waited).total_seconds() + 0.1)
    return TrainingDecision(status=st.data, events=st.events, requeue_after=requeue)


def _evaluate(obs: TrainingObservation, spec: TrainingRunSpec, st: _Status,
              run: MLflowRunState, destination: str | None) -> TrainingDecision:
    results = evaluate_gates(spec.evaluation, run.metrics)
    st.data["metrics"] = finite_metrics(run.metrics)
    st.data["evaluation"] = [
        {k: v for k, v in to_wire(r).items() if not (k == "value" and not math.isfinite(v))} for r in results
    ]
    end = "FINISHED" if run.status == "RUNNING" else None
    failures = failure_message(results)
    if failures:
        message = f"rejected by evaluation: {failures}"
        st.condition("Completed", True, "Rejected", message)
        st.move(TrainingPhase.REJECTED, message, event="Warning", reason="Rejected")
        return TrainingDecision(status=st.data, events=st.events, end_mlflow_run=end,
                                mlflow_tags={"modelops.outcome": "rejected", "modelops.rejection": failures})
    register = spec.registration or RegisterSpec()
    if not register.enabled:
        st.condition("Completed", True, "Succeeded", "training succeeded; registration is disabled")
        st.move(TrainingPhase.SUCCEEDED, "training succeeded and passed every gate (not registered)",
                event="Normal", reason="Succeeded")
        return TrainingDecision(status=st.data, events=st.events, end_mlflow_run=end,
                                mlflow_tags={"modelops.outcome": "passed"})

    source = f"{run.artifact_uri.rstrip('/')}/{register.artifact_path}"
    served = fetchable(source, destination)
    if served is None:
        # Registering a version no ModelVersion could serve helps nobody: say what to configure.
        message = not_fetchable_message(source)
        st.condition("Accepted", False, "ArtifactNotFetchable", message, event="Warning")
        st.move(TrainingPhase.EVALUATING, message)
        return TrainingDecision(status=st.data, events=st.events, end_mlflow_run=end,
                                requeue_after=REFUSED_RETRY_SECONDS)
    if obs.registered is None:
        st.move(TrainingPhase.EVALUATING, "gates passed; registering the model version in MLflow",
                event="Normal", reason="Evaluating")
        tags = {"modelops.io/trainingrun": obs.name, "modelops.io/namespace": obs.namespace,
                "modelops.image": spec.image}
        if spec.data is not None and spec.data.version:
            tags["modelops.data.version"] = spec.data.version
        if spec.code is not None:
            tags["modelops.code.commit"] = spec.code.commit
        return TrainingDecision(
            status=st.data, events=st.events, end_mlflow_run=end,
            mlflow_tags={"modelops.outcome": "passed"},
            register=RegisterRequest(model=spec.model, source=source, run_id=run.run_id, tags=tags,
                                     description=f"trained by TrainingRun {obs.namespace}/{obs.name}"),
        )
    mv_name = obs.model_version_name or model_version_name(spec.model, obs.registered.version)
    st.data["modelVersion"] = mv_name
    if not obs.model_version_exists:
        st.move(TrainingPhase.EVALUATING, f"registered as {spec.model} version {obs.registered.version}; "
                f"creating ModelVersion {mv_name}")
        return TrainingDecision(
            status=st.data, events=st.events,
            create_model_version=_model_version_manifest(obs, spec, obs.registered, register, run, served, mv_name),
        )
    st.condition("Completed", True, "Succeeded", f"registered as ModelVersion {mv_name}")
    st.move(TrainingPhase.SUCCEEDED,
            f"passed every gate; registered as {spec.model} version {obs.registered.version} "
            f"(ModelVersion {mv_name})", event="Normal", reason="Registered")
    return TrainingDecision(status=st.data, events=st.events, end_mlflow_run=end)
