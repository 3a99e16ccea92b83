"""Benchmark: rollbacks — the SRE's and the analysis' — to the HTTPRoute serving 100% stable,
against the peer measured in the same run: an SRE editing the HTTPRoute's weights directly (what
is left without an operator: one write, seen by a watch).

    make bench-rollback            # or: PYTHONPATH=hack .venv/bin/python bench/rollback.py --rounds 100

It starts the local control plane (cached binaries, hack/localcluster), a real Prometheus behind a
recording pass-through proxy (``harness.RecordingProxy``) and the operator as a subprocess, makes
four ModelVersions of two models Ready by writing their InferenceService status as KServe would,
and runs ``--rounds`` rounds, each with one of every kind:

- **SRE rollback**: a canary (target -> v2, the 25% split on the route), then the patch of the
  target back to v1, timed from the moment the patch request is sent until a watch on the route
  sees 100% v1;
- **automatic rollback**: a Rollout whose one check (``vector(1)``, ``max: 0``, failureLimit 0)
  fails on its first look: ``spec.retry`` starts the canary again, the 25% split reaches the route,
  the look fails, and the time is taken from the moment the failing answer left Prometheus'
  proxy for the operator until the watch sees 100% v1 — the issue's "from the failing measurement
  to the route at 100% stable" (the analysis interval before the look is configuration, not
  latency);
- **the peer**: a second, unowned HTTPRoute patched from 75/25 to 100/0, timed the same way.

Prints p50/p90/p99/max of each, their ratios to the peer, and the targets (issue 16): the SRE
rollback's p99 < 100 ms and within 3x of the direct patch's p99 (the automatic one is reported
against the same peer). ``--quick``: 3 rounds, checks it runs (no targets).

Where the time went (timestamps in the operator, Dec 2026; kept out of the code since): the
Rollout's watch event reached the operator 50-130 ms after the patch was sent (the API server's
write with the CRD's CEL rules, then the watch); kopf then patched its ``last-handled-
configuration`` annotation onto the Rollout — a second write racing the route write, and a
second event and reconcile (removed: ``handlers.configuring.NoDiffBase``); the ModelVersions woken
by the same event reconciled in front of the route write on the one event loop (now woken 0.25 s
later: ``runtime.ROLES_AFTER_SPEC_CHANGE``); the reconcile itself, event to route write, is
10-25 ms (reads from the watch stores, plan, one server-side apply).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config, dynamic

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack"))
sys.path.insert(0, str(REPO / "bench"))

from harness import API, ROUTE, Operator, RecordingProxy, RouteWatch, backends, percentile, wait_for  # noqa: E402
from localcluster.cluster import LocalCluster  # noqa: E402
from localcluster.prometheus_server import PrometheusServer  # noqa: E402
from localcluster.serving import ready_status  # noqa: E402

TARGET_P99_SECONDS = 0.1
TARGET_PEER_RATIO = 3.0
FAILING_QUERY = "vector(1)"  # one series, value 1 > max 0: the first look fails


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="3 rounds: checks the benchmark runs")
    parser.add_argument("--source", type=Path, default=None, help="run the operator from this operator/src")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 3
    with tempfile.TemporaryDirectory(prefix="modelops-bench-") as tmp, \
            LocalCluster(Path(tmp) / "cluster") as cluster, \
            PrometheusServer(Path(tmp) / "prometheus") as prometheus:
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        dyn = dynamic.DynamicClient(api)
        namespace = "bench"
        client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
        proxy = RecordingProxy(prometheus.url)
        operator = Operator(cluster.kubeconfig, Path(tmp), source=args.source,
                            config={"analysis": {"prometheusUrl": proxy.url}})
        operator.start()
        try:
            code = run(api, dyn, namespace, args.rounds, proxy)
            return 0 if args.quick else code
        finally:
            operator.stop()
            proxy.stop()


def _ready_versions(dyn: dynamic.DynamicClient, namespace: str, model: str) -> None:
    mvs = dyn.resources.get(api_version=API, kind="ModelVersion")
    isvcs = dyn.resources.get(api_version="serving.kserve.io/v1beta1", kind="InferenceService")
    for name in (f"{model}-v1", f"{model}-v2"):
        mvs.server_side_apply(namespace=namespace, field_manager="bench", body={
            "apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name},
            "spec": {"model": model, "version": name[-1],
                     "artifact": {"storageUri": f"s3://{model}/{name}/", "format": "sklearn"}}})
        wait_for(lambda n=name: isvcs.get(name=n, namespace=namespace), 60, f"ISVC {name}")
        isvcs.status.patch(name=name, namespace=namespace, body={"status": ready_status(f"http://{name}")},
                           content_type="application/merge-patch+json")
        wait_for(lambda n=name: (mvs.get(name=n, namespace=namespace).to_dict().get("status") or {}).get("ready"),
                 60, f"{name} Ready")


def _rollout(model: str, analysis: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": model, "target": f"{model}-v1",
        "trafficRouting": {"gatewayAPI": {"httpRoute": model, "parentRefs": [{"name": "gw"}]}},
        "steps": [{"canary": {"weight": 25, "duration": "1h"}}]}
    if analysis is not None:
        spec["analysis"] = analysis
    return {"apiVersion": API, "kind": "Rollout", "metadata": {"name": model}, "spec": spec}


def run(api: client.ApiClient, dyn: dynamic.DynamicClient, namespace: str, rounds: int,
        proxy: RecordingProxy) -> int:
    rollouts = dyn.resources.get(api_version=API, kind="Rollout")
    routes = dyn.resources.get(api_version=ROUTE[0], kind=ROUTE[1])
    for model in ("bench", "auto"):
        _ready_versions(dyn, namespace, model)
    rollouts.server_side_apply(namespace=namespace, field_manager="bench", body=_rollout("bench"))
    rollouts.server_side_apply(namespace=namespace, field_manager="bench", body=_rollout("auto", {
        "interval": "1s", "failureLimit": 0,
        "checks": [{"name": "always-fails", "prometheus": {"query": FAILING_QUERY}, "max": 0}]}))
    stable, candidate = "bench-v1-predictor", "bench-v2-predictor"
    auto_stable, auto_candidate = "auto-v1-predictor", "auto-v2-predictor"
    watcher, auto = RouteWatch(api, namespace, "bench"), RouteWatch(api, namespace, "auto")
    wait_for(lambda: watcher.events and backends(watcher.events[-1][1]) == {stable: 100}, 60, "first promotion")
    wait_for(lambda: auto.events and backends(auto.events[-1][1]) == {auto_stable: 100}, 60, "first promotion (auto)")
    patch = {"content_type": "application/merge-patch+json", "namespace": namespace}

    # The peer: an unowned HTTPRoute edited directly.
    peer_body = {"apiVersion": ROUTE[0], "kind": ROUTE[1], "metadata": {"name": "peer"},
                 "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"name": "split", "backendRefs": [
                     {"name": stable, "port": 80, "weight": 75}, {"name": candidate, "port": 80, "weight": 25}]}]}}
    routes.server_side_apply(namespace=namespace, field_manager="sre", body=peer_body)
    peer = RouteWatch(api, namespace, "peer")

    operator_times, auto_times, peer_times = [], [], []
    for round_ in range(rounds):
        # The SRE rollback.
        start = time.monotonic()
        rollouts.patch(name="bench", body={"spec": {"target": "bench-v2"}}, field_manager="bench", **patch)
        watcher.wait(lambda o: backends(o) == {stable: 75, candidate: 25}, start)
        time.sleep(0.2)
        sent = time.monotonic()
        rollouts.patch(name="bench", body={"spec": {"target": "bench-v1"}}, field_manager="sre", **patch)
        operator_times.append(watcher.wait(lambda o: backends(o) == {stable: 100}, sent) - sent)
        time.sleep(0.2)

        # The automatic rollback: the canary starts (a new target, then a retry token), the first look fails.
        start = time.monotonic()
        body = {"spec": {"target": "auto-v2"}} if round_ == 0 else {"spec": {"retry": f"r{round_}"}}
        rollouts.patch(name="auto", body=body, field_manager="bench", **patch)
        split = auto.wait(lambda o: backends(o) == {auto_stable: 75, auto_candidate: 25}, start)
        back = auto.wait(lambda o: backends(o) == {auto_stable: 100}, split, timeout=60)
        failed = proxy.last_answer(FAILING_QUERY, before=back)
        if failed is None or failed < split:
            raise RuntimeError(f"round {round_}: no failing answer between the split and the rollback")
        auto_times.append(back - failed)
        time.sleep(0.2)

        # The peer.
        routes.patch(name="peer", body={"spec": {"rules": [{"name": "split", "backendRefs": [
            {"name": stable, "port": 80, "weight": 75}, {"name": candidate, "port": 80, "weight": 25}]}]}}, **patch)
        time.sleep(0.2)
        sent = time.monotonic()
        routes.patch(name="peer", body={"spec": {"rules": [{"name": "split", "backendRefs": [
            {"name": stable, "port": 80, "weight": 100}]}]}}, **patch)
        peer_times.append(peer.wait(lambda o: backends(o) == {stable: 100}, sent) - sent)
        time.sleep(0.2)
    for each in (watcher, auto, peer):
        each.stop()
    return report(rounds, operator_times, auto_times, peer_times)


def report(rounds: int, operator_times: list[float], auto_times: list[float], peer_times: list[float]) -> int:
    def line(label: str, values: list[float]) -> str:
        return (f"{label:46} p50 {1000 * statistics.median(values):7.1f} ms   p90 {1000 * percentile(values, .9):7.1f}"
                f" ms   p99 {1000 * percentile(values, .99):7.1f} ms   max {1000 * max(values):7.1f} ms")

    def ratios(values: list[float]) -> tuple[float, float]:
        return (statistics.median(values) / statistics.median(peer_times),
                percentile(values, 0.99) / percentile(peer_times, 0.99))

    print(f"\nrollback latency, {rounds} rounds of each, local control plane (loopback), 2-core machine")
    print(line("SRE: patch spec.target -> route", operator_times))
    print(line("automatic: failing answer -> route", auto_times))
    print(line("peer: patch the HTTPRoute directly", peer_times))
    p99 = percentile(operator_times, 0.99)
    sre50, sre99 = ratios(operator_times)
    auto50, auto99 = ratios(auto_times)
    met = p99 < TARGET_P99_SECONDS and sre99 <= TARGET_PEER_RATIO
    print(f"ratio to the peer: SRE p50 {sre50:.1f}x, p99 {sre99:.1f}x; automatic p50 {auto50:.1f}x, p99 {auto99:.1f}x")
    print(f"target (SRE) p99 < {TARGET_P99_SECONDS * 1000:.0f} ms and <= {TARGET_PEER_RATIO:g}x the peer: "
          f"{'met' if met else 'NOT met'} ({1000 * p99:.1f} ms)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
