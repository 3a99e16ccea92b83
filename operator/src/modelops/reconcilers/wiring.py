"""Builds the adapters the reconcilers use from the configuration — the API session (once the API
server serves the modelops kinds) and the MLflow client — so the handler layer never imports an
adapter package directly (layers: handlers -> reconcilers -> adapters)."""

from __future__ import annotations

from collections.abc import Callable

from modelops.api import API_VERSION
from modelops.api.config import OperatorConfig
from modelops.k8s.session import KubeSession
from modelops.registry.mlflow import MLflowClient

OWN_KINDS = ("TrainingRun", "ModelVersion", "Rollout", "DriftMonitor")
STARTUP_WAIT_SECONDS = 60.0


async def connect_kube(log: Callable[[str], None]) -> KubeSession:
    """The operator's API session, once the API server serves the modelops kinds (so kopf's watches
    do not start against a server still initialising the CRDs' storage)."""
    session = await KubeSession.connect()
    await session.wait_until_serving([(API_VERSION, kind) for kind in OWN_KINDS], STARTUP_WAIT_SECONDS, log)
    return session


def make_mlflow_client(config: OperatorConfig) -> MLflowClient | None:
    if config.mlflow is None:
        return None
    return MLflowClient(config.mlflow.tracking_uri, ui_url=config.mlflow.ui_url)
