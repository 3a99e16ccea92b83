"""The Prometheus metrics the built-in analysis checks read: names, labels and buckets.

This is a contract between the prediction-log sink (which turns KServe's request-logger
CloudEvents into these series, per model and version) and the Rollout's built-in checks (which
query them). Anything that serves these series works: the log sink, a model server's own
exporter, or a recording rule over a mesh's metrics. Every series carries the labels
``namespace`` (of the ModelVersion), ``model`` (spec.model) and ``modelversion`` (the
ModelVersion's name: what ``${stable}`` and ``${candidate}`` expand to). Scrape them with
``honor_labels: true`` so a target's own ``namespace`` label does not rename ours.
"""

from __future__ import annotations

NAMESPACE_LABEL = "namespace"
MODEL_LABEL = "model"
MODELVERSION_LABEL = "modelversion"
IDENTITY_LABELS = (NAMESPACE_LABEL, MODEL_LABEL, MODELVERSION_LABEL)

REQUESTS_TOTAL = "modelops_requests_total"
"""Counter: predictor requests answered, by HTTP status ``code`` ("200", "500", ...). The
built-in errorRate is the share with a 5xx code; mirrored (shadow) requests count for the version
that answered them, which is how a shadow step gates on the candidate's errors."""
CODE_LABEL = "code"
ERROR_CODES = "5.."

REQUEST_DURATION_SECONDS = "modelops_request_duration_seconds"
"""Histogram: predictor latency in seconds (``_bucket``/``_sum``/``_count``); latencyP99 reads it."""
REQUEST_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

PREDICTION_SCORE = "modelops_prediction_score"
"""Histogram: the model's output score per prediction, on [0, 1]; predictionDivergence compares
the candidate's with the stable's (Jensen-Shannon distance of the binned distributions)."""
PREDICTION_SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))  # 0.05 ... 1.0

OUTCOMES_TOTAL = "modelops_outcomes_total"
"""Counter: observations of a business outcome attributed to the version that served the
prediction (e.g. a conversion joined back to the request), by ``metric`` (the abTest step's
``metric``) and ``outcome`` (``success`` or ``failure``). The A/B test counts both since the
step began."""
METRIC_LABEL = "metric"
OUTCOME_LABEL = "outcome"
SUCCESS = "success"
FAILURE = "failure"
