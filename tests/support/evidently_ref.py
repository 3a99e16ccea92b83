"""Evidently 0.7 as the reference implementation: run its ``DataDriftPreset`` (or ``ValueDrift``
with a chosen method) on pandas frames and read back, per column, the method, score, threshold
and its own verdict (the column's test FAILs when Evidently calls it drift).

Shared by the drift unit tests and ``bench/drift.py``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pandas as pd

# Evidently's display names of the stat tests (``StatTest.display_name``) → their registered names.
METHOD_NAMES = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "PSI": "psi",
}


@dataclass(frozen=True)
class EvidentlyColumn:
    method: str
    value: float
    threshold: float
    drifted: bool


def evidently_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: list[str],
    categorical: list[str],
    *,
    num_method: str | None = None,
    cat_method: str | None = None,
) -> dict[str, EvidentlyColumn]:
    """Evidently's per-column drift on the given frames (columns typed as given); methods by
    Evidently's registered names (``psi``, ``ks``, ...), None for its defaults."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
        ref = Dataset.from_pandas(reference, data_definition=definition)
        cur = Dataset.from_pandas(current, data_definition=definition)
        preset = DataDriftPreset(columns=numerical + categorical, num_method=num_method, cat_method=cat_method)
        snapshot = Report([preset], include_tests=True).run(current_data=cur, reference_data=ref)
        data: dict[str, Any] = snapshot.dict()
    verdicts: dict[str, bool] = {}
    for test in data["tests"]:
        params = test["metric_config"]["params"]
        if params.get("type") == "evidently:metric_v2:ValueDrift":
            verdicts[params["column"]] = str(test["status"].value) == "FAIL"
    out: dict[str, EvidentlyColumn] = {}
    for metric in data["metrics"]:
        config = metric["config"]
        if config.get("type") != "evidently:metric_v2:ValueDrift":
            continue
        column = config["column"]
        out[column] = EvidentlyColumn(
            method=METHOD_NAMES.get(config["method"], config["method"]),
            value=float(metric["value"]),
            threshold=float(config["threshold"]),
            drifted=verdicts[column],
        )
    return out
