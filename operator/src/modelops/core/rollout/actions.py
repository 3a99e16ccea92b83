"""The side effects a Rollout plan asks for, as data: the route to apply, MLflow alias moves and
MLflow tags. The plan returns them; the reconciler carries them out idempotently (setting an alias
to where it already points, or a tag to the value it has, changes nothing), before it writes the
status that records them — so an operator killed in between re-plans the same transition and
repeats the same, harmless, calls.

Versions are named by their ModelVersion object; the reconciler maps a name to the registry
version it records (``ModelVersion.status.registry``), because only it reads other objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from modelops.core.rollout.traffic import Split

CHAMPION = "champion"
CHALLENGER = "challenger"
# MLflow caps a tag value at 5000 characters on the servers still in use (8000 on newer ones).
TAG_VALUE_LIMIT = 5000


@dataclass(frozen=True)
class Route:
    """Apply ``split`` between the ModelVersions ``stable`` and ``candidate`` (None: no candidate
    backend; then the split is 100/0 with no mirror)."""

    stable: str
    candidate: str | None
    split: Split

    def __post_init__(self) -> None:
        if self.candidate is None and (self.split.candidate or self.split.mirror):
            raise ValueError(f"no candidate backend, but the split gives it traffic: {self.split.describe()}")


@dataclass(frozen=True)
class AliasMove:
    """Point alias ``alias`` of registered model ``model`` at the registry version of ModelVersion
    ``model_version``; None deletes the alias (MLflow's ``delete_registered_model_alias``)."""

    model: str
    alias: str
    model_version: str | None


@dataclass(frozen=True)
class VersionTag:
    """Set these tags on the registry version of ModelVersion ``model_version``."""

    model: str
    model_version: str
    tags: Mapping[str, str] = field(default_factory=dict)


def clip_tag(value: str) -> str:
    return value if len(value) <= TAG_VALUE_LIMIT else value[: TAG_VALUE_LIMIT - 1] + "…"
