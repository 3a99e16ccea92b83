"""Sketches of a NUMERIC feature: the stored reference, and mergeable current windows over its bins.

Owns:

- ``NumericReference``: built once from the reference column (``NumericReference.build``). Fine
  bins cut at reference quantiles (``fine_bins``, default 200; every distinct value gets its own
  bin when there are fewer distinct values than that), with per-bin counts and sums, the coarse
  quantile bins PSI and JS use (``coarse_bins``, default 10: deciles, the usual PSI practice — a
  statistic's no-drift noise floor grows with its bin count, see ``noise``), min/max, mean and
  standard deviation, and null / +inf / −inf counts. ``to_dict``/``from_dict`` give plain JSON
  types (floats round-trip exactly through Python's ``json``) for an artifact or a ConfigMap.
- ``NumericWindow``: counts over the SAME bins for a window of current data, updated from batches
  (``update``), merged by addition (``merge``/``+``): integer counts add exactly, min/max combine
  exactly, and float sums add up to rounding, so a window merged from shards equals the window
  computed on their union.

Bins are right-closed, ``(e[i−1], e[i]]``, with ``(−inf, e[0]]`` first and ``(e[-1], +inf)``
last, so cumulative counts are the ECDF exactly at the edges (what KS on bins needs; Prometheus
``le`` buckets use the same convention). Edges are reference values at quantile levels i/fine_bins
(the "inverted CDF" quantile, so with ties an edge is a value that occurs); duplicates collapse.
NaN (and None) is a null; ±inf are counted on their own and kept out of the bins, as Evidently
drops them before any statistic (``get_one_column_drift`` in
``src/evidently/legacy/calculations/data_drift.py``).

Batches are binned by sorting them in cache-sized blocks and locating the edges in each sorted
block: numpy's vectorised sort of 65,536-value blocks runs at about 75 M values/s where
``searchsorted`` of every value among the edges manages 15 M/s (measured on this project's machines).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_FINE_BINS = 200
DEFAULT_COARSE_BINS = 10
BLOCK = 1 << 16
SKETCH_FORMAT = "modelops.io/numeric-sketch/v1"
WINDOW_FORMAT = "modelops.io/numeric-window/v1"


def as_float_column(values: npt.ArrayLike) -> FloatArray:
    """A batch as a one-dimensional float64 array; None becomes NaN (a null)."""
    arr = np.asarray(values)
    if arr.dtype == object:
        arr = np.array([np.nan if v is None else v for v in arr.ravel()], dtype=np.float64)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"a column batch must be one-dimensional, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class SortedBatch:
    """A batch split into its sorted finite values and its null / ±inf counts (one sort, reused)."""

    finite: FloatArray
    nulls: int
    pos_inf: int
    neg_inf: int

    @staticmethod
    def of(values: npt.ArrayLike) -> SortedBatch:
        arr = np.sort(as_float_column(values))  # -inf first, then finite, +inf, NaN last
        n = arr.size
        end_finite = int(np.searchsorted(arr, np.inf, side="left"))
        end_inf = int(np.searchsorted(arr, np.inf, side="right")) if n else 0
        start = int(np.searchsorted(arr, -np.inf, side="right"))
        nulls = n - end_inf
        return SortedBatch(arr[start:end_finite], nulls, end_inf - end_finite, start)


def _bin_sorted(finite_sorted: FloatArray, edges: FloatArray) -> tuple[IntArray, FloatArray]:
    """Counts and sums per right-closed bin of sorted finite values."""
    bounds = np.searchsorted(finite_sorted, edges, side="right")
    starts = np.concatenate([[0], bounds]).astype(np.int64)
    stops = np.concatenate([bounds, [finite_sorted.size]]).astype(np.int64)
    counts = (stops - starts).astype(np.int64)
    sums = np.zeros(counts.size)
    nonempty = counts > 0
    if finite_sorted.size:
        sums[nonempty] = np.add.reduceat(finite_sorted, starts[nonempty])
    return counts, sums


def verify_fingerprint(data: Any, actual: str, what: str) -> None:
    """A stored sketch's fingerprint must be the one its content hashes to (no silent edits)."""
    if "fingerprint" in data and data["fingerprint"] != actual:
        raise ValueError(f"{what} sketch fingerprint does not match its content: the sketch was altered")


class _Totals:
    """``n`` (finite values in the bins) and ``total`` (every row) of a numeric sketch or window."""

    counts: IntArray
    nulls: int
    pos_inf: int
    neg_inf: int

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def total(self) -> int:
        return self.n + self.nulls + self.pos_inf + self.neg_inf


def _fingerprint(edges: FloatArray) -> str:
    return hashlib.sha256(np.ascontiguousarray(edges, dtype="<f8").tobytes()).hexdigest()[:16]


def _coarse_starts(edges: FloatArray, coarse_edges: FloatArray) -> IntArray:
    """Index of the first fine bin of every coarse bin (coarse edges are a subset of fine edges)."""
    positions = np.searchsorted(edges, coarse_edges, side="left")
    return np.concatenate([[0], positions + 1]).astype(np.int64)


@dataclass(frozen=True, eq=False)
class NumericReference(_Totals):
    """What a numeric feature looked like in the reference: see the module docstring."""

    edges: FloatArray
    counts: IntArray
    sums: FloatArray
    coarse_edges: FloatArray
    nulls: int
    pos_inf: int
    neg_inf: int
    minimum: float
    maximum: float
    mean: float
    std: float
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        if self.counts.size != self.edges.size + 1 or self.sums.size != self.counts.size:
            raise ValueError("a numeric sketch needs len(edges) + 1 counts and sums")
        if self.edges.size and not (np.diff(self.edges) > 0).all():
            raise ValueError("sketch edges must be strictly increasing")
        if not np.isin(self.coarse_edges, self.edges).all():
            raise ValueError("coarse edges must be a subset of the fine edges")
        object.__setattr__(self, "fingerprint", _fingerprint(self.edges))

    @property
    def coarse_starts(self) -> IntArray:
        return _coarse_starts(self.edges, self.coarse_edges)

    @staticmethod
    def build(
        values: npt.ArrayLike, *, fine_bins: int = DEFAULT_FINE_BINS, coarse_bins: int = DEFAULT_COARSE_BINS
    ) -> NumericReference:
        """Summarise a reference column once (the whole column: quantiles need all of it)."""
        if fine_bins < 2 or coarse_bins < 2 or fine_bins % coarse_bins:
            raise ValueError("fine_bins must be a multiple of coarse_bins, both at least 2")
        batch = SortedBatch.of(values)
        x = batch.finite
        if x.size == 0:
            edges = np.empty(0)
            coarse = np.empty(0)
        else:
            unique = np.unique(x)
            if unique.size <= fine_bins:
                edges = unique[:-1]  # one bin per distinct value
            else:
                edges = np.unique(_inverted_cdf(x, np.arange(1, fine_bins) / fine_bins))
                edges = edges[edges < x[-1]]
            coarse = np.unique(_inverted_cdf(x, np.arange(1, coarse_bins) / coarse_bins))
            coarse = coarse[np.isin(coarse, edges)]
        counts, sums = _bin_sorted(x, edges)
        return NumericReference(
            edges=edges,
            counts=counts,
            sums=sums,
            coarse_edges=coarse,
            nulls=batch.nulls,
            pos_inf=batch.pos_inf,
            neg_inf=batch.neg_inf,
            minimum=float(x[0]) if x.size else math.nan,
            maximum=float(x[-1]) if x.size else math.nan,
            mean=float(np.mean(x)) if x.size else math.nan,
            std=float(np.std(x)) if x.size else math.nan,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; NaN statistics (no finite values) become None."""

        def f(v: float) -> float | None:
            return None if math.isnan(v) else v

        return {
            "format": SKETCH_FORMAT,
            "type": "numeric",
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
            "coarseEdges": self.coarse_edges.tolist(),
            "nulls": self.nulls,
            "posInf": self.pos_inf,
            "negInf": self.neg_inf,
            "min": f(self.minimum),
            "max": f(self.maximum),
            "mean": f(self.mean),
            "std": f(self.std),
            "fingerprint": self.fingerprint,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> NumericReference:
        if data.get("format") != SKETCH_FORMAT:
            raise ValueError(f"not a numeric reference sketch: format {data.get('format')!r}")

        def f(v: float | None) -> float:
            return math.nan if v is None else float(v)

        ref = NumericReference(
            edges=np.asarray(data["edges"], dtype=np.float64),
            counts=np.asarray(data["counts"], dtype=np.int64),
            sums=np.asarray(data["sums"], dtype=np.float64),
            coarse_edges=np.asarray(data["coarseEdges"], dtype=np.float64),
            nulls=int(data["nulls"]),
            pos_inf=int(data["posInf"]),
            neg_inf=int(data["negInf"]),
            minimum=f(data["min"]),
            maximum=f(data["max"]),
            mean=f(data["mean"]),
            std=f(data["std"]),
        )
        verify_fingerprint(data, ref.fingerprint, "numeric")
        return ref

    def window(self) -> NumericWindow:
        """An empty current window over this reference's bins."""
        k = self.counts.size
        return NumericWindow(
            fingerprint=self.fingerprint,
            edges=self.edges,
            ref_min=self.minimum,
            ref_max=self.maximum,
            counts=np.zeros(k, dtype=np.int64),
            sums=np.zeros(k),
        )


def _inverted_cdf(sorted_values: FloatArray, levels: FloatArray) -> FloatArray:
    """``np.quantile(x, levels, method='inverted_cdf')`` on already sorted values."""
    n = sorted_values.size
    idx = np.clip(np.ceil(levels * n).astype(np.int64) - 1, 0, n - 1)
    return np.asarray(sorted_values[idx], dtype=np.float64)


@dataclass(eq=False)
class NumericWindow(_Totals):
    """Current-window counts over a reference's bins; mutable by ``update``, mergeable by addition."""

    fingerprint: str
    edges: FloatArray
    ref_min: float
    ref_max: float
    counts: IntArray
    sums: FloatArray
    nulls: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    below: int = 0  # finite values below the reference minimum
    above: int = 0  # finite values above the reference maximum
    minimum: float = math.inf
    maximum: float = -math.inf

    def update(self, values: npt.ArrayLike) -> NumericWindow:
        """Add a batch of raw values (any float-convertible array; NaN/None are nulls). Returns self.

        Sorted in blocks of ``BLOCK`` values: a block fits in the CPU cache, so sorting blocks
        runs about twice as fast as one big sort, and blocks merge by addition like shards.
        """
        arr = as_float_column(values)
        for start in range(0, arr.size, BLOCK):
            self.update_sorted(SortedBatch.of(arr[start : start + BLOCK]))
        return self

    def update_sorted(self, batch: SortedBatch) -> NumericWindow:
        """Add an already split and sorted batch (``SortedBatch.of``), e.g. one shared with parity."""
        x = batch.finite
        counts, sums = _bin_sorted(x, self.edges)
        self.counts += counts
        self.sums += sums
        self.nulls += batch.nulls
        self.pos_inf += batch.pos_inf
        self.neg_inf += batch.neg_inf
        if x.size:
            if not math.isnan(self.ref_min):
                self.below += int(np.searchsorted(x, self.ref_min, side="left"))
                self.above += int(x.size - np.searchsorted(x, self.ref_max, side="right"))
            else:
                self.above += int(x.size)
            self.minimum = min(self.minimum, float(x[0]))
            self.maximum = max(self.maximum, float(x[-1]))
        return self

    def merge(self, other: NumericWindow) -> NumericWindow:
        """A new window holding both: counts add, extremes combine."""
        if other.fingerprint != self.fingerprint:
            raise ValueError("cannot merge windows over different reference bins (fingerprints differ)")
        return NumericWindow(
            fingerprint=self.fingerprint,
            edges=self.edges,
            ref_min=self.ref_min,
            ref_max=self.ref_max,
            counts=self.counts + other.counts,
            sums=self.sums + other.sums,
            nulls=self.nulls + other.nulls,
            pos_inf=self.pos_inf + other.pos_inf,
            neg_inf=self.neg_inf + other.neg_inf,
            below=self.below + other.below,
            above=self.above + other.above,
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
        )

    __add__ = merge

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for a shard to hand its window to the merging step."""
        return {
            "format": WINDOW_FORMAT,
            "fingerprint": self.fingerprint,
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
            "nulls": self.nulls,
            "posInf": self.pos_inf,
            "negInf": self.neg_inf,
            "below": self.below,
            "above": self.above,
            "min": None if math.isinf(self.minimum) else self.minimum,
            "max": None if math.isinf(self.maximum) else self.maximum,
        }

    @staticmethod
    def from_dict(data: dict[str, Any], reference: NumericReference) -> NumericWindow:
        if data.get("format") != WINDOW_FORMAT:
            raise ValueError(f"not a numeric window: format {data.get('format')!r}")
        if data["fingerprint"] != reference.fingerprint:
            raise ValueError("this window was counted over other reference bins (fingerprints differ)")
        window = reference.window()
        window.counts = np.asarray(data["counts"], dtype=np.int64)
        window.sums = np.asarray(data["sums"], dtype=np.float64)
        if window.counts.size != reference.counts.size or window.sums.size != reference.counts.size:
            raise ValueError("window has a different number of bins than its reference")
        window.nulls, window.pos_inf, window.neg_inf = int(data["nulls"]), int(data["posInf"]), int(data["negInf"])
        window.below, window.above = int(data["below"]), int(data["above"])
        window.minimum = math.inf if data["min"] is None else float(data["min"])
        window.maximum = -math.inf if data["max"] is None else float(data["max"])
        return window
