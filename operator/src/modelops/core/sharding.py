"""Which objects one operator replica owns: its shard, by namespaces and/or an equality-based label
selector (``modelops.io/shard=a``, ``!modelops.io/shard``), and the shard label the objects the
operator makes inherit from the object that made them.

Pure: membership is a function of (namespace, labels). The namespaces go to kopf's watch scope and
the selector to the API server with every list and watch of the modelops kinds
(``settings.watching.label_selectors``), so a replica never even receives another shard's objects
— kopf itself would otherwise take off the finalizer another shard's replica put on them. An object
relabelled out of a shard leaves its watch as a deletion; ``admits`` checks the same again on every
event that reaches the handlers.

Records and children carry their creator's ``modelops.io/shard`` label (``inherit``): the TrainingRun
a DriftMonitor starts, the ModelVersion a TrainingRun registers, the Jobs, CronJobs,
InferenceServices and routes — so everything of one model stays in its shard without a user's
help, and ``kubectl get -l modelops.io/shard=a`` lists a shard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SHARD_LABEL = "modelops.io/shard"
# A label key: an optional DNS-subdomain prefix and a name (validated loosely; the API server is strict).
_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


@dataclass(frozen=True)
class Requirement:
    """One term of a selector: ``key`` equals / differs from ``value``, or exists / is absent."""

    key: str
    op: str  # "=", "!=", "exists", "absent"
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "absent":
            return self.key not in labels
        if self.op == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


def parse_selector(text: str) -> tuple[Requirement, ...]:
    """An equality-based label selector as ``kubectl -l`` takes it: ``k=v``, ``k==v``, ``k!=v``, ``k``,
    ``!k``, comma-separated (all must hold). ValueError names the bad term."""
    terms: list[Requirement] = []
    for raw in text.split(","):
        term = raw.strip()
        if not term:
            raise ValueError(f"selector {text!r}: empty term")
        if "!=" in term:
            key, _, value = term.partition("!=")
            op = "!="
        elif "=" in term:
            key, _, value = term.partition("==") if "==" in term else term.partition("=")
            op = "="
        elif term.startswith("!"):
            key, value, op = term[1:], "", "absent"
        else:
            key, value, op = term, "", "exists"
        key, value = key.strip(), value.strip()
        if not _KEY.match(key):
            raise ValueError(f"selector {text!r}: {key!r} is not a label key")
        if not _VALUE.match(value) or len(value) > 63:
            raise ValueError(f"selector {text!r}: {value!r} is not a label value")
        terms.append(Requirement(key, op, value))
    return tuple(terms)


@dataclass(frozen=True)
class Shard:
    """One replica's share of the cluster: a name (its Lease is named after it), the namespaces it
    watches (empty: all) and the selector its objects match (empty: all)."""

    name: str = ""
    namespaces: tuple[str, ...] = ()
    selector: tuple[Requirement, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, name: str = "", namespaces: Sequence[str] = (), selector: str = "") -> Shard:
        return cls(name, tuple(namespaces), parse_selector(selector) if selector else ())

    def admits(self, namespace: str | None, labels: Mapping[str, str] | None) -> bool:
        """Whether an object in ``namespace`` with ``labels`` belongs to this shard."""
        if self.namespaces and (namespace or "") not in self.namespaces:
            return False
        return all(term.matches(labels or {}) for term in self.selector)

    def selector_text(self) -> str:
        """The selector as the API server's ``labelSelector`` parameter takes it ("" : none)."""
        return ",".join(_text(t) for t in self.selector)

    def describe(self) -> str:
        where = ",".join(self.namespaces) or "all namespaces"
        return f"shard {self.name or '(none)'}: {where}; {self.selector_text() or 'every object'}"


def _text(term: Requirement) -> str:
    return {"=": f"{term.key}={term.value}", "!=": f"{term.key}!={term.value}", "exists": term.key,
            "absent": f"!{term.key}"}[term.op]


def inherit(creator: Mapping[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with its creator's ``modelops.io/shard`` label (unchanged when the creator has none)."""
    shard = ((creator.get("metadata") or {}).get("labels") or {}).get(SHARD_LABEL)
    if not shard:
        return manifest
    metadata = dict(manifest.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), SHARD_LABEL: shard}
    return {**manifest, "metadata": metadata}
