"""What an InferenceService's status means for its ModelVersion.

Ready means the ISVC's ``Ready`` condition is True *and*, when KServe reports model status, the
active model is ``Loaded``: a Pod that is up but still loading (or failed to load) its model is
not Ready, whatever the Pod says. Missing status is "not yet", never "ready".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Condition reasons must be CamelCase in our schema; messages are capped so a traceback-sized
# failure message from the model server can never make the status write itself fail.
_REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
MAX_MESSAGE = 1024


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str
    message: str
    url: str | None = None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _reason(value: Any, fallback: str) -> str:
    text = str(value) if value else ""
    return text if _REASON.match(text) else fallback


def _message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def readiness(isvc: Mapping[str, Any] | None) -> Readiness:
    """Tolerant of any shape: a malformed status is "not ready", never an exception."""
    state = _readiness(isvc)
    return Readiness(state.ready, _reason(state.reason, "NotReady"), _message(state.message), state.url)


def _readiness(isvc: Mapping[str, Any] | None) -> Readiness:
    if isvc is None:
        return Readiness(False, "InferenceServiceMissing", "the InferenceService does not exist yet")
    status = _mapping(isvc.get("status"))
    url = status.get("url") if isinstance(status.get("url"), str) else None
    raw_conditions = status.get("conditions")
    conditions = {str(c.get("type")): c for c in raw_conditions if isinstance(c, Mapping)} \
        if isinstance(raw_conditions, list) else {}
    model_status = _mapping(status.get("modelStatus"))
    states = _mapping(model_status.get("states"))
    active = states.get("activeModelState")
    failure = _mapping(model_status.get("lastFailureInfo"))
    if active == "FailedToLoad":
        reason = str(failure.get("reason") or "ModelLoadFailed")
        message = str(failure.get("message") or "the model server failed to load the model")
        return Readiness(False, "ModelLoadFailed", f"{reason}: {message}", url)
    ready = conditions.get("Ready")
    if ready is None:
        return Readiness(False, "Pending", "waiting for KServe to report the InferenceService's status", url)
    if ready.get("status") != "True":
        not_ready = [c for c in conditions.values() if c.get("status") == "False" and c.get("type") != "Ready"]
        detail = not_ready[0] if not_ready else ready
        reason = _reason(detail.get("reason"), f"{detail.get('type')}NotReady")
        message = str(detail.get("message") or f"{detail.get('type')} is not ready")
        return Readiness(False, reason, message, url)
    if model_status and active not in (None, "Loaded"):
        return Readiness(False, "ModelNotLoaded", f"the model is {active}, not Loaded", url)
    return Readiness(True, "Ready", "the InferenceService is Ready and its model is loaded", url)
