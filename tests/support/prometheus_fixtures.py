"""A real Prometheus server for the tests, and loopback ports for the exporters it scrapes.

- ``prometheus_server`` (session): ``localcluster.prometheus_server.PrometheusServer`` (Debian's
  Prometheus, scraping every second); it raises with its log tail if it cannot start, never skips.
- ``exporter_ports`` (session): Prometheus applies new targets at most every 5 seconds, so a few
  loopback ports are registered as targets once, and each test's exporter listens on an idle one:
  it is scraped within about a second of starting instead of 2-6 seconds.
- ``metrics_exporter``: a ``localcluster.exporter.MetricsExporter`` (the series of the metric
  contract, written by the test or by the simulated data plane) that Prometheus has already
  scraped once, closed after the test.

Series outlive the exporter that served them for as long as a query's range reaches back, so a
test must use label values of its own (a fresh ``namespace`` or model name), never shared ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.cluster import free_port
from localcluster.exporter import MetricsExporter
from localcluster.prometheus_server import PrometheusServer


class ExporterPorts:
    """Loopback ports registered with Prometheus once, lent to one exporter at a time."""

    def __init__(self, prometheus: PrometheusServer, size: int = 4) -> None:
        self.prometheus = prometheus
        self.slots = [free_port() for _ in range(size)]
        self._idle = list(self.slots)
        for port in self.slots:
            prometheus.add_target(f"127.0.0.1:{port}")

    def start_exporter(self, timeout: float = 30.0) -> MetricsExporter:
        """An exporter Prometheus has scraped since it started listening."""
        exporter: MetricsExporter | None = None
        while exporter is None and self._idle:
            port = self._idle.pop(0)
            try:
                exporter = MetricsExporter(port).start()
            except OSError:
                # Another process took the port while it was idle: it is no slot of ours any more.
                self.slots.remove(port)
                self.prometheus.remove_target(f"127.0.0.1:{port}")
        if exporter is None:  # every slot lent out: a new target, first scraped in 2-6 s
            exporter = MetricsExporter().start()
            self.prometheus.add_target(exporter.host_port)
        listening_since = time.time()
        try:
            self.prometheus.wait_scraped(exporter.host_port, timeout, since=listening_since)
        except BaseException:
            self.release(exporter)
            raise
        return exporter

    def lend(self) -> int:
        """A registered port for a server of the test's own (the log sink); ``give_back`` it after."""
        if self._idle:
            return self._idle.pop(0)
        port = free_port()
        self.prometheus.add_target(f"127.0.0.1:{port}")
        return port

    def give_back(self, port: int) -> None:
        if port in self.slots:
            self._idle.append(port)
        else:
            self.prometheus.remove_target(f"127.0.0.1:{port}")

    def release(self, exporter: MetricsExporter) -> None:
        exporter.close()
        if exporter.port in self.slots:
            self._idle.append(exporter.port)
        else:
            self.prometheus.remove_target(exporter.host_port)


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    directory: Path = tmp_path_factory.mktemp("prometheus")
    with PrometheusServer(directory) as server:
        print(f"\nprometheus up in {server.startup_seconds:.2f}s at {server.url}")
        yield server


@pytest.fixture(scope="session")
def exporter_ports(prometheus_server: PrometheusServer) -> ExporterPorts:
    return ExporterPorts(prometheus_server)


@pytest.fixture()
def metrics_exporter(exporter_ports: ExporterPorts) -> Iterator[MetricsExporter]:
    exporter = exporter_ports.start_exporter()
    try:
        yield exporter
    finally:
        exporter_ports.release(exporter)
