"""The always-valid A/B test (core.analysis.sequential): the mSPRT against reference formulas,
the step's decision table, and simulations that show why it is needed — a fixed-horizon z-test
peeked at after every batch declares differences between identical versions, the mSPRT does not —
and that it stops early on a clear effect.

Every simulation uses numpy's Generator with a fixed seed and is vectorised (experiments × looks),
so the numbers below are reproducible and the file runs in a few seconds.
"""

from __future__ import annotations

import math
from datetime import timedelta
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.api.rollout import ABDecision, Verdict
from modelops.api.steps import ABTestStep, Direction
from modelops.core.analysis.arms import Proportion, Sample
from modelops.core.analysis.sequential import (
    DEFAULT_TAU,
    SequentialDecision,
    bernoulli_z,
    decide,
    decide_step,
    fixed_horizon_samples,
    mixture_log_likelihood_ratio,
    msprt_bernoulli,
    msprt_normal,
    msprt_p_values,
    naive_p_values,
    z_test_bernoulli,
    z_test_normal,
)

ALPHA = 0.05
BATCH, LOOKS, EXPERIMENTS = 200, 100, 4000  # a look after every 200 observations per arm, up to 20,000
N = BATCH * np.arange(1, LOOKS + 1)


def simulate(rate_stable: float, rate_candidate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative successes per arm at each look, shape (EXPERIMENTS, LOOKS)."""
    rng = np.random.default_rng(seed)
    stable = rng.binomial(BATCH, rate_stable, size=(EXPERIMENTS, LOOKS)).cumsum(axis=1)
    candidate = rng.binomial(BATCH, rate_candidate, size=(EXPERIMENTS, LOOKS)).cumsum(axis=1)
    return stable, candidate


def binomial_tolerance(rate: float, trials: int) -> float:
    """Two standard errors of a proportion estimated from ``trials`` simulated experiments."""
    return 2 * math.sqrt(rate * (1 - rate) / trials)


# ---------------------------------------------------------------------------- simulations


def test_aa_false_positive_rate_under_continuous_peeking_is_at_most_alpha() -> None:
    """(a) Same conversion rate (10%) in both arms, looked at after every batch of 200 per arm up
    to 20,000: the share of experiments in which the mSPRT *ever* rejects stays at or below alpha
    (plus two binomial standard errors of the simulation). Ville's inequality promises it; the
    discrete looks make it conservative (measured: 0.0222 of 4,000 experiments)."""
    stable, candidate = simulate(0.10, 0.10, seed=20250101)
    p = msprt_p_values(N, stable, N, candidate)
    false_positive_rate = float((p[:, -1] <= ALPHA).mean())
    print(f"\nmSPRT A/A false-positive rate, {LOOKS} looks: {false_positive_rate:.4f} (alpha {ALPHA})")
    assert false_positive_rate <= ALPHA + binomial_tolerance(ALPHA, EXPERIMENTS)


def test_a_peeked_fixed_horizon_test_exceeds_alpha_clearly() -> None:
    """(b) The same A/A data read with a fixed-horizon z-test at every look: it rejects in about a
    third of the experiments (measured: 0.379) — why the rollout needs an always-valid test. Read
    once, at the end, the same z-test is fine (measured: 0.0517)."""
    stable, candidate = simulate(0.10, 0.10, seed=20250101)
    p = naive_p_values(N, stable, N, candidate)
    peeking = float((p <= ALPHA).any(axis=1).mean())
    once = float((p[:, -1] <= ALPHA).mean())
    print(f"\nfixed-horizon z-test A/A false-positive rate: peeked {LOOKS} times {peeking:.4f}, read once {once:.4f}")
    assert peeking > 5 * ALPHA
    assert abs(once - ALPHA) <= 1.5 * binomial_tolerance(ALPHA, EXPERIMENTS)


def test_stops_early_on_a_clear_effect() -> None:
    """(c) 10% vs 13% conversion. The fixed-horizon z-test needs n per arm (computed analytically)
    for a given power; the mSPRT is looked at every 200 per arm and stops when p <= alpha.

    Measured (seed below, 4,000 experiments): the mSPRT decides CandidateBetter in every
    experiment, on average after 2,250 per arm (median 2,000). Against the z-test designed for 80%
    power *at exactly this effect* (1,772 per arm) that is 1.27×: at the design effect, always-valid
    inference costs some samples. At *equal power* it is cheaper: the z-test needs 4,147 per arm to
    reach the 99% power the mSPRT reaches (ratio 0.54), and the mSPRT breaks even with the z-test
    near 90% power. And when the true effect is larger than the one the fixed horizon was planned
    for (10% → 16%, horizon still 1,772), it stops after 766 on average (ratio 0.43), where the
    fixed-horizon test still runs to 1,772.
    """
    stable, candidate = simulate(0.10, 0.13, seed=7)
    p = msprt_p_values(N, stable, N, candidate)
    better = (candidate - stable) > 0
    hit = (p <= ALPHA) & better
    stopped = hit.any(axis=1)
    stop_n = np.where(stopped, N[hit.argmax(axis=1)], N[-1])
    power = float(stopped.mean())
    mean_n, median_n = float(stop_n.mean()), float(np.median(stop_n))
    wrong_way = float(((p <= ALPHA) & ~better).any(axis=1).mean())

    n80 = fixed_horizon_samples(0.10, 0.13, alpha=ALPHA, power=0.80)
    matched = min(power, 0.99)  # the power the mSPRT reached (a fixed horizon for 100% is infinite)
    n_matched = fixed_horizon_samples(0.10, 0.13, alpha=ALPHA, power=matched)
    print(
        f"\nmSPRT on 10% vs 13%: power {power:.4f}, mean stop {mean_n:.0f}/arm, median {median_n:.0f}; "
        f"fixed horizon 80% power {n80}/arm (ratio {mean_n / n80:.2f}); "
        f"fixed horizon {matched:.0%} power {n_matched}/arm (ratio {mean_n / n_matched:.2f})"
    )
    assert n80 == 1772
    assert power >= 0.99 and wrong_way == 0.0
    assert mean_n < n_matched  # equal power: the sequential test stops earlier on average
    assert mean_n / n_matched < 0.6
    assert mean_n / n80 < 1.35  # at the 80%-power design effect the price of peeking is bounded

    big_s, big_c = simulate(0.10, 0.16, seed=8)
    p_big = msprt_p_values(N, big_s, N, big_c)
    hit_big = (p_big <= ALPHA) & ((big_c - big_s) > 0)
    big_mean = float(np.where(hit_big.any(axis=1), N[hit_big.argmax(axis=1)], N[-1]).mean())
    print(f"mSPRT on 10% vs 16%: mean stop {big_mean:.0f}/arm vs the fixed horizon {n80} (ratio {big_mean / n80:.2f})")
    assert big_mean / n80 < 0.5


def test_aa_false_positive_rate_of_the_continuous_test() -> None:
    """The normal-approximation mSPRT on a continuous, skewed metric (exponential, e.g. a latency
    or an order value): A/A with 40 looks of 250 per arm, 1,000 experiments."""
    rng = np.random.default_rng(11)
    experiments, looks, batch = 1000, 40, 250
    draws = rng.exponential(2.0, size=(2, experiments, looks, batch))
    n = batch * np.arange(1, looks + 1)
    sums = draws.sum(axis=3).cumsum(axis=2)
    squares = (draws**2).sum(axis=3).cumsum(axis=2)
    means = sums / n
    stds = np.sqrt(np.maximum(squares / n - means**2, 0.0))
    rejected = 0
    for e in range(experiments):
        best = 1.0
        for k in range(looks):
            evidence = msprt_normal(
                Sample(int(n[k]), float(means[0, e, k]), float(stds[0, e, k])),
                Sample(int(n[k]), float(means[1, e, k]), float(stds[1, e, k])),
            )
            best = min(best, evidence.p_value)
        rejected += best <= ALPHA
    rate = rejected / experiments
    print(f"\nmSPRT (normal) A/A false-positive rate on exponential data: {rate:.4f}")
    assert rate <= ALPHA + binomial_tolerance(ALPHA, experiments)


# ---------------------------------------------------------------------- reference formulas


def test_mixture_matches_johari_et_al_known_variance_formula() -> None:
    """Johari et al. (2017), two normal streams of n each with known variance σ² and mixture
    N(0, τ²): Λ = sqrt(2σ² / (2σ² + nτ²)) · exp(n²τ²(ȳ − x̄)² / (4σ²(2σ² + nτ²)))."""
    sigma, n, xbar, ybar = 1.7, 400, 3.0, 3.25
    tau_abs = DEFAULT_TAU * sigma
    reference = 0.5 * math.log(2 * sigma**2 / (2 * sigma**2 + n * tau_abs**2)) + (
        n**2 * tau_abs**2 * (ybar - xbar) ** 2 / (4 * sigma**2 * (2 * sigma**2 + n * tau_abs**2))
    )
    got = msprt_normal(Sample(n, xbar, sigma), Sample(n, ybar, sigma))
    assert got.log_likelihood_ratio == pytest.approx(reference, rel=1e-12)
    assert got.p_value == pytest.approx(min(1.0, math.exp(-reference)), rel=1e-12)
    assert got.difference == pytest.approx(0.25)
    assert got.z == pytest.approx(0.25 / math.sqrt(2 * sigma**2 / n))


def test_mixture_log_likelihood_ratio_closed_form() -> None:
    # r = 1, z = 2: ½ log ½ + 4/4
    assert float(mixture_log_likelihood_ratio(2.0, 1.0)) == pytest.approx(0.5 * math.log(0.5) + 1.0)
    # z = 0 is evidence *for* no difference: Λ < 1, p stays 1
    assert float(mixture_log_likelihood_ratio(0.0, 0.5)) < 0
    assert msprt_bernoulli(Proportion(1000, 100), Proportion(1000, 100)).p_value == 1.0


def test_pooled_z_and_the_fixed_horizon_z_test() -> None:
    # 100/1000 vs 130/1000: pooled rate 0.115, se = sqrt(0.115·0.885·(2/1000)).
    se = math.sqrt(0.115 * 0.885 * 2 / 1000)
    got = z_test_bernoulli(Proportion(1000, 100), Proportion(1000, 130))
    assert got.difference == pytest.approx(0.03)
    assert got.z == pytest.approx(0.03 / se)
    assert got.p_value == pytest.approx(2 * (1 - NormalDist().cdf(0.03 / se)), rel=1e-9)
    assert got.p_value == pytest.approx(0.03548, abs=5e-5)
    # continuous: se = sqrt(4/100 + 9/100)
    normal = z_test_normal(Sample(100, 10.0, 2.0), Sample(100, 10.5, 3.0))
    assert normal.z == pytest.approx(0.5 / math.sqrt(0.13))
    assert z_test_normal(Sample(0, 0.0, 0.0), Sample(5, 1.0, 1.0)).p_value == 1.0


def test_fixed_horizon_sample_size() -> None:
    z = NormalDist().inv_cdf
    expected = (z(0.975) + z(0.8)) ** 2 * (0.1 * 0.9 + 0.13 * 0.87) / 0.03**2
    assert expected == pytest.approx(1771.23, abs=0.01)
    assert fixed_horizon_samples(0.10, 0.13) == math.ceil(expected) == 1772
    assert fixed_horizon_samples(0.10, 0.13, power=0.9) > 1772
    with pytest.raises(ValueError, match="no effect"):
        fixed_horizon_samples(0.1, 0.1)


def test_scalar_and_vectorised_paths_agree() -> None:
    stable, candidate = simulate(0.10, 0.12, seed=3)
    running = msprt_p_values(N[:10], stable[0, :10], N[:10], candidate[0, :10])
    best = 1.0
    for k in range(10):
        best = min(
            best,
            msprt_bernoulli(
                Proportion(int(N[k]), int(stable[0, k])), Proportion(int(N[k]), int(candidate[0, k]))
            ).p_value,
        )
        assert running[k] == pytest.approx(best, rel=1e-12)
    diff, z = bernoulli_z(0, 0, 10, 3)
    assert float(diff) == 0.0 and float(z) == 0.0  # no samples, no evidence


# ------------------------------------------------------------------------------- decisions

WIN = (Proportion(5000, 500), Proportion(5000, 650))  # 10% vs 13%: p far below 0.05
FLAT = (Proportion(5000, 500), Proportion(5000, 505))
HOUR, DAY = timedelta(hours=1), timedelta(hours=24)


def look(
    arms: tuple[Proportion, Proportion],
    *,
    direction: Direction = Direction.HIGHER,
    min_samples: int = 1000,
    elapsed: timedelta = HOUR,
    previous: float = 1.0,
) -> SequentialDecision:
    return decide(
        *arms,
        alpha=ALPHA,
        direction=direction,
        min_samples=min_samples,
        elapsed=elapsed,
        max_duration=DAY,
        previous_p_value=previous,
    )


# (arms, direction, min_samples, elapsed, previous p, decision, verdict)
DECISIONS = [
    (WIN, Direction.HIGHER, 1000, HOUR, 1.0, ABDecision.CANDIDATE_BETTER, Verdict.SUCCESSFUL),
    (WIN, Direction.LOWER, 1000, HOUR, 1.0, ABDecision.CANDIDATE_WORSE, Verdict.FAILED),
    (WIN[::-1], Direction.HIGHER, 1000, HOUR, 1.0, ABDecision.CANDIDATE_WORSE, Verdict.FAILED),
    (WIN[::-1], Direction.LOWER, 1000, HOUR, 1.0, ABDecision.CANDIDATE_BETTER, Verdict.SUCCESSFUL),
    (FLAT, Direction.HIGHER, 1000, HOUR, 1.0, ABDecision.UNDECIDED, None),
    (FLAT, Direction.HIGHER, 1000, DAY, 1.0, ABDecision.NO_DIFFERENCE, Verdict.INCONCLUSIVE),  # at maxDuration
    (FLAT, Direction.HIGHER, 1000, DAY - timedelta(seconds=1), 1.0, ABDecision.UNDECIDED, None),
    (WIN, Direction.HIGHER, 1000, DAY, 1.0, ABDecision.CANDIDATE_BETTER, Verdict.SUCCESSFUL),  # last look counts
    # minSamples: below it the test does not decide, whatever the data says.
    (WIN, Direction.HIGHER, 5001, HOUR, 1.0, ABDecision.UNDECIDED, None),
    (WIN, Direction.HIGHER, 5000, HOUR, 1.0, ABDecision.CANDIDATE_BETTER, Verdict.SUCCESSFUL),  # boundary
    (WIN, Direction.HIGHER, 5001, DAY, 1.0, ABDecision.NO_DIFFERENCE, Verdict.INCONCLUSIVE),
    # The running p-value carries an earlier crossing (e.g. a restart between look and action).
    (FLAT, Direction.HIGHER, 1000, HOUR, 0.01, ABDecision.CANDIDATE_BETTER, Verdict.SUCCESSFUL),
]


@pytest.mark.parametrize(("arms", "direction", "min_samples", "elapsed", "previous", "decision", "verdict"), DECISIONS)
def test_decision_table(
    arms: tuple[Proportion, Proportion],
    direction: Direction,
    min_samples: int,
    elapsed: timedelta,
    previous: float,
    decision: ABDecision,
    verdict: Verdict | None,
) -> None:
    got = look(arms, direction=direction, min_samples=min_samples, elapsed=elapsed, previous=previous)
    assert got.decision is decision, got.message
    assert got.verdict is verdict
    assert 0.0 <= got.p_value <= previous


def test_before_min_samples_the_p_value_is_not_updated() -> None:
    """A fluke seen on too little traffic must not be carried past the guard."""
    got = look(WIN, min_samples=10_000, previous=0.7)
    assert got.p_value == 0.7 and got.evidence is None
    assert got.message == "collecting: 5000 stable / 5000 candidate samples, 10000 needed per arm"
    assert look(WIN, min_samples=1000, previous=0.7).p_value < ALPHA


def test_decide_step_reads_the_spec_and_continuous_arms() -> None:
    step = ABTestStep.model_validate(
        {"weight": 50, "metric": "latency", "minSamples": 100, "maxDuration": "2h", "alpha": 0.05, "direction": "lower"}
    )
    faster = (Sample(4000, 0.250, 0.05), Sample(4000, 0.240, 0.05))
    assert decide_step(step, *faster, elapsed=HOUR).decision is ABDecision.CANDIDATE_BETTER
    same = (Sample(4000, 0.250, 0.05), Sample(4000, 0.250, 0.05))
    assert decide_step(step, *same, elapsed=timedelta(hours=2)).decision is ABDecision.NO_DIFFERENCE
    assert decide_step(step, *same, elapsed=timedelta(minutes=119)).decision is ABDecision.UNDECIDED
    with pytest.raises(TypeError):
        decide_step(step, Proportion(500, 5), Sample(500, 1.0, 1.0), elapsed=HOUR)


counts = st.integers(0, 100_000)


@settings(max_examples=300)
@given(
    ns=st.integers(1, 100_000),
    nc=st.integers(1, 100_000),
    fs=st.floats(0, 1),
    fc=st.floats(0, 1),
    previous=st.floats(0, 1),
    direction=st.sampled_from(list(Direction)),
    hours=st.integers(0, 48),
)
def test_decision_properties(
    ns: int, nc: int, fs: float, fc: float, previous: float, direction: Direction, hours: int
) -> None:
    stable, candidate = Proportion(ns, int(fs * ns)), Proportion(nc, int(fc * nc))
    got = decide(
        stable,
        candidate,
        alpha=ALPHA,
        direction=direction,
        min_samples=100,
        elapsed=timedelta(hours=hours),
        max_duration=DAY,
        previous_p_value=previous,
    )
    assert 0.0 <= got.p_value <= previous  # the always-valid p-value never increases
    if min(ns, nc) < 100:
        assert got.decision in (ABDecision.UNDECIDED, ABDecision.NO_DIFFERENCE)
    if got.decision in (ABDecision.CANDIDATE_BETTER, ABDecision.CANDIDATE_WORSE):
        assert got.p_value <= ALPHA
    if hours < 24:
        assert got.decision is not ABDecision.NO_DIFFERENCE
    # Swapping the arms swaps better and worse.
    if got.evidence is not None and got.decision is ABDecision.CANDIDATE_BETTER:
        swapped = decide(
            candidate,
            stable,
            alpha=ALPHA,
            direction=direction,
            min_samples=100,
            elapsed=timedelta(hours=hours),
            max_duration=DAY,
            previous_p_value=previous,
        )
        assert swapped.decision is ABDecision.CANDIDATE_WORSE


@given(n=st.integers(1, 10**6), x=st.integers(0, 10**6))
def test_identical_arms_give_no_evidence(n: int, x: int) -> None:
    arm = Proportion(n, min(x, n))
    assert msprt_bernoulli(arm, arm).p_value == 1.0


def test_bad_parameters_are_refused() -> None:
    arm = Proportion(100, 10)
    for tau in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="tau"):
            msprt_bernoulli(arm, arm, tau=tau)
        with pytest.raises(ValueError, match="tau"):
            msprt_normal(Sample(10, 1.0, 1.0), Sample(10, 1.0, 1.0), tau=tau)
    with pytest.raises(ValueError, match="previous_p_value"):
        look(WIN, previous=1.5)
    with pytest.raises(ValueError, match="successes"):
        Proportion(10, 11)
    with pytest.raises(ValueError, match="std"):
        Sample(10, 1.0, -1.0)


def test_the_mixing_variance_comes_from_the_step_with_the_documented_default() -> None:
    spec = {"weight": 50, "metric": "conversion", "minSamples": 100, "maxDuration": "2h"}
    arms = (Proportion(2000, 200), Proportion(2000, 240))
    default = decide_step(ABTestStep.model_validate(spec), *arms, elapsed=HOUR)
    assert default.p_value == decide_step(ABTestStep.model_validate(spec), *arms, elapsed=HOUR,
                                          tau=DEFAULT_TAU).p_value
    assert DEFAULT_TAU == 0.1 and "Absent: 0.1" in (ABTestStep.model_fields["tau"].description or "")
    wide = decide_step(ABTestStep.model_validate({**spec, "tau": 2.0}), *arms, elapsed=HOUR)
    assert wide.p_value > default.p_value  # a mixture spread far wider than the effect weighs it less
    with pytest.raises(ValueError):
        ABTestStep.model_validate({**spec, "tau": 0})
