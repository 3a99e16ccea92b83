"""``core.artifacts.fetchable``: MLflow's proxied artifact URIs mapped onto the server's artifacts
destination, so a ModelVersion serves a URI KServe fetches."""

from __future__ import annotations

import pytest

from modelops.core.artifacts import fetchable


@pytest.mark.parametrize(("uri", "destination", "served"), [
    ("mlflow-artifacts:/1/abc/artifacts/model", "s3://bucket/mlflow", "s3://bucket/mlflow/1/abc/artifacts/model"),
    ("mlflow-artifacts:/1/abc/artifacts/model", "file:///var/mlflow/", "file:///var/mlflow/1/abc/artifacts/model"),
    ("mlflow-artifacts://mlflow.ml:5000/1/abc/artifacts/model", "gs://b", "gs://b/1/abc/artifacts/model"),
    ("s3://already/fetchable/model", None, "s3://already/fetchable/model"),
    ("mlflow-artifacts:/1/abc/artifacts/model", None, None),
])
def test_fetchable(uri: str, destination: str | None, served: str | None) -> None:
    assert fetchable(uri, destination) == served
