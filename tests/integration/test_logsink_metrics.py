"""The log sink's metrics read by the real Prometheus, and the Rollout's built-in checks evaluated on
them by the operator's own code (``reconcilers.measuring.Measurer`` runs ``metrics.queries``
against Prometheus, ``core.rollout.measuring.conclude`` judges): real logged traffic of a
stable and a candidate version -> error rate, p99 latency, prediction divergence and the A/B arms.
No Kubernetes cluster is needed."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localcluster.kserve_logger import Call
from localcluster.logsink_server import LogSinkServer
from localcluster.prometheus_server import PrometheusServer
from modelops.api.config import AnalysisSettings
from modelops.api.rollout import RolloutSpec, Verdict
from modelops.core.rollout.machine import StepRef
from modelops.core.rollout.measuring import MeasurementPlan, Readings, conclude
from modelops.metrics import names
from modelops.reconcilers.querying import Measurer
from tests.support.logsink import call_events, loan_call, metric_value, post_all, post_json, scrape
from tests.support.prometheus_fixtures import ExporterPorts
from tests.support.waiting import wait_for

STABLE, CANDIDATE = "fraud-v3", "fraud-v4"
CHECKS = [
    {"name": "errors", "builtin": "errorRate", "max": 0.05},
    {"name": "p99", "builtin": "latencyP99", "max": 1.0},
    {"name": "p99-vs-stable", "builtin": "latencyP99", "max": 1.0, "margin": 0.1},
    {"name": "divergence", "builtin": "predictionDivergence", "max": 0.2, "minSamples": 50},
]


def calls(namespace: str, version: str, count: int, *, score: float, latency: float,
          unanswered: int = 0) -> list[Call]:
    made = []
    for i in range(count):
        call = loan_call(f"{version}-{i}", namespace=namespace, modelversion=version, version=version[-1],
                         stage="fraud/ab-test", score=score, answered=i >= unanswered)
        call.latency = latency
        made.append(call)
    return made


def test_builtin_checks_evaluate_on_the_sinks_series(tmp_path: Path, prometheus_server: PrometheusServer,
                                                      exporter_ports: ExporterPorts) -> None:
    namespace = f"m-{uuid.uuid4().hex[:8]}"  # series outlive the sink: labels of this test's own
    port = exporter_ports.lend()
    try:
        with LogSinkServer(tmp_path, port=port, config={"pairTimeout": "2s"}) as sink:
            # One call per version first: its series exist (at zero for what has not happened yet)
            # before the traffic measured, as they would on a rollout running for a while.
            first = calls(namespace, STABLE, 1, score=0.2, latency=0.02) + \
                calls(namespace, CANDIDATE, 1, score=0.8, latency=0.3)
            assert set(post_all(sink.url, call_events(first))) == {200}
            prometheus_server.wait_scraped(sink.host_port, since=time.time())
            stable = calls(namespace, STABLE, 149, score=0.2, latency=0.02)
            candidate = calls(namespace, CANDIDATE, 149, score=0.8, latency=0.3, unanswered=30)
            assert set(post_all(sink.url, call_events(stable + candidate))) == {200}
            wait_for(lambda: metric_value(scrape(sink.url), names.REQUESTS_TOTAL, code="500",
                                          modelversion=CANDIDATE) == 30, 30, "the 30 unanswered calls counted")
            outcomes = [{"requestId": c.id, "metric": "conversion", "outcome": "success" if i % 10 < 3 else "failure"}
                        for i, c in enumerate(stable[:100])]
            outcomes += [{"requestId": c.id, "metric": "conversion", "outcome": "success" if i % 10 < 6 else "failure"}
                         for i, c in enumerate(candidate[30:130])]
            assert post_json(f"{sink.url}/labels", {"labels": outcomes})[0] == 200
            # The join counts outcomes as the labels are matched: wait for all 200 on the sink's own
            # page, then for a Prometheus scrape that began after it.
            wait_for(lambda: metric_value(scrape(sink.url), names.OUTCOMES_TOTAL) == 200, 30,
                     "the 200 outcomes counted by the sink")
            prometheus_server.wait_scraped(sink.host_port, since=time.time())
            page = scrape(sink.url)
    finally:
        exporter_ports.give_back(port)
    assert metric_value(page, names.REQUESTS_TOTAL, modelversion=CANDIDATE, code="200", stage="fraud/ab-test") == 120

    spec = RolloutSpec.model_validate({
        "model": "fraud", "target": CANDIDATE,
        "trafficRouting": {"gatewayAPI": {"httpRoute": "fraud", "parentRefs": [{"name": "gw"}]}},
        "steps": [{"name": "ab", "abTest": {"weight": 50, "metric": "conversion", "minSamples": 50,
                                            "maxDuration": "1h"}}],
        "analysis": {"interval": "10s", "window": "2m", "checks": CHECKS},
    })
    now = datetime.now(UTC)
    assert spec.analysis is not None
    plan = MeasurementPlan(ref=StepRef(CANDIDATE, 0, now - timedelta(minutes=2)), step=spec.steps[0],
                           stable=STABLE, candidate=CANDIDATE, checks=tuple(spec.analysis.checks),
                           window=timedelta(minutes=2), interval=timedelta(seconds=10),
                           elapsed=timedelta(minutes=2), ab=spec.steps[0].ab_test)

    async def measure() -> Readings:
        measurer = Measurer(AnalysisSettings(prometheus_url=prometheus_server.url))
        try:
            return await measurer.read(spec, plan, namespace)
        finally:
            await measurer.close()

    readings = asyncio.run(measure())
    errors = readings.checks["errors"]
    assert errors.error is None and errors.candidate is not None and errors.stable is not None
    assert abs(errors.candidate.rate - 30 / 150) < 0.02 and errors.stable.successes == 0
    p99 = readings.checks["p99"].value
    assert p99 is not None and 0.25 < p99 <= 0.5  # every candidate call took 0.3 s: the (0.25, 0.5] bucket
    guarded = readings.checks["p99-vs-stable"]  # the margin reads the stable's p99 over the same window too
    assert guarded.value == pytest.approx(p99) and guarded.stable_value is not None and guarded.stable_value <= 0.025
    assert readings.ab is not None
    (stable_arm, candidate_arm) = readings.ab
    assert (stable_arm.samples, stable_arm.successes, candidate_arm.samples, candidate_arm.successes) == \
        (100, 30, 100, 60)
    analysis = conclude(spec, plan, readings, {}, now)
    verdicts = {m.check: m.verdict for m in analysis.measurements}
    assert verdicts == {"errors": Verdict.FAILED, "p99": Verdict.SUCCESSFUL, "p99-vs-stable": Verdict.FAILED,
                        "divergence": Verdict.FAILED}, \
        [m.message for m in analysis.measurements]
    divergence = next(m for m in analysis.measurements if m.check == "divergence")
    assert divergence.value is not None and divergence.value > 0.9  # scores 0.2 vs 0.8: disjoint histograms
