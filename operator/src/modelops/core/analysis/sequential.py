"""Sequential A/B statistics: an always-valid test that may be looked at after every batch.

Owns the decision of an ``abTest`` step — candidate better, candidate worse, no difference shown,
or keep going — from the cumulative per-arm summaries of the step's metric.

**Why not a plain z-test?** The rollout looks at the data every analysis interval and stops as
soon as it sees a difference. A fixed-horizon test read that way is wrong: with 100 looks at
alpha = 0.05 it declares a difference between two *identical* versions about a third of the time
(tests/unit/test_analysis_sequential.py measures it). The mixture sequential probability ratio
test (mSPRT, Johari, Koomen, Pekelis & Walsh, "Always valid inference: continuous monitoring of
A/B tests", Operations Research 2022 / arXiv 1512.04922, 2015-2017) is built to be peeked at:

    Λ_n = ∫ L(θ; data) / L(0; data) dN(θ; 0, τ²)
        = sqrt(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²)))

for the difference θ̂ = candidate − stable with sampling variance V (normal approximation). Λ is
a nonnegative martingale under "no difference", so by Ville's inequality P(ever Λ_n ≥ 1/α) ≤ α,
and the running ``p_n = min(p_{n-1}, 1/Λ_n)`` is a p-value valid at *any* stopping time. Writing
τ = tau · σ (σ the pooled standard deviation of one observation) and z = θ̂/√V, with
r = V/τ² = (1/n_stable + 1/n_candidate) / tau², it becomes scale-free:

    log Λ = ½ log(r / (1 + r)) + z² / (2 (1 + r))

``tau`` is the spread of the effects the test expects, in standard deviations of one
observation. The default 0.1 (a conversion rate of 10% moving to 13% is an effect of 0.1 σ) gave
the shortest average stopping time of 0.05-0.3 in simulation; a smaller tau suits tinier effects.

Why hand-written: the well-kept implementations (``expan``, ``spotify-confidence``) pull pandas
and scipy into an operator whose core may only use numpy; the statistic is three lines.

**Rules of the step, and why:**

- Before *both* arms have ``minSamples`` observations the test neither decides nor updates its
  running p-value: the normal approximation of a rate over a handful of requests is poor, and a
  fluke seen then must not be carried past the guard. Starting to monitor later is still a
  stopping time, so validity is kept.
- ``p ≤ alpha`` stops the step: CandidateBetter when the difference points the declared
  ``direction``, CandidateWorse otherwise. The test is two-sided, so each claim is made wrongly
  with probability at most alpha (about alpha/2 each, by symmetry).
- At ``maxDuration`` without a decision the result is **NoDifference**, verdict Inconclusive: not
  promoted and not rolled back, the rollout pauses for a human. "No difference shown" is absence
  of evidence, not evidence that the candidate is as good; Flagger and Argo have no such outcome.
  A human who accepts the risk approves the next step (or a non-inferiority guardrail says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from modelops.api.rollout import ABDecision, Verdict
from modelops.api.steps import ABTestStep, Direction
from modelops.core.analysis import group_sequential
from modelops.core.analysis.arms import Proportion, Sample
from modelops.core.durations import parse_duration

FloatArray = npt.NDArray[np.float64]

DEFAULT_TAU = 0.1
_NORMAL = NormalDist()


# ------------------------------------------------------------------------------ the statistic


def mixture_log_likelihood_ratio(z: npt.ArrayLike, r: npt.ArrayLike) -> FloatArray:
    """log Λ of the normal-mixture SPRT from the z statistic and r = V/τ² (elementwise).

    Written once, on arrays, so the operator's scalar decision and the simulations that check its
    error rate run the very same formula.
    """
    z_ = np.asarray(z, dtype=np.float64)
    r_ = np.asarray(r, dtype=np.float64)
    return np.asarray(0.5 * np.log(r_ / (1.0 + r_)) + z_ * z_ / (2.0 * (1.0 + r_)), dtype=np.float64)


def bernoulli_z(
    stable_samples: npt.ArrayLike,
    stable_successes: npt.ArrayLike,
    candidate_samples: npt.ArrayLike,
    candidate_successes: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """(difference of rates candidate − stable, pooled two-proportion z), elementwise.

    The variance is pooled, i.e. taken under "no difference", which is the hypothesis both tests
    check; where it is 0 (no samples, or every observation alike) z is 0: no evidence either way.
    """
    ns = np.asarray(stable_samples, dtype=np.float64)
    xs = np.asarray(stable_successes, dtype=np.float64)
    nc = np.asarray(candidate_samples, dtype=np.float64)
    xc = np.asarray(candidate_successes, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = np.where((ns > 0) & (nc > 0), xc / nc - xs / ns, 0.0)
        pooled = (xs + xc) / (ns + nc)
        variance = pooled * (1.0 - pooled) * (1.0 / ns + 1.0 / nc)
        ok = (ns > 0) & (nc > 0) & (variance > 0)
        z = np.where(ok, difference / np.sqrt(np.where(ok, variance, 1.0)), 0.0)
    return np.asarray(difference, dtype=np.float64), np.asarray(z, dtype=np.float64)


def _check_tau(tau: float) -> None:
    if not tau > 0 or not math.isfinite(tau):
        raise ValueError(f"tau is the spread of the expected effects in standard deviations, > 0; got {tau}")


def _r(stable_samples: npt.ArrayLike, candidate_samples: npt.ArrayLike, tau: float) -> FloatArray:
    _check_tau(tau)
    ns = np.asarray(stable_samples, dtype=np.float64)
    nc = np.asarray(candidate_samples, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.asarray((1.0 / ns + 1.0 / nc) / (tau * tau), dtype=np.float64)


def msprt_p_values(
    stable_samples: npt.ArrayLike,
    stable_successes: npt.ArrayLike,
    candidate_samples: npt.ArrayLike,
    candidate_successes: npt.ArrayLike,
    *,
    tau: float = DEFAULT_TAU,
) -> FloatArray:
    """Running always-valid p-values of a Bernoulli metric along the last axis (the looks).

    Inputs are *cumulative* counts at each look, e.g. shape (experiments, looks); the result has
    the same shape and is non-increasing along the last axis. For simulations and benchmarks; the
    operator calls ``decide`` once per look instead.
    """
    ns = np.asarray(stable_samples, dtype=np.float64)
    nc = np.asarray(candidate_samples, dtype=np.float64)
    _, z = bernoulli_z(ns, stable_successes, nc, candidate_successes)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lr = np.where((ns > 0) & (nc > 0), mixture_log_likelihood_ratio(z, _r(ns, nc, tau)), 0.0)
        p = np.minimum(1.0, np.exp(-log_lr))
    return np.asarray(np.minimum.accumulate(p, axis=-1), dtype=np.float64)


@dataclass(frozen=True)
class Evidence:
    """One look of the mSPRT. ``p_value`` is this look's 1/Λ capped at 1; the always-valid
    p-value is the running minimum of these over the looks (``decide`` keeps it)."""

    difference: float
    z: float
    log_likelihood_ratio: float
    p_value: float


def _evidence(difference: float, z: float, r: float) -> Evidence:
    if not math.isfinite(r) or r <= 0:
        return Evidence(difference=difference, z=z, log_likelihood_ratio=0.0, p_value=1.0)
    log_lr = float(mixture_log_likelihood_ratio(z, r))
    # exp(-log Λ) underflows to 0 for overwhelming evidence, which is the right limit.
    return Evidence(difference=difference, z=z, log_likelihood_ratio=log_lr, p_value=min(1.0, math.exp(-log_lr)))


def msprt_bernoulli(stable: Proportion, candidate: Proportion, *, tau: float = DEFAULT_TAU) -> Evidence:
    """One look of the mSPRT on a conversion-like metric (cumulative counts since the step began)."""
    _check_tau(tau)
    if stable.samples == 0 or candidate.samples == 0:
        return Evidence(difference=0.0, z=0.0, log_likelihood_ratio=0.0, p_value=1.0)
    difference, z = bernoulli_z(stable.samples, stable.successes, candidate.samples, candidate.successes)
    return _evidence(float(difference), float(z), float(_r(stable.samples, candidate.samples, tau)))


def msprt_normal(stable: Sample, candidate: Sample, *, tau: float = DEFAULT_TAU) -> Evidence:
    """One look of the mSPRT on a continuous metric (normal approximation, unequal variances).

    V = s_s²/n_s + s_c²/n_c; the mixture scale is tau times the pooled standard deviation. Zero
    variance in both arms gives no evidence rather than infinite evidence: a metric that never
    moves is more likely broken than decisive.
    """
    ns, nc = stable.samples, candidate.samples
    _check_tau(tau)
    if ns == 0 or nc == 0:
        return Evidence(difference=0.0, z=0.0, log_likelihood_ratio=0.0, p_value=1.0)
    difference = candidate.mean - stable.mean
    variance = stable.std**2 / ns + candidate.std**2 / nc
    pooled = (ns * stable.std**2 + nc * candidate.std**2) / (ns + nc)
    if variance <= 0 or pooled <= 0:
        return Evidence(difference=difference, z=0.0, log_likelihood_ratio=0.0, p_value=1.0)
    return _evidence(difference, difference / math.sqrt(variance), variance / (tau * tau * pooled))


# ------------------------------------------------------------------------ the fixed horizon


@dataclass(frozen=True)
class FixedHorizon:
    """A classical two-sided z-test, valid only when looked at once, at a sample size fixed in advance."""

    difference: float
    z: float
    p_value: float


def z_test_bernoulli(stable: Proportion, candidate: Proportion) -> FixedHorizon:
    """Pooled two-proportion z-test (two-sided)."""
    difference, z = bernoulli_z(stable.samples, stable.successes, candidate.samples, candidate.successes)
    return FixedHorizon(difference=float(difference), z=float(z), p_value=_two_sided(float(z)))


def z_test_normal(stable: Sample, candidate: Sample) -> FixedHorizon:
    """Two-sample z-test on means with unequal variances (two-sided; large samples)."""
    if stable.samples == 0 or candidate.samples == 0:
        return FixedHorizon(difference=0.0, z=0.0, p_value=1.0)
    difference = candidate.mean - stable.mean
    variance = stable.std**2 / stable.samples + candidate.std**2 / candidate.samples
    z = difference / math.sqrt(variance) if variance > 0 else 0.0
    return FixedHorizon(difference=difference, z=z, p_value=_two_sided(z))


def naive_p_values(
    stable_samples: npt.ArrayLike,
    stable_successes: npt.ArrayLike,
    candidate_samples: npt.ArrayLike,
    candidate_successes: npt.ArrayLike,
) -> FloatArray:
    """Two-sided z-test p-values at each look, elementwise: what peeking at a fixed-horizon test sees."""
    _, z = bernoulli_z(stable_samples, stable_successes, candidate_samples, candidate_successes)
    return _two_sided_array(z)


def _two_sided(z: float) -> float:
    # 2·(1 − Φ(|z|)) = erfc(|z|/√2), which keeps its precision far into the tail.
    return math.erfc(abs(z) / math.sqrt(2.0))


_ERFC = np.vectorize(math.erfc, otypes=[np.float64])


def _two_sided_array(z: FloatArray) -> FloatArray:
    return np.asarray(_ERFC(np.abs(z) / math.sqrt(2.0)), dtype=np.float64)


def fixed_horizon_samples(stable_rate: float, candidate_rate: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Per-arm sample size of a two-sided two-proportion z-test with this power at this effect:

    n = (z_{1-α/2} + z_{power})² · (p_s(1-p_s) + p_c(1-p_c)) / (p_c - p_s)²   (rounded up)
    """
    if stable_rate == candidate_rate:
        raise ValueError("no effect: a fixed-horizon test cannot be powered for a difference of 0")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("alpha and power must be strictly between 0 and 1")
    quantiles = _NORMAL.inv_cdf(1 - alpha / 2) + _NORMAL.inv_cdf(power)
    variance = stable_rate * (1 - stable_rate) + candidate_rate * (1 - candidate_rate)
    return math.ceil(quantiles**2 * variance / (candidate_rate - stable_rate) ** 2)


# ------------------------------------------------------------------------------- the decision


_VERDICTS: dict[ABDecision, Verdict | None] = {
    ABDecision.CANDIDATE_BETTER: Verdict.SUCCESSFUL,
    ABDecision.CANDIDATE_WORSE: Verdict.FAILED,
    ABDecision.NO_DIFFERENCE: Verdict.INCONCLUSIVE,
    ABDecision.UNDECIDED: None,
}


@dataclass(frozen=True)
class SequentialDecision:
    """Where an A/B test stands after one look.

    ``p_value`` is the running always-valid p-value: store it (status.abTest.pValue) and pass it
    back as ``previous_p_value`` at the next look; reset it to 1 when an abTest step (re)starts.
    ``verdict`` is None while the test runs; CandidateBetter → Successful (the step is done),
    CandidateWorse → Failed (roll back: a decided loss, not a noisy tick), NoDifference →
    Inconclusive (pause for a human).
    """

    decision: ABDecision
    p_value: float
    evidence: Evidence | None
    message: str

    @property
    def verdict(self) -> Verdict | None:
        return _VERDICTS[self.decision]


def decide(
    stable: Proportion | Sample,
    candidate: Proportion | Sample,
    *,
    alpha: float,
    direction: Direction,
    min_samples: int,
    elapsed: timedelta,
    max_duration: timedelta,
    previous_p_value: float = 1.0,
    tau: float = DEFAULT_TAU,
    effect: float | None = None,
    power: float = group_sequential.DEFAULT_POWER,
) -> SequentialDecision:
    """One look at an A/B test: the cumulative arms since the step began, ``elapsed`` since it began.
    With ``effect`` (planned, in sd) the planned group-sequential design decides, else the mSPRT."""
    if not 0.0 <= previous_p_value <= 1.0:
        raise ValueError(f"previous_p_value must be a p-value in [0, 1], got {previous_p_value}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    timed_out = elapsed >= max_duration
    fewest = min(stable.samples, candidate.samples)
    if fewest < min_samples:
        note = f"{stable.samples} stable / {candidate.samples} candidate samples, {min_samples} needed per arm"
        if timed_out:
            return SequentialDecision(
                ABDecision.NO_DIFFERENCE, previous_p_value, None, f"maxDuration reached with too little traffic: {note}"
            )
        return SequentialDecision(ABDecision.UNDECIDED, previous_p_value, None, f"collecting: {note}")
    if isinstance(stable, Proportion) and isinstance(candidate, Proportion):
        evidence = msprt_bernoulli(stable, candidate, tau=tau)
    elif isinstance(stable, Sample) and isinstance(candidate, Sample):
        evidence = msprt_normal(stable, candidate, tau=tau)
    else:
        raise TypeError("both arms must be Proportion or both Sample")
    futile = False
    if effect is not None:  # the planned design (group_sequential) replaces the mixture's p-value
        plan = group_sequential.design(alpha=alpha, power=power, effect=effect)
        planned = group_sequential.look(evidence.z, stable.samples, candidate.samples, plan)
        evidence = Evidence(evidence.difference, evidence.z, 0.0, planned.p_value)
        futile = planned.futility
    p_value = min(previous_p_value, evidence.p_value)
    signed = evidence.difference if direction is Direction.HIGHER else -evidence.difference
    shown = f"difference {evidence.difference:+.4g} (candidate − stable), always-valid p = {p_value:.3g}"
    if p_value <= alpha and signed > 0:
        return SequentialDecision(
            ABDecision.CANDIDATE_BETTER, p_value, evidence, f"candidate better ({direction.value} is better): {shown}"
        )
    if p_value <= alpha and signed < 0:
        return SequentialDecision(
            ABDecision.CANDIDATE_WORSE, p_value, evidence, f"candidate worse ({direction.value} is better): {shown}"
        )
    if futile:
        return SequentialDecision(
            ABDecision.NO_DIFFERENCE, p_value, evidence, f"no difference as large as planned ({effect:g} sd): {shown}"
        )
    if timed_out:
        return SequentialDecision(
            ABDecision.NO_DIFFERENCE, p_value, evidence, f"maxDuration reached without a decision: {shown}"
        )
    return SequentialDecision(ABDecision.UNDECIDED, p_value, evidence, f"running: {shown} > alpha {alpha:g}")


def decide_step(
    step: ABTestStep,
    stable: Proportion | Sample,
    candidate: Proportion | Sample,
    *,
    elapsed: timedelta,
    previous_p_value: float = 1.0,
    tau: float | None = None,
) -> SequentialDecision:
    """``decide`` with alpha, direction, minSamples, maxDuration and tau taken from the step's spec
    (``tau`` given here wins; neither: ``DEFAULT_TAU``)."""
    return decide(
        stable,
        candidate,
        alpha=step.alpha,
        direction=step.direction,
        min_samples=step.min_samples,
        elapsed=elapsed,
        max_duration=parse_duration(step.max_duration),
        previous_p_value=previous_p_value,
        tau=tau if tau is not None else step.tau if step.tau is not None else DEFAULT_TAU,
        effect=step.effect,
        power=step.power,
    )
