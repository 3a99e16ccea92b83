"""Verdicts and limits (core.analysis.verdicts): one measurement against min/max, a step's
measurements against failureLimit / inconclusiveLimit / consecutiveErrorLimit, with Argo's ">"
comparisons — and missing data never a pass, never an instant failure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.api.analysis import Analysis, AnalysisCheck
from modelops.api.rollout import Measurement, Verdict
from modelops.core.analysis.verdicts import MESSAGE_LIMIT, AnalysisPhase, Tally, assess, judge

AT = datetime(2025, 1, 1, tzinfo=UTC)
S, F, I, E = Verdict.SUCCESSFUL, Verdict.FAILED, Verdict.INCONCLUSIVE, Verdict.ERROR  # noqa: E741
LETTER = {"S": S, "F": F, "I": I, "E": E}


def check(min: float | None = None, max: float | None = None, name: str = "error-rate") -> AnalysisCheck:
    body: dict[str, object] = {"name": name, "builtin": "errorRate"}
    if min is not None:
        body["min"] = min
    if max is not None:
        body["max"] = max
    return AnalysisCheck.model_validate(body)


def limits(failure: int = 0, inconclusive: int = 2, errors: int = 4) -> Analysis:
    # The real spec model: assess() must accept it as its Limits.
    return Analysis.model_validate(
        {
            "failureLimit": failure,
            "inconclusiveLimit": inconclusive,
            "consecutiveErrorLimit": errors,
            "checks": [{"name": "error-rate", "builtin": "errorRate", "max": 0.01}],
        }
    )


def m(verdict: Verdict, name: str = "a", i: int = 0, value: float | None = None) -> Measurement:
    return Measurement(
        check=name, verdict=verdict, value=value, at=AT + timedelta(minutes=i), message=f"{name} {verdict.value}"
    )


def seq(text: str, name: str = "a") -> list[Measurement]:
    """'SFIE' -> measurements of one check, oldest first."""
    return [m(LETTER[c], name, i) for i, c in enumerate(text)]


# ------------------------------------------------------------------------------------ judge

# (min, max, value, samples, min_samples, error, verdict, stored value, message)
JUDGE_TABLE = [
    (None, 0.01, 0.005, None, None, None, S, 0.005, "error-rate: 0.005 is within [-Inf, 0.01]"),
    (None, 0.01, 0.01, None, None, None, S, 0.01, "error-rate: 0.01 is within [-Inf, 0.01]"),  # max inclusive
    (None, 0.01, 0.0100001, None, None, None, F, 0.0100001, "error-rate: 0.0100001 is above max 0.01"),
    (0.9, None, 0.9, None, None, None, S, 0.9, "error-rate: 0.9 is within [0.9, +Inf]"),  # min inclusive
    (0.9, None, 0.8999, None, None, None, F, 0.8999, "error-rate: 0.8999 is below min 0.9"),
    (0.0, 1.0, 0.5, None, None, None, S, 0.5, "error-rate: 0.5 is within [0, 1]"),
    (0.0, 1.0, -0.1, None, None, None, F, -0.1, "error-rate: -0.1 is below min 0"),
    (0.0, 1.0, 1.5, None, None, None, F, 1.5, "error-rate: 1.5 is above max 1"),
    (2.0, 2.0, 2.0, None, None, None, S, 2.0, "error-rate: 2 is within [2, 2]"),  # min == max
    # No data: Inconclusive, never a pass and never a failure.
    (None, 0.01, None, None, None, None, I, None, "error-rate: no data"),
    (None, 0.01, math.nan, None, None, None, I, None, "error-rate: no data"),  # Prometheus 0/0
    # Infinity is a reading (histogram_quantile above the last bucket); stored as null (JSON).
    (None, 0.5, math.inf, None, None, None, F, None, "error-rate: +Inf is above max 0.5"),
    (0.0, None, -math.inf, None, None, None, F, None, "error-rate: -Inf is below min 0"),
    (0.0, None, math.inf, None, None, None, S, None, "error-rate: +Inf is within [0, +Inf]"),
    # A provider error is Error, whatever the value says.
    (None, 0.01, 0.5, None, None, "timeout", E, None, "error-rate: could not measure: timeout"),
    (None, 0.01, None, None, None, "503", E, None, "error-rate: could not measure: 503"),
    # Minimum-sample guard: too little traffic is Inconclusive, even for a failing value.
    (None, 0.01, 0.5, 99, 100, None, I, 0.5, "error-rate: only 99 samples, at least 100 needed (value 0.5)"),
    (None, 0.01, 0.0, 99, 100, None, I, 0.0, "error-rate: only 99 samples, at least 100 needed (value 0)"),
    (None, 0.01, 0.5, 100, 100, None, F, 0.5, "error-rate: 0.5 is above max 0.01"),  # boundary: enough
    (None, 0.01, 0.0, 100, 100, None, S, 0.0, "error-rate: 0 is within [-Inf, 0.01]"),
    (
        None,
        0.01,
        0.0,
        None,
        100,
        None,
        I,
        0.0,
        "error-rate: an unknown number of samples, at least 100 needed (value 0)",
    ),
    (None, 0.01, 0.5, 0, None, None, F, 0.5, "error-rate: 0.5 is above max 0.01"),  # no guard configured
]


@pytest.mark.parametrize(
    ("lo", "hi", "value", "samples", "min_samples", "error", "verdict", "stored", "message"), JUDGE_TABLE
)
def test_judge_table(
    lo: float | None,
    hi: float | None,
    value: float | None,
    samples: int | None,
    min_samples: int | None,
    error: str | None,
    verdict: Verdict,
    stored: float | None,
    message: str,
) -> None:
    got = judge(check(lo, hi), value, at=AT, step=3, error=error, samples=samples, min_samples=min_samples)
    assert got == Measurement(check="error-rate", value=stored, verdict=verdict, at=AT, step=3, message=message)


def test_judge_clips_long_provider_errors() -> None:
    got = judge(check(max=1), None, at=AT, error="x" * 10_000)
    assert got.verdict is E
    assert got.message is not None and len(got.message) == MESSAGE_LIMIT and got.message.endswith("…")


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


@given(lo=finite, width=st.floats(min_value=0, max_value=1e9), value=finite)
def test_judge_is_failed_exactly_outside_the_bounds(lo: float, width: float, value: float) -> None:
    hi = lo + width
    got = judge(check(lo, hi), value, at=AT)
    assert got.verdict is (S if lo <= value <= hi else F)
    assert got.value == value


@given(value=st.one_of(st.none(), st.floats()), error=st.text(min_size=1, max_size=50))
def test_an_error_is_never_failed(value: float | None, error: str) -> None:
    assert judge(check(max=0.01), value, at=AT, error=error).verdict is E


@given(value=st.sampled_from([None, math.nan]), samples=st.one_of(st.none(), st.integers(0, 10**6)))
def test_missing_data_is_inconclusive(value: float | None, samples: int | None) -> None:
    assert judge(check(max=0.01), value, at=AT, samples=samples, min_samples=10).verdict is I


@given(value=finite, samples=st.integers(0, 999))
def test_too_little_traffic_is_inconclusive_whatever_the_value(value: float, samples: int) -> None:
    assert judge(check(max=0.01), value, at=AT, samples=samples, min_samples=1000).verdict is I


# ----------------------------------------------------------------------------------- assess

# (measurements, failureLimit, inconclusiveLimit, consecutiveErrorLimit, complete, phase)
ASSESS_TABLE = [
    ("", 0, 2, 4, False, AnalysisPhase.RUNNING),
    ("S", 0, 2, 4, False, AnalysisPhase.RUNNING),
    ("SSS", 0, 2, 4, True, AnalysisPhase.SUCCESSFUL),
    # failureLimit: Failed when failures > limit.
    ("F", 0, 2, 4, False, AnalysisPhase.FAILED),  # the default: the first failure rolls back
    ("F", 1, 2, 4, False, AnalysisPhase.RUNNING),  # failures == limit
    ("FF", 1, 2, 4, False, AnalysisPhase.FAILED),  # failures == limit + 1
    ("FSF", 1, 2, 4, False, AnalysisPhase.FAILED),  # totals, not runs: successes forgive nothing
    ("FSFS", 2, 2, 4, True, AnalysisPhase.SUCCESSFUL),  # within the limit and the latest is Successful
    # inconclusiveLimit: Inconclusive (pause for a human) when inconclusives > limit.
    ("II", 0, 2, 4, False, AnalysisPhase.RUNNING),
    ("III", 0, 2, 4, False, AnalysisPhase.INCONCLUSIVE),
    ("ISISI", 0, 2, 4, False, AnalysisPhase.INCONCLUSIVE),
    ("I", 0, 0, 4, False, AnalysisPhase.INCONCLUSIVE),
    ("", 0, 0, 4, True, AnalysisPhase.RUNNING),  # nothing measured: never Successful
    # consecutiveErrorLimit: a run of errors > limit is Inconclusive, never Failed.
    ("EEEE", 0, 2, 4, False, AnalysisPhase.RUNNING),
    ("EEEEE", 0, 2, 4, False, AnalysisPhase.INCONCLUSIVE),
    ("EEEESEEEE", 0, 2, 4, False, AnalysisPhase.RUNNING),  # a success ends the run
    ("EEEEIEEEE", 0, 2, 4, False, AnalysisPhase.RUNNING),  # so does any other verdict
    ("E", 0, 2, 0, False, AnalysisPhase.INCONCLUSIVE),
    ("EEEEEEEEEE", 0, 2, 9, False, AnalysisPhase.INCONCLUSIVE),
    ("EEEEEEEEE", 0, 2, 9, False, AnalysisPhase.RUNNING),
    ("EEEEEEEE", 0, 20, 20, True, AnalysisPhase.RUNNING),  # errors never complete a step
    # Precedence: a measured failure wins over missing data.
    ("IIIF", 0, 2, 4, False, AnalysisPhase.FAILED),
    ("EEEEEF", 0, 2, 4, False, AnalysisPhase.FAILED),
    ("EEEEEIII", 5, 2, 4, False, AnalysisPhase.INCONCLUSIVE),
    # Completion needs the latest measurement of every check to be Successful.
    ("SSI", 0, 2, 4, True, AnalysisPhase.RUNNING),
    ("SSE", 0, 2, 4, True, AnalysisPhase.RUNNING),
    ("SSIS", 0, 2, 4, True, AnalysisPhase.SUCCESSFUL),
    ("SSES", 0, 2, 4, True, AnalysisPhase.SUCCESSFUL),
]


@pytest.mark.parametrize(("history", "fl", "il", "el", "complete", "phase"), ASSESS_TABLE)
def test_assess_table(history: str, fl: int, il: int, el: int, complete: bool, phase: AnalysisPhase) -> None:
    got = assess(seq(history), limits(fl, il, el), complete=complete)
    assert got.phase is phase, got.message
    assert got.failures == history.count("F")
    assert got.inconclusives == history.count("I")
    assert got.consecutive_errors == len(history) - len(history.rstrip("E"))


def test_failed_message_names_the_check_and_the_value() -> None:
    ok = judge(check(max=0.01), 0.002, at=AT)
    bad = judge(check(max=0.01), 0.034, at=AT + timedelta(minutes=1))
    got = assess([ok, bad], limits(failure=0))
    assert got.phase is AnalysisPhase.FAILED
    assert got.culprit == bad
    assert got.message == "error-rate: 0.034 is above max 0.01 (1 failed measurements > failureLimit 0)"


def test_inconclusive_message_says_a_human_is_needed() -> None:
    got = assess([judge(check(max=0.01), None, at=AT)], limits(inconclusive=0))
    assert got.phase is AnalysisPhase.INCONCLUSIVE
    assert got.message == "error-rate: no data (1 inconclusive measurements > inconclusiveLimit 0); waiting for a human"


def test_consecutive_errors_are_counted_per_check() -> None:
    """A dead Prometheus check next to a healthy built-in must still trip the limit: interleaving
    the healthy check's successes must not break the dead one's run."""
    history = [x for i in range(5) for x in (m(E, "prom", i), m(S, "builtin", i))]
    got = assess(history, limits(errors=4))
    assert got.phase is AnalysisPhase.INCONCLUSIVE
    assert got.consecutive_errors == 5
    assert got.culprit == history[-2]
    assert "prom E" in got.message and "5 consecutive errors > consecutiveErrorLimit 4" in got.message
    assert assess(history[:-2], limits(errors=4)).phase is AnalysisPhase.RUNNING


def test_failures_and_inconclusives_are_totals_over_all_checks() -> None:
    history = [m(F, "a", 0), m(F, "b", 0)]
    assert assess(history, limits(failure=1)).phase is AnalysisPhase.FAILED
    assert assess(history[:1], limits(failure=1)).phase is AnalysisPhase.RUNNING


def test_completion_waits_for_every_configured_check() -> None:
    history = [m(S, "a", 0)]
    got = assess(history, limits(), checks=["a", "b"], complete=True)
    assert got.phase is AnalysisPhase.RUNNING
    assert "b (not measured)" in got.message
    assert assess([*history, m(S, "b", 1)], limits(), checks=["a", "b"], complete=True).phase is (
        AnalysisPhase.SUCCESSFUL
    )
    latest_error = [*history, m(S, "b", 1), m(E, "a", 2)]
    got = assess(latest_error, limits(), checks=["a", "b"], complete=True)
    assert got.phase is AnalysisPhase.RUNNING and "a (Error)" in got.message


def test_resume_from_status_counters_and_a_truncated_tail() -> None:
    """Status keeps 100 measurements: the stored totals carry what the tail forgot."""
    tail = seq("SS")
    prior = Tally.resume(failures=1, inconclusives=2, recent=tail)
    assert (prior.failures, prior.inconclusives) == (1, 2)
    assert assess([m(F, "a", 9)], limits(failure=1), prior=prior).phase is AnalysisPhase.FAILED
    assert assess([m(I, "a", 9)], limits(failure=1, inconclusive=2), prior=prior).phase is AnalysisPhase.INCONCLUSIVE
    # A stale (smaller) counter never forgives what the tail shows.
    assert Tally.resume(failures=0, inconclusives=None, recent=seq("FIF")).failures == 2
    # Error runs and latest verdicts come from the tail.
    resumed = Tally.resume(failures=0, inconclusives=0, recent=seq("SEEEE"))
    assert assess([m(E, "a", 9)], limits(errors=4), prior=resumed).phase is AnalysisPhase.INCONCLUSIVE


def test_resume_takes_runs_and_latest_from_the_per_check_summary_beyond_the_tail() -> None:
    """Status keeps a short tail; the per-check summary carries the run of Errors and the latest."""
    tail = seq("EE")
    summarised = Tally.resume(failures=0, inconclusives=0, recent=tail, runs={"a": 4}, latest={"a": tail[-1]})
    assert summarised.consecutive_errors["a"] == 4
    assert assess([m(E, "a", 9)], limits(errors=4), prior=summarised).phase is AnalysisPhase.INCONCLUSIVE
    assert Tally.resume(failures=0, inconclusives=0, recent=seq("EEE"), runs={"a": 1}).consecutive_errors["a"] == 3


# ------------------------------------------------------------------------------- properties

verdicts = st.sampled_from([S, F, I, E])
histories = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), verdicts), max_size=40)


@dataclass(frozen=True)
class Lim:
    failure_limit: int
    inconclusive_limit: int
    consecutive_error_limit: int


limit_values = st.builds(Lim, st.integers(0, 5), st.integers(0, 5), st.integers(0, 5))


def build(history: list[tuple[str, Verdict]]) -> list[Measurement]:
    return [m(v, name, i) for i, (name, v) in enumerate(history)]


@settings(max_examples=300)
@given(history=histories, lim=limit_values, complete=st.booleans())
def test_phase_follows_the_counters(history: list[tuple[str, Verdict]], lim: Lim, complete: bool) -> None:
    got = assess(build(history), lim, complete=complete)
    failures = sum(v is F for _, v in history)
    inconclusives = sum(v is I for _, v in history)
    if failures > lim.failure_limit:
        assert got.phase is AnalysisPhase.FAILED
    elif inconclusives > lim.inconclusive_limit or got.consecutive_errors > lim.consecutive_error_limit:
        assert got.phase is AnalysisPhase.INCONCLUSIVE
    else:
        assert got.phase in (AnalysisPhase.RUNNING, AnalysisPhase.SUCCESSFUL)


@settings(max_examples=300)
@given(history=histories, lim=limit_values)
def test_errors_and_missing_data_never_fail_and_never_pass(history: list[tuple[str, Verdict]], lim: Lim) -> None:
    history = [(name, v) for name, v in history if v in (I, E)]
    got = assess(build(history), lim, complete=True)
    assert got.phase in (AnalysisPhase.RUNNING, AnalysisPhase.INCONCLUSIVE)


@settings(max_examples=300)
@given(history=histories, lim=limit_values)
def test_successful_only_when_every_check_is_freshly_successful(history: list[tuple[str, Verdict]], lim: Lim) -> None:
    got = assess(build(history), lim, checks=["a", "b", "c"], complete=True)
    latest = dict(history)
    if got.phase is AnalysisPhase.SUCCESSFUL:
        assert latest == {"a": S, "b": S, "c": S}
    assert assess(build(history), lim, complete=False).phase is not AnalysisPhase.SUCCESSFUL


@settings(max_examples=300)
@given(history=histories, lim=limit_values, cut=st.integers(0, 40))
def test_incremental_equals_batch(history: list[tuple[str, Verdict]], lim: Lim, cut: int) -> None:
    measurements = build(history)
    whole = assess(measurements, lim)
    stepwise = assess(measurements[cut:], lim, prior=Tally.of(measurements[:cut]))
    assert stepwise == whole


@settings(max_examples=200)
@given(history=histories, more=histories, lim=limit_values)
def test_failed_is_final(history: list[tuple[str, Verdict]], more: list[tuple[str, Verdict]], lim: Lim) -> None:
    """Counters only grow: once Failed, no later measurement can undo it."""
    first = assess(build(history), lim)
    if first.phase is AnalysisPhase.FAILED:
        assert assess(build(more), lim, prior=first.tally).phase is AnalysisPhase.FAILED


def test_a_zero_minimum_is_no_guard() -> None:
    assert judge(check(max=0.01), 0.0, at=AT, samples=None, min_samples=0).verdict is S
