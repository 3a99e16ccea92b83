"""Verdicts: one measurement against a check's bounds, and a step's measurements against the limits.

Owns the two halves of Argo Rollouts' ``assessMetricStatus`` idea:

- ``judge`` turns one number (or its absence, or a provider error) into a ``Measurement`` with a
  verdict: Successful, Failed, Inconclusive or Error.
- ``assess`` folds the measurements of the current step into counters and an ``Assessment``:
  Running, Successful, Failed (roll back) or Inconclusive (pause for a human).

The rules, and why:

- **Missing data is never a pass and never an instant failure.** No sample, a NaN (Prometheus'
  0/0 when a version got no traffic) or too few samples is Inconclusive. Too many Inconclusives
  pause the rollout for a human instead of guessing either way.
- **A provider error is not a failure.** Prometheus being down says nothing about the model, so
  an Error never counts towards ``failureLimit``. Argo ends the analysis in its own ``Error``
  phase (which aborts the rollout) after ``consecutiveErrorLimit``; here that outcome is
  **Inconclusive**, because rolling back a healthy model when monitoring is down is as wrong as
  promoting an unmeasured one. Either way a rollout never promotes on missing data.
- **Limits are "more than":** Failed when failures > failureLimit, Inconclusive when
  inconclusives > inconclusiveLimit or when one check's consecutive errors > consecutiveErrorLimit,
  exactly Argo's comparisons, so ``failureLimit: 0`` means the first failure rolls back.
- **Counting scope.** ``failures`` and ``inconclusives`` are totals over every check in the step —
  the API states the limits once for the whole analysis ("more measurements than this") and keeps
  one counter of each in status, so the totals can be carried from tick to tick. Consecutive
  errors are counted **per check**, because interleaving would otherwise hide a dead provider: a
  Prometheus check erroring every tick next to a healthy built-in check must still trip the limit.
  With the default ``failureLimit: 0`` this is identical to Argo's per-metric counting; with a
  larger limit it is stricter, which is the safe side for a gate.
- **Completion needs fresh evidence.** When the step's time is up (``complete=True``) the analysis
  is Successful only if every check's latest measurement is Successful. Otherwise it stays
  Running: the next tick either succeeds or adds to a counter, so the wait is bounded by the limits
  (Argo would call a finished analysis Successful even with no measurement at all).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from modelops.api.rollout import Measurement, Verdict

# Measurement.message is a Text (<= 4096 chars); a provider's error body can be much longer, and a
# status full of stack traces helps nobody. Keep the head, which names the problem.
MESSAGE_LIMIT = 1024


class Bounds(Protocol):
    """What ``judge`` needs of a check: its name and inclusive bounds (``AnalysisCheck`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def min(self) -> float | None: ...

    @property
    def max(self) -> float | None: ...


class Limits(Protocol):
    """What ``assess`` needs of the analysis spec (``modelops.api.rollout.Analysis`` fits)."""

    @property
    def failure_limit(self) -> int: ...

    @property
    def inconclusive_limit(self) -> int: ...

    @property
    def consecutive_error_limit(self) -> int: ...


class AnalysisPhase(StrEnum):
    """Where the analysis of a step stands. The state machine maps Failed to a rollback and
    Inconclusive to a pause for a human; only Successful lets the step complete."""

    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


def _show(value: float) -> str:
    # Prometheus spells infinities +Inf/-Inf (histogram_quantile above the last bucket); say it the same way.
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def judge(
    check: Bounds,
    value: float | None,
    *,
    at: datetime,
    step: int | None = None,
    error: str | None = None,
    samples: int | None = None,
    min_samples: int | None = None,
) -> Measurement:
    """Judge one measurement of ``check`` taken ``at`` (an argument: core never reads the clock).

    In order: a provider ``error`` is Error (whatever the value); no value or NaN is Inconclusive;
    fewer ``samples`` than ``min_samples`` is Inconclusive; a value outside [min, max] (inclusive)
    is Failed; anything else is Successful. ±Inf is a real reading (a p99 above the last histogram
    bucket) and is judged against the bounds, but stored as null because JSON has no infinity.
    """
    finite = value if value is not None and math.isfinite(value) else None

    def made(verdict: Verdict, message: str, stored: float | None = finite) -> Measurement:
        return Measurement(check=check.name, value=stored, verdict=verdict, at=at, step=step, message=_clip(message))

    if error is not None:
        # An error is about the provider, not the model: never Failed, however bad the value looks.
        return made(Verdict.ERROR, f"{check.name}: could not measure: {error}", stored=None)
    if value is None or math.isnan(value):
        return made(Verdict.INCONCLUSIVE, f"{check.name}: no data")
    if min_samples is not None and min_samples > 0 and (samples is None or samples < min_samples):
        # A rate over a handful of requests is noise; too little traffic must not pass a gate
        # (and must not fail one either).
        seen = "an unknown number of" if samples is None else f"only {samples}"
        return made(
            Verdict.INCONCLUSIVE, f"{check.name}: {seen} samples, at least {min_samples} needed (value {_show(value)})"
        )
    if check.min is not None and value < check.min:
        return made(Verdict.FAILED, f"{check.name}: {_show(value)} is below min {_show(check.min)}")
    if check.max is not None and value > check.max:
        return made(Verdict.FAILED, f"{check.name}: {_show(value)} is above max {_show(check.max)}")
    return made(Verdict.SUCCESSFUL, f"{check.name}: {_show(value)} is within {_range(check)}")


def _range(check: Bounds) -> str:
    low = "-Inf" if check.min is None else _show(check.min)
    high = "+Inf" if check.max is None else _show(check.max)
    return f"[{low}, {high}]"


@dataclass(frozen=True)
class Tally:
    """The counters of one step, folded measurement by measurement (oldest first).

    ``failures``/``inconclusives``/``errors`` are totals over all checks; ``consecutive_errors`` is
    the current run of Errors of each check (any other verdict of that check ends its run);
    ``latest`` is each check's newest measurement. Carried between ticks, it makes ``assess``
    independent of how much history status still keeps (status keeps the last 100 measurements).
    """

    failures: int = 0
    inconclusives: int = 0
    errors: int = 0
    consecutive_errors: Mapping[str, int] = field(default_factory=dict)
    latest: Mapping[str, Measurement] = field(default_factory=dict)
    last_failed: Measurement | None = None
    last_inconclusive: Measurement | None = None

    def add(self, measurement: Measurement) -> Tally:
        verdict, check = measurement.verdict, measurement.check
        runs = dict(self.consecutive_errors)
        runs[check] = runs.get(check, 0) + 1 if verdict is Verdict.ERROR else 0
        latest = {**self.latest, check: measurement}
        if verdict is Verdict.FAILED:
            return replace(
                self, failures=self.failures + 1, consecutive_errors=runs, latest=latest, last_failed=measurement
            )
        if verdict is Verdict.INCONCLUSIVE:
            return replace(
                self,
                inconclusives=self.inconclusives + 1,
                consecutive_errors=runs,
                latest=latest,
                last_inconclusive=measurement,
            )
        if verdict is Verdict.ERROR:
            return replace(self, errors=self.errors + 1, consecutive_errors=runs, latest=latest)
        return replace(self, consecutive_errors=runs, latest=latest)

    def extend(self, measurements: Iterable[Measurement]) -> Tally:
        tally = self
        for measurement in measurements:
            tally = tally.add(measurement)
        return tally

    @classmethod
    def of(cls, measurements: Iterable[Measurement]) -> Tally:
        return cls().extend(measurements)

    @classmethod
    def resume(cls, *, failures: int | None, inconclusives: int | None, recent: Sequence[Measurement],
               runs: Mapping[str, int] | None = None, latest: Mapping[str, Measurement] | None = None) -> Tally:
        """Rebuild the tally of the running step from status: the counters status stores, plus the
        step's most recent measurements (for the per-check error runs and latest verdicts), and the
        per-check summary when status has one (``runs``, ``latest``: its runs of Errors and last
        measurements, which outlast the short tail of measurements status keeps).

        The stored totals win over a recount of ``recent`` because status keeps only a short tail
        of measurements; the larger of the two is taken so a stale counter can never forgive a
        failure — and the longer of two runs of Errors.
        """
        recount = cls.of(recent)
        merged_runs = dict(recount.consecutive_errors)
        for check, run in (runs or {}).items():
            merged_runs[check] = max(run, merged_runs.get(check, 0))
        return replace(
            recount,
            failures=max(failures or 0, recount.failures),
            inconclusives=max(inconclusives or 0, recount.inconclusives),
            consecutive_errors=merged_runs,
            latest={**(latest or {}), **recount.latest},
        )

    @property
    def longest_error_run(self) -> tuple[str | None, int]:
        """(check, run) of the check with the longest current run of Errors; (None, 0) without one."""
        best: tuple[str | None, int] = (None, 0)
        for check, run in sorted(self.consecutive_errors.items()):
            if run > best[1]:
                best = (check, run)
        return best


@dataclass(frozen=True)
class Assessment:
    """The state of a step's analysis. ``failures``, ``inconclusives`` and ``consecutive_errors``
    are the numbers for status.analysis (the last being the longest run of any one check);
    ``culprit`` is the measurement that decided a Failed or Inconclusive phase."""

    phase: AnalysisPhase
    failures: int
    inconclusives: int
    consecutive_errors: int
    message: str
    tally: Tally
    culprit: Measurement | None = None


def assess(
    measurements: Iterable[Measurement],
    limits: Limits,
    *,
    prior: Tally | None = None,
    checks: Sequence[str] | None = None,
    complete: bool = False,
) -> Assessment:
    """Fold ``measurements`` (oldest first; the whole step, or only the new ones on top of ``prior``)
    and apply the limits.

    Precedence, when several limits are crossed at once: Failed, then Inconclusive (too many
    inconclusives), then Inconclusive (a provider kept erroring) — a measured failure is the
    strongest evidence there is. ``checks`` names the configured checks, each of which needs a
    Successful latest measurement before ``complete=True`` can make the phase Successful; without
    it, the checks seen so far are used.
    """
    tally = (prior or Tally()).extend(measurements)
    check, run = tally.longest_error_run

    def result(phase: AnalysisPhase, message: str, culprit: Measurement | None = None) -> Assessment:
        return Assessment(
            phase=phase,
            failures=tally.failures,
            inconclusives=tally.inconclusives,
            consecutive_errors=run,
            message=_clip(message),
            tally=tally,
            culprit=culprit,
        )

    if tally.failures > limits.failure_limit:
        culprit = tally.last_failed
        return result(
            AnalysisPhase.FAILED,
            f"{_about(culprit)} ({tally.failures} failed measurements > failureLimit {limits.failure_limit})",
            culprit,
        )
    if tally.inconclusives > limits.inconclusive_limit:
        culprit = tally.last_inconclusive
        return result(
            AnalysisPhase.INCONCLUSIVE,
            f"{_about(culprit)} ({tally.inconclusives} inconclusive measurements > inconclusiveLimit "
            f"{limits.inconclusive_limit}); waiting for a human",
            culprit,
        )
    if check is not None and run > limits.consecutive_error_limit:
        culprit = tally.latest[check]
        return result(
            AnalysisPhase.INCONCLUSIVE,
            f"{_about(culprit)} ({run} consecutive errors > consecutiveErrorLimit "
            f"{limits.consecutive_error_limit}); a provider error is not a failure, waiting for a human",
            culprit,
        )
    counted = (
        f"{tally.failures} failed, {tally.inconclusives} inconclusive, {tally.errors} errors "
        f"(limits {limits.failure_limit}/{limits.inconclusive_limit}/{limits.consecutive_error_limit} consecutive)"
    )
    if not complete:
        return result(AnalysisPhase.RUNNING, counted)
    names = list(checks) if checks is not None else sorted(tally.latest)
    if not names:
        return result(AnalysisPhase.RUNNING, "no measurement yet; a step never passes unmeasured")
    waiting = [
        name for name in names if name not in tally.latest or tally.latest[name].verdict is not Verdict.SUCCESSFUL
    ]
    if waiting:
        # Completion on stale or missing evidence would be a pass on missing data: keep measuring.
        # Each further tick either passes or adds to a counter, so the limits bound this wait.
        states = ", ".join(
            f"{name} ({tally.latest[name].verdict.value if name in tally.latest else 'not measured'})"
            for name in waiting
        )
        return result(AnalysisPhase.RUNNING, f"waiting for a successful measurement of {states}; {counted}")
    return result(AnalysisPhase.SUCCESSFUL, f"all {len(names)} checks passed; {counted}")


def _about(measurement: Measurement | None) -> str:
    if measurement is None:  # only when a prior tally was resumed without its measurements
        return "limit exceeded"
    return measurement.message or f"{measurement.check}: {measurement.verdict.value}"
