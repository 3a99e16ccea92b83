"""A metrics exporter serving exactly the series of ``modelops.metrics.names`` — the contract the
Rollout's built-in checks query — from plain counts its caller adds: what the model servers'
prediction-log sink exports in a real cluster, played here by the tests and by
``localcluster serve`` (through the simulated data plane, dataplane.py).

- ``MetricsExporter``: its own registry on a loopback port (``/metrics``). The caller says what
  happened (``record``), or starts a steady stream for one version (``start_traffic``), because a
  rollout's steps run for tens of seconds and its checks look at the last window.
- ``Traffic``: that steady stream, a background thread.

Series outlive the exporter that served them for as long as a query's range reaches back, so a
caller must use label values of its own (a fresh namespace or model name), never shared ones.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from modelops.metrics import names
from modelops.metrics.contract import ContractSeries

Identity = tuple[str, str, str]  # (namespace, model, modelversion)
Distribution = Callable[[random.Random], float]


class MetricsExporter:
    """``with MetricsExporter() as exporter: exporter.record("ns", "fraud", "fraud-v2", requests=100, errors=3)``"""

    def __init__(self, port: int = 0) -> None:
        self.port = port  # 0: any free one, bound at start()
        self.registry = CollectorRegistry(auto_describe=False)
        self._series = ContractSeries()
        self.registry.register(self._series)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._traffic: list[Traffic] = []

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}/metrics"

    def start(self) -> MetricsExporter:
        """Listen on 127.0.0.1 (raises ``OSError`` if the port is taken)."""
        self._server, self._thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self.port = int(self._server.server_port)
        return self

    def close(self) -> None:
        for traffic in list(self._traffic):
            traffic.stop()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MetricsExporter:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def exposition(self) -> str:
        """What Prometheus reads from ``/metrics`` right now."""
        return generate_latest(self.registry).decode()

    def record(
        self,
        namespace: str,
        model: str,
        modelversion: str,
        *,
        requests: int = 0,
        errors: int = 0,
        latency: float | Sequence[float] = 0.01,
        scores: Sequence[float] = (),
        outcomes: Mapping[str, tuple[int, int]] | None = None,
        error_code: str = "500",
    ) -> None:
        """``requests`` answered by ``modelversion``, ``errors`` of them with ``error_code`` (a 5xx)
        and the rest with "200"; each took ``latency`` seconds (or one latency per request); each
        score in ``scores`` is one prediction's output; ``outcomes`` maps an A/B metric to
        (successes, failures) observed."""
        if not 0 <= errors <= requests:
            raise ValueError(f"errors ({errors}) must be between 0 and requests ({requests})")
        latencies = [float(latency)] * requests if isinstance(latency, int | float) else [float(x) for x in latency]
        if len(latencies) != requests:
            raise ValueError(f"{len(latencies)} latencies for {requests} requests")
        identity: Identity = (namespace, model, modelversion)
        series = self._series
        with series.lock:  # one scrape sees all of it or none
            for code, count in (("200", requests - errors), (error_code, errors)):
                if count:
                    series.add_requests(identity, code, count)
            if requests:
                series.observe_latencies(identity, latencies)
            if scores:
                series.observe_scores(identity, [float(score) for score in scores])
            for metric, (successes, failures) in (outcomes or {}).items():
                for outcome, count in ((names.SUCCESS, successes), (names.FAILURE, failures)):
                    series.add_outcomes(identity, metric, outcome, count)

    def start_traffic(
        self,
        namespace: str,
        model: str,
        modelversion: str,
        *,
        rate: float = 20.0,
        error_rate: float = 0.0,
        latency: float | Distribution = 0.01,
        score: Distribution | None = None,
        outcomes: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> Traffic:
        """Record ``rate`` requests a second for one version until stopped (see :class:`Traffic`)."""
        traffic = Traffic(
            self, (namespace, model, modelversion), rate=rate, error_rate=error_rate, latency=latency,
            score=score, outcomes=outcomes, seed=seed,
        )  # fmt: skip
        self._traffic.append(traffic)
        traffic.start()
        return traffic

    def _forget(self, traffic: Traffic) -> None:
        if traffic in self._traffic:
            self._traffic.remove(traffic)


class Traffic:
    """A background thread recording steady traffic for one version, ten times a second.

    Errors are spread exactly (``error_rate`` of the requests so far, to the request), so a gate on
    the error rate sees the share the caller set; latencies and scores are drawn from the given
    distributions (a float is a constant), and each request yields one outcome per metric in
    ``outcomes``, a success with the given probability — all from a seeded generator, so a run is
    repeatable. ``update()`` changes any of them while it runs (a candidate that degrades mid-step).
    """

    TICK_SECONDS = 0.1

    def __init__(
        self,
        exporter: MetricsExporter,
        identity: Identity,
        *,
        rate: float,
        error_rate: float,
        latency: float | Distribution,
        score: Distribution | None,
        outcomes: Mapping[str, float] | None,
        seed: int,
    ) -> None:
        self.exporter = exporter
        self.identity = identity
        self.sent = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"traffic-{identity[2]}", daemon=True)
        self._requests_owed = 0.0
        self._errors_owed = 0.0
        self.rate = self.error_rate = 0.0
        self.latency: float | Distribution = 0.01
        self.score: Distribution | None = None
        self.outcomes: dict[str, float] = {}
        self.update(rate=rate, error_rate=error_rate, latency=latency, score=score, outcomes=outcomes)

    def update(
        self,
        *,
        rate: float | None = None,
        error_rate: float | None = None,
        latency: float | Distribution | None = None,
        score: Distribution | None = None,
        outcomes: Mapping[str, float] | None = None,
    ) -> None:
        if rate is not None and rate < 0:
            raise ValueError("rate must be >= 0")
        if error_rate is not None and not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")
        with self._lock:
            self.rate = self.rate if rate is None else rate
            self.error_rate = self.error_rate if error_rate is None else error_rate
            self.latency = self.latency if latency is None else latency
            self.score = self.score if score is None else score
            self.outcomes = self.outcomes if outcomes is None else dict(outcomes)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.exporter._forget(self)

    def __enter__(self) -> Traffic:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _draw(self, distribution: float | Distribution) -> float:
        return float(distribution) if isinstance(distribution, int | float) else float(distribution(self._rng))

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stopped.wait(max(0.0, next_tick - time.monotonic())):
            next_tick += self.TICK_SECONDS
            with self._lock:
                self._requests_owed += self.rate * self.TICK_SECONDS
                count = int(self._requests_owed)
                self._requests_owed -= count
                self._errors_owed += count * self.error_rate
                errors = min(count, int(self._errors_owed + 1e-9))
                self._errors_owed -= errors
                latencies = [self._draw(self.latency) for _ in range(count)]
                scores = [self._draw(self.score) for _ in range(count)] if self.score is not None else []
                outcomes = {}
                for metric, probability in self.outcomes.items():
                    successes = sum(self._rng.random() < probability for _ in range(count))
                    outcomes[metric] = (successes, count - successes)
            if count:
                self.exporter.record(
                    *self.identity, requests=count, errors=errors, latency=latencies, scores=scores, outcomes=outcomes
                )
                self.sent += count
                self.errors += errors
