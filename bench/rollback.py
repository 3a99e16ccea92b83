"""Benchmark: the SRE rollback — from the patch of a Rollout's ``spec.target`` back to the champion
to the HTTPRoute serving 100% stable — against the peer measured in the same run: an SRE editing
the HTTPRoute's weights directly (what is left without an operator: one write, seen by a watch).

    make bench-rollback            # or: PYTHONPATH=hack .venv/bin/python bench/rollback.py --rounds 50

It starts the local control plane (cached binaries, hack/localcluster) and the operator as a
subprocess, makes two ModelVersions Ready by writing their InferenceService status as KServe
would, and runs ``--rounds`` rollbacks: each starts a canary (target -> v2, waits for the 25%
split on the route), then patches the target back to v1 and times until a watch on the route
sees 100% v1. The peer patches a second, unowned HTTPRoute from 75/25 to 100/0 and times the same
watch. Both are timed from the moment the patch request is sent, on the same machine and cluster.
Prints p50/p90/p99/max of both, their ratio, and the target (DESIGN §6: p99 < 500 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, dynamic, watch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack"))

from localcluster.cluster import LocalCluster, free_port  # noqa: E402
from localcluster.serving import ready_status  # noqa: E402

TARGET_P99_SECONDS = 0.5
API = "modelops.io/v1alpha1"
ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class RouteWatch:
    """A watch on one HTTPRoute that records when each state first appears (monotonic time)."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace, self.name = namespace, name
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Condition()
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stream = self._watch.stream(
            self.custom.list_namespaced_custom_object, "gateway.networking.k8s.io", "v1", self.namespace,
            "httproutes", field_selector=f"metadata.name={self.name}", timeout_seconds=3600,
        )
        try:
            for event in stream:
                with self.lock:
                    self.events.append((time.monotonic(), event["object"]))
                    self.lock.notify_all()
        except Exception:  # the cluster stops under the watch at the end of the run
            return

    def wait(self, predicate: Any, since: float, timeout: float = 30.0) -> float:
        """Monotonic time of the first event at or after ``since`` whose object satisfies predicate."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for at, obj in self.events:
                    if at >= since and predicate(obj):
                        return at
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"route {self.name}: state not reached in {timeout}s")
                self.lock.wait(remaining)

    def stop(self) -> None:
        self._watch.stop()


def backends(route: dict[str, Any]) -> dict[str, int]:
    rule = next(r for r in route["spec"]["rules"] if r.get("name") == "split")
    return {ref["name"]: int(ref.get("weight", 1)) for ref in rule["backendRefs"]}


def wait_for(probe: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def start_operator(kubeconfig: Path, directory: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    config_path = directory / "config.yaml"
    config_path.write_text(yaml.safe_dump({}))
    log = open(directory / "operator.log", "ab")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelops", "--liveness", f"http://127.0.0.1:{port}/healthz"],
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "MODELOPS_CONFIG": str(config_path)},
        stdout=log, stderr=subprocess.STDOUT,
    )
    wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200, 60,
             "operator live")
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--keep", default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="modelops-bench-") as tmp, LocalCluster(Path(tmp) / "cluster") as cluster:
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        dyn = dynamic.DynamicClient(api)
        namespace = "bench"
        client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
        operator = start_operator(cluster.kubeconfig, Path(tmp))
        try:
            return run(api, dyn, namespace, args.rounds)
        finally:
            operator.terminate()
            operator.wait(timeout=20)


def run(api: client.ApiClient, dyn: dynamic.DynamicClient, namespace: str, rounds: int) -> int:
    mvs = dyn.resources.get(api_version=API, kind="ModelVersion")
    rollouts = dyn.resources.get(api_version=API, kind="Rollout")
    isvcs = dyn.resources.get(api_version="serving.kserve.io/v1beta1", kind="InferenceService")
    routes = dyn.resources.get(api_version=ROUTE[0], kind=ROUTE[1])
    for name in ("bench-v1", "bench-v2"):
        mvs.server_side_apply(namespace=namespace, field_manager="bench", body={
            "apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name},
            "spec": {"model": "bench", "version": name[-1],
                     "artifact": {"storageUri": f"s3://bench/{name}/", "format": "sklearn"}}})
        wait_for(lambda n=name: isvcs.get(name=n, namespace=namespace), 60, f"ISVC {name}")
        isvcs.status.patch(name=name, namespace=namespace, body={"status": ready_status(f"http://{name}")},
                           content_type="application/merge-patch+json")
        wait_for(lambda n=name: (mvs.get(name=n, namespace=namespace).to_dict().get("status") or {}).get("ready"),
                 60, f"{name} Ready")
    rollouts.server_side_apply(namespace=namespace, field_manager="bench", body={
        "apiVersion": API, "kind": "Rollout", "metadata": {"name": "bench"},
        "spec": {"model": "bench", "target": "bench-v1",
                 "trafficRouting": {"gatewayAPI": {"httpRoute": "bench", "parentRefs": [{"name": "gw"}]}},
                 "steps": [{"canary": {"weight": 25, "duration": "1h"}}]}})
    stable, candidate = "bench-v1-predictor", "bench-v2-predictor"
    watcher = RouteWatch(api, namespace, "bench")
    wait_for(lambda: watcher.events and backends(watcher.events[-1][1]) == {stable: 100}, 60, "first promotion")

    # The peer: an unowned HTTPRoute edited directly.
    peer_body = {"apiVersion": ROUTE[0], "kind": ROUTE[1], "metadata": {"name": "peer"},
                 "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"name": "split", "backendRefs": [
                     {"name": stable, "port": 80, "weight": 75}, {"name": candidate, "port": 80, "weight": 25}]}]}}
    routes.server_side_apply(namespace=namespace, field_manager="sre", body=peer_body)
    peer = RouteWatch(api, namespace, "peer")

    operator_times, peer_times = [], []
    for _ in range(rounds):
        start = time.monotonic()
        rollouts.patch(name="bench", namespace=namespace, body={"spec": {"target": "bench-v2"}},
                       content_type="application/merge-patch+json", field_manager="bench")
        watcher.wait(lambda o: backends(o) == {stable: 75, candidate: 25}, start)
        time.sleep(0.2)
        sent = time.monotonic()
        rollouts.patch(name="bench", namespace=namespace, body={"spec": {"target": "bench-v1"}},
                       content_type="application/merge-patch+json", field_manager="sre")
        operator_times.append(watcher.wait(lambda o: backends(o) == {stable: 100}, sent) - sent)

        routes.patch(name="peer", namespace=namespace, content_type="application/merge-patch+json",
                     body={"spec": {"rules": [{"name": "split", "backendRefs": [
                         {"name": stable, "port": 80, "weight": 75}, {"name": candidate, "port": 80, "weight": 25}]}]}})
        time.sleep(0.2)
        sent = time.monotonic()
        routes.patch(name="peer", namespace=namespace, content_type="application/merge-patch+json",
                     body={"spec": {"rules": [{"name": "split", "backendRefs": [
                         {"name": stable, "port": 80, "weight": 100}]}]}})
        peer_times.append(peer.wait(lambda o: backends(o) == {stable: 100}, sent) - sent)
        time.sleep(0.2)
    watcher.stop()
    peer.stop()

    def line(label: str, values: list[float]) -> str:
        return (f"{label:38} p50 {1000 * statistics.median(values):7.1f} ms   p90 {1000 * percentile(values, .9):7.1f}"
                f" ms   p99 {1000 * percentile(values, .99):7.1f} ms   max {1000 * max(values):7.1f} ms")

    print(f"\nrollback latency, {rounds} rounds, local control plane (loopback), 2-core machine")
    print(line("modelops: patch spec.target -> route", operator_times))
    print(line("peer: patch the HTTPRoute directly", peer_times))
    ratio = statistics.median(operator_times) / statistics.median(peer_times)
    p99 = percentile(operator_times, 0.99)
    print(f"ratio modelops/peer (p50): {ratio:.1f}x   target p99 < {TARGET_P99_SECONDS * 1000:.0f} ms: "
          f"{'met' if p99 < TARGET_P99_SECONDS else 'NOT met'} ({1000 * p99:.1f} ms)")
    return 0 if p99 < TARGET_P99_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
