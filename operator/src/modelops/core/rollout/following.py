"""Which version the Rollout targets: ``spec.target`` when set (it pins and wins), else the version
the MLflow alias of ``spec.targetFrom`` names — the registry followed without anyone editing YAML.

Owns ``status.followed`` ({alias, version, modelVersion, since, message}) and the effective target
the machine's rules compare (``Target``). The reconciler reads the alias (``AliasReading``: the
registry version it names now, and the ModelVersion of this namespace whose ``status.registry``
records that version, or why it could not); everything else is decided here:

- the alias names a version a ModelVersion records → that ModelVersion is followed; when it is
  another one than before, the change's actor is the alias move (``mlflow:alias/<alias>``);
- the alias names nothing, names a version no ModelVersion here records (yet: its creation wakes the
  Rollout), or MLflow could not be read → the last followed version stays the target, and
  ``status.followed.message`` says why it is not followed further (an unreadable registry is also
  ``RegistrySynced=False``, reported by the reconciler);
- nothing ever followed and nothing to follow → no target: the machine waits (phase Idle, or the
  stable keeps serving).

The operator never writes spec: the followed version lives in status only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelops.api.rollout import RolloutSpec

ALIAS_ACTOR = "mlflow:alias/"


@dataclass(frozen=True)
class AliasReading:
    """What the registry said about the followed alias in this reconcile."""

    alias: str
    version: str | None = None  # the registry version it names; None: the alias is not set
    model_version: str | None = None  # the ModelVersion here recording that version; None: none does
    error: str | None = None  # MLflow could not be asked (nothing else is known)


@dataclass(frozen=True)
class Target:
    """The version the rules compare with the status, who made it the target, and status.followed."""

    name: str | None
    actor: str | None  # None: spec's own field manager
    followed: dict[str, Any] | None


def effective_target(spec: RolloutSpec, stored: Mapping[str, Any] | None, reading: AliasReading | None,
                     now: datetime) -> Target:
    """The target of this plan (see the module docstring)."""
    if spec.target_from is None:
        return Target(spec.target, None, None)
    alias = spec.target_from.alias
    last = dict(stored or {}) if (stored or {}).get("alias") == alias else {}
    followed = _follow(alias, last, reading, now)
    if spec.target is not None:
        return Target(spec.target, None, followed)
    name = followed.get("modelVersion")
    moved = name is not None and name != last.get("modelVersion")
    return Target(name, f"{ALIAS_ACTOR}{alias}" if moved else None, followed)


def _follow(alias: str, last: dict[str, Any], reading: AliasReading | None, now: datetime) -> dict[str, Any]:
    if reading is None or reading.alias != alias:
        return {**last, "alias": alias} if last else {"alias": alias, "message": "the alias has not been read yet"}
    if reading.error is not None:
        return {**last, "alias": alias,
                "message": f"the registry could not be read ({reading.error}); the last followed version stays"}
    if reading.version is None:
        kept = f"; {last['modelVersion']} stays the target" if last.get("modelVersion") else ""
        return {**_without_message(last), "alias": alias, "message": f"the alias {alias} names no version{kept}"}
    if reading.model_version is None:
        kept = f"; {last['modelVersion']} stays the target" if last.get("modelVersion") else ""
        return {**_without_message(last), "alias": alias,
                "message": f"the alias {alias} names registry version {reading.version}, which no ModelVersion in "
                           f"this namespace records (status.registry){kept}"}
    if last.get("modelVersion") == reading.model_version and last.get("version") == reading.version:
        return _without_message(last)
    return {"alias": alias, "version": reading.version, "modelVersion": reading.model_version,
            "since": now.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _without_message(followed: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in followed.items() if key != "message"}
