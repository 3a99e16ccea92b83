"""Verdicts: feature specs, reference sketches and current windows in; per feature × statistic
results and one overall verdict out. Pure: no clock, no I/O (the drift job supplies the window).

Owns the engine's vocabulary and defaults:

- the statistics of ``modelops.api.driftmonitor.Statistic`` (``psi``, ``ks``, ``js``,
  ``wasserstein``, ``nullRate``, ``schema``) with the meanings of its threshold fields (KS is the
  statistic D, not a p-value; nullRate the increase of the null share), plus the engine's own
  checks (``infRate``, ``unseenShare`` for categorical features, ``outOfRange`` for numeric ones),
  which run on every feature unless ``own_checks`` is off, together with ``nullRate``: they catch
  what a distance misses (a null rate from 1% to 5%, a new category at 0.5% move PSI by about
  0.02, far under 0.2);
- ``DEFAULT_THRESHOLDS``: the API's built-ins (nullRate 0.01: a 1% → 5% null spike is drift) —
  a caller passes the thresholds a user SET; unset ones use these;
- ``ks`` and ``wasserstein`` apply to numeric features only: on a categorical one the result is
  ``notApplicable`` (never silently dropped).

Each result carries value, threshold, noise floor, p-value (KS), sample sizes, verdict and a
sentence that says why; the overall verdict follows ``outcome.overall``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from modelops.api.driftmonitor import FeatureType, Statistic
from modelops.core.drift import statistics as st
from modelops.core.drift.outcome import Verdict, decide, overall
from modelops.core.drift.schema import SchemaReport
from modelops.core.drift.sketch_categorical import CategoricalReference, CategoricalWindow
from modelops.core.drift.sketch_numeric import NumericReference, NumericWindow

INF_RATE = "infRate"
UNSEEN_SHARE = "unseenShare"
OUT_OF_RANGE = "outOfRange"

DEFAULT_THRESHOLDS: dict[str, float] = {
    Statistic.PSI.value: 0.2,
    Statistic.KS.value: 0.1,
    Statistic.JS.value: 0.1,
    Statistic.WASSERSTEIN.value: 0.1,
    Statistic.NULL_RATE.value: 0.01,
    Statistic.SCHEMA.value: 0.0,
    INF_RATE: 0.01,
    UNSEEN_SHARE: 0.002,
    OUT_OF_RANGE: 0.01,
}
NUMERIC_ONLY = frozenset({Statistic.KS.value, Statistic.WASSERSTEIN.value, INF_RATE, OUT_OF_RANGE})
CATEGORICAL_ONLY = frozenset({UNSEEN_SHARE})

Reference = NumericReference | CategoricalReference
Window = NumericWindow | CategoricalWindow


@dataclass(frozen=True)
class FeatureSpec:
    """A feature to judge: name, type, requested statistics, thresholds set by the user."""

    name: str
    type: FeatureType
    statistics: tuple[str, ...] = (Statistic.PSI.value,)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    own_checks: bool = True

    def checks(self) -> tuple[str, ...]:
        wanted = [str(s) for s in self.statistics]
        if self.own_checks:
            own = [Statistic.NULL_RATE.value]
            own += [INF_RATE, OUT_OF_RANGE] if self.type == FeatureType.NUMERIC else [UNSEEN_SHARE]
            wanted += [c for c in own if c not in wanted]
        return tuple(dict.fromkeys(wanted))

    def threshold(self, statistic: str) -> float:
        value = self.thresholds.get(statistic)
        return DEFAULT_THRESHOLDS[statistic] if value is None else float(value)


@dataclass(frozen=True)
class Result:
    feature: str
    statistic: str
    value: float | None
    threshold: float
    noise_floor: float
    verdict: Verdict
    n_reference: int
    n_current: int
    p_value: float | None
    message: str


@dataclass(frozen=True)
class Evaluation:
    results: tuple[Result, ...]
    verdict: Verdict

    @property
    def drifted(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.verdict == Verdict.DRIFT)

    def result(self, feature: str, statistic: str) -> Result:
        for r in self.results:
            if r.feature == feature and r.statistic == statistic:
                return r
        raise KeyError((feature, statistic))


def _numeric(statistic: str, ref: NumericReference, win: NumericWindow) -> st.Measurement:
    return {
        Statistic.PSI.value: st.psi_numeric,
        Statistic.KS.value: st.ks_numeric,
        Statistic.JS.value: st.js_numeric,
        Statistic.WASSERSTEIN.value: st.wasserstein_numeric,
        Statistic.NULL_RATE.value: st.null_rate,
        INF_RATE: st.inf_rate,
        OUT_OF_RANGE: st.out_of_range,
    }[statistic](ref, win)


def _categorical(statistic: str, ref: CategoricalReference, win: CategoricalWindow) -> st.Measurement:
    return {
        Statistic.PSI.value: st.psi_categorical,
        Statistic.JS.value: st.js_categorical,
        Statistic.NULL_RATE.value: st.null_rate,
        UNSEEN_SHARE: st.unseen_share,
    }[statistic](ref, win)


def _message(verdict: Verdict, value: float | None, threshold: float, floor: float, n: int, m: int) -> str:
    if verdict == Verdict.NOT_ENOUGH_DATA:
        return f"not enough data: {n} reference and {m} current values"
    if verdict == Verdict.NOISE_FLOOR_TOO_HIGH:
        return (
            f"refused: the no-drift noise floor {floor:.4g} exceeds a third of the threshold {threshold:g} "
            f"at {n} reference and {m} current values; more data is needed to tell drift from chance"
        )
    assert value is not None
    relation = "above" if verdict == Verdict.DRIFT else "not above"
    return f"{value:.4g} is {relation} the threshold {threshold:g} (noise floor {floor:.2g})"


def _judge(spec: FeatureSpec, statistic: str, ref: Reference | None, win: Window | None,
           schema: SchemaReport | None) -> Result:
    threshold = spec.threshold(statistic)
    numeric = spec.type == FeatureType.NUMERIC
    if (numeric and statistic in CATEGORICAL_ONLY) or (not numeric and statistic in NUMERIC_ONLY):
        return Result(spec.name, statistic, None, threshold, 0.0, Verdict.NOT_APPLICABLE, 0, 0, None,
                      f"{statistic} does not apply to {spec.type.value} features")
    if statistic == Statistic.SCHEMA.value:
        value = schema.violation(spec.name) if schema is not None else (1.0 if win is None else 0.0)
        verdict = Verdict.DRIFT if value > threshold else Verdict.NO_DRIFT
        n_cur = win.total if win is not None else 0
        return Result(spec.name, statistic, value, threshold, 0.0, verdict, 0, n_cur, None,
                      "column missing or of the wrong type" if value else "column present with the signature's type")
    if ref is None or win is None:
        return Result(spec.name, statistic, None, threshold, math.inf, Verdict.NOT_ENOUGH_DATA, 0, 0, None,
                      "no reference sketch" if ref is None else "column absent from the current window")
    if isinstance(ref, NumericReference) and isinstance(win, NumericWindow) and numeric:
        measured = _numeric(statistic, ref, win)
    elif isinstance(ref, CategoricalReference) and isinstance(win, CategoricalWindow) and not numeric:
        measured = _categorical(statistic, ref, win)
    else:
        raise TypeError(f"feature {spec.name}: sketch kinds do not match its type {spec.type.value}")
    verdict = decide(measured.value, threshold, measured.noise_floor)
    return Result(spec.name, statistic, measured.value, threshold, measured.noise_floor, verdict,
                  measured.n_reference, measured.n_current, measured.p_value,
                  _message(verdict, measured.value, threshold, measured.noise_floor,
                           measured.n_reference, measured.n_current))


def evaluate(
    specs: Sequence[FeatureSpec],
    references: Mapping[str, Reference],
    windows: Mapping[str, Window],
    *,
    schema: SchemaReport | None = None,
) -> Evaluation:
    """Judge every feature × statistic (see the module docstring)."""
    results = tuple(
        _judge(spec, statistic, references.get(spec.name), windows.get(spec.name), schema)
        for spec in specs
        for statistic in spec.checks()
    )
    return Evaluation(results, overall([r.verdict for r in results]))
