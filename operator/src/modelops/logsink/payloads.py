"""Flattening KServe payloads into one row per prediction.

Owns the reading of the two inference protocols KServe serves, and nothing else:

- **v1** (``{"instances": [...]}`` -> ``{"predictions": [...]}``): an instance is an object
  (its keys are the features), a list (positional: named by the ModelVersion's signature when the
  lengths agree, else ``0``, ``1``, ...) or a scalar (``0``);
- **v2 / Open Inference Protocol** (``{"inputs": [tensor, ...]}`` -> ``{"outputs": [...]}``), a
  tensor being ``{name, shape, datatype, data}`` with ``data`` flat (row-major) or nested: the first
  dimension is the batch; a ``[N]`` or ``[N, 1]`` tensor is one feature named after the tensor, a
  ``[N, F]`` tensor is F features (the signature's names when it has F inputs, else
  ``<tensor>.0`` ... ``<tensor>.F-1``), anything of higher rank is kept as JSON text per instance.

Outputs become ``(prediction, score)`` per instance: ``prediction`` is the model's output as JSON
text (exactly what it answered), ``score`` a number in [0, 1] when one can be read from it (a
probability, the positive class of a two-class ``predict_proba`` row, a ``score``/``probability``
field), else ``None`` — the prediction-score histogram and the divergence gate read only scores.
Anything else raises :class:`~modelops.logsink.events.BadEvent` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from modelops.logsink.events import BadEvent

Features = dict[str, Any]
Output = tuple[str, float | None]
SCORE_FIELDS = ("score", "probability", "proba", "prob", "confidence")
SCORE_TENSORS = ("score", "scores", "probability", "probabilities", "proba", "output_probability")


def _scalar(value: Any) -> Any:
    """A feature value as stored: scalars as they are, anything nested as compact JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _rows(data: Any, shape: Sequence[int], where: str) -> list[Any]:
    """The batch (first) dimension of a v2 tensor's data, flat or nested."""
    if not isinstance(data, list):
        raise BadEvent(f"{where}.data: must be a list", reason="bad_payload", status=422)
    if not shape:
        return [data[0] if data else None]
    batch = shape[0]
    if len(data) == batch and (len(shape) == 1 or all(isinstance(item, list) for item in data)):
        return list(data)  # nested, or one value per instance
    width = 1
    for dim in shape[1:]:
        width *= dim
    if width <= 0 or len(data) != batch * width:
        raise BadEvent(f"{where}: {len(data)} values do not fill shape {list(shape)}", reason="bad_payload",
                       status=422)
    if width == 1:
        return list(data)
    return [data[i * width:(i + 1) * width] for i in range(batch)]


def _tensor(tensor: Any, where: str) -> tuple[str, list[int], list[Any]]:
    if not isinstance(tensor, dict):
        raise BadEvent(f"{where}: must be an object with name, shape, datatype, data", reason="bad_payload",
                       status=422)
    name, shape = tensor.get("name"), tensor.get("shape")
    if not isinstance(name, str) or not name:
        raise BadEvent(f"{where}.name: required", reason="bad_payload", status=422)
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise BadEvent(f"{where}.shape: must be a list of non-negative integers", reason="bad_payload", status=422)
    return name, shape, _rows(tensor.get("data"), shape, where)


def _positional(values: Sequence[Any], names: Sequence[str] | None, prefix: str = "") -> Features:
    if names and len(names) == len(values):
        return {name: _scalar(value) for name, value in zip(names, values, strict=True)}
    return {f"{prefix}{i}": _scalar(value) for i, value in enumerate(values)}


def request_features(payload: dict[str, Any], names: Sequence[str] | None) -> list[Features]:
    """One dict of features per instance of a v1 or v2 request."""
    if "instances" in payload:
        instances = payload["instances"]
        if not isinstance(instances, list):
            raise BadEvent("instances: must be a list", reason="bad_payload", status=422)
        rows: list[Features] = []
        for instance in instances:
            if isinstance(instance, dict):
                rows.append({str(k): _scalar(v) for k, v in instance.items()})
            elif isinstance(instance, list):
                rows.append(_positional(instance, names))
            else:
                rows.append({"0": _scalar(instance)})
        return rows
    if "inputs" in payload:
        tensors = payload["inputs"]
        if not isinstance(tensors, list):
            raise BadEvent("inputs: must be a list of tensors", reason="bad_payload", status=422)
        columns: list[tuple[str, list[int], list[Any]]] = [
            _tensor(t, f"inputs[{i}]") for i, t in enumerate(tensors)
        ]
        batch = max((len(rows_) for _, _, rows_ in columns), default=0)
        result: list[Features] = [{} for _ in range(batch)]
        for name, shape, values in columns:
            for i, value in enumerate(values):
                if len(shape) <= 1 or (len(shape) == 2 and shape[1] == 1):
                    result[i][name] = _scalar(value[0] if isinstance(value, list) and len(value) == 1 else value)
                elif len(shape) == 2 and isinstance(value, list):
                    result[i].update(_positional(value, names if len(columns) == 1 else None, f"{name}."))
                else:
                    result[i][name] = _scalar(value)
        return result
    raise BadEvent("request payload has neither `instances` (v1) nor `inputs` (v2)", reason="bad_payload",
                   status=422)


def score_of(value: Any) -> float | None:
    """A score in [0, 1] read from one instance's output, else None (see the module docstring)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if 0.0 <= value <= 1.0 else None
    if isinstance(value, list) and value and all(isinstance(v, int | float) and not isinstance(v, bool)
                                                 for v in value):
        if len(value) == 1:
            return score_of(value[0])
        if len(value) == 2:
            return score_of(value[1])  # predict_proba of a two-class model: the positive class
        return score_of(max(value))
    if isinstance(value, dict):
        for field in SCORE_FIELDS:
            if field in value:
                return score_of(value[field])
    return None


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def response_outputs(payload: dict[str, Any]) -> list[Output]:
    """``(prediction as JSON text, score or None)`` per instance of a v1 or v2 response."""
    if "predictions" in payload:
        predictions = payload["predictions"]
        if not isinstance(predictions, list):
            raise BadEvent("predictions: must be a list", reason="bad_payload", status=422)
        return [(_text(p), score_of(p)) for p in predictions]
    if "outputs" in payload:
        tensors = payload["outputs"]
        if not isinstance(tensors, list) or not tensors:
            raise BadEvent("outputs: must be a non-empty list of tensors", reason="bad_payload", status=422)
        columns = [_tensor(t, f"outputs[{i}]") for i, t in enumerate(tensors)]
        batch = max(len(values) for _, _, values in columns)
        scored = next((c for c in columns if c[0].lower() in SCORE_TENSORS), columns[0])
        outputs: list[Output] = []
        for i in range(batch):
            if len(columns) == 1:
                prediction: Any = columns[0][2][i] if i < len(columns[0][2]) else None
            else:
                prediction = {name: values[i] if i < len(values) else None for name, _, values in columns}
            value = scored[2][i] if i < len(scored[2]) else None
            outputs.append((_text(prediction), score_of(value)))
        return outputs
    raise BadEvent("response payload has neither `predictions` (v1) nor `outputs` (v2)", reason="bad_payload",
                   status=422)
