"""Benchmark: how many samples an A/B test needs — the abTest step's sequential tests against a
fixed-horizon two-proportion z-test of equal power, on simulated Bernoulli traffic.

    make bench-ab              # or: .venv/bin/python bench/ab_test.py [--quick]

Grid: base rates 0.02, 0.1, 0.3; a planned effect of +10% relative (e.g. 10% -> 11%), and true
effects of none, half, the planned and twice the planned. Every test is looked at after every
batch (1/40 of the fixed test's sample size per arm), as the operator does each analysis interval.

Tests compared (all two-sided, alpha 0.05, decisions from the very functions the operator runs):
- ``fixed``: the z-test at its planned sample size n_fix (80% power), read once.
- ``fixed, peeked``: the same z-test read after every batch (its A/A false-positive rate only).
- ``mSPRT tau=0.1``: the default always-valid test (``sequential.msprt_p_values``), stopped
  (no decision) at the fewest looks that give it 80% power at the planned effect — it has no
  horizon of its own, so this is the maxDuration a user planning for 80% would set.
- ``mSPRT tau=d``: the same with the mixing variance set to the planned effect d.
- ``planned (GS)``: ``group_sequential`` — efficacy boundary valid under any peeking, futility
  wedge, maximum sample size from the planned effect and power 0.8 (``abTest.effect``).

For each: mean samples per arm to a decision, P(candidate better) (power; under no effect the
rate of any claimed difference = false-positive rate), and the ratio of its mean samples to those
of a fixed-horizon test with the *same* power at the planned effect (n for the empirical power of
the sequential test, closed form). Every figure is the median over ``--repeats`` seeded runs of
``--experiments`` experiments. Target: ratio averaged over the four effects <= 0.70 and A/A
false-positive rate <= alpha.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from statistics import NormalDist

import numpy as np

from modelops.core.analysis import group_sequential as gs
from modelops.core.analysis.sequential import (
    bernoulli_z,
    fixed_horizon_samples,
    msprt_p_values,
    naive_p_values,
)

ALPHA, POWER, LIFT = 0.05, 0.8, 0.10
EFFECTS = (0.0, 0.5, 1.0, 2.0)
LOOKS_PER_NFIX = 40
MSPRT_CAP = 4
_NORMAL = NormalDist()

# A test: (cumulative n per arm per look, stable successes, candidate successes) ->
# (index of the look it stopped at, sign of its decision: +1 better, -1 worse, 0 none).
Test = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def fixed_n_for_power(power: float, d: float) -> float:
    """Per-arm n of the two-sided z-test with this power at an effect of d standard deviations."""
    power = min(max(power, ALPHA), 0.9999)
    return 2.0 * (_NORMAL.inv_cdf(1 - ALPHA / 2) + _NORMAL.inv_cdf(power)) ** 2 / d**2


def msprt(tau: float) -> Test:
    def run(n: np.ndarray, xs: np.ndarray, xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = msprt_p_values(n, xs, n, xc, tau=tau)
        hit = p <= ALPHA
        index = np.where(hit.any(axis=1), hit.argmax(axis=1), n.shape[-1] - 1)
        diff = np.take_along_axis(xc - xs, index[:, None], axis=1)[:, 0]
        return index, np.where(hit.any(axis=1), np.sign(diff), 0.0)
    return run


def _cap_for_power(index: np.ndarray, sign: np.ndarray) -> int:
    """The fewest looks by which the test says "better" in POWER of the planned-effect experiments:
    the mSPRT has no horizon of its own, so its maxDuration is set for the power users plan for."""
    decided = np.sort(np.where(sign > 0, index, np.inf))
    at = decided[min(len(decided) - 1, math.ceil(POWER * len(decided)) - 1)]
    return int(at) + 1 if math.isfinite(at) else int(index.max()) + 1


def planned(design: gs.Design) -> Test:
    def run(n: np.ndarray, xs: np.ndarray, xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, z = bernoulli_z(n, xs, n, xc)
        index, sign = gs.first_stops(z, np.broadcast_to(n / 2.0, z.shape), design)
        return index.astype(int), sign
    return run


def simulate(rate: float, effect: float, batch: int, looks: int, experiments: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = batch * np.arange(1, looks + 1, dtype=np.float64)
    xs = rng.binomial(batch, rate, size=(experiments, looks)).cumsum(axis=1).astype(np.float64)
    xc = rng.binomial(batch, rate * (1 + effect * LIFT), size=(experiments, looks)).cumsum(axis=1).astype(np.float64)
    return np.broadcast_to(n, xs.shape), xs, xc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rates", default="0.02,0.1,0.3")
    parser.add_argument("--quick", action="store_true", help="one rate, 200 experiments, 1 repeat: checks it runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.experiments, args.repeats, args.rates = 200, 1, "0.1"
    started = time.monotonic()
    rates = [float(r) for r in args.rates.split(",")]
    print(f"A/B test efficiency: alpha {ALPHA}, planned power {POWER}, planned lift +{LIFT:.0%} relative, "
          f"a look every n_fix/{LOOKS_PER_NFIX} per arm; medians over {args.repeats} runs x "
          f"{args.experiments} experiments")
    met = True
    averages: dict[str, list[float]] = {}
    for rate in rates:
        d = rate * LIFT / math.sqrt(rate * (1 - rate))
        n_fix = fixed_horizon_samples(rate, rate * (1 + LIFT), alpha=ALPHA, power=POWER)
        batch = max(1, round(n_fix / LOOKS_PER_NFIX))
        design = gs.design(alpha=ALPHA, power=POWER, effect=d)
        gs_looks = math.ceil(design.max_samples / batch)
        tests: dict[str, tuple[Test, int]] = {
            f"mSPRT tau={0.1:g}": (msprt(0.1), MSPRT_CAP * LOOKS_PER_NFIX),
            "mSPRT tau=d": (msprt(d), MSPRT_CAP * LOOKS_PER_NFIX),
            "planned (GS)": (planned(design), gs_looks),
        }
        # results[test][effect] = list over repeats of (mean samples, P(better), P(any claim))
        results: dict[str, dict[float, list[tuple[float, float, float]]]] = {t: {e: [] for e in EFFECTS} for t in tests}
        fixed: dict[float, list[float]] = {e: [] for e in EFFECTS}
        peeked_fpr: list[float] = []
        for repeat in range(args.repeats):
            runs: dict[str, dict[float, tuple[np.ndarray, np.ndarray]]] = {t: {} for t in tests}
            for effect in EFFECTS:
                rng = np.random.default_rng([20261201, repeat, int(rate * 1000), int(effect * 10)])
                looks = max(MSPRT_CAP * LOOKS_PER_NFIX, gs_looks)
                n, xs, xc = simulate(rate, effect, batch, looks, args.experiments, rng)
                at_fix = LOOKS_PER_NFIX - 1  # n = batch * 40 ~ n_fix
                p_fix = naive_p_values(n[:, at_fix], xs[:, at_fix], n[:, at_fix], xc[:, at_fix])
                better = (p_fix <= ALPHA) & (xc[:, at_fix] > xs[:, at_fix])
                fixed[effect].append(float(better.mean() if effect else (p_fix <= ALPHA).mean()))
                if effect == 0.0:
                    peeked = naive_p_values(n[:, :LOOKS_PER_NFIX], xs[:, :LOOKS_PER_NFIX],
                                            n[:, :LOOKS_PER_NFIX], xc[:, :LOOKS_PER_NFIX])
                    peeked_fpr.append(float((peeked <= ALPHA).any(axis=1).mean()))
                for name, (test, k) in tests.items():
                    runs[name][effect] = test(n[:, :k], xs[:, :k], xc[:, :k])
            for name, by_effect in runs.items():
                cap = _cap_for_power(*by_effect[1.0]) if name.startswith("mSPRT") else None
                for effect, (index, sign) in by_effect.items():
                    if cap is not None:
                        sign = np.where(index < cap, sign, 0.0)
                        index = np.minimum(index, cap - 1)
                    samples = float(((index + 1) * batch).mean())
                    results[name][effect].append((samples, float((sign > 0).mean()), float((sign != 0).mean())))
        med = statistics.median
        print(f"\nbase rate {rate:g} -> {rate * (1 + LIFT):g} planned (d = {d:.4f} sd); n_fix = {n_fix} per arm "
              f"(z-test, 80% power); batch {batch}/arm; GS max {design.max_samples}/arm")
        print(f"  {'test':22} {'effect':>6} {'mean n/arm':>11} {'P(better)':>9} {'P(claim)':>8} "
              f"{'n_fix@=power':>12} {'ratio':>6}")
        print(f"  {'fixed z-test':22} {'all':>6} {n_fix:>11} " + " ".join(
            f"{e:g}x:{med(fixed[e]):.3f}" for e in EFFECTS))
        print(f"  {'fixed z-test, peeked':22} {'0':>6} {'':>11} {'':>9} {med(peeked_fpr):8.4f}   "
              f"(A/A false positives when read after every batch)")
        for name in tests:
            power = med([r[1] for r in results[name][1.0]])
            n_equal = fixed_n_for_power(power, d)
            ratios = []
            for effect in EFFECTS:
                rows = results[name][effect]
                samples = med([r[0] for r in rows])
                ratios.append(samples / n_equal)
                print(f"  {name:22} {effect:>5g}x {samples:11.0f} {med([r[1] for r in rows]):9.3f} "
                      f"{med([r[2] for r in rows]):8.4f} {n_equal:12.0f} {samples / n_equal:6.2f}")
            fpr = med([r[2] for r in results[name][0.0]])
            average = sum(ratios) / len(ratios)
            averages.setdefault(name, []).append(average)
            verdict = "met" if average <= 0.70 and fpr <= ALPHA else "NOT met"
            print(f"  {name:22} power {power:.3f}; ratio at the planned effect {ratios[2]:.2f}, averaged over the "
                  f"effects {average:.2f}; A/A FPR {fpr:.4f}; target (<= 0.70, FPR <= {ALPHA}): {verdict}")
            if name == "planned (GS)":
                met = met and verdict == "met"
    print("\nratio to the fixed test of equal power, averaged over the effects and base rates:")
    for name, values in averages.items():
        print(f"  {name:22} {sum(values) / len(values):.2f}")
    print(f"({time.monotonic() - started:.1f} s)")
    return 0 if met or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
