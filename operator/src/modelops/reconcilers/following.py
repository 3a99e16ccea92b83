"""Reading the MLflow alias a Rollout's ``spec.targetFrom`` follows, for ``core.rollout.following``:
which registry version the alias names, and which ModelVersion of the Rollout's namespace records
that version in ``status.registry`` (found in the watch store's model index, no API call).

Owns when MLflow is asked: only for Rollouts with ``targetFrom`` and no pinning ``spec.target``;
at most once per ``mlflow.aliasPollInterval`` (default 30 s) per Rollout, and again at once when
the ModelVersions of its model change (one created, or its registry version recorded: a
TrainingRun that registers a version under the alias creates one) — so a rollback by
``spec.target`` or a step's tick never waits for MLflow. A failed read is an ``AliasReading`` with
``error`` (the machine keeps the last followed version; the reconciler reports
``RegistrySynced=False``); nothing here raises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from modelops.api import API_VERSION
from modelops.api.config import OperatorConfig
from modelops.api.rollout import RolloutSpec
from modelops.core.durations import parse_duration
from modelops.core.rollout.following import AliasReading
from modelops.reconcilers.view import ClusterView
from modelops.registry.mlflow import MLflowClient
from modelops.registry.records import MLflowError

MODEL_VERSION = "ModelVersion"
READ_TIMEOUT_SECONDS = 5.0
DEFAULT_POLL_SECONDS = 30.0

Key = tuple[str, str]


class AliasFollower:
    """One per operator: the last reading of each following Rollout, and when it was taken."""

    def __init__(self, mlflow: MLflowClient | None, config: OperatorConfig, view: ClusterView) -> None:
        self.mlflow, self.view = mlflow, view
        interval = config.mlflow.alias_poll_interval if config.mlflow is not None else None
        self.poll_seconds = parse_duration(interval).total_seconds() if interval else DEFAULT_POLL_SECONDS
        self._last: dict[Key, tuple[float, tuple[Any, ...], AliasReading]] = {}

    def forget(self, namespace: str, name: str) -> None:
        self._last.pop((namespace, name), None)

    async def read(self, namespace: str, name: str, spec: RolloutSpec | None) -> AliasReading | None:
        """The alias as MLflow names it now (or as last read, while fresh); None when not following."""
        if spec is None or spec.target_from is None or spec.target is not None:
            self.forget(namespace, name)
            return None
        alias = spec.target_from.alias
        records = self._records(namespace, spec.model)
        signature = (alias, tuple(sorted(records.items())))
        kept = self._last.get((namespace, name))
        now = time.monotonic()
        if kept is not None and kept[1] == signature and now - kept[0] < self.poll_seconds:
            return kept[2]
        reading = await self._ask(spec.model, alias, records)
        self._last[(namespace, name)] = (now, signature, reading)
        return reading

    def _records(self, namespace: str, model: str) -> dict[str, str]:
        """Registry version -> ModelVersion name, for this namespace's ModelVersions of ``model``."""
        store = self.view.store(API_VERSION, MODEL_VERSION)
        found: dict[str, str] = {}
        for key in self.view.model_versions_of(namespace, model):
            body: Mapping[str, Any] | None = store.get(*key) if store is not None else None
            registry = ((body or {}).get("status") or {}).get("registry") or {}
            if registry.get("name") == model and registry.get("version"):
                found.setdefault(str(registry["version"]), key[1])
        return found

    async def _ask(self, model: str, alias: str, records: Mapping[str, str]) -> AliasReading:
        if self.mlflow is None:
            return AliasReading(alias, error="no MLflow configured (mlflow.trackingUri)")
        try:
            found = await asyncio.wait_for(self.mlflow.get_model_version_by_alias(model, alias),
                                           READ_TIMEOUT_SECONDS)
        except (MLflowError, TimeoutError, OSError) as error:
            return AliasReading(alias, error=str(error) or type(error).__name__)
        if found is None:
            return AliasReading(alias)
        return AliasReading(alias, found.version, records.get(found.version))
