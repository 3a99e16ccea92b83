"""Pure helpers of the Prometheus provider and of the local Prometheus: answer parsing, credentials in
URLs, Debian version strings. The provider's HTTP behaviour is tested against a real Prometheus in
tests/integration/test_prometheus_provider.py."""

from __future__ import annotations

import base64
import math

import pytest

from localcluster.prometheus_binary import upstream_version
from modelops.http import split_credentials
from modelops.metrics.prometheus import MetricsError, Sample, parse_query_data


def test_a_vector_becomes_one_sample_per_series() -> None:
    data = {
        "resultType": "vector",
        "result": [
            {"metric": {"modelversion": "a"}, "value": [1700000000.5, "0.25"]},
            {"metric": {}, "value": [1700000000.5, "NaN"]},
            {"metric": {"le": "+Inf"}, "value": [1700000000.5, "+Inf"]},
            {"metric": {"le": "x"}, "value": [1700000000.5, "-Inf"]},
        ],
    }
    samples = parse_query_data(data)
    assert samples[0] == Sample(labels={"modelversion": "a"}, value=0.25)
    assert math.isnan(samples[1].value) and samples[1].labels == {}
    assert [s.value for s in samples[2:]] == [math.inf, -math.inf]


def test_a_scalar_is_one_sample_without_labels() -> None:
    assert parse_query_data({"resultType": "scalar", "result": [1.0, "3"]}) == [Sample(labels={}, value=3.0)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resultType": "matrix", "result": []}, "returned a matrix"),
        ({"resultType": "string", "result": [1.0, "x"]}, "returned a string"),
        ({"resultType": "vector", "result": [{"metric": {}, "histogram": [1.0, {}]}]}, "native histogram"),
        ({"resultType": "vector", "result": [{"metric": {}, "value": [1.0, 2.0]}]}, "malformed sample value"),
        ({"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "fast"]}]}, "malformed sample value"),
        (None, "no data object"),
    ],
)
def test_answers_that_are_no_measurement_are_refused(data: object, message: str) -> None:
    with pytest.raises(MetricsError, match=message):
        parse_query_data(data)


def test_credentials_move_from_the_url_into_a_basic_auth_header() -> None:
    url, authorization = split_credentials(" https://ops%40corp:p%3Ass@prom.example:9090/prom/ ")
    assert url == "https://prom.example:9090/prom"
    assert authorization is not None
    assert base64.b64decode(authorization.removeprefix("Basic ")).decode() == "ops@corp:p:ss"
    assert split_credentials("http://127.0.0.1:9090") == ("http://127.0.0.1:9090", None)


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [("2.42.0+ds-5+deb12u1", "2.42.0"), ("1:2.53.3+ds1-2", "2.53.3"), ("2.45.0~rc1-1", "2.45.0"), ("2.42.0", "2.42.0")],
)
def test_upstream_version_of_a_debian_version(debian: str, upstream: str) -> None:
    assert upstream_version(debian) == upstream
