"""Which URI KServe can fetch for an artifact MLflow names.

An MLflow server that proxies artifacts (``mlflow server --serve-artifacts``) hands out
``mlflow-artifacts:/<path>`` URIs: MLflow's clients resolve them through the server, KServe's
storage initializer cannot (its schemes are ``api.modelversion.KSERVE_STORAGE_SCHEMES``). The
server stores ``<path>`` under its ``--artifacts-destination`` (an s3://, gs:// or file:// root),
so with that root in the operator's configuration (``mlflow.artifactsDestination``) the same
bytes have a URI KServe fetches. The registry keeps MLflow's own URI as the version's ``source``
(MLflow accepts nothing else for a run's artifacts); the ModelVersion serves the fetchable one.
"""

from __future__ import annotations

MLFLOW_ARTIFACTS = "mlflow-artifacts:"


def fetchable(uri: str, destination: str | None) -> str | None:
    """The URI to serve ``uri`` from; None when it is an ``mlflow-artifacts:`` URI and no
    destination is configured (nothing KServe could fetch)."""
    if not uri.startswith(MLFLOW_ARTIFACTS):
        return uri
    if not destination:
        return None
    rest = uri[len(MLFLOW_ARTIFACTS):]
    if rest.startswith("//"):  # mlflow-artifacts://host:port/<path>
        rest = rest[2:].partition("/")[2]
    return f"{destination.rstrip('/')}/{rest.lstrip('/')}"


def not_fetchable_message(uri: str) -> str:
    return (f"the MLflow artifact URI {uri} is served by the MLflow server only, which KServe cannot fetch: set "
            "mlflow.artifactsDestination in the operator configuration to the server's --artifacts-destination "
            "(s3://, gs:// or file://) so the ModelVersion can be served from there")
