"""The drift job's pure judgement (modelops.drift_job.judging): threshold resolution, the engine's
results as status results, the overall verdict, consecutiveDrifted, and the status patch's shape
(pinned in tests/fixtures/drift_job_status_patch.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from modelops.api.driftmonitor import (
    BUILTIN_THRESHOLDS,
    PREDICTION_FEATURE,
    DriftMonitorSpec,
    DriftMonitorStatus,
    DriftVerdict,
    FeatureType,
    Statistic,
    Thresholds,
)
from modelops.core.drift.outcome import Verdict
from modelops.core.drift.sketch_categorical import CategoricalReference, CategoricalWindow
from modelops.core.drift.sketch_numeric import NumericReference, NumericWindow
from modelops.core.drift.verdict import DEFAULT_THRESHOLDS, Result, evaluate
from modelops.drift_job import judging
from modelops.drift_job.planning import TimeWindow

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "drift_job_status_patch.json"


def spec(**extra: object) -> DriftMonitorSpec:
    return DriftMonitorSpec.model_validate({
        "modelRef": {"kind": "ModelVersion", "name": "fraud-v3"},
        "features": [{"name": "amount", "type": "numeric"}, {"name": "merchant", "type": "categorical"}],
        "statistics": ["psi", "ks", "nullRate"],
        **extra,
    })


THRESHOLDS = Thresholds.model_validate({
    "default": {"psi": 0.25},
    "perFeature": {"amount": {"psi": 0.1, "ks": 0.05}},
    "predictions": {"psi": 0.3},
})


@pytest.mark.parametrize(("feature", "statistic", "expected"), [
    ("amount", "psi", 0.1),                     # perFeature
    ("amount", "ks", 0.05),
    ("amount", "nullRate", BUILTIN_THRESHOLDS[Statistic.NULL_RATE]),  # neither set: built-in
    ("merchant", "psi", 0.25),                  # default
    ("merchant", "js", BUILTIN_THRESHOLDS[Statistic.JS]),
    (PREDICTION_FEATURE, "psi", 0.3),           # predictions
    (PREDICTION_FEATURE, "ks", BUILTIN_THRESHOLDS[Statistic.KS]),
    ("amount", "outOfRange", DEFAULT_THRESHOLDS["outOfRange"]),  # engine's own checks: the engine's defaults
    ("merchant", "unseenShare", DEFAULT_THRESHOLDS["unseenShare"]),
])
def test_thresholds_resolve_per_feature_then_default_then_builtin(feature: str, statistic: str,
                                                                  expected: float) -> None:
    assert judging.threshold_for(THRESHOLDS, feature, statistic) == expected


def test_without_thresholds_the_builtins_apply() -> None:
    assert judging.threshold_for(None, "amount", "psi") == 0.2


def test_feature_specs_add_the_prediction_and_resolve_every_check() -> None:
    specs = judging.feature_specs(spec(thresholds=THRESHOLDS.model_dump(by_alias=True, exclude_none=True)),
                                  FeatureType.NUMERIC)
    assert [(s.name, s.type) for s in specs] == [("amount", FeatureType.NUMERIC),
                                                 ("merchant", FeatureType.CATEGORICAL),
                                                 (PREDICTION_FEATURE, FeatureType.NUMERIC)]
    amount = specs[0]
    assert amount.checks() == ("psi", "ks", "nullRate", "infRate", "outOfRange")
    assert amount.threshold("psi") == 0.1 and amount.threshold("nullRate") == 0.01  # the built-in
    assert specs[2].threshold("psi") == 0.3
    assert [s.name for s in judging.feature_specs(spec(), None)] == ["amount", "merchant"]


def result(statistic: str, verdict: Verdict, feature: str = "amount") -> Result:
    return Result(feature, statistic, 0.5 if verdict != Verdict.NOT_ENOUGH_DATA else None, 0.2, 0.01, verdict,
                  1000, 1000, None, "m")


def test_overall_drift_when_anything_drifted() -> None:
    outcome = judging.overall([result("psi", Verdict.DRIFT), result("ks", Verdict.NO_DRIFT)], [], 1000, 100,
                              ["psi", "ks"])
    assert outcome.verdict == DriftVerdict.DRIFT and outcome.drifted and "amount/psi" in outcome.message


def test_overall_inconclusive_below_min_rows_even_when_statistics_pass() -> None:
    outcome = judging.overall([result("psi", Verdict.NO_DRIFT)], [], 99, 100, ["psi"])
    assert outcome.verdict == DriftVerdict.INCONCLUSIVE and "too little data: 99 rows" in outcome.message


def test_overall_inconclusive_when_no_requested_statistic_could_be_judged() -> None:
    results = [result("psi", Verdict.NOISE_FLOOR_TOO_HIGH), result("ks", Verdict.NOT_ENOUGH_DATA),
               result("outOfRange", Verdict.NO_DRIFT)]  # an engine check alone does not make a verdict
    outcome = judging.overall(results, [], 5000, 100, ["psi", "ks"])
    assert outcome.verdict == DriftVerdict.INCONCLUSIVE and "no requested statistic" in outcome.message


def test_overall_no_drift_names_the_checks_it_could_not_judge() -> None:
    results = [result("psi", Verdict.NO_DRIFT), result("psi", Verdict.NOISE_FLOOR_TOO_HIGH, "merchant")]
    outcome = judging.overall(results, [], 5000, 100, ["psi"])
    assert outcome.verdict == DriftVerdict.NO_DRIFT and "merchant/psi" in outcome.message


@pytest.mark.parametrize(("previous", "verdict", "expected"), [
    (None, DriftVerdict.DRIFT, 1), (2, DriftVerdict.DRIFT, 3), (2, DriftVerdict.NO_DRIFT, 0),
    (2, DriftVerdict.INCONCLUSIVE, 2), (None, DriftVerdict.INCONCLUSIVE, 0),
])
def test_consecutive_drifted(previous: int | None, verdict: DriftVerdict, expected: int) -> None:
    assert judging.next_consecutive(previous, verdict) == expected


def test_not_applicable_pairs_are_left_out_and_verdicts_mapped() -> None:
    rng = np.random.default_rng(1)
    amount, merchant = NumericReference.build(rng.normal(0, 1, 4000)), CategoricalReference.build(
        rng.choice(["a", "b"], 4000))
    refs: dict[str, NumericReference | CategoricalReference] = {"amount": amount, "merchant": merchant}
    wins: dict[str, NumericWindow | CategoricalWindow] = {"amount": amount.window().update(rng.normal(3, 1, 4000)),
            "merchant": merchant.window().update(rng.choice(["a", "b"], 10))}
    evaluation = evaluate(judging.feature_specs(spec(), None), refs, wins)
    out = judging.status_results(evaluation)
    keys = {(r["feature"], r["statistic"]) for r in out}
    assert ("merchant", "ks") not in keys and ("amount", "ks") in keys and ("merchant", "unseenShare") in keys
    by = {(r["feature"], r["statistic"]): r for r in out}
    assert by[("amount", "psi")]["verdict"] == "Drift" and by[("amount", "psi")]["drifted"] is True
    assert by[("amount", "ks")]["pValue"] < 1e-6
    assert by[("merchant", "psi")]["verdict"] == "Inconclusive"  # 10 values: noise floor too high
    assert by[("merchant", "psi")]["drifted"] is False and "refused" in by[("merchant", "psi")]["message"]
    DriftMonitorStatus.model_validate({"results": out})  # the CRD's shape


def test_status_patch_has_exactly_the_contract_keys_and_matches_the_pinned_fixture() -> None:
    window = TimeWindow(datetime(2026, 12, 1, 19, tzinfo=UTC), datetime(2026, 12, 1, 20, tzinfo=UTC))
    summary = judging.RunSummary(
        finished=datetime(2026, 12, 1, 20, 0, 7, 500000, tzinfo=UTC), window=window, rows=4200, reference_rows=50000,
        results=[{"feature": "amount", "statistic": "psi", "value": 0.31, "threshold": 0.2, "drifted": True,
                  "verdict": "Drift", "noiseFloor": 0.0024, "message": "0.31 is above the threshold 0.2"}],
        outcome=judging.Outcome(DriftVerdict.DRIFT, "drift in 1 check(s): amount/psi"),
        report_uri="s3://logs/_reports/fraud/fraud-drift/run-1.html", served="fraud-v3")
    body = judging.status_patch(summary, previous_consecutive=2)
    assert body == json.loads(FIXTURE.read_text())
    assert list(body) == ["status"] and tuple(body["status"]) == judging.STATUS_KEYS
    assert "conditions" not in body["status"] and "observedGeneration" not in body["status"]
    DriftMonitorStatus.model_validate(body["status"])  # every key is in the CRD's status schema


def test_results_beyond_the_crd_bound_are_capped_keeping_the_drifted_ones() -> None:
    results = [{"feature": f"f{i}", "verdict": "Drift" if i % 1000 == 999 else "NoDrift"} for i in range(3000)]
    kept, dropped = judging.capped(results, 2048)
    assert (len(kept), dropped) == (2048, 952)
    assert [r["feature"] for r in kept if r["verdict"] == "Drift"] == ["f999", "f1999", "f2999"]
    assert [r["feature"] for r in kept][:3] == ["f0", "f1", "f2"]  # order kept
    assert judging.capped(results[:5], 2048) == (results[:5], 0)
