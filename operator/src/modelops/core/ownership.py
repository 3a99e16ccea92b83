"""Whose object is it? The rules by which the operator writes a Kubernetes object only when it is
its own, and the shape of a write the API server refused for good.

Owns four decisions every reconciler makes before it writes a child (a Job, an
InferenceService, an HTTPRoute or VirtualService):

- ``claim(obj, owner)``: the object is **absent** (the operator may create it), **ours** (an owner
  reference to this modelops object — or to an earlier object of the same kind and name, which
  the operator made and the garbage collector has not removed yet — or the release mark a deleted
  Rollout leaves on its route), or **foreign**: someone else made it, and the operator must leave
  it exactly as it is and say who manages it (from ``metadata.managedFields``).
- ``winner(contenders)``: of several Rollouts that drive one model, exactly one acts — the oldest
  by ``creationTimestamp``, then by namespace and name — so the others can be refused with the
  winner's name and take over when it goes.
- ``already_applied(current, desired)``: the child already carries every field the operator would
  apply, with the same values (what others added is ignored), so an apply would change nothing and
  is not sent — a restart or a wake of a settled object costs no write.
- ``Rejection``: a write the API server (or MLflow) refused with a permanent 4xx — not 404, 409 or
  429, which are transient — carried back from execute to the plan, which turns it into a
  condition that names the object and quotes the server's message.

Pure: plain dicts in, verdicts out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from modelops.api.common import GROUP

RELEASED_ANNOTATION = f"{GROUP}/released-from"
"""Set on a route a deleted Rollout leaves behind (100% stable, no owner): ``Rollout/<name>``. A new
Rollout of that name may take the route back; nobody else may."""

TRANSIENT_STATUSES = frozenset({404, 409, 429})


class ClaimState(StrEnum):
    ABSENT = "absent"
    OURS = "ours"
    FOREIGN = "foreign"


@dataclass(frozen=True)
class Owner:
    """The modelops object that would own a child."""

    kind: str
    name: str
    uid: str


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    managers: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()

    @property
    def writable(self) -> bool:
        return self.state is not ClaimState.FOREIGN

    def describe(self) -> str:
        """Who holds a foreign object, for a condition message."""
        parts = []
        if self.owners:
            parts.append("owned by " + ", ".join(self.owners))
        else:
            parts.append(f"no {GROUP} owner reference")
        if self.managers:
            parts.append("managed by " + ", ".join(self.managers))
        return "; ".join(parts)


def _as_list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def managers(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The field managers of an object's spec and metadata (status writers left out), in order."""
    found: list[str] = []
    for entry in _as_list((obj.get("metadata") or {}).get("managedFields")):
        if entry.get("subresource") == "status":
            continue
        name = str(entry.get("manager") or "")
        if name and name not in found:
            found.append(name)
    return tuple(found)


def claim(obj: Mapping[str, Any] | None, owner: Owner) -> Claim:
    """May ``owner`` write ``obj`` (the object as read from the API server; None: absent)?"""
    if obj is None:
        return Claim(ClaimState.ABSENT)
    metadata = obj.get("metadata") or {}
    references = _as_list(metadata.get("ownerReferences"))
    for ref in references:
        same_kind = ref.get("kind") == owner.kind and str(ref.get("apiVersion", "")).startswith(f"{GROUP}/")
        if same_kind and (ref.get("uid") == owner.uid or ref.get("name") == owner.name):
            return Claim(ClaimState.OURS)
    annotations = metadata.get("annotations") or {}
    if not references and annotations.get(RELEASED_ANNOTATION) == f"{owner.kind}/{owner.name}":
        return Claim(ClaimState.OURS)
    owners = tuple(f"{ref.get('kind')}/{ref.get('name')}" for ref in references)
    return Claim(ClaimState.FOREIGN, managers=managers(obj), owners=owners)


def conflict_message(kind: str, name: str, found: Claim, owner: Owner) -> str:
    return (f"{kind} {name} already exists and is not {owner.kind} {owner.name}'s: {found.describe()}. "
            f"The operator leaves it untouched; delete or rename it, or point {owner.kind} {owner.name} at "
            f"another name")


# ------------------------------------------------------------------------- one actor per model


@dataclass(frozen=True)
class Contender:
    """A Rollout that drives a model (as read from the operator's cache)."""

    namespace: str
    name: str
    created: datetime | None
    uid: str = ""

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"


def winner(contenders: Iterable[Contender]) -> Contender | None:
    """The one Rollout that acts for a model: the oldest, then by namespace and name."""
    # An object without a creation time (never one read from the API server) sorts last.
    ordered = sorted(contenders, key=lambda c: (c.created is None, c.created.timestamp() if c.created else 0.0,
                                                c.namespace, c.name))
    return ordered[0] if ordered else None


# ---------------------------------------------------------------------------- refused writes


@dataclass(frozen=True)
class Rejection:
    """A write refused for good: what was written, who refused it, and the refusal's words."""

    what: str  # e.g. "Job fraud-train", "MLflow model version of fraud-detector"
    status: int
    reason: str
    message: str

    def describe(self) -> str:
        return f"{self.what} was refused ({self.status} {self.reason}): {self.message}"[:4000]


def is_permanent(status: int | None) -> bool:
    """A 4xx other than 404 (gone: re-read), 409 (conflict: re-read and retry) and 429 (throttled)."""
    return status is not None and 400 <= status < 500 and status not in TRANSIENT_STATUSES


REFUSED_RETRY_SECONDS = 60.0
"""How often an object whose write was refused for good, or whose child is someone else's, looks
again: slowly, because only a change elsewhere lifts it, and a spec change wakes it at once."""


def rejection_reason(rejection: Rejection) -> str:
    """The condition reason for a refused write: ``JobRejected``, ``InferenceServiceRejected``,
    ``RegistryRejected`` (MLflow)..."""
    first = rejection.what.split(" ", 1)[0] if rejection.what else ""
    if first == "MLflow":
        return "RegistryRejected"
    return f"{first}Rejected" if first.isalnum() else "WriteRejected"


def refusal_message(rejection: Rejection, made_from: str) -> str:
    return (f"{rejection.describe()}. It is made from {made_from}: fix what the message names. Retrying every "
            f"{int(REFUSED_RETRY_SECONDS)}s, and at once when the spec changes")


def already_applied(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Every field of ``desired`` (metadata labels, annotations, owner references, spec…) is in
    ``current`` with the same value; fields only ``current`` has (defaults, others' fields, status)
    do not matter. Lists must match item by item. ``apiVersion``/``kind`` are taken as given."""
    if current is None:
        return False
    return all(key in ("apiVersion", "kind") or (key in current and _contains(current[key], value))
               for key, value in desired.items())


def _contains(current: Any, desired: Any) -> bool:
    if isinstance(desired, Mapping):
        return isinstance(current, Mapping) and all(
            key in current and _contains(current[key], value) for key, value in desired.items())
    if isinstance(desired, list):
        return isinstance(current, list) and len(current) == len(desired) and all(
            _contains(c, d) for c, d in zip(current, desired, strict=True))
    return bool(current == desired)
