"""Reconciles one TrainingRun (``cycle.Reconciler``): observe (the run's MLflow run, Job, Pods,
registry entry and ModelVersion) -> ``core.training.progress.plan`` -> execute -> Events and one
status write. A finished run observes nothing but itself: its plan reads nothing else.

A reconcile runs plan/execute passes until nothing it did changes what the next plan needs (the
MLflow run id for the Job, the registry version for the ModelVersion's name), then writes the
status once. Every action is idempotent: the MLflow run is found by the TrainingRun's uid tag
before one is created, the Job is server-side applied under a deterministic name, the registry
version is found by run id before one is created, and the ModelVersion create tolerates 409. So
an operator killed at any point converges on restart without a second Job or a second run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from modelops.api import API_VERSION
from modelops.core.conditions import parse_time
from modelops.core.naming import dns_label
from modelops.core.ownership import Owner, claim
from modelops.core.sharding import inherit
from modelops.core.training.jobs import RUN_LABEL, job_name
from modelops.core.training.observation import (
    JobState,
    MLflowRunState,
    PodState,
    Registration,
    TrainingDecision,
    TrainingObservation,
)
from modelops.core.training.progress import UID_TAG, alternative_model_version_name, finished, model_version_name, plan
from modelops.k8s import objects
from modelops.k8s.errors import Conflict, KubeError
from modelops.reconcilers.cycle import Reconciler
from modelops.registry.records import RunInfo

KIND = "TrainingRun"

logger = logging.getLogger(__name__)


def job_state(job: dict[str, Any]) -> JobState:
    status = job.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
    failed = conditions.get("Failed")
    return JobState(
        active=int(status.get("active") or 0),
        ready=int(status.get("ready") or 0),
        succeeded=int(status.get("succeeded") or 0),
        failed=int(status.get("failed") or 0),
        complete="Complete" in conditions,
        failure=(str(failed.get("reason") or "Failed"), str(failed.get("message") or "")) if failed else None,
        start_time=status.get("startTime"),
        completion_time=status.get("completionTime"),
    )


def pod_state(pod: dict[str, Any]) -> PodState:
    status = pod.get("status") or {}
    since, message = None, None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                and condition.get("reason") == "Unschedulable":
            since = parse_time(condition.get("lastTransitionTime"))
            message = condition.get("message")
    reason = term_message = None
    exit_code = None
    for container in status.get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated")
        if terminated and terminated.get("exitCode"):
            exit_code = int(terminated["exitCode"])
            reason, term_message = terminated.get("reason"), terminated.get("message")
    return PodState(
        name=pod["metadata"]["name"], phase=str(status.get("phase") or "Pending"),
        unschedulable_since=since, unschedulable_message=message,
        terminated_reason=reason, terminated_message=term_message, exit_code=exit_code,
        created=parse_time(pod["metadata"].get("creationTimestamp")),
    )


class TrainingReconciler(Reconciler[TrainingObservation, TrainingDecision]):
    KIND = "TrainingRun"
    MAX_PASSES = 6

    def _plan(self, observation: TrainingObservation, now: datetime) -> TrainingDecision:
        return plan(observation, self.config, now)

    # -- observe ---------------------------------------------------------------------------------

    async def _observe(self, body: dict[str, Any], status: dict[str, Any]) -> TrainingObservation:
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        spec = body.get("spec") or {}
        if finished(status):
            return TrainingObservation(name=name, namespace=namespace, uid=meta["uid"],
                                       generation=meta.get("generation"), spec=spec, status=status)
        run = await self._observe_run(spec, status, meta["uid"])
        job_body = await objects.get(self.session, "batch/v1", "Job", namespace, job_name(name))
        job_claim = claim(job_body, Owner(self.KIND, name, meta["uid"]))
        if not job_claim.writable:
            job_body = None  # someone else's Job: its state says nothing about this run
        job = job_state(job_body) if job_body is not None else None
        pods: tuple[PodState, ...] = ()
        if job_body is not None:
            listed = await objects.list_objects(self.session, "v1", "Pod", namespace,
                                                label_selector=f"{RUN_LABEL}={dns_label(name)}")
            pods = tuple(pod_state(p) for p in listed)
        registered, mv_exists, mv_name = None, False, None
        model = spec.get("model")
        if job is not None and job.complete and run is not None and self.mlflow is not None and model:
            version = await self.mlflow.find_model_version_by_run(model, run.run_id)
            if version is not None:
                registered = Registration(name=version.name, version=version.version)
                mv_name, mv_exists = await self._model_version_slot(namespace, model, version.version, run.run_id)
        return TrainingObservation(
            name=name, namespace=namespace, uid=meta["uid"], generation=meta.get("generation"),
            spec=spec, status=status, mlflow_run=run, job=job, pods=pods, job_claim=job_claim,
            annotations=dict(meta.get("annotations") or {}),
            registered=registered, model_version_exists=mv_exists, model_version_name=mv_name,
        )

    async def _model_version_slot(self, namespace: str, model: str, version: str, run_id: str) -> tuple[str, bool]:
        """The name this run's ModelVersion has (exists) or may take (free)."""
        for candidate in (model_version_name(model, version),
                          alternative_model_version_name(model, version, run_id)):
            existing = await self.view.get(API_VERSION, "ModelVersion", namespace, candidate)
            if existing is None:
                return candidate, False
            lineage = (existing.get("spec") or {}).get("lineage") or {}
            if lineage.get("mlflowRunId") == run_id:
                return candidate, True
        raise KubeError(409, "AlreadyExists",
                        f"ModelVersions {model_version_name(model, version)} and its alternative name are "
                        "both taken by records of other runs")

    async def _observe_run(self, spec: dict[str, Any], status: dict[str, Any], uid: str) -> MLflowRunState | None:
        if self.mlflow is None:
            return None
        run_id = (status.get("mlflow") or {}).get("runId")
        info: RunInfo | None = None
        if run_id:
            info = await self.mlflow.get_run(run_id)
        if info is None:
            experiment = ((spec.get("tracking") or {}).get("experiment")) or spec.get("model")
            if not experiment:
                return None
            experiment_id = await self.mlflow.get_or_create_experiment(experiment)
            info = await self.mlflow.find_run_by_tag(experiment_id, UID_TAG, uid)
        return self._run_state(info) if info is not None else None

    def _run_state(self, info: RunInfo) -> MLflowRunState:
        assert self.mlflow is not None
        return MLflowRunState(
            run_id=info.run_id, experiment_id=info.experiment_id, status=info.status,
            artifact_uri=info.artifact_uri, metrics=dict(info.metrics),
            url=self.mlflow.run_url(info.experiment_id, info.run_id),
        )

    # -- execute ---------------------------------------------------------------------------------

    async def _execute(self, body: dict[str, Any], decision: TrainingDecision) -> dict[str, Any]:
        status = dict(decision.status)
        mlflow = self.mlflow
        if decision.start_mlflow_run is not None and mlflow is not None:
            request = decision.start_mlflow_run
            experiment_id = await mlflow.get_or_create_experiment(request.experiment)
            info = await mlflow.find_run_by_tag(experiment_id, UID_TAG, body["metadata"]["uid"])
            if info is None:
                info = await mlflow.create_run(experiment_id, request.run_name, request.tags)
                if request.params:
                    await mlflow.log_params(info.run_id, request.params)
            run = self._run_state(info)
            status["mlflow"] = {"runId": run.run_id, "experimentId": run.experiment_id, "url": run.url}
        if decision.apply_job is not None:
            await objects.apply(self.session, inherit(body, decision.apply_job))
        run_id = (status.get("mlflow") or {}).get("runId")
        if decision.register is not None and mlflow is not None:
            registration = decision.register
            await mlflow.ensure_registered_model(registration.model)
            existing = None
            if registration.run_id:
                existing = await mlflow.find_model_version_by_run(registration.model, registration.run_id)
            if existing is None:
                await mlflow.create_model_version(registration.model, registration.source, registration.run_id,
                                                  registration.tags, registration.description)
        if decision.create_model_version is not None:
            try:
                self.view.remember(await objects.create(self.session, inherit(body, decision.create_model_version)))
            except Conflict:
                pass  # made by an earlier pass that died before the status write
            if mlflow is not None:
                mv = decision.create_model_version
                await mlflow.set_model_version_tag(mv["spec"]["model"], mv["spec"]["version"],
                                                   "modelops.io/modelversion", mv["metadata"]["name"])
                # After the ModelVersion exists, so a Rollout following the alias finds it.
                alias = ((body.get("spec") or {}).get("register") or {}).get("alias")
                if alias:
                    await mlflow.set_alias(mv["spec"]["model"], str(alias), str(mv["spec"]["version"]))
        if run_id and mlflow is not None:
            if decision.mlflow_tags:
                await mlflow.set_tags(run_id, decision.mlflow_tags)
            if decision.end_mlflow_run is not None:
                await mlflow.set_run_status(run_id, decision.end_mlflow_run,
                                            int(datetime.now(UTC).timestamp() * 1000))
        return status
