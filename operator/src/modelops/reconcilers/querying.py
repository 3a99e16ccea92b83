"""Taking one look at a running step: run every query the ``MeasurementPlan`` needs against
Prometheus, concurrently and each with a timeout, and hand the numbers back as ``Readings``.

Owns the impure middle of ``core.rollout.measuring`` (``due`` decides, this reads, ``conclude``
judges). A query that fails becomes an ``error`` reading of that check only — an Error
measurement, which never counts as a failure — so one unreachable Prometheus (a check's own
``address``) cannot stop the other checks from being judged, and nothing here raises.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from modelops.api.analysis import AnalysisCheck, Builtin
from modelops.api.config import AnalysisSettings
from modelops.api.rollout import RolloutSpec
from modelops.core.analysis.arms import Proportion
from modelops.core.durations import parse_duration
from modelops.core.rollout.measuring import CheckReading, MeasurementPlan, Readings
from modelops.metrics import names, queries
from modelops.metrics.prometheus import MetricsError, PrometheusClient, Sample

Arms = tuple[Proportion, Proportion]
NO_PROMETHEUS = (
    "no Prometheus to ask: set analysis.prometheusUrl in the operator configuration "
    "(or prometheus.address on the check)"
)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _count(value: float | None) -> int:
    """A counter increase as a whole count (increase() extrapolates to fractions; never negative)."""
    return max(0, round(value)) if value is not None and math.isfinite(value) else 0


def _per_version(samples: Iterable[Sample]) -> dict[str, float]:
    found: dict[str, float] = {}
    for sample in samples:
        version = sample.labels.get(names.MODELVERSION_LABEL)
        if version is not None:
            found[version] = found.get(version, 0.0) + sample.value
    return found


class Measurer:
    """One per operator: a Prometheus client per address, reused across reconciles."""

    def __init__(self, settings: AnalysisSettings) -> None:
        self.default_url = settings.prometheus_url
        self.timeout = parse_duration(settings.query_timeout).total_seconds()
        self._clients: dict[str, PrometheusClient] = {}

    def client(self, url: str | None) -> PrometheusClient | None:
        url = url or self.default_url
        if not url:
            return None
        if url not in self._clients:
            self._clients[url] = PrometheusClient(url, timeout=self.timeout)
        return self._clients[url]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    async def _guarded(self, read: Callable[[], Awaitable[Any]]) -> tuple[Any, str | None]:
        try:
            # The client has its own per-request timeout; this bounds a check's several queries.
            return await asyncio.wait_for(read(), timeout=self.timeout * 3), None
        except (MetricsError, TimeoutError) as error:
            return None, str(error) or type(error).__name__

    async def read(self, spec: RolloutSpec, plan: MeasurementPlan, namespace: str) -> Readings:
        placeholders = {
            "namespace": namespace,
            "model": spec.model,
            "stable": plan.stable,
            "candidate": plan.candidate,
            "interval": queries.seconds(plan.interval),
            "window": queries.seconds(plan.window),
        }
        checks = asyncio.gather(*(self._check(check, plan, namespace, placeholders) for check in plan.checks))
        ab = self._ab(plan, namespace) if plan.ab is not None else _nothing()
        served = self._served(plan, namespace) if plan.srm is not None else _nothing()
        readings, (ab_arms, ab_error), (served_counts, _) = await asyncio.gather(checks, ab, served)
        return Readings(
            checks={check.name: reading for check, reading in zip(plan.checks, readings, strict=True)},
            ab=ab_arms,
            ab_error=ab_error,
            served=served_counts,
        )

    async def _check(
        self, check: AnalysisCheck, plan: MeasurementPlan, namespace: str, placeholders: dict[str, str]
    ) -> CheckReading:
        if check.prometheus is not None:
            own = self.client(check.prometheus.address)
            if own is None:
                return CheckReading(error=NO_PROMETHEUS)
            query = queries.expand(check.prometheus.query, placeholders)
            value, error = await self._guarded(lambda: own.run_scalar(query))
            return CheckReading(value=value, error=error)
        client = self.client(None)
        if client is None:
            return CheckReading(error=NO_PROMETHEUS)
        if check.builtin is Builtin.ERROR_RATE:
            return await self._error_rate(client, plan, namespace)
        if check.builtin is Builtin.LATENCY_P99:
            return await self._latency(client, plan, namespace, against_stable=check.margin is not None)
        return await self._divergence(client, plan, namespace)

    async def _error_rate(self, client: PrometheusClient, plan: MeasurementPlan, namespace: str) -> CheckReading:
        errors_query, totals_query = queries.error_counts(namespace, [plan.stable, plan.candidate], plan.window)

        async def both() -> tuple[list[Sample], list[Sample]]:
            return await asyncio.gather(client.run_query(errors_query), client.run_query(totals_query))

        result, error = await self._guarded(both)
        if error is not None:
            return CheckReading(error=error)
        errors, totals = _per_version(result[0]), _per_version(result[1])
        arms = {}
        for version in (plan.stable, plan.candidate):
            total = _count(totals.get(version))
            arms[version] = Proportion(samples=total, successes=min(total, _count(errors.get(version))))
        candidate = arms[plan.candidate]
        return CheckReading(
            value=candidate.rate,
            samples=candidate.samples,
            stable=arms[plan.stable],
            candidate=candidate,
        )

    async def _latency(self, client: PrometheusClient, plan: MeasurementPlan, namespace: str,
                       against_stable: bool = False) -> CheckReading:
        """The candidate's p99 and request count; with ``against_stable`` (a margin), the stable's too."""
        versions = [plan.candidate, plan.stable] if against_stable else [plan.candidate]
        wanted = [query for version in versions for query in queries.latency_p99(namespace, version, plan.window)]

        async def all_of() -> list[float | None]:
            return list(await asyncio.gather(*(client.run_scalar(query) for query in wanted)))

        result, error = await self._guarded(all_of)
        if error is not None:
            return CheckReading(error=error)
        # +Inf is a real reading (above the last bucket) and is judged; NaN is no data.
        p99s = [None if p99 is None or math.isnan(p99) else p99 for p99 in result[0::2]]
        counts = [_count(count) for count in result[1::2]]
        if not against_stable:
            return CheckReading(value=p99s[0], samples=counts[0])
        return CheckReading(value=p99s[0], samples=counts[0], stable_value=p99s[1], stable_samples=counts[1])

    async def _divergence(self, client: PrometheusClient, plan: MeasurementPlan, namespace: str) -> CheckReading:
        query = queries.score_histograms(namespace, [plan.stable, plan.candidate], plan.window)
        result, error = await self._guarded(lambda: client.run_query(query))
        if error is not None:
            return CheckReading(error=error)
        buckets: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for sample in result:
            version, le = sample.labels.get(names.MODELVERSION_LABEL), sample.labels.get("le")
            if version is None or le is None:
                continue
            buckets[version].append((float(le), sample.value if math.isfinite(sample.value) else 0.0))
        if plan.stable not in buckets or plan.candidate not in buckets:
            return CheckReading()  # an arm without any prediction: no data (Inconclusive)
        return CheckReading(histograms=(buckets[plan.stable], buckets[plan.candidate]))

    async def _ab(self, plan: MeasurementPlan, namespace: str) -> tuple[Arms | None, str | None]:
        assert plan.ab is not None
        client = self.client(None)
        if client is None:
            return None, NO_PROMETHEUS
        query = queries.outcomes_since(namespace, [plan.stable, plan.candidate], plan.ab.metric, plan.elapsed)
        result, error = await self._guarded(lambda: client.run_query(query))
        if error is not None:
            return None, error
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for sample in result:
            version, outcome = sample.labels.get(names.MODELVERSION_LABEL), sample.labels.get(names.OUTCOME_LABEL)
            if version is not None and outcome is not None:
                counts[(version, outcome)] += _count(_finite(sample.value))

        def arm(version: str) -> Proportion:
            successes, failures = counts[(version, names.SUCCESS)], counts[(version, names.FAILURE)]
            return Proportion(samples=successes + failures, successes=successes)

        return (arm(plan.stable), arm(plan.candidate)), None

    async def _served(self, plan: MeasurementPlan, namespace: str) -> tuple[tuple[int, int] | None, str | None]:
        client = self.client(None)
        if client is None:
            return None, NO_PROMETHEUS
        query = queries.served_since(namespace, [plan.stable, plan.candidate], plan.srm_elapsed)
        result, error = await self._guarded(lambda: client.run_query(query))
        if error is not None:
            return None, error
        served = _per_version(result)
        return (_count(served.get(plan.stable)), _count(served.get(plan.candidate))), None


async def _nothing() -> tuple[None, None]:
    return None, None

