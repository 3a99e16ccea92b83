"""Side effects a plan asks for that several kinds share: Events to post and registry versions to
create. Plans return them; reconcilers carry them out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class RegisterRequest:
    """Create a version of registered model ``model`` in the MLflow Model Registry."""

    model: str
    source: str
    run_id: str | None
    tags: dict[str, str]
    description: str
