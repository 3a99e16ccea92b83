"""What the dashboard shows, read fresh on every page load — GETs only, nothing is ever written:

- the Rollouts of the namespace (or of every namespace), each with the route object its router
  names (the weights the router applies now), and for its stable, candidate and warm versions the
  lineage ``modelops lineage`` reads (``cli.lineage.gather``: ModelVersion -> TrainingRun, and the
  MLflow run when a tracking URI is given);
- the DriftMonitors (their last evaluation: a result per feature and statistic);
- with a Prometheus address, the operator's own series over the last hour: each check's
  measurements (``modelops_analysis_measurement``) and the weights (``modelops_rollout_weight``),
  for the history the Rollout's bounded status no longer holds.

A part that cannot be read is a line in ``Board.problems``, never a failed page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from modelops.api import API_VERSION
from modelops.api.rollout import RolloutSpec
from modelops.cli.dashboard.charts import Point
from modelops.cli.lineage import Lineage
from modelops.cli.lineage import gather as gather_lineage
from modelops.k8s import objects
from modelops.k8s.errors import KubeError
from modelops.k8s.session import KubeSession
from modelops.registry.mlflow import MLflowClient
from modelops.routers.choosing import router_for

RANGE = timedelta(hours=1)
STEP_SECONDS = 15


@dataclass
class RolloutData:
    body: dict[str, Any]
    route: dict[str, Any] | None = None
    lineages: dict[str, Lineage] = field(default_factory=dict)
    measured: dict[str, list[Point]] = field(default_factory=dict)
    """Per check, from Prometheus (empty without an address)."""
    weights: dict[str, list[Point]] = field(default_factory=dict)
    """Per backend (stable, candidate, mirror), from Prometheus (empty without an address)."""

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"].get("namespace") or "")


@dataclass
class Board:
    namespace: str | None
    gathered_at: datetime
    rollouts: list[RolloutData] = field(default_factory=list)
    monitors: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Sources:
    """Where the dashboard reads from: the API server, and optionally MLflow and Prometheus."""

    session: KubeSession
    namespace: str | None
    mlflow: MLflowClient | None = None
    prometheus: str | None = None
    http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        await self.session.close()
        if self.mlflow is not None:
            await self.mlflow.close()
        if self.http is not None:
            await self.http.close()


def _versions(body: dict[str, Any]) -> list[str]:
    status = body.get("status") or {}
    names = [status.get("candidate"), status.get("stable"), *(status.get("warm") or [])]
    return list(dict.fromkeys(name for name in names if isinstance(name, str) and name))


async def _route(sources: Sources, body: dict[str, Any]) -> dict[str, Any] | None:
    try:
        router = router_for(RolloutSpec.model_validate(body.get("spec") or {}))
    except ValueError:
        return None  # a spec the operator refuses names no route either
    return await objects.get(sources.session, router.api_version, router.kind, body["metadata"]["namespace"],
                             router.name)


async def _rollout(sources: Sources, body: dict[str, Any], problems: list[str]) -> RolloutData:
    data = RolloutData(body)
    try:
        data.route = await _route(sources, body)
    except (KubeError, LookupError) as error:  # LookupError: the route's kind is not served here
        problems.append(f"{data.namespace}/{data.name}: route: {error}")
    for version in _versions(body):
        try:
            data.lineages[version] = await gather_lineage(sources.session, sources.mlflow, data.namespace, version)
        except LookupError as error:
            problems.append(f"{data.namespace}/{data.name}: {error}")
        except KubeError as error:
            problems.append(f"{data.namespace}/{data.name}: ModelVersion {version}: {error}")
    if sources.prometheus:
        where = f'namespace="{data.namespace}",rollout="{data.name}"'
        if sources.http is None:
            sources.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            data.measured = await query_range(sources.http, sources.prometheus,
                                              f"modelops_analysis_measurement{{{where}}}", "check")
            data.weights = await query_range(sources.http, sources.prometheus,
                                             f"modelops_rollout_weight{{{where}}}", "backend")
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            problems.append(f"Prometheus {sources.prometheus}: {error}")
    return data


async def query_range(http: aiohttp.ClientSession, address: str, query: str, label: str,
                      end: datetime | None = None) -> dict[str, list[Point]]:
    """Prometheus' ``query_range`` over the hour before ``end``: one series per value of ``label``."""
    end = end or datetime.now(UTC)
    params = {"query": query, "start": f"{(end - RANGE).timestamp():.3f}", "end": f"{end.timestamp():.3f}",
              "step": str(STEP_SECONDS)}
    url = f"{address.rstrip('/')}/api/v1/query_range"
    async with http.get(url, params=params) as response:
        answer = await response.json(content_type=None)
    if answer.get("status") != "success":
        raise ValueError(f"{query}: {answer.get('errorType')}: {answer.get('error')}")
    found: dict[str, list[Point]] = {}
    for result in answer["data"]["result"]:
        name = str(result["metric"].get(label, "?"))
        found.setdefault(name, []).extend((float(t), float(v)) for t, v in result["values"] if v not in ("NaN",))
    return found


async def gather(sources: Sources) -> Board:
    """Everything the page shows, read now."""
    board = Board(sources.namespace, datetime.now(UTC))
    try:
        bodies = await objects.list_objects(sources.session, API_VERSION, "Rollout", sources.namespace)
    except KubeError as error:
        board.problems.append(f"listing Rollouts: {error}")
        bodies = []
    bodies.sort(key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"]))
    board.rollouts = list(await asyncio.gather(*(_rollout(sources, body, board.problems) for body in bodies)))
    try:
        board.monitors = await objects.list_objects(sources.session, API_VERSION, "DriftMonitor", sources.namespace)
    except KubeError as error:
        board.problems.append(f"listing DriftMonitors: {error}")
    board.monitors.sort(key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"]))
    return board
