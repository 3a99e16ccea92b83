"""The operator's own configuration (Helm values -> ConfigMap -> a YAML file named by
``MODELOPS_CONFIG``): node pools, the MLflow server, training defaults and the drift job.

Node pools are configuration, not API: a platform team decides which pools exist and how Pods
reach them (selectors, tolerations, the GPU resource name), and users only name a pool.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from modelops.api.common import Duration, SpecModel


class NodePool(SpecModel):
    """How Pods reach one pool of nodes."""

    node_selector: dict[str, str] = Field(default_factory=dict, description="nodeSelector of Pods on this pool.")
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list, description="Tolerations of Pods on this pool, as in a Pod spec."
    )
    gpu_resource: str = Field(
        "nvidia.com/gpu", description="Extended resource name of this pool's GPUs (nvidia.com/gpu, amd.com/gpu, ...)."
    )
    gpu_type: str | None = Field(None, description="GPU product, recorded on MLflow runs, e.g. NVIDIA-A100-SXM4-80GB.")


class MLflowSettings(SpecModel):
    """The MLflow tracking server and registry."""

    tracking_uri: str = Field(description="URI the operator talks to, e.g. http://mlflow.mlflow:5000.")
    job_tracking_uri: str | None = Field(
        None, description="URI training Pods use (MLFLOW_TRACKING_URI). Absent: trackingUri."
    )
    ui_url: str | None = Field(None, description="Base URL of the MLflow UI for links in status. Absent: trackingUri.")
    artifacts_destination: str | None = Field(
        None,
        description=(
            "The MLflow server's --artifacts-destination (s3://bucket/mlflow, gs://..., file:///...), when it "
            "proxies artifacts: mlflow-artifacts:/ URIs are served by KServe from there. Absent: such URIs cannot "
            "be served (an ArtifactNotFetchable condition says so)."
        ),
    )
    alias_poll_interval: Duration = Field(
        "30s",
        description=(
            "How often a Rollout with spec.targetFrom reads its alias from the registry (ModelVersion events also "
            "wake it). Default 30s."
        ),
    )


class TrainingSettings(SpecModel):
    """Defaults for training Jobs."""

    pending_timeout: Duration = Field(
        "10m", description="How long a training Pod may stay unschedulable before it is reported, e.g. 10m."
    )
    pod_labels: dict[str, str] = Field(default_factory=dict, description="Extra labels on every training Pod.")
    pod_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Extra annotations on every training Pod, e.g. sidecar.istio.io/inject: 'false'.",
    )
    ttl_seconds_after_finished: int | None = Field(
        None, ge=0, description="ttlSecondsAfterFinished of training Jobs. Absent: Jobs are kept."
    )


class ServingSettings(SpecModel):
    """Defaults for InferenceServices."""

    log_sink_url: str | None = Field(
        None,
        description=(
            "URL of the prediction-log sink KServe's request logger posts to, e.g. "
            "http://modelops-logsink.modelops:8080. Absent: prediction logging is off (condition says so)."
        ),
    )
    deployment_mode: str | None = Field(
        None, description="Deployment mode when a ModelVersion names none (Serverless, Standard, RawDeployment)."
    )
    service_account_name: str | None = Field(
        None, description="ServiceAccount of predictor Pods (for storage credentials). Absent: the namespace default."
    )


class AnalysisSettings(SpecModel):
    """Where Rollout analysis reads its numbers."""

    prometheus_url: str | None = Field(
        None,
        description=(
            "Prometheus base URL for built-in checks and for checks without their own address, e.g. "
            "http://prometheus.monitoring:9090. Absent: those checks are Error (never a pass)."
        ),
    )
    query_timeout: Duration = Field(
        "5s",
        description="Longest a query may take; a slower Prometheus is an Error measurement, not a hang. Default 5s.",
    )


class DriftJobSettings(SpecModel):
    """The drift job every DriftMonitor's CronJob runs (``python -m modelops.drift_job``)."""

    image: str = Field(
        "ghcr.io/modelops/modelops-drift-job:0.1.0",
        description="Image of the drift job (operator/Dockerfile.drift-job); a digest is recommended.",
    )
    logs_uri: str | None = Field(
        None,
        description=(
            "Storage root of the prediction-log sink the job reads (MODELOPS_LOGS_URI), e.g. s3://ml-logs/ or "
            "/var/lib/modelops-logsink/store. Absent: the job is started without it and reports that it has no logs."
        ),
    )
    rows_per_shard: int = Field(
        5_000_000, ge=1, description="Rows one drift job Pod reads; more rows in the last run shard the next one."
    )
    max_shards: int = Field(16, ge=1, le=64, description="Most Pods one drift job runs in parallel. Default 16.")
    active_deadline: Duration = Field("1h", description="Longest a drift job may run (activeDeadlineSeconds).")
    backoff_limit: int = Field(1, ge=0, le=10, description="Retries of a failed drift job Pod. Default 1.")
    history_limit: int = Field(
        3, ge=0, le=20, description="Finished Jobs the CronJob keeps, each of successful and failed. Default 3."
    )
    resources: dict[str, Any] = Field(
        default_factory=dict,
        description="resources of the drift job container, as in a Pod spec, e.g. {requests: {cpu: '1'}}.",
    )
    pod_labels: dict[str, str] = Field(default_factory=dict, description="Extra labels on every drift job Pod.")


class OperatorConfig(SpecModel):
    """Everything the operator reads at startup."""

    node_pools: dict[str, NodePool] = Field(default_factory=dict, description="Node pools by name.")
    default_node_pool: str | None = Field(None, description="Pool used when a spec names none.")
    mlflow: MLflowSettings | None = Field(None, description="MLflow; required for TrainingRuns.")
    training: TrainingSettings = Field(default_factory=TrainingSettings, description="Training defaults.")
    serving: ServingSettings = Field(default_factory=ServingSettings, description="Serving defaults.")
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings, description="Rollout analysis.")
    drift_job: DriftJobSettings = Field(default_factory=DriftJobSettings, description="The DriftMonitors' drift job.")

    def pool_for(self, requested: str | None) -> tuple[str | None, NodePool | None]:
        """(name, pool) a spec's ``nodePool`` resolves to: the one named, else ``defaultNodePool``;
        the pool is None when the name is not configured (the caller reports that)."""
        name = requested or self.default_node_pool
        return name, (self.node_pools.get(name) if name else None)
