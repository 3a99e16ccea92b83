"""The planned A/B test (core.analysis.group_sequential) and its wiring into the abTest step: the
boundary's closed form, its invariants (monotone, meeting at the horizon, a p-value that agrees
with the boundary), the false-positive rate under peeking after every batch on simulated A/A
traffic, the power it was designed for, and the step's decisions with ``effect`` set.

Simulations are seeded and vectorised (experiments x looks); hypothesis varies the traffic."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.api.rollout import ABDecision
from modelops.api.steps import ABTestStep
from modelops.core.analysis import group_sequential as gs
from modelops.core.analysis.arms import Proportion
from modelops.core.analysis.sequential import bernoulli_z, decide_step

ALPHA = 0.05
EXPERIMENTS = 3000
HOUR = timedelta(hours=1)


def tolerance(rate: float, trials: int) -> float:
    return 2 * math.sqrt(rate * (1 - rate) / trials)


def simulate(rate: float, lift: float, batch: int, looks: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pooled z, per-unit information) at each look of EXPERIMENTS experiments, equal arms."""
    rng = np.random.default_rng(seed)
    xs = rng.binomial(batch, rate, size=(EXPERIMENTS, looks)).cumsum(axis=1)
    xc = rng.binomial(batch, rate * (1 + lift), size=(EXPERIMENTS, looks)).cumsum(axis=1)
    n = np.broadcast_to(batch * np.arange(1, looks + 1), xs.shape)
    _, z = bernoulli_z(n, xs, n, xc)
    return z, n / 2.0


def test_crossing_probability_is_the_reflection_formula() -> None:
    # b = 0: P(max W >= a on [0, 1]) = 2 (1 - Phi(a)); the design spends alpha/2 a side.
    assert gs.crossing_probability(1.959964, 0.0) == pytest.approx(0.05, abs=1e-6)
    d = gs.design(alpha=ALPHA, effect=0.1)
    assert 2 * gs.crossing_probability(d.a, d.b) == pytest.approx(ALPHA, rel=1e-6)


@settings(max_examples=6, deadline=None)
@given(alpha=st.sampled_from([0.01, 0.05, 0.1]), power=st.sampled_from([0.8, 0.9]), effect=st.floats(0.01, 1.0))
def test_boundaries_are_monotone_and_meet_at_the_horizon(alpha: float, power: float, effect: float) -> None:
    d = gs.design(alpha=alpha, power=power, effect=effect)
    t = np.linspace(0.0, 1.5, 301)
    upper, futility = d.upper(t), d.futility(t)
    assert np.all(np.diff(upper) >= 0) and np.all(np.diff(futility) >= 0)
    assert np.all(futility <= upper + 1e-12)
    assert float(d.futility(1.0)) == pytest.approx(float(d.upper(1.0)))
    # the maximum sample size scales as 1/effect^2 and exceeds the fixed test's
    fixed = 2 * (gs._NORMAL.inv_cdf(1 - alpha / 2) + gs._NORMAL.inv_cdf(power)) ** 2 / effect**2
    assert fixed < d.max_samples < 2.5 * fixed + 1


@settings(max_examples=200, deadline=None)
@given(w=st.floats(-8, 8), t=st.floats(0.0, 1.0))
def test_the_repeated_p_value_agrees_with_the_boundary(w: float, t: float) -> None:
    d = gs.design(alpha=ALPHA, effect=0.1)
    p = float(gs.repeated_p_value(w, t))
    assert 0.0 <= p <= 1.0
    if abs(abs(w) - float(d.upper(t))) > 1e-6:
        assert (p <= ALPHA) == (abs(w) >= float(d.upper(t)))
    assert float(gs.repeated_p_value(w * 1.1 + math.copysign(0.01, w), t)) <= p + 1e-12  # further out, smaller


@settings(max_examples=5, deadline=None)
@given(rate=st.sampled_from([0.02, 0.1, 0.3]), looks=st.integers(5, 80), seed=st.integers(0, 2**32 - 1))
def test_aa_false_positive_rate_under_peeking_after_every_batch(rate: float, looks: int, seed: int) -> None:
    """Identical arms, a look after every batch (5 to 80 looks up to the horizon and a little past
    it): the share of experiments that ever claim a difference is at most alpha (+2 SE)."""
    d = gs.design(alpha=ALPHA, effect=0.1 * rate / math.sqrt(rate * (1 - rate)))
    batch = math.ceil(d.max_samples * 1.05 / looks)
    z, info = simulate(rate, 0.0, batch, looks, seed)
    _, sign = gs.first_stops(z, info, d)
    assert float((sign != 0).mean()) <= ALPHA + tolerance(ALPHA, EXPERIMENTS)


def test_power_and_early_stops_at_the_planned_effect() -> None:
    """At the planned effect (10% -> 11%), 40 looks: power about as designed, and on average
    fewer samples than the fixed test of 80% power; with no effect, futility stops it early."""
    d = gs.design(alpha=ALPHA, effect=0.01 / math.sqrt(0.09))
    fixed = 2 * (gs._NORMAL.inv_cdf(0.975) + gs._NORMAL.inv_cdf(0.8)) ** 2 / d.effect**2
    batch = math.ceil(d.max_samples / 40)
    z, info = simulate(0.1, 0.1, batch, 40, seed=16)
    index, sign = gs.first_stops(z, info, d)
    power = float((sign > 0).mean())
    print(f"\nGS at the planned effect: power {power:.3f}, mean n/arm {((index + 1) * batch).mean():.0f} "
          f"(fixed {fixed:.0f}, max {d.max_samples})")
    assert power == pytest.approx(0.8, abs=0.04)
    assert ((index + 1) * batch).mean() < 0.85 * fixed
    z0, info0 = simulate(0.1, 0.0, batch, 40, seed=17)
    index0, _ = gs.first_stops(z0, info0, d)
    assert ((index0 + 1) * batch).mean() < 0.85 * fixed


def test_bad_designs_are_refused() -> None:
    for kwargs in ({"alpha": 0.0, "effect": 0.1}, {"alpha": 0.05, "effect": 0.0},
                   {"alpha": 0.05, "effect": 0.1, "power": 1.0}, {"alpha": 0.05, "effect": math.inf}):
        with pytest.raises(ValueError):
            gs.design(**kwargs)  # type: ignore[arg-type]


def test_the_step_with_a_planned_effect_decides_three_ways() -> None:
    spec = {"weight": 50, "metric": "conversion", "minSamples": 100, "maxDuration": "24h", "effect": 0.0333}
    step = ABTestStep.model_validate(spec)
    assert step.power == 0.8 and ABTestStep.model_validate({**spec, "power": 0.9}).power == 0.9
    d = gs.design(alpha=0.05, effect=0.0333)
    n = d.max_samples // 2  # halfway
    better = decide_step(step, Proportion(n, n // 10), Proportion(n, int(n * 0.115)), elapsed=HOUR)
    assert better.decision is ABDecision.CANDIDATE_BETTER and better.p_value <= 0.05, better.message
    worse = decide_step(step, Proportion(n, int(n * 0.115)), Proportion(n, n // 10), elapsed=HOUR)
    assert worse.decision is ABDecision.CANDIDATE_WORSE
    flat = decide_step(step, Proportion(n, n // 10), Proportion(n, n // 10), elapsed=HOUR)
    assert flat.decision is ABDecision.NO_DIFFERENCE and "as large as planned" in flat.message
    early = decide_step(step, Proportion(500, 50), Proportion(500, 50), elapsed=HOUR)
    assert early.decision is ABDecision.UNDECIDED  # too early for futility: the wedge has not opened
    with pytest.raises(ValueError):
        ABTestStep.model_validate({**spec, "effect": 0})
