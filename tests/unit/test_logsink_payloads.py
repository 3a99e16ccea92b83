"""Flattening KServe v1 and v2 payloads into one row per prediction, redaction before anything is
stored, and the score read from a model's output."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.logsink.events import BadEvent
from modelops.logsink.payloads import request_features, response_outputs, score_of
from modelops.logsink.redaction import HASH_PREFIX, Redactor


@pytest.mark.parametrize(("payload", "names", "expected"), [
    ({"instances": [{"a": 1, "b": "x"}, {"a": 2.5}]}, None, [{"a": 1, "b": "x"}, {"a": 2.5}]),
    ({"instances": [[1, 2, 3]]}, ("amount", "age", "card"), [{"amount": 1, "age": 2, "card": 3}]),
    ({"instances": [[1, 2, 3]]}, ("amount", "age"), [{"0": 1, "1": 2, "2": 3}]),
    ({"instances": [7, 8]}, None, [{"0": 7}, {"0": 8}]),
    ({"instances": [{"nested": {"k": [1, 2]}}]}, None, [{"nested": '{"k":[1,2]}'}]),
    ({"inputs": [{"name": "amount", "shape": [2], "datatype": "FP32", "data": [1.5, 2.5]},
                 {"name": "age", "shape": [2, 1], "datatype": "INT32", "data": [[30], [40]]}]}, None,
     [{"amount": 1.5, "age": 30}, {"amount": 2.5, "age": 40}]),
    ({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}, ("p", "q"),
     [{"p": 1, "q": 2}, {"p": 3, "q": 4}]),
    ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [[1, 2]]}]}, None,
     [{"x.0": 1, "x.1": 2}]),
    ({"inputs": [{"name": "img", "shape": [1, 2, 2], "datatype": "FP32", "data": [[[1, 2], [3, 4]]]}]}, None,
     [{"img": "[[1,2],[3,4]]"}]),
])
def test_request_features(payload: dict[str, Any], names: tuple[str, ...] | None,
                          expected: list[dict[str, Any]]) -> None:
    assert request_features(payload, names) == expected


@pytest.mark.parametrize(("payload", "expected"), [
    ({"predictions": [[0.2, 0.8], [0.9, 0.1]]}, [("[0.2,0.8]", 0.8), ("[0.9,0.1]", 0.1)]),
    ({"predictions": [1, 0]}, [("1", 1.0), ("0", 0.0)]),
    ({"predictions": [42.0]}, [("42.0", None)]),
    ({"predictions": [{"label": "fraud", "score": 0.97}]}, [('{"label":"fraud","score":0.97}', 0.97)]),
    ({"predictions": [[0.1, 0.3, 0.6]]}, [("[0.1,0.3,0.6]", 0.6)]),
    ({"outputs": [{"name": "label", "shape": [2], "datatype": "INT64", "data": [1, 0]},
                  {"name": "probability", "shape": [2], "datatype": "FP32", "data": [0.7, 0.2]}]},
     [('{"label":1,"probability":0.7}', 0.7), ('{"label":0,"probability":0.2}', 0.2)]),
])
def test_response_outputs(payload: dict[str, Any], expected: list[tuple[str, float | None]]) -> None:
    assert response_outputs(payload) == expected


def test_score_is_none_for_what_is_not_a_probability() -> None:
    assert score_of(True) is None and score_of("0.5") is None and score_of(1.5) is None and score_of([]) is None


@pytest.mark.parametrize(("payload", "field"), [
    ({"instances": {"a": 1}}, "instances"),
    ({"inputs": {"name": "x"}}, "inputs"),
    ({"inputs": [{"shape": [1], "data": [1]}]}, "inputs[0].name"),
    ({"inputs": [{"name": "x", "shape": [-1], "data": [1]}]}, "inputs[0].shape"),
    ({"inputs": [{"name": "x", "shape": [2, 2], "data": [1, 2, 3]}]}, "inputs[0]: 3 values"),
    ({"inputs": [{"name": "x", "shape": [1], "data": "abc"}]}, "inputs[0].data"),
    ({"query": "what"}, "neither `instances` (v1) nor `inputs` (v2)"),
])
def test_bad_requests_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(BadEvent) as caught:
        request_features(payload, None)
    assert field in str(caught.value) and caught.value.status == 422


@pytest.mark.parametrize(("payload", "field"), [
    ({"predictions": 1}, "predictions"),
    ({"outputs": []}, "outputs"),
    ({"result": 1}, "neither `predictions` (v1) nor `outputs` (v2)"),
])
def test_bad_responses_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(BadEvent) as caught:
        response_outputs(payload)
    assert field in str(caught.value)


def test_redaction_drops_and_hashes_with_a_key() -> None:
    redactor = Redactor(drop=["ssn"], hash_=["loan_id"], key="k1")
    rows = redactor.features([{"ssn": "123-45-6789", "loan_id": "L-1", "amount": 5}, {"loan_id": None}])
    assert rows[0]["amount"] == 5 and "ssn" not in rows[0] and rows[1] == {"loan_id": None}
    assert rows[0]["loan_id"].startswith(HASH_PREFIX) and "L-1" not in rows[0]["loan_id"]
    assert rows[0]["loan_id"] == redactor.lookup("loan_id", "L-1")
    assert Redactor(hash_=["loan_id"], key="k2").lookup("loan_id", "L-1") != rows[0]["loan_id"]
    assert redactor.lookup("amount", 5) == 5
    with pytest.raises(ValueError, match="dropped"):
        redactor.lookup("ssn", "123-45-6789")
    with pytest.raises(ValueError, match="key"):
        Redactor(hash_=["x"])
