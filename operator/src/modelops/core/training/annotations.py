"""Annotations of a TrainingRun that become tags of its MLflow run: the documented path by which
whoever creates a TrainingRun (a person, a pipeline, a DriftMonitor retraining on drift) records
why, where MLflow users look.

Every annotation under the prefix ``mlflow.modelops.io/`` is recorded, when the operator creates
the run, as the tag named by the rest of the key: ``mlflow.modelops.io/drift.window: 2026-...``
becomes the tag ``drift.window``. The operator's own tags (``modelops.*``, ``mlflow.*``) win over an
annotation of the same name, so an annotation can never rewrite the reproducibility record. MLflow
limits a tag value to 5,000 characters: longer values are cut there.
"""

from __future__ import annotations

from collections.abc import Mapping

MLFLOW_TAG_PREFIX = "mlflow.modelops.io/"
MAX_TAG_VALUE = 5000


def annotation_tags(annotations: Mapping[str, str] | None) -> dict[str, str]:
    """The MLflow tags the annotations ask for (see the module docstring)."""
    tags = {}
    for key, value in (annotations or {}).items():
        if key.startswith(MLFLOW_TAG_PREFIX) and len(key) > len(MLFLOW_TAG_PREFIX):
            tags[key.removeprefix(MLFLOW_TAG_PREFIX)] = str(value)[:MAX_TAG_VALUE]
    return tags
