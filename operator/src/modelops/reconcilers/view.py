"""Where the reconcilers read: the stores the watches fill, the API server for everything else.

``get`` answers from the store of a watched kind when it holds the object and asks the API server
otherwise (an object the watch has not delivered yet — just created, or the first seconds after a
start — must never look absent: a route that looks absent would be taken for free). ``remember``
puts back what a write returned, so the next reconcile plans from what the operator last wrote.
``rollouts_of``/``model_versions_of``/``contenders`` answer from the stores' indexes: the lists that
cost a LIST per reconcile before, and made a namespace of N objects cost N² requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelops.api import API_VERSION
from modelops.core.conditions import parse_time
from modelops.core.monitoring.children import MONITOR_LABEL
from modelops.core.monitoring.retraining import RetrainRun
from modelops.core.naming import label_value
from modelops.core.ownership import Contender
from modelops.core.training.progress import finished
from modelops.k8s import objects
from modelops.k8s.session import KubeSession
from modelops.reconcilers.store import Store

ROLLOUT = (API_VERSION, "Rollout")
MODEL_VERSION = (API_VERSION, "ModelVersion")
BY_MODEL = "model"  # index: spec.model -> keys (every namespace)
BY_NAMESPACE_MODEL = "namespace-model"  # index: (namespace, spec.model) -> keys
DRIFT_MONITOR = (API_VERSION, "DriftMonitor")
TRAINING_RUN = (API_VERSION, "TrainingRun")
BY_MODEL_REF = "model-ref"  # index: (namespace, modelRef kind, modelRef name) -> DriftMonitor keys
BY_MONITOR = "drift-monitor"  # index: (namespace, label modelops.io/drift-monitor) -> TrainingRun keys


def model_indexes() -> dict[str, Any]:
    """The indexes of a kind with ``spec.model`` (Rollouts, ModelVersions, DriftMonitors)."""

    def model(body: Mapping[str, Any]) -> list[Any]:
        value = (body.get("spec") or {}).get("model")
        return [value] if isinstance(value, str) and value else []

    def namespace_model(body: Mapping[str, Any]) -> list[Any]:
        namespace = (body.get("metadata") or {}).get("namespace")
        return [(namespace, value) for value in model(body)]

    return {BY_MODEL: model, BY_NAMESPACE_MODEL: namespace_model}


def monitor_indexes() -> dict[str, Any]:
    """The DriftMonitor index: the ModelVersion or Rollout each one watches."""

    def model_ref(body: Mapping[str, Any]) -> list[Any]:
        ref = (body.get("spec") or {}).get("modelRef") or {}
        namespace = (body.get("metadata") or {}).get("namespace")
        return [(namespace, ref.get("kind"), ref.get("name"))] if isinstance(ref, Mapping) and ref.get("name") else []

    return {BY_MODEL_REF: model_ref}


def retrain_indexes() -> dict[str, Any]:
    """The TrainingRun index: the DriftMonitor that created each retraining run (its label)."""

    def monitor(body: Mapping[str, Any]) -> list[Any]:
        meta = body.get("metadata") or {}
        value = (meta.get("labels") or {}).get(MONITOR_LABEL)
        return [(meta.get("namespace"), value)] if value else []

    return {BY_MONITOR: monitor}


class ClusterView:
    def __init__(self, session: KubeSession, stores: Mapping[tuple[str, str], Store]) -> None:
        self.session = session
        self.stores = dict(stores)

    def store(self, api_version: str, kind: str) -> Store | None:
        return self.stores.get((api_version, kind))

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        store = self.store(api_version, kind)
        if store is not None:
            held = store.get(namespace, name)
            if held is not None:
                return held
        # Not kept: the store holds what the watch delivers (and the operator's own writes), and a
        # watch filtered by label would never refresh an object that lacks the label.
        return await objects.get(self.session, api_version, kind, namespace, name)

    def remember(self, body: Mapping[str, Any] | None) -> None:
        """Keep what a write returned (the object as the API server now stores it)."""
        if not body or body.get("kind") == "Status":
            return
        store = self.store(str(body.get("apiVersion")), str(body.get("kind")))
        if store is not None:
            store.put(body)

    def rollouts_of(self, namespace: str, model: str) -> list[dict[str, Any]]:
        store = self.stores[ROLLOUT]
        return store.select(BY_NAMESPACE_MODEL, (namespace, model))

    def model_versions_of(self, namespace: str, model: str) -> list[tuple[str, str]]:
        return self.stores[MODEL_VERSION].keys(BY_NAMESPACE_MODEL, (namespace, model))

    def rollout_keys_of(self, namespace: str, model: str) -> list[tuple[str, str]]:
        return self.stores[ROLLOUT].keys(BY_NAMESPACE_MODEL, (namespace, model))

    def monitor_keys_watching(self, namespace: str, kind: str, name: str) -> list[tuple[str, str]]:
        """The DriftMonitors whose ``spec.modelRef`` names this ModelVersion or Rollout."""
        return self.stores[DRIFT_MONITOR].keys(BY_MODEL_REF, (namespace, kind, name))

    def retrain_runs_of(self, namespace: str, monitor: str) -> tuple[RetrainRun, ...]:
        """The TrainingRuns a DriftMonitor created, finished or not."""
        bodies = self.stores[TRAINING_RUN].select(BY_MONITOR, (namespace, label_value(monitor)))
        return tuple(RetrainRun(str(b["metadata"]["name"]), finished(b.get("status") or {})) for b in bodies)

    def monitored(self, body: Mapping[str, Any]) -> tuple[str, str]:
        """(model, modelversion) a DriftMonitor's series carry: the watched object's ``spec.model``;
        the version the drift job evaluated, else the ModelVersion named, else the Rollout's stable."""
        namespace = str((body.get("metadata") or {}).get("namespace") or "")
        ref = (body.get("spec") or {}).get("modelRef") or {}
        status = body.get("status") or {}
        store = self.stores.get((API_VERSION, str(ref.get("kind"))))
        target = store.get(namespace, str(ref.get("name"))) if store is not None else None
        model = str(((target or {}).get("spec") or {}).get("model") or "")
        version = status.get("servedModelVersion")
        if not version and ref.get("kind") == "ModelVersion":
            version = ref.get("name")
        elif not version:
            version = ((target or {}).get("status") or {}).get("stable")
        return model, str(version or "")

    def contenders(self, model: str) -> list[Contender]:
        """Every Rollout that drives ``model``, in every watched namespace."""
        found = []
        for body in self.stores[ROLLOUT].select(BY_MODEL, model):
            meta = body.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                continue  # going: it no longer drives the model
            found.append(Contender(str(meta.get("namespace")), str(meta.get("name")),
                                   parse_time(meta.get("creationTimestamp")), str(meta.get("uid") or "")))
        return found
