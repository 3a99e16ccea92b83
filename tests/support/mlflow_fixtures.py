"""The session-scoped ``mlflow_server`` fixture: a real MLflow server (hack/localcluster)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcluster.mlflow_server import MLflowServer


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLflowServer]:
    with MLflowServer(tmp_path_factory.mktemp("mlflow")) as server:
        print(f"\nmlflow server up in {server.startup_seconds:.1f}s at {server.url}")
        yield server
