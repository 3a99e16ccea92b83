"""Verdicts (core.drift.verdict, outcome, noise, schema): the cases where Evidently falls short —
a million unshifted rows, a null-rate jump, a new category, too little data — judged by default."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from modelops.api.driftmonitor import FeatureType
from modelops.core.drift import noise
from modelops.core.drift import statistics as S
from modelops.core.drift.ks import ks_statistic_binned
from modelops.core.drift.outcome import Verdict, overall
from modelops.core.drift.schema import check_schema
from modelops.core.drift.sketch_categorical import CategoricalReference
from modelops.core.drift.sketch_numeric import NumericReference
from modelops.core.drift.verdict import FeatureSpec, evaluate
from tests.support.evidently_ref import evidently_drift

ALL = ("psi", "ks", "js", "wasserstein", "nullRate", "schema")
NUM = FeatureType.NUMERIC
CAT = FeatureType.CATEGORICAL


def test_one_million_unshifted_rows_are_not_flagged_and_ks_p_values_would_be() -> None:
    rng = np.random.default_rng(2024)
    specs, refs, wins = [], {}, {}
    p_values = []
    for i in range(4):
        name = f"x{i}"
        ref = NumericReference.build(rng.normal(size=1_000_000))
        win = ref.window().update(rng.normal(size=1_000_000))
        specs.append(FeatureSpec(name, NUM, ALL))
        refs[name], wins[name] = ref, win
    evaluation = evaluate(specs, refs, wins)
    assert evaluation.verdict == Verdict.NO_DRIFT, [r.message for r in evaluation.drifted]
    for spec in specs:
        ks = evaluation.result(spec.name, "ks")
        assert ks.value is not None and ks.value < 0.005  # D is reported, tiny at this size
        assert ks.p_value is not None
        p_values.append(ks.p_value)
    # A p-value test at this size flags a 0.5% shift; D of that shift stays far below 0.1.
    ref = NumericReference.build(rng.normal(size=1_000_000))
    shifted = S.ks_numeric(ref, ref.window().update(rng.normal(0.01, 1, size=1_000_000)))
    assert shifted.p_value is not None and shifted.p_value < 0.05
    assert shifted.value is not None and shifted.value < 0.01


def test_null_rate_from_1_to_5_percent_is_flagged_and_evidently_misses_it() -> None:
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=20_000), rng.normal(size=20_000)
    x[rng.random(x.size) < 0.01] = np.nan
    y[rng.random(y.size) < 0.05] = np.nan
    ref = NumericReference.build(x)
    evaluation = evaluate([FeatureSpec("amount", NUM)], {"amount": ref}, {"amount": ref.window().update(y)})
    null = evaluation.result("amount", "nullRate")
    assert null.verdict == Verdict.DRIFT and null.value == pytest.approx(0.04, abs=0.004)
    assert evaluation.result("amount", "psi").verdict == Verdict.NO_DRIFT
    assert evaluation.verdict == Verdict.DRIFT
    evidently = evidently_drift(pd.DataFrame({"amount": x}), pd.DataFrame({"amount": y}), ["amount"], [])
    assert not evidently["amount"].drifted  # Evidently drops nulls before its test


def test_new_category_at_half_a_percent_is_flagged_and_evidently_misses_it() -> None:
    rng = np.random.default_rng(8)
    x = rng.choice(["visa", "mastercard", "amex"], size=20_000, p=[0.6, 0.3, 0.1]).astype(object)
    y = rng.choice(["visa", "mastercard", "amex"], size=20_000, p=[0.6, 0.3, 0.1]).astype(object)
    y[rng.random(y.size) < 0.005] = "crypto"
    ref = CategoricalReference.build(x)
    evaluation = evaluate([FeatureSpec("card", CAT, ("psi", "js"))], {"card": ref}, {"card": ref.window().update(y)})
    unseen = evaluation.result("card", "unseenShare")
    assert unseen.verdict == Verdict.DRIFT and unseen.value == pytest.approx(0.005, abs=0.0015)
    assert evaluation.result("card", "psi").verdict == Verdict.NO_DRIFT  # PSI ≈ 0.02
    evidently = evidently_drift(pd.DataFrame({"card": x}), pd.DataFrame({"card": y}), [], ["card"])
    assert evidently["card"].method == "jensenshannon" and not evidently["card"].drifted


def test_small_samples_are_refused_not_passed() -> None:
    rng = np.random.default_rng(9)
    ref = NumericReference.build(rng.normal(size=60))
    win = ref.window().update(rng.normal(size=40))
    evaluation = evaluate([FeatureSpec("x", NUM, ("psi", "ks", "js"))], {"x": ref}, {"x": win})
    psi = evaluation.result("x", "psi")
    # (10 − 1)(1/60 + 1/40) = 0.375 > 0.2/3
    assert psi.noise_floor == pytest.approx(0.375)
    assert psi.verdict == Verdict.NOISE_FLOOR_TOO_HIGH and "noise floor" in psi.message
    assert evaluation.verdict != Verdict.NO_DRIFT
    empty = evaluate([FeatureSpec("x", NUM)], {"x": ref}, {"x": ref.window()})
    assert empty.result("x", "psi").verdict == Verdict.NOT_ENOUGH_DATA
    assert empty.verdict == Verdict.NOT_ENOUGH_DATA
    missing = evaluate([FeatureSpec("x", NUM, ("psi", "schema"))], {"x": ref}, {})
    assert missing.result("x", "schema").verdict == Verdict.DRIFT
    assert missing.result("x", "psi").verdict == Verdict.NOT_ENOUGH_DATA


def test_a_real_shift_is_flagged_by_every_distance() -> None:
    rng = np.random.default_rng(10)
    ref = NumericReference.build(rng.normal(size=50_000))
    win = ref.window().update(rng.normal(0.8, 1, size=50_000))
    evaluation = evaluate([FeatureSpec("x", NUM, ALL)], {"x": ref}, {"x": win})
    for statistic in ("psi", "ks", "js", "wasserstein"):
        assert evaluation.result("x", statistic).verdict == Verdict.DRIFT, statistic
    assert evaluation.result("x", "nullRate").verdict == Verdict.NO_DRIFT


def test_numeric_only_statistics_on_categorical_features_say_so() -> None:
    ref = CategoricalReference.build(np.array(["a", "b"] * 500, dtype=object))
    evaluation = evaluate([FeatureSpec("c", CAT, ("ks", "wasserstein"))], {"c": ref},
                          {"c": ref.window().update(np.array(["a", "b"] * 500, dtype=object))})
    assert evaluation.result("c", "ks").verdict == Verdict.NOT_APPLICABLE
    assert evaluation.verdict == Verdict.NO_DRIFT


@pytest.mark.parametrize(("n", "bins"), [(2000, 10), (500, 10), (5000, 20)])
def test_noise_floors_match_simulation(n: int, bins: int) -> None:
    # Mean of the statistic over repeated no-drift draws ≈ the stated floor (within 25%).
    rng = np.random.default_rng(n + bins)
    psis, kss = [], []
    for _ in range(80):  # both sides are draws: a fresh reference every time
        ref = NumericReference.build(rng.normal(size=n), fine_bins=bins * 10, coarse_bins=bins)
        win = ref.window().update(rng.normal(size=n))
        psis.append(S.psi_numeric(ref, win).value)
        kss.append(ks_statistic_binned(ref.counts, win.counts))
    assert float(np.mean(psis)) == pytest.approx(noise.psi_floor(bins, n, n), rel=0.25)
    # D on the fine bins sees slightly less than the raw D
    assert float(np.mean(kss)) == pytest.approx(noise.ks_floor(n, n), rel=0.25)


def test_overall_order() -> None:
    assert overall([Verdict.NO_DRIFT, Verdict.DRIFT, Verdict.NOT_ENOUGH_DATA]) == Verdict.DRIFT
    assert overall([Verdict.NO_DRIFT, Verdict.NOISE_FLOOR_TOO_HIGH]) == Verdict.NOISE_FLOOR_TOO_HIGH
    assert overall([Verdict.NO_DRIFT, Verdict.NOT_APPLICABLE]) == Verdict.NO_DRIFT
    assert overall([]) == Verdict.NO_DRIFT


def test_schema_against_signature() -> None:
    signature = {"amount": "double", "age": "long", "country": "string", "flag": "boolean"}
    observed = {"amount": "int64", "age": "double", "country": "string", "extra": "float"}
    report = check_schema(signature, observed)
    assert report.missing == ("flag",) and report.new == ("extra",)
    assert report.wrong_type == {"age": ("long", "double")}  # int where double is wanted widens: fine
    assert report.violation("age") == 1.0 and report.violation("amount") == 0.0 and not report.ok
    assert check_schema({"t": "datetime"}, {"t": "timestamp[us]"}).ok
    assert math.isinf(noise.rate_floor(0.1, 0, 10))
