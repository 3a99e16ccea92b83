"""Parity mode (core.drift.parity) against Evidently 0.7.23 itself, on generated data and on
scikit-learn's breast-cancer dataset, plus hand-computed pieces."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import load_breast_cancer

from modelops.api.driftmonitor import FeatureType
from modelops.core.drift import parity
from tests.support.evidently_ref import evidently_drift

NUM, CAT = FeatureType.NUMERIC, FeatureType.CATEGORICAL
REL = 1e-9  # the stated parity tolerance (exact KS p-values agree to 1e-12)


def generated(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    d: dict[str, np.ndarray] = {
        "normal": rng.normal(shift, 1, n),
        "lognormal": rng.lognormal(shift, 1, n),
        "few": rng.integers(0, 4, n).astype(float) + (rng.random(n) < shift),
        "binary": rng.integers(0, 2, n).astype(float),
        "ints": rng.integers(0, 15, n).astype(float),
        "infs": rng.normal(shift, 1, n),
    }
    d["lognormal"][rng.random(n) < 0.02] = np.nan
    d["infs"][:3] = np.inf
    p = [0.4, 0.3, 0.2, 0.1] if shift == 0 else [0.25, 0.25, 0.25, 0.25]
    frame = pd.DataFrame(d)
    frame["card"] = rng.choice(["a", "b", "c", "d"], n, p=p).astype(object)
    frame["yes"] = rng.choice(["y", "n"], n, p=[0.5 + shift / 4, 0.5 - shift / 4]).astype(object)
    return frame


NUMERIC = ["normal", "lognormal", "few", "binary", "ints", "infs"]
CATEGORICAL = ["card", "yes"]


def assert_parity(ref: pd.DataFrame, cur: pd.DataFrame, num: list[str], cat: list[str],
                  num_method: str | None = None, cat_method: str | None = None) -> list[str]:
    evidently = evidently_drift(ref, cur, num, cat, num_method=num_method, cat_method=cat_method)
    methods = []
    for column in num + cat:
        kind = NUM if column in num else CAT
        method = num_method if kind == NUM else cat_method
        ours = parity.column_drift(kind, parity.sample(kind, ref[column].to_numpy()),
                                   parity.sample(kind, cur[column].to_numpy()), method=method)
        theirs = evidently[column]
        assert ours.method == theirs.method, column
        assert ours.threshold == theirs.threshold, column
        assert ours.value == pytest.approx(theirs.value, rel=REL, abs=1e-300), column
        assert ours.drifted == theirs.drifted, column
        methods.append(ours.method)
    return methods


@pytest.mark.parametrize(("n_ref", "n_cur", "shift"), [(400, 600, 0.3), (3000, 2000, 0.2)])
def test_default_methods_equal_evidently(n_ref: int, n_cur: int, shift: float) -> None:
    rng = np.random.default_rng(n_ref + int(shift * 10))
    methods = assert_parity(generated(rng, n_ref, 0.0), generated(rng, n_cur, shift), NUMERIC, CATEGORICAL)
    # every default: ks, chisquare, z for small references; wasserstein, jensenshannon for large
    expected = {"ks", "chisquare", "z"} if n_ref <= 1000 else {"wasserstein", "jensenshannon"}
    assert set(methods) == expected


@pytest.mark.parametrize("method", ["psi", "jensenshannon"])
def test_psi_and_js_modes_equal_evidently(method: str) -> None:
    rng = np.random.default_rng(3)
    ref, cur = generated(rng, 3000, 0.0), generated(rng, 2500, 0.2)
    # Evidently's psi/jensenshannon modes crash on a column holding ±inf (its histogram of the raw
    # column), so that column is left out here; parity mode drops infinities as its tests do.
    numeric = [c for c in NUMERIC if c != "infs"]
    assert set(assert_parity(ref, cur, numeric, CATEGORICAL, method, method)) == {method}


@pytest.mark.parametrize("method", ["ks", "wasserstein"])
def test_ks_and_wasserstein_modes_equal_evidently(method: str) -> None:
    rng = np.random.default_rng(4)
    ref, cur = generated(rng, 12_000, 0.0), generated(rng, 9_000, 0.03)  # KS asymptotic here
    assert set(assert_parity(ref, cur, NUMERIC, [], method)) == {method}


def test_breast_cancer_dataset_equals_evidently() -> None:
    data = load_breast_cancer(as_frame=True).frame
    columns = [c for c in data.columns if c != "target"][:12]
    data["diagnosis"] = data["target"].map({0: "malignant", 1: "benign"}).astype(object)
    # reference: benign-heavy half; current: the rest — a real distribution change
    order = np.argsort(data["mean radius"].to_numpy(), kind="stable")
    ref, cur = data.iloc[order[::2]], data.iloc[order[1::2]]
    assert_parity(ref, cur, columns, ["diagnosis"])
    drifted = data[data["target"] == 0]
    assert_parity(data, drifted, columns, ["diagnosis"], "wasserstein", "jensenshannon")


def test_sturges_edges_equal_numpy() -> None:
    rng = np.random.default_rng(5)
    for n_ref, n_cur in [(30, 7), (1000, 3333), (12345, 10)]:
        a, b = rng.normal(size=n_ref), rng.gamma(2.0, size=n_cur)
        edges = parity.sturges_edges(parity.NumericSample.of(a), parity.NumericSample.of(b))
        assert edges.tolist() == np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges").tolist()
        ref_hist = parity._histogram_sorted(np.sort(a), edges)
        assert ref_hist.tolist() == np.histogram(a, edges)[0].tolist()


def test_wasserstein_and_z_hand_checked() -> None:
    a, b = np.sort(np.array([0.0, 1.0, 3.0])), np.sort(np.array([5.0, 6.0, 8.0]))
    assert parity.wasserstein_sorted(a, b) == pytest.approx(5.0)  # every unit of mass moves 5
    rng = np.random.default_rng(6)
    x, y = np.sort(rng.normal(size=500)), np.sort(rng.exponential(size=700))
    assert parity.wasserstein_sorted(x, y) == pytest.approx(float(stats.wasserstein_distance(x, y)), rel=1e-12)
    # z-test: p1 = 0.5, p2 = 0.6 on 100 each: pooled 0.55, z = −0.1/√(0.55·0.45·0.02)
    z = -0.1 / math.sqrt(0.55 * 0.45 * 0.02)
    p = parity.z_test_pvalue(np.array([50, 50]), np.array([40, 60]))
    assert p == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))), rel=1e-12)


def test_empty_column_is_refused_as_evidently_does() -> None:
    with pytest.raises(ValueError, match="empty"):
        parity.column_drift(NUM, parity.sample(NUM, [math.nan, math.inf]), parity.sample(NUM, [1.0, 2.0]))
