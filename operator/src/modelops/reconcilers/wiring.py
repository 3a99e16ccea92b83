"""Builds the adapters the reconcilers use from the configuration, so the handler layer never
imports an adapter package directly (layers: handlers -> reconcilers -> adapters)."""

from __future__ import annotations

from modelops.api.config import OperatorConfig
from modelops.k8s.session import KubeSession
from modelops.registry.mlflow import MLflowClient


async def connect_kube() -> KubeSession:
    return await KubeSession.connect()


def make_mlflow_client(config: OperatorConfig) -> MLflowClient | None:
    if config.mlflow is None:
        return None
    return MLflowClient(config.mlflow.tracking_uri, ui_url=config.mlflow.ui_url)
