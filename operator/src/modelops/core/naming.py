"""Deterministic names and label values for the children the operator creates.

A child's name is a pure function of its parent's name (and a role), so a restarted operator
finds the Job or InferenceService it made instead of making a second one. Names longer than a
DNS label are shortened with a stable hash suffix, never truncated into a collision; so are label
values made from object names (an object name may have 253 characters, a label value 63).
"""

from __future__ import annotations

import hashlib
import re

MAX_LABEL = 63


def dns_label(*parts: str, max_length: int = MAX_LABEL) -> str:
    """Join ``parts`` with '-' into a valid DNS-1123 label of at most ``max_length`` characters."""
    raw = "-".join(p for p in parts if p)
    cleaned = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-") or "x"
    if len(cleaned) <= max_length and cleaned == raw:
        return cleaned
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    head = cleaned[: max_length - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


_LABEL_VALUE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def label_value(name: str) -> str:
    """``name`` as a label value: itself when it is one (at most 63 characters), else a prefix of it
    and a hash of the whole, so two long names never share a value."""
    if len(name) <= MAX_LABEL and _LABEL_VALUE.match(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    head = re.sub(r"[^-A-Za-z0-9_.]+", "-", name)[: MAX_LABEL - len(digest) - 1]
    head = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", head)
    return f"{head}-{digest}" if head else digest
