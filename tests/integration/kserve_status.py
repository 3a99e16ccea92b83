"""InferenceService status as KServe writes it: no KServe controller runs in the test cluster, so
the tests play it, in KServe's own format (conditions, modelStatus)."""

from __future__ import annotations

from typing import Any


def ready_status(url: str) -> dict[str, Any]:
    """An InferenceService status as KServe writes it when the predictor is up and loaded."""
    now = "2026-11-25T12:00:00Z"
    return {
        "url": url,
        "conditions": [
            {"type": "PredictorReady", "status": "True", "lastTransitionTime": now},
            {"type": "IngressReady", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
        ],
        "modelStatus": {"states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
                        "transitionStatus": "UpToDate"},
    }
