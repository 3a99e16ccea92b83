"""Sketches of a CATEGORICAL feature: the stored reference, and mergeable current windows.

Owns:

- ``CategoricalReference``: built once from the reference column or its value counts. The top-K
  categories by count (``top_k``, default 100) with their counts, "other" (the rest, counted
  together; their names are kept, up to ``max_known`` of them, so a category the reference had
  but outside the top K is never taken for a new one), the number of categories seen exactly once
  (the Good–Turing estimate of how much of the current traffic may be unseen by chance, see
  ``noise``), and the null count. ``to_dict``/``from_dict`` give plain JSON types.
- ``CategoricalWindow``: counts of a current window over the same categories, plus "other" and
  the UNSEEN categories by name; updated from raw values, from value counts, or from dictionary
  codes (what pyarrow's dictionary arrays hold); merged by addition.

The bins every statistic compares are ``[top-K categories…, other, unseen]``: the reference's
unseen bin is empty by definition, so a new category moves PSI, JS and chi-square as Evidently's
union-of-keys binning does (``get_binned_data`` in
``src/evidently/legacy/calculations/stattests/utils.py``), but collapsed into one bin. Category
names are compared as strings (``str(value)``); None and float NaN are nulls.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from modelops.core.drift.sketch_numeric import verify_fingerprint

IntArray = npt.NDArray[np.int64]

DEFAULT_TOP_K = 100
DEFAULT_MAX_KNOWN = 10_000
MAX_UNSEEN_NAMES = 1_000
SKETCH_FORMAT = "modelops.io/categorical-sketch/v1"
WINDOW_FORMAT = "modelops.io/categorical-window/v1"


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def value_counts(values: npt.ArrayLike) -> tuple[list[str], IntArray, int]:
    """(names, counts, nulls) of a raw batch; names are ``str(value)``, in sorted order."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"a column batch must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        null_mask = np.isnan(arr)
        kept = arr[~null_mask]
    elif arr.dtype == object:
        null_mask = np.fromiter((_is_null(v) for v in arr), dtype=bool, count=arr.size)
        kept = arr[~null_mask].astype(str)
    else:
        null_mask = np.zeros(arr.size, dtype=bool)
        kept = arr
    uniques, counts = np.unique(kept, return_counts=True)
    return [str(u) for u in uniques.tolist()], counts.astype(np.int64), int(null_mask.sum())


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    """What a categorical feature looked like in the reference: see the module docstring."""

    categories: tuple[str, ...]
    counts: IntArray
    other: int
    other_names: tuple[str, ...]
    other_names_complete: bool
    singletons: int
    nulls: int
    fingerprint: str = field(init=False)
    index: dict[str, int] = field(init=False, repr=False)
    known: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.categories) != self.counts.size:
            raise ValueError("a categorical sketch needs one count per category")
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("categorical sketch has duplicated categories")
        digest = hashlib.sha256(json.dumps(list(self.categories)).encode()).hexdigest()[:16]
        object.__setattr__(self, "fingerprint", digest)
        object.__setattr__(self, "index", {c: i for i, c in enumerate(self.categories)})
        object.__setattr__(self, "known", frozenset(self.categories) | frozenset(self.other_names))

    @property
    def n(self) -> int:
        """Non-null reference values."""
        return int(self.counts.sum()) + self.other

    @property
    def total(self) -> int:
        return self.n + self.nulls

    def bins(self) -> IntArray:
        """Counts over ``[categories…, other, unseen]``; unseen is 0 in the reference."""
        return np.concatenate([self.counts, [self.other, 0]]).astype(np.int64)

    @staticmethod
    def build(
        values: npt.ArrayLike, *, top_k: int = DEFAULT_TOP_K, max_known: int = DEFAULT_MAX_KNOWN
    ) -> CategoricalReference:
        """Summarise a reference column once."""
        names, counts, nulls = value_counts(values)
        return CategoricalReference.from_counts(names, counts, nulls=nulls, top_k=top_k, max_known=max_known)

    @staticmethod
    def from_counts(
        names: Sequence[str],
        counts: npt.ArrayLike,
        *,
        nulls: int = 0,
        top_k: int = DEFAULT_TOP_K,
        max_known: int = DEFAULT_MAX_KNOWN,
    ) -> CategoricalReference:
        """Summarise reference value counts (e.g. from pyarrow's ``value_counts``)."""
        c = np.asarray(counts, dtype=np.int64)
        if len(names) != c.size or (c < 0).any():
            raise ValueError("value counts need one non-negative count per name")
        merged: dict[str, int] = {}
        for name, count in zip(names, c.tolist(), strict=True):
            if count:
                merged[str(name)] = merged.get(str(name), 0) + count
        ordered = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
        top, rest = ordered[:top_k], ordered[top_k:]
        return CategoricalReference(
            categories=tuple(name for name, _ in top),
            counts=np.array([count for _, count in top], dtype=np.int64),
            other=sum(count for _, count in rest),
            other_names=tuple(name for name, _ in rest[:max_known]),
            other_names_complete=len(rest) <= max_known,
            singletons=sum(1 for _, count in ordered if count == 1),
            nulls=int(nulls),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SKETCH_FORMAT,
            "type": "categorical",
            "categories": list(self.categories),
            "counts": self.counts.tolist(),
            "other": self.other,
            "otherNames": list(self.other_names),
            "otherNamesComplete": self.other_names_complete,
            "singletons": self.singletons,
            "nulls": self.nulls,
            "fingerprint": self.fingerprint,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> CategoricalReference:
        if data.get("format") != SKETCH_FORMAT:
            raise ValueError(f"not a categorical reference sketch: format {data.get('format')!r}")
        ref = CategoricalReference(
            categories=tuple(str(c) for c in data["categories"]),
            counts=np.asarray(data["counts"], dtype=np.int64),
            other=int(data["other"]),
            other_names=tuple(str(c) for c in data["otherNames"]),
            other_names_complete=bool(data["otherNamesComplete"]),
            singletons=int(data["singletons"]),
            nulls=int(data["nulls"]),
        )
        verify_fingerprint(data, ref.fingerprint, "categorical")
        return ref

    def window(self) -> CategoricalWindow:
        """An empty current window over this reference's categories."""
        return CategoricalWindow(reference=self, counts=np.zeros(len(self.categories), dtype=np.int64))


@dataclass(eq=False)
class CategoricalWindow:
    """Current-window counts over a reference's categories; mutable by ``update``, mergeable by addition."""

    reference: CategoricalReference
    counts: IntArray
    other: int = 0
    unseen: dict[str, int] = field(default_factory=dict)
    unseen_overflow: int = 0  # unseen values whose names were dropped past MAX_UNSEEN_NAMES
    nulls: int = 0

    @property
    def unseen_total(self) -> int:
        return sum(self.unseen.values()) + self.unseen_overflow

    @property
    def n(self) -> int:
        return int(self.counts.sum()) + self.other + self.unseen_total

    @property
    def total(self) -> int:
        return self.n + self.nulls

    def bins(self) -> IntArray:
        """Counts over ``[categories…, other, unseen]``, aligned with ``reference.bins()``."""
        return np.concatenate([self.counts, [self.other, self.unseen_total]]).astype(np.int64)

    def update(self, values: npt.ArrayLike) -> CategoricalWindow:
        """Add a batch of raw values. Returns self."""
        names, counts, nulls = value_counts(values)
        return self.update_counts(names, counts, nulls=nulls)

    def update_codes(self, codes: npt.ArrayLike, dictionary: Sequence[Any]) -> CategoricalWindow:
        """Add a dictionary-encoded batch: ``codes`` index ``dictionary``, −1 is a null (pyarrow's
        ``DictionaryArray.indices`` with nulls filled by −1). Counting is one ``bincount``."""
        c = np.asarray(codes, dtype=np.int64)
        nulls = int((c < 0).sum())
        counts = np.bincount(c[c >= 0], minlength=len(dictionary))
        if counts.size > len(dictionary):
            raise ValueError("a dictionary code is out of range")
        return self.update_counts([str(v) for v in dictionary], counts, nulls=nulls)

    def update_counts(self, names: Sequence[str], counts: npt.ArrayLike, *, nulls: int = 0) -> CategoricalWindow:
        """Add value counts of a batch (names are compared as strings). Returns self."""
        c = np.asarray(counts, dtype=np.int64)
        if len(names) != c.size or (c < 0).any():
            raise ValueError("value counts need one non-negative count per name")
        index, known = self.reference.index, self.reference.known
        for name, count in zip(names, c.tolist(), strict=True):
            if not count:
                continue
            key = str(name)
            i = index.get(key)
            if i is not None:
                self.counts[i] += count
            elif key in known:
                self.other += count
            else:
                self.unseen[key] = self.unseen.get(key, 0) + count
        self.nulls += int(nulls)
        self._cap_unseen()
        return self

    def _cap_unseen(self) -> None:
        if len(self.unseen) <= MAX_UNSEEN_NAMES:
            return
        ordered = sorted(self.unseen.items(), key=lambda item: (-item[1], item[0]))
        self.unseen = dict(ordered[:MAX_UNSEEN_NAMES])
        self.unseen_overflow += sum(count for _, count in ordered[MAX_UNSEEN_NAMES:])

    def merge(self, other: CategoricalWindow) -> CategoricalWindow:
        """A new window holding both (every count adds; unseen names beyond the cap fold into a total)."""
        if other.reference.fingerprint != self.reference.fingerprint:
            raise ValueError("cannot merge windows over different reference categories (fingerprints differ)")
        unseen = dict(self.unseen)
        for name, count in other.unseen.items():
            unseen[name] = unseen.get(name, 0) + count
        merged = CategoricalWindow(
            reference=self.reference,
            counts=self.counts + other.counts,
            other=self.other + other.other,
            unseen=unseen,
            unseen_overflow=self.unseen_overflow + other.unseen_overflow,
            nulls=self.nulls + other.nulls,
        )
        merged._cap_unseen()
        return merged

    __add__ = merge

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": WINDOW_FORMAT,
            "fingerprint": self.reference.fingerprint,
            "counts": self.counts.tolist(),
            "other": self.other,
            "unseen": dict(sorted(self.unseen.items())),
            "unseenOverflow": self.unseen_overflow,
            "nulls": self.nulls,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any], reference: CategoricalReference) -> CategoricalWindow:
        if data.get("format") != WINDOW_FORMAT:
            raise ValueError(f"not a categorical window: format {data.get('format')!r}")
        if data["fingerprint"] != reference.fingerprint:
            raise ValueError("this window was counted over other reference categories (fingerprints differ)")
        counts = np.asarray(data["counts"], dtype=np.int64)
        if counts.size != len(reference.categories):
            raise ValueError("window has a different number of categories than its reference")
        return CategoricalWindow(
            reference=reference,
            counts=counts,
            other=int(data["other"]),
            unseen={str(k): int(v) for k, v in data["unseen"].items()},
            unseen_overflow=int(data["unseenOverflow"]),
            nulls=int(data["nulls"]),
        )
