"""``localcluster serve`` (what plays KServe, the gateway and the model servers next to ``make dev``)
against real parts: the test cluster, the operator, and the real Prometheus that its analysis
queries.

- In process (``Serving``, recording into the test exporter): example 04, renamed, on its first
  version: its ModelVersions become Ready only through the KServe status ``serve`` writes, and the
  requests the data plane sends to the stable version by the HTTPRoute reach Prometheus.
- The CLI itself, as a user runs it (``python hack/localcluster --dir DIR serve``), with the
  exporter ports recorded in ``DIR/serve.json`` the way ``dev`` records them: example 06 (the kserve
  router, its clock shortened) promoted through its canary steps with ``serve`` keeping
  ``status.canaryStatuses`` in step with the split, then stopped by SIGINT (Ctrl-C) cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster.cluster import LocalCluster, free_port
from localcluster.exporter import MetricsExporter
from localcluster.prometheus_server import PrometheusServer
from localcluster.serving import Serving, record_dev_ports
from tests.support.manifests import REPO
from tests.support.rollouts import Env, load, start_on_first_version, started_steps
from tests.support.waiting import wait_for


@pytest.fixture()
def env(rollout_env: Env) -> Env:
    return rollout_env


def query(prometheus: PrometheusServer, promql: str) -> float | None:
    url = f"{prometheus.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        result = json.load(response)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_serve_makes_example_04_ready_and_sends_the_stable_traffic_to_prometheus(
    env: Env, metrics_exporter: MetricsExporter, prometheus_server: PrometheusServer
) -> None:
    suffix = uuid.uuid4().hex[:5]
    versions, rollout = load("04-rollout-gateway-api.yaml", suffix)
    name, model = rollout["metadata"]["name"], rollout["spec"]["model"]
    routing = rollout["spec"]["trafficRouting"]["gatewayAPI"]
    routing["httpRoute"] = route = f"{routing['httpRoute']}-{suffix}"
    lines: list[str] = []
    stop = threading.Event()
    with Serving(env.dyn, metrics_exporter, env.namespace, rate=400, out=lines.append) as serving:
        thread = threading.Thread(target=serving.run, args=(stop,), daemon=True)
        thread.start()
        try:
            first, target = start_on_first_version(env, versions, rollout)
            # Ready through the status `serve` wrote, nothing else.
            wait_for(lambda: all((env.mv(v).get("status") or {}).get("ready") is True for v in (first, target)), 30,
                     f"{first} and {target} Ready")
            promoted = env.wait_promoted(name, first, timeout=30)
            assert promoted["route"] == f"HTTPRoute/{route}"
            served = f'modelops_requests_total{{namespace="{env.namespace}",model="{model}",modelversion="{first}"}}'
            total = wait_for(lambda: (value := query(prometheus_server, served)) and value >= 400 and value, 30,
                             f"{first}'s requests in Prometheus")
        finally:
            stop.set()
            thread.join(timeout=10)
    for version in (first, target):
        isvc = env.get(env.isvcs, version)
        assert isvc is not None
        conditions = {c["type"]: c["status"] for c in isvc["status"]["conditions"]}
        assert conditions == {"PredictorReady": "True", "IngressReady": "True", "Ready": "True"}
        assert isvc["status"]["modelStatus"]["states"]["activeModelState"] == "Loaded"
        assert f"InferenceService {version}: KServe status written: Ready, model Loaded" in lines
    assert f"HTTPRoute/{route}: serves {first} 100%" in lines
    assert any(line.startswith(f"Rollout {name}: data plane on HTTPRoute/{route}") for line in lines), lines
    assert total >= 400
    # The candidate is deployed and answered its health check, but the route sent it nothing.
    candidate = f'modelops_requests_total{{namespace="{env.namespace}",modelversion="{target}"}}'
    assert query(prometheus_server, candidate) == 1


@pytest.fixture()
def dev_directory(tmp_path: Path, prometheus_server: PrometheusServer) -> Iterator[tuple[Path, list[int]]]:
    """A directory as ``dev`` leaves it for ``serve``: two exporter ports, both Prometheus targets."""
    ports = [free_port(), free_port()]
    for port in ports:
        prometheus_server.add_target(f"127.0.0.1:{port}")
    record_dev_ports(tmp_path, prometheus_server.url, ports)
    yield tmp_path, ports
    for port in ports:
        prometheus_server.remove_target(f"127.0.0.1:{port}")


def test_serve_cli_plays_kserve_canaries_through_example_06_and_stops_on_ctrl_c(
    env: Env, cluster: LocalCluster, prometheus_server: PrometheusServer, dev_directory: tuple[Path, list[int]]
) -> None:
    directory, ports = dev_directory
    suffix = uuid.uuid4().hex[:5]
    versions, rollout = load("06-rollout-kserve.yaml", suffix)
    name, model = rollout["metadata"]["name"], rollout["spec"]["model"]
    rollout["spec"]["trafficRouting"]["kserve"]["inferenceService"] = isvc = f"churn-{suffix}"
    log_path = directory / "serve.log"
    with socket.socket() as taken, open(log_path, "w") as log:
        taken.bind(("127.0.0.1", ports[0]))  # another program holds the first port: serve takes the next
        taken.listen()
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "hack" / "localcluster"), "--dir", str(directory), "serve",
             "-n", env.namespace, "--rate", "400"],
            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PYTHONUNBUFFERED": "1"},
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        try:
            first, target = start_on_first_version(env, versions, rollout)
            env.wait_promoted(name, first, timeout=60)
            # Prometheus discovers a target added while it runs 2-6 s late (`dev` registers its ports
            # before it starts): the stable's traffic must be in Prometheus before the steps look at it.
            prometheus_server.wait_scraped(f"127.0.0.1:{ports[1]}", timeout=30)
            stable = f'modelops_requests_total{{namespace="{env.namespace}",modelversion="{first}"}}'
            wait_for(lambda: (value := query(prometheus_server, stable)) and value >= 400, 30,
                     f"{first}'s requests in Prometheus")
            env.patch(name, {"target": target})
            seen: list[Any] = []

            def canary_reported() -> bool:
                status = (env.get(env.isvcs, isvc) or {}).get("status") or {}
                reported = [(c["name"], c["trafficPercent"]) for c in status.get("canaryStatuses") or []]
                if reported and reported not in seen:
                    seen.append(reported)
                return (target, 60) in reported

            try:
                wait_for(canary_reported, 120, "the 60% canary reported by the played KServe", interval=0.1)
            except AssertionError as error:
                serve_log = log_path.read_text()
                raise AssertionError(f"{error}\nreported: {seen}\n{env.explain(name)}\n{serve_log}") from None
            done = env.wait_promoted(name, target, timeout=120)
            served = f'sum(modelops_requests_total{{namespace="{env.namespace}",model="{model}"}})'
            wait_for(lambda: (value := query(prometheus_server, served)) and value > 1000, 30,
                     "the served requests in Prometheus")
        finally:
            time.sleep(1)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    output = log_path.read_text()
    assert proc.returncode == 0, output
    print(output)
    assert started_steps(done)[-1].startswith("full") and done["stable"] == target
    assert [(target, 10)] in seen and [(target, 60)] in seen, seen  # the reports followed the split
    assert f"metrics at http://127.0.0.1:{ports[1]}/metrics, scraped by the Prometheus of `dev`" in output
    assert f"InferenceService {isvc}: KServe status written: Ready, model Loaded" in output
    assert f"InferenceService {isvc}: KServe status written: canaries {target} ready at 10%" in output
    assert f"InferenceService/{isvc}: serves {first} 90%, {target} 10%" in output
    assert f"InferenceService/{isvc}: serves {target} 100%" in output
    assert output.rstrip().endswith("stopped")
