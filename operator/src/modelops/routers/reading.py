"""Reading a route object back from the API server into a ``Split``: relative weights become
percentages (``split_from_weights``, rounded half up by ``percent``), and the tolerant readers a
hand-edited object needs — whatever shape it has, reading it gives "cannot say" (None, 0, empty),
never an exception."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelops.core.rollout.traffic import Split


def percent(value: float) -> int:
    """Round half up to an integer percentage 0-100 (Python's ``round`` rounds half to even, which
    would make 12.5 and 13.5 read back differently for no reason a reader could see)."""
    return max(0, min(100, int(value + 0.5)))


def split_from_weights(stable: float, candidate: float, other: float, mirror: int) -> Split | None:
    """The split served by relative weights (Gateway API and Istio weights are proportions, not
    percentages: 1/1 is 50/50), rounded so that the two percentages sum to 100. None when a backend
    that is neither stable nor candidate carries weight, or when nothing does: the object then
    applies a split this Rollout did not describe, and the reconciler must not pretend otherwise."""
    total = stable + candidate + other
    if other > 0 or total <= 0:
        return None
    candidate_percent = percent(100 * candidate / total)
    return Split(100 - candidate_percent, candidate_percent, mirror)


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list (anything else in it, or a non-list, is ignored)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def positive_int(value: Any, *, at_most: int | None = None) -> int:
    """A positive integer weight or percentage as written; 0 for anything else (bool included)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value if at_most is None or value <= at_most else 0
    return 0
