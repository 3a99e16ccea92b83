"""``modelops lineage <modelversion>``: the whole chain behind one served model —
ModelVersion -> TrainingRun -> MLflow run (params, metrics, tags) -> data version, code commit,
image — read from the API server and the MLflow tracking server. The answer to "which version of
which model produced this prediction, and which training data did it use".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from modelops.api import API_VERSION
from modelops.k8s import objects
from modelops.k8s.session import KubeSession
from modelops.registry.mlflow import MLflowClient
from modelops.registry.records import MLflowError, RunInfo


@dataclass
class Lineage:
    namespace: str
    model_version: dict[str, Any]
    training_run: dict[str, Any] | None = None
    run: RunInfo | None = None
    run_url: str | None = None
    problems: list[str] = field(default_factory=list)


async def gather(session: KubeSession, mlflow: MLflowClient | None, namespace: str, name: str) -> Lineage:
    mv = await objects.get(session, API_VERSION, "ModelVersion", namespace, name)
    if mv is None:
        raise LookupError(f"ModelVersion {namespace}/{name} not found")
    result = Lineage(namespace=namespace, model_version=mv)
    lineage = (mv.get("spec") or {}).get("lineage") or {}
    if lineage.get("trainingRun"):
        result.training_run = await objects.get(session, API_VERSION, "TrainingRun", namespace,
                                                lineage["trainingRun"])
        if result.training_run is None:
            result.problems.append(f"TrainingRun {lineage['trainingRun']} no longer exists (the record remains)")
    run_id = lineage.get("mlflowRunId")
    if run_id and mlflow is None:
        result.problems.append("no MLflow tracking URI given (--mlflow-uri or MLFLOW_TRACKING_URI)")
    elif run_id and mlflow is not None:
        try:
            result.run = await mlflow.get_run(run_id)
        except MLflowError as error:
            result.problems.append(f"MLflow: {error}")
        else:
            if result.run is None:
                result.problems.append(f"MLflow has no run {run_id}")
            else:
                result.run_url = mlflow.run_url(result.run.experiment_id, result.run.run_id)
    return result


def _pairs(values: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v}" for k, v in sorted(values.items())) or "-"


def render_text(lineage: Lineage) -> str:
    mv = lineage.model_version
    spec, status = mv.get("spec") or {}, mv.get("status") or {}
    artifact, registry = spec.get("artifact") or {}, status.get("registry") or {}
    lines = [
        f"ModelVersion  {lineage.namespace}/{mv['metadata']['name']}",
        f"  model       {spec.get('model')} version {spec.get('version')}",
        f"  artifact    {artifact.get('storageUri')} ({artifact.get('format')})",
    ]
    if registry:
        resolved = f"  resolved from {registry['resolvedFrom']} to {registry.get('resolvedUri')}" \
            if registry.get("resolvedFrom") else ""
        lines.append(f"  registry    {registry.get('name')} version {registry.get('version')}{resolved}")
    lines.append(f"  serving     {status.get('inferenceService') or '-'}  ready={status.get('ready')}  "
                 f"role={status.get('role') or '-'}  url={status.get('url') or '-'}")
    if spec.get("metrics"):
        lines.append(f"  metrics     {_pairs(spec['metrics'])}")
    lineage_spec = spec.get("lineage") or {}
    run_name = lineage_spec.get("trainingRun")
    if run_name:
        tr = lineage.training_run
        detail = f"phase {((tr or {}).get('status') or {}).get('phase')}" if tr else "deleted"
        lines.append(f"TrainingRun   {lineage.namespace}/{run_name} ({detail})")
    if lineage_spec.get("mlflowRunId"):
        lines.append(f"MLflow run    {lineage_spec['mlflowRunId']}")
        run = lineage.run
        if run is not None:
            lines += [
                f"  experiment  {run.experiment_id}  status {run.status}",
                f"  link        {lineage.run_url}",
                f"  params      {_pairs(run.params)}",
                f"  metrics     {_pairs(run.metrics)}",
                f"  tags        {_pairs({k: v for k, v in run.tags.items() if not k.startswith('mlflow.')})}",
            ]
    data, code = lineage_spec.get("data") or {}, lineage_spec.get("code") or {}
    lines.append(f"Data          {data.get('uri', '-')} version {data.get('version', '-')}")
    lines.append(f"Code          {code.get('repo', '-')} @ {code.get('commit', '-')}")
    lines.append(f"Image         {lineage_spec.get('image', '-')}")
    lines += [f"note: {problem}" for problem in lineage.problems]
    return "\n".join(lines)


def as_dict(lineage: Lineage) -> dict[str, Any]:
    """The lineage as plain data (what ``-o json`` prints; ``modelops trace`` embeds it)."""
    run = lineage.run
    return {
        "modelVersion": lineage.model_version,
        "trainingRun": lineage.training_run,
        "mlflowRun": None if run is None else {
            "runId": run.run_id, "experimentId": run.experiment_id, "status": run.status, "url": lineage.run_url,
            "params": run.params, "metrics": run.metrics, "tags": run.tags, "artifactUri": run.artifact_uri,
        },
        "problems": lineage.problems,
    }


def render_json(lineage: Lineage) -> str:
    return json.dumps(as_dict(lineage), indent=2, default=str)
