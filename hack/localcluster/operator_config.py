"""The operator configuration (what the Helm chart puts in a ConfigMap) for the local cluster:
its node pools as the operator should see them, the local MLflow server (and the directory it stores
artifacts in, which KServe — and the local model servers — fetch from), and the local Prometheus
that Rollout analysis queries.

``hold_training_pods`` labels training Pods so kwok keeps them Running until someone plays the
container (``localcluster train``, or a test) and relabels them; without it a training Pod
"succeeds" at once without having logged anything, and its run is Rejected by its gates.
"""

from __future__ import annotations

from typing import Any

from localcluster.nodepools import OUTCOME_LABEL, POOL_LABEL, POOLS


def operator_config(mlflow_url: str, *, hold_training_pods: bool = True, pending_timeout: str = "2m",
                    log_sink_url: str | None = None, prometheus_url: str | None = None,
                    query_timeout: str = "5s", mlflow_artifacts: str | None = None,
                    alias_poll_interval: str | None = None) -> dict[str, Any]:
    training: dict[str, Any] = {"pendingTimeout": pending_timeout}
    if hold_training_pods:
        training["podLabels"] = {OUTCOME_LABEL: "hold"}
    return {
        "nodePools": {
            pool.name: {
                "nodeSelector": {POOL_LABEL: pool.name},
                "tolerations": [{"key": t["key"], "operator": "Exists", "effect": t["effect"]}
                                for t in pool.taints],
                "gpuResource": "nvidia.com/gpu",
                **({"gpuType": pool.labels["nvidia.com/gpu.product"]} if pool.gpus else {}),
            }
            for pool in POOLS
        },
        "defaultNodePool": "cpu",
        "mlflow": {"trackingUri": mlflow_url,
                   **({"artifactsDestination": mlflow_artifacts} if mlflow_artifacts else {}),
                   **({"aliasPollInterval": alias_poll_interval} if alias_poll_interval else {})},
        "training": training,
        "serving": {"logSinkUrl": log_sink_url} if log_sink_url else {},
        "analysis": {"prometheusUrl": prometheus_url, "queryTimeout": query_timeout} if prometheus_url else {},
    }
