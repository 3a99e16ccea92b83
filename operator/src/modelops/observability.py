"""The operator's own Prometheus metrics, on their own registry and port (``--metrics``).

Owns what an SRE graphs about the operator itself (what it manages is exported elsewhere):

- ``modelops_api_requests_total{verb,code}`` — every answer of the API server to the operator's
  own client (kopf's watches are not counted), so "no write at rest" is a query, not a promise;
- ``modelops_reconciles_total{kind}``, ``modelops_reconcile_errors_total{kind}`` and the histogram
  ``modelops_reconcile_duration_seconds{kind}``;
- ``modelops_queue_depth{kind}`` (queued or running), ``modelops_queue_scheduled{kind}`` (keys
  waiting on a timer) and ``modelops_objects_reconciled{kind}`` (distinct objects reconciled
  since the start: after a restart it climbs to the object count, which is how convergence shows);
- ``modelops_store_objects{kind}`` and ``modelops_store_bytes{kind}``: what the watch stores hold.

The queue and store figures are read when scraped (a collector), so nothing here sits on the
reconcile path but two counter increments. Series about what the operator manages are collected
by their own modules and registered here with ``export`` (the Rollouts: ``metrics.rollouts``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

API_REQUESTS = Counter("modelops_api_requests", "Requests the operator's own client sent the API server.",
                       ["verb", "code"], registry=REGISTRY)
RECONCILES = Counter("modelops_reconciles", "Reconciles run, by kind.", ["kind"], registry=REGISTRY)
RECONCILE_ERRORS = Counter("modelops_reconcile_errors", "Reconciles that raised (retried with backoff), by kind.",
                           ["kind"], registry=REGISTRY)
RECONCILE_SECONDS = Histogram("modelops_reconcile_duration_seconds", "Time one reconcile took, by kind.", ["kind"],
                              buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
                              registry=REGISTRY)


class QueueLike(Protocol):
    def __len__(self) -> int: ...

    @property
    def scheduled(self) -> int: ...

    @property
    def reconciled(self) -> int: ...


class StoreLike(Protocol):
    def __len__(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...


def api_request(method: str, path: str, status: int) -> None:
    """The REST client's observer: one answer (``status`` 0: none came)."""
    API_REQUESTS.labels(method.upper(), str(status)).inc()


def reconciled(kind: str, seconds: float, failed: bool) -> None:
    RECONCILES.labels(kind).inc()
    RECONCILE_SECONDS.labels(kind).observe(seconds)
    if failed:
        RECONCILE_ERRORS.labels(kind).inc()


class _RuntimeCollector(Collector):
    def __init__(self, queues: Callable[[], Mapping[str, QueueLike]], stores: Callable[[], Mapping[str, StoreLike]]):
        self._queues, self._stores = queues, stores

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily("modelops_queue_depth", "Keys queued or being reconciled, by kind.", labels=["kind"])
        scheduled = GaugeMetricFamily("modelops_queue_scheduled", "Keys waiting on a requeue timer, by kind.",
                                      labels=["kind"])
        done = GaugeMetricFamily("modelops_objects_reconciled", "Distinct objects reconciled since the start.",
                                 labels=["kind"])
        for kind, queue in self._queues().items():
            depth.add_metric([kind], len(queue))
            scheduled.add_metric([kind], queue.scheduled)
            done.add_metric([kind], queue.reconciled)
        objects = GaugeMetricFamily("modelops_store_objects", "Objects the watch stores hold, by kind.",
                                    labels=["kind"])
        size = GaugeMetricFamily("modelops_store_bytes", "Bytes the watch stores hold, by kind.", labels=["kind"])
        for kind, store in self._stores().items():
            objects.add_metric([kind], len(store))
            size.add_metric([kind], store.size_bytes)
        yield from (depth, scheduled, done, objects, size)


_collector: _RuntimeCollector | None = None


def watch_runtime(queues: Callable[[], Mapping[str, Any]], stores: Callable[[], Mapping[str, Any]]) -> None:
    """Export the queues' and stores' figures (the latest runtime wins: tests start several)."""
    global _collector
    if _collector is not None:
        REGISTRY.unregister(_collector)
    _collector = _RuntimeCollector(queues, stores)
    REGISTRY.register(_collector)


_exported: dict[str, Collector] = {}


def export(name: str, collector: Collector) -> None:
    """Register a collector of managed objects' series under ``name`` (the latest one wins)."""
    old = _exported.pop(name, None)
    if old is not None:
        REGISTRY.unregister(old)
    _exported[name] = collector
    REGISTRY.register(collector)


def serve(address: str) -> None:
    """Serve ``/metrics`` on ``host:port`` (a thread of prometheus_client's own)."""
    host, _, port = address.rpartition(":")
    start_http_server(int(port), addr=host or "0.0.0.0", registry=REGISTRY)
