"""Carrying out what the MLflow Model Registry should say about a Rollout: the alias moves and
version tags ``core.rollout.aliases`` asks for, each tried once per reconcile, and what was
achieved reported back as a ``RegistryOutcome`` (which ``aliases.registry_status`` turns into
``status.registry`` and the ``RegistrySynced`` condition). A failed write never raises: traffic and
status never wait for MLflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelops.core.rollout import aliases
from modelops.core.rollout.actions import VersionTag
from modelops.registry.mlflow import MLflowClient
from modelops.registry.records import MLflowError

Versions = Mapping[str, Mapping[str, Any] | None]


def _registry_version(name: str, versions: Versions) -> tuple[str, str]:
    record = (((versions.get(name) or {}).get("status")) or {}).get("registry") or {}
    if not record.get("name") or not record.get("version"):
        raise LookupError(f"ModelVersion {name} has no MLflow registry version (status.registry) yet")
    return str(record["name"]), str(record["version"])


async def sync(mlflow: MLflowClient, model: str, status: Mapping[str, Any], tags: Sequence[VersionTag],
               versions: Versions) -> aliases.RegistryOutcome:
    """Write the alias moves and tags the new status asks for; report what MLflow now holds."""
    recorded = dict(aliases.recorded_aliases(status))
    problems: list[str] = []
    for move in aliases.alias_writes(model, status):
        try:
            if move.model_version is None:
                await mlflow.delete_alias(model, move.alias)
            else:
                registered, number = _registry_version(move.model_version, versions)
                await mlflow.set_alias(registered, move.alias, number)
            recorded[move.alias] = move.model_version
        except (MLflowError, LookupError) as error:
            problems.append(f"alias {move.alias} -> {move.model_version or '(none)'}: {error}")
    pending: list[VersionTag] = []
    for tag in [*aliases.pending_tags(model, status), *tags]:
        try:
            registered, number = _registry_version(tag.model_version, versions)
            for key, value in tag.tags.items():
                await mlflow.set_model_version_tag(registered, number, key, value)
        except (MLflowError, LookupError) as error:
            problems.append(f"tags on {tag.model_version}: {error}")
            pending.append(tag)
    return aliases.RegistryOutcome(aliases=recorded, pending=pending, problems=problems)
