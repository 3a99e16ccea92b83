"""The Prometheus metric provider (modelops.metrics.prometheus) against a real Prometheus scraping the
test exporter, and the Prometheus binary the project fetches. No Kubernetes cluster is needed (these
tests never request ``cluster``)."""

from __future__ import annotations

import asyncio
import math
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from localcluster.building import bin_dir
from localcluster.exporter import MetricsExporter
from localcluster.prometheus_server import BasicAuth, PrometheusServer, ensure_prometheus, ensure_promtool
from modelops.metrics import names
from modelops.metrics.prometheus import MetricsError, MetricsUnavailable, PrometheusClient, Sample

T = TypeVar("T")

# bcrypt("secret", cost 4): Prometheus' web config wants a hash and Python ships no bcrypt.
SECRET_BCRYPT = "$2b$04$LKpbR2REAj8gzW8f/Jf/HulN5EUv3vmh7P0ZjLWV.IDkwiPRb2NMW"


def run(url: str, body: Callable[[PrometheusClient], Awaitable[T]], *, timeout: float = 5.0) -> T:
    async def main() -> T:
        async with PrometheusClient(url, timeout=timeout) as client:
            return await body(client)

    return asyncio.run(main())


def scalar(url: str, query: str, at: datetime | None = None) -> float | None:
    return run(url, lambda c: c.run_scalar(query, at=at))


def settle(url: str, query: str, accept: Callable[[float | None], bool], timeout: float = 15.0) -> float | None:
    """Poll ``query`` until ``accept`` takes its value (the next scrape is at most a second away)."""
    deadline = time.monotonic() + timeout
    value = scalar(url, query)
    while not accept(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{query} is still {value} after {timeout}s")
        time.sleep(0.2)
        value = scalar(url, query)
    return value


def unique_namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:8]}"


def requests_of(namespace: str) -> str:
    return f'sum({names.REQUESTS_TOTAL}{{namespace="{namespace}"}})'


# -- the binary ---------------------------------------------------------------------------------


def test_ensure_prometheus_gives_a_cached_2x_binary_and_promtool_beside_it() -> None:
    prometheus, promtool = ensure_prometheus(), ensure_promtool()
    assert prometheus.parent == promtool.parent
    assert prometheus.parent.parent == bin_dir()
    assert prometheus.parent.name.startswith("prometheus-2.")  # keyed by the Debian version
    for binary in (prometheus, promtool):
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert f"{binary.name}, version 2." in out.stdout + out.stderr


def test_promtool_checks_the_servers_configuration(prometheus_server: PrometheusServer) -> None:
    out = subprocess.run(
        [str(ensure_promtool()), "check", "config", str(prometheus_server.config_path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


# -- the exporter -------------------------------------------------------------------------------


def test_exporter_serves_exactly_the_metric_contract(
    prometheus_server: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    ns = unique_namespace()
    metrics_exporter.record(
        ns, "fraud", "fraud-v1", requests=10, errors=1, scores=[0.2, 0.9], outcomes={"conversion": (2, 3)}
    )
    families = {f.name: f for f in text_string_to_metric_families(metrics_exporter.exposition())}
    identity = set(names.IDENTITY_LABELS)
    assert {name: f.type for name, f in families.items()} == {
        names.REQUESTS_TOTAL.removesuffix("_total"): "counter",
        names.REQUEST_DURATION_SECONDS: "histogram",
        names.PREDICTION_SCORE: "histogram",
        names.OUTCOMES_TOTAL.removesuffix("_total"): "counter",
    }
    requests = families[names.REQUESTS_TOTAL.removesuffix("_total")].samples
    assert {s.name for s in requests} == {names.REQUESTS_TOTAL}  # no *_created series
    assert {s.labels["code"]: s.value for s in requests} == {"200": 9.0, "500": 1.0}
    assert all(set(s.labels) == identity | {names.CODE_LABEL} for s in requests)
    for family, bounds in (
        (names.REQUEST_DURATION_SECONDS, names.REQUEST_DURATION_BUCKETS),
        (names.PREDICTION_SCORE, names.PREDICTION_SCORE_BUCKETS),
    ):
        buckets = [s for s in families[family].samples if s.name == family + "_bucket"]
        assert [float(s.labels["le"]) for s in buckets] == [*bounds, math.inf]
    outcomes = families[names.OUTCOMES_TOTAL.removesuffix("_total")].samples
    assert {s.labels[names.OUTCOME_LABEL]: s.value for s in outcomes} == {names.SUCCESS: 2.0, names.FAILURE: 3.0}
    assert all(set(s.labels) == identity | {names.METRIC_LABEL, names.OUTCOME_LABEL} for s in outcomes)

    # What Prometheus stored, with honor_labels keeping the exporter's namespace label.
    query = f'count by (__name__) ({{namespace="{ns}"}})'
    deadline = time.monotonic() + 15
    while True:
        stored = {s.labels["__name__"]: s.value for s in run(prometheus_server.url, lambda c: c.run_query(query))}
        if stored or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert stored == {
        names.REQUESTS_TOTAL: 2,
        f"{names.REQUEST_DURATION_SECONDS}_bucket": len(names.REQUEST_DURATION_BUCKETS) + 1,
        f"{names.REQUEST_DURATION_SECONDS}_sum": 1,
        f"{names.REQUEST_DURATION_SECONDS}_count": 1,
        f"{names.PREDICTION_SCORE}_bucket": len(names.PREDICTION_SCORE_BUCKETS) + 1,
        f"{names.PREDICTION_SCORE}_sum": 1,
        f"{names.PREDICTION_SCORE}_count": 1,
        names.OUTCOMES_TOTAL: 2,
    }


def test_traffic_records_a_steady_stream_with_the_error_share_asked_for(
    prometheus_server: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    ns = unique_namespace()
    with metrics_exporter.start_traffic(
        ns, "fraud", "fraud-v2", rate=50, error_rate=0.1, latency=lambda rng: rng.uniform(0.01, 0.02),
        score=lambda rng: rng.betavariate(2, 5), outcomes={"conversion": 0.3},
    ) as traffic:  # fmt: skip
        settle(prometheus_server.url, requests_of(ns), lambda v: v is not None and v >= 100)
    assert traffic.sent >= 100
    assert traffic.errors == pytest.approx(traffic.sent * 0.1, abs=1)
    sent, errors = traffic.sent, traffic.errors
    time.sleep(0.3)
    assert traffic.sent == sent  # stopped

    settle(prometheus_server.url, requests_of(ns), lambda v: v == sent)
    error_share = scalar(
        prometheus_server.url,
        f'sum({names.REQUESTS_TOTAL}{{namespace="{ns}",code=~"{names.ERROR_CODES}"}}) / {requests_of(ns)}',
    )
    assert error_share == pytest.approx(errors / sent)
    p99 = scalar(
        prometheus_server.url,
        f'histogram_quantile(0.99, sum by (le) ({names.REQUEST_DURATION_SECONDS}_bucket{{namespace="{ns}"}}))',
    )
    assert p99 is not None and 0.01 < p99 <= 0.025  # every latency was drawn from [0.01, 0.02]
    scores = scalar(prometheus_server.url, f'sum({names.PREDICTION_SCORE}_count{{namespace="{ns}"}})')
    assert scores == sent


# -- queries ------------------------------------------------------------------------------------


def test_a_counter_the_test_increments_is_read_back(
    prometheus_server: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    ns, url = unique_namespace(), prometheus_server.url
    query = requests_of(ns)
    assert scalar(url, query) is None  # nothing served yet: no data, not zero

    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=5)
    assert settle(url, query, lambda v: v == 5) == 5
    before_more = datetime.now(UTC)
    time.sleep(1.5)  # a scrape after `before_more` still sees 5
    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=7, errors=2)
    assert settle(url, query, lambda v: v == 12) == 12

    # Evaluated at a past time, the query answers with the value Prometheus had then.
    assert scalar(url, query, at=before_more) == 5
    samples = run(url, lambda c: c.run_query(f'{names.REQUESTS_TOTAL}{{namespace="{ns}"}}'))
    assert sorted((s.labels["code"], s.value) for s in samples) == [("200", 10.0), ("500", 2.0)]
    assert all(s.labels["modelversion"] == "fraud-v1" and s.labels["__name__"] == names.REQUESTS_TOTAL for s in samples)


def test_increase_over_a_window(prometheus_server: PrometheusServer, metrics_exporter: MetricsExporter) -> None:
    ns, url = unique_namespace(), prometheus_server.url
    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=1)
    # A few scrapes of the flat counter first, so the window's extrapolation stays small.
    settle(url, f'count_over_time({names.REQUESTS_TOTAL}{{namespace="{ns}"}}[10s])', lambda v: (v or 0) >= 4)
    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=30)
    settle(url, requests_of(ns), lambda v: v == 31)
    increase = scalar(url, f'sum(increase({names.REQUESTS_TOTAL}{{namespace="{ns}"}}[10s]))')
    # Prometheus extrapolates increase() to the window's edges: at least the 30, never much more.
    assert increase is not None and 30 <= increase <= 30 * 1.5


def test_histogram_quantile_and_buckets_by_le(
    prometheus_server: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    ns, url = unique_namespace(), prometheus_server.url
    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=90, latency=0.02)
    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=10, latency=3.0)
    settle(url, requests_of(ns), lambda v: v == 100)
    buckets = f'sum by (le) ({names.REQUEST_DURATION_SECONDS}_bucket{{namespace="{ns}"}})'

    samples = run(url, lambda c: c.run_query(buckets))
    assert {s.labels["le"]: s.value for s in samples} == {
        "0.005": 0, "0.01": 0, "0.025": 90, "0.05": 90, "0.1": 90, "0.25": 90, "0.5": 90,
        "1.0": 90, "2.5": 90, "5.0": 100, "10.0": 100, "+Inf": 100,
    }  # fmt: skip
    # Linear interpolation inside the bucket: rank 99 of 100 is 9/10 into (2.5, 5.0].
    assert scalar(url, f"histogram_quantile(0.99, {buckets})") == pytest.approx(4.75)
    assert scalar(url, f"histogram_quantile(0.5, {buckets})") == pytest.approx(0.01 + 0.015 * 50 / 90)

    with pytest.raises(MetricsError, match="returned 12 series, expected one") as refused:
        scalar(url, buckets)
    assert not isinstance(refused.value, MetricsUnavailable)


def test_scalars_and_special_values(prometheus_server: PrometheusServer) -> None:
    url = prometheus_server.url

    async def body(c: PrometheusClient) -> list[list[Sample]]:
        return list(await asyncio.gather(*(c.run_query(q) for q in ("1 + 1", "0/0", "1/0", "-1/0", "vector(0)/0"))))

    two, nan, inf, minus_inf, nan_vector = run(url, body)
    assert two == [Sample(labels={}, value=2.0)]
    assert math.isnan(nan[0].value) and nan[0].labels == {}
    assert inf[0].value == math.inf
    assert minus_inf[0].value == -math.inf
    assert len(nan_vector) == 1 and math.isnan(nan_vector[0].value)
    assert scalar(url, "vector(3)") == 3.0


def test_an_empty_result_is_none(prometheus_server: PrometheusServer) -> None:
    query = f'sum(rate({names.REQUESTS_TOTAL}{{namespace="{unique_namespace()}"}}[1m]))'
    assert scalar(prometheus_server.url, query) is None
    assert run(prometheus_server.url, lambda c: c.run_query(query)) == []


def test_a_bad_query_is_refused_with_prometheus_error(prometheus_server: PrometheusServer) -> None:
    with pytest.raises(MetricsError) as bad:
        scalar(prometheus_server.url, "sum(rate(modelops_requests_total[1m])")
    assert not isinstance(bad.value, MetricsUnavailable)
    assert bad.value.status == 400 and bad.value.error_type == "bad_data"
    assert "parse error" in str(bad.value) and "bad_data" in str(bad.value)


def test_an_execution_error_is_refused(prometheus_server: PrometheusServer, metrics_exporter: MetricsExporter) -> None:
    ns, url = unique_namespace(), prometheus_server.url
    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=3, errors=1)
    settle(url, requests_of(ns), lambda v: v == 3)
    series = f'{names.REQUESTS_TOTAL}{{namespace="{ns}"}}'
    with pytest.raises(MetricsError) as refused:  # two series on each side of a one-to-one match
        scalar(url, f"{series} * on (namespace) {series}")
    assert not isinstance(refused.value, MetricsUnavailable)
    assert refused.value.status == 422 and refused.value.error_type == "execution"
    assert "many-to-many" in str(refused.value) or "duplicate series" in str(refused.value)


def test_range_vectors_and_strings_are_not_measurements(prometheus_server: PrometheusServer) -> None:
    with pytest.raises(MetricsError, match="returned a matrix"):
        scalar(prometheus_server.url, "vector(1)[1m:1s]")
    with pytest.raises(MetricsError, match="returned a string"):
        scalar(prometheus_server.url, '"hello"')


def test_a_naive_time_is_refused(prometheus_server: PrometheusServer) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        scalar(prometheus_server.url, "vector(1)", at=datetime.now())  # naive: the point of the test


# -- availability -------------------------------------------------------------------------------


def test_is_online(prometheus_server: PrometheusServer) -> None:
    assert run(prometheus_server.url, lambda c: c.is_online()) is True


def test_a_server_that_never_answers_times_out_as_unavailable() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(MetricsUnavailable, match=r"did not answer within 0\.5s"):
            run(url, lambda c: c.run_query("vector(1)"), timeout=0.5)
        assert time.monotonic() - started < 3
        assert run(url, lambda c: c.is_online(), timeout=0.5) is False


def test_stopped_prometheus_is_unavailable_then_recovers_with_its_data(
    prometheus_server: PrometheusServer, metrics_exporter: MetricsExporter
) -> None:
    ns, url = unique_namespace(), prometheus_server.url
    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=4)
    settle(url, requests_of(ns), lambda v: v == 4)
    before_stop = datetime.now(UTC)
    time.sleep(1.1)
    try:
        prometheus_server.stop()
        started = time.monotonic()
        with pytest.raises(MetricsUnavailable, match="unreachable") as refused:
            scalar(url, requests_of(ns))
        assert time.monotonic() - started < 1.0  # connection refused: no waiting for a timeout
        assert refused.value.status is None
        assert run(url, lambda c: c.is_online()) is False
    finally:
        prometheus_server.start()  # the session's server must come back whatever happened
    assert run(url, lambda c: c.is_online()) is True
    assert scalar(url, requests_of(ns), at=before_stop) == 4  # the same TSDB directory

    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=6)
    assert settle(url, requests_of(ns), lambda v: v == 10, timeout=30) == 10  # scraping resumed


def test_restart_keeps_port_and_data(prometheus_server: PrometheusServer, metrics_exporter: MetricsExporter) -> None:
    ns, url = unique_namespace(), prometheus_server.url
    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=2)
    settle(url, requests_of(ns), lambda v: v == 2)
    before_restart = datetime.now(UTC)
    time.sleep(1.1)

    # One client, one session and one event loop across the restart, as in the operator: its
    # kept-alive connection dies with the old process, and the caller's retry is all it takes.
    loop = asyncio.new_event_loop()
    client = PrometheusClient(url)
    try:
        first = loop.run_until_complete(client.run_scalar(requests_of(ns)))
        prometheus_server.restart()  # from this (long-lived) thread: see PrometheusServer's doc
        after: float | None = None
        for _ in range(3):
            try:
                after = loop.run_until_complete(client.run_scalar(requests_of(ns), at=before_restart))
                break
            except MetricsUnavailable:
                time.sleep(0.2)
    finally:
        loop.run_until_complete(client.close())
        loop.close()
    assert prometheus_server.url == url
    assert first == 2 and after == 2
    metrics_exporter.record(ns, "fraud", "fraud-v1", requests=1)
    assert settle(url, requests_of(ns), lambda v: v == 3, timeout=30) == 3


# -- credentials --------------------------------------------------------------------------------


def test_basic_auth_from_the_url_is_sent_and_never_shown(tmp_path: Path) -> None:
    auth = BasicAuth(username="user", password="secret", bcrypt_hash=SECRET_BCRYPT)
    with PrometheusServer(tmp_path / "prometheus", basic_auth=auth) as protected:
        with_credentials = f"http://user:secret@127.0.0.1:{protected.port}"
        assert scalar(with_credentials, "vector(7)") == 7.0
        assert run(with_credentials, lambda c: c.is_online()) is True

        with pytest.raises(MetricsError) as anonymous:
            scalar(protected.url, "vector(7)")
        assert anonymous.value.status == 401 and not isinstance(anonymous.value, MetricsUnavailable)
        with pytest.raises(MetricsError) as wrong:
            scalar(f"http://user:secret-but-wrong@127.0.0.1:{protected.port}", "vector(7)")
        assert wrong.value.status == 401
        assert "secret" not in str(wrong.value)

        client = PrometheusClient(with_credentials)
        assert "secret" not in repr(client) and "secret" not in client.url
        assert client.url == protected.url
    with pytest.raises(MetricsUnavailable) as gone:  # the server is stopped now
        scalar(with_credentials, "vector(7)")
    assert "secret" not in str(gone.value)
    assert "secret" not in repr(gone.value.__cause__)  # nor in what it was raised from
