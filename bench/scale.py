"""Benchmark: how many models one operator holds — memory, convergence, reaction time, rollback
latency, requests at rest and a restart — at several sizes on the local control plane.

    make bench-scale       # or: PYTHONPATH=hack .venv/bin/python bench/scale.py --sizes 10/2,1000/200,5000/1000
    PYTHONPATH=hack .venv/bin/python bench/scale.py --source ../other-checkout/operator/src   # a "before"

For each size ``MVs/Rollouts``, a fresh local control plane (hack/localcluster) and the operator as a
subprocess (no MLflow, no Prometheus: the operator's own cost), then:

1. **idle RSS**: the operator started on an empty cluster;
2. **populate**: Rollouts × (MVs/Rollouts) ModelVersions in 10 namespaces, each Rollout over the
   Gateway API with its first version as target, and a DriftMonitor on each Rollout (its CronJob,
   ServiceAccount, Role, RoleBinding and PrometheusRule are the operator's to keep; off with
   ``--no-drift-monitors``); the first two versions of each model are made Ready by writing their
   InferenceService status as KServe would;
3. **all observed**: seconds from the first create until every ModelVersion, Rollout and
   DriftMonitor has ``status.observedGeneration == metadata.generation`` and every Rollout is
   Promoted;
   **converged RSS** once settled;
4. **new object**: 30 ModelVersions created one by one into the full cluster: seconds from the
   create to ``observedGeneration`` (p50/p95);
5. **rollback**: on 20 Rollouts, a canary (target v2, the 50% split on the route), then the SRE
   rollback (target back to v1): seconds from the patch to the route at 100% v1 (p50/p95/p99),
   and the ratio to the smallest size of the run — the "empty cluster" the target compares with;
6. **at rest**: once the operator has settled (nothing queued, no request for 5 s: the rollbacks'
   aftermath is over), 60 s with nothing happening: the operator's API requests by verb (its own
   ``modelops_api_requests_total``) — the target is no write and no growing read rate;
7. **restart**: SIGKILL, start again: seconds until ``modelops_objects_reconciled`` covers every
   object, and how many objects the restart rewrote (resourceVersions compared).

Targets (issue 10, DESIGN §6): 1,000 Rollouts and 5,000 ModelVersions under 300 MiB, a new object
p95 < 1 s, rollback p99 within 2× of an empty cluster, no write at rest, restart < 2 minutes.
``--source`` runs another checkout's operator package (its figures that need the operator's own
metrics print as n/a when it has none).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config, dynamic, watch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack"))
sys.path.insert(0, str(REPO / "bench"))

from harness import API, ROUTE, Operator, RouteWatch, backends, percentile, wait_for  # noqa: E402
from localcluster.cluster import LocalCluster  # noqa: E402
from localcluster.serving import ready_status  # noqa: E402

NAMESPACES = 10
ISVC = ("serving.kserve.io/v1beta1", "InferenceService")
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Figures:
    size: str
    idle_rss: float = float("nan")
    converged_rss: float = float("nan")
    observed_seconds: float = float("nan")
    new_object: list[float] = field(default_factory=list)
    rollback: list[float] = field(default_factory=list)
    rest_requests: dict[str, float] | None = None
    restart_seconds: float | None = None
    restart_rewrote: int | None = None
    restart_writes: float | None = None


def _names(model: int, versions: int) -> list[str]:
    return [f"m{model}-v{v}" for v in range(1, versions + 1)]


def _namespace(model: int) -> str:
    return f"scale-{model % NAMESPACES}"


class Cluster:
    """The sync client the benchmark drives the cluster with (a user's kubectl, many at once)."""

    def __init__(self, kubeconfig: Path) -> None:
        self.api = config.new_client_from_config(config_file=str(kubeconfig))
        self.dyn = dynamic.DynamicClient(self.api)
        self.mvs = self.dyn.resources.get(api_version=API, kind="ModelVersion")
        self.rollouts = self.dyn.resources.get(api_version=API, kind="Rollout")
        self.isvcs = self.dyn.resources.get(api_version=ISVC[0], kind=ISVC[1])
        self.routes = self.dyn.resources.get(api_version=ROUTE[0], kind=ROUTE[1])
        self.monitors = self.dyn.resources.get(api_version=API, kind="DriftMonitor")

    def model_version(self, namespace: str, name: str, model: str) -> None:
        self.mvs.server_side_apply(namespace=namespace, field_manager="bench", body={
            "apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name},
            "spec": {"model": model, "version": name.rsplit("-v", 1)[-1],
                     "artifact": {"storageUri": f"s3://bench/{name}/", "format": "sklearn"}}})

    def rollout(self, namespace: str, model: str, target: str) -> None:
        self.rollouts.server_side_apply(namespace=namespace, field_manager="bench", body={
            "apiVersion": API, "kind": "Rollout", "metadata": {"name": model},
            "spec": {"model": model, "target": target,
                     "trafficRouting": {"gatewayAPI": {"httpRoute": model, "parentRefs": [{"name": "gw"}]}},
                     "steps": [{"canary": {"weight": 50, "duration": "1h"}}]}})

    def drift_monitor(self, namespace: str, model: str) -> None:
        self.monitors.server_side_apply(namespace=namespace, field_manager="bench", body={
            "apiVersion": API, "kind": "DriftMonitor", "metadata": {"name": model},
            "spec": {"modelRef": {"kind": "Rollout", "name": model},
                     "features": [{"name": "amount", "type": "numeric"}, {"name": "channel", "type": "categorical"}],
                     "schedule": "*/15 * * * *"}})

    def make_ready(self, namespace: str, name: str) -> None:
        wait_for(lambda: self.isvcs.get(name=name, namespace=namespace), 600, f"InferenceService {namespace}/{name}")
        self.isvcs.status.patch(name=name, namespace=namespace, body={"status": ready_status(f"http://{name}")},
                                content_type="application/merge-patch+json")

    def all(self, resource: Any) -> list[dict[str, Any]]:
        return list(resource.get().to_dict()["items"])


def _observed(items: list[dict[str, Any]], *, promoted: bool = False) -> int:
    done = 0
    for item in items:
        status = item.get("status") or {}
        if status.get("observedGeneration") != item["metadata"].get("generation"):
            continue
        if promoted and status.get("phase") != "Promoted":
            continue
        done += 1
    return done


def _parallel(calls: list[Any], workers: int = 16) -> None:
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


def _requests(metrics: dict[str, float]) -> dict[str, float]:
    """modelops_api_requests_total by verb (codes summed)."""
    found: dict[str, float] = {}
    for name, value in metrics.items():
        if name.startswith("modelops_api_requests_total{"):
            verb = name.split('verb="', 1)[1].split('"', 1)[0]
            found[verb] = found.get(verb, 0.0) + value
    return found


def _settle(operator: Operator, quiet: float = 5.0, timeout: float = 300.0) -> None:
    """Wait until the operator has nothing queued and sent no request for ``quiet`` seconds: the
    work the last phase started (a rollback's ModelVersions re-reconciled) is over, so what the
    rest window counts is the operator at rest."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        metrics = operator.metrics()
        if not metrics:
            time.sleep(quiet)
            return
        sent = sum(_requests(metrics).values())
        queued = sum(v for k, v in metrics.items() if k.startswith("modelops_queue_depth"))
        if sent != last or queued:
            last, since = sent, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the operator did not settle within {timeout:.0f}s")


def _reconciled(metrics: dict[str, float], kind: str) -> float | None:
    return metrics.get(f'modelops_objects_reconciled{{kind="{kind}"}}')


def measure(mv_count: int, rollout_count: int, *, source: Path | None, rest_seconds: float,
            new_objects: int, rollbacks: int, drift_monitors: bool = True) -> Figures:
    figures = Figures(size=f"{mv_count}/{rollout_count}")
    versions = max(2, mv_count // max(1, rollout_count))
    with tempfile.TemporaryDirectory(prefix="modelops-scale-") as tmp, \
            LocalCluster(Path(tmp) / "cluster") as local:
        cluster = Cluster(local.kubeconfig)
        core = client.CoreV1Api(cluster.api)
        for index in range(NAMESPACES):
            core.create_namespace({"metadata": {"name": f"scale-{index}"}})
        operator = Operator(local.kubeconfig, Path(tmp), source=source)
        operator.start()
        try:
            time.sleep(10)
            figures.idle_rss = operator.rss_mib()
            print(f"[{figures.size}] idle RSS {figures.idle_rss:.0f} MiB; populating", flush=True)
            started = time.monotonic()
            _parallel([lambda m=m, n=n: cluster.model_version(_namespace(m), n, f"m{m}")
                       for m in range(rollout_count) for n in _names(m, versions)])
            _parallel([lambda m=m: cluster.rollout(_namespace(m), f"m{m}", f"m{m}-v1") for m in range(rollout_count)])
            monitors = rollout_count if drift_monitors else 0
            _parallel([lambda m=m: cluster.drift_monitor(_namespace(m), f"m{m}") for m in range(monitors)])
            _parallel([lambda m=m, n=n: cluster.make_ready(_namespace(m), n)
                       for m in range(rollout_count) for n in _names(m, 2)])
            total_mvs = rollout_count * versions

            def converged() -> bool:
                mvs = _observed(cluster.all(cluster.mvs))
                rollouts = _observed(cluster.all(cluster.rollouts), promoted=True)
                watched = _observed(cluster.all(cluster.monitors)) if monitors else 0
                return mvs >= total_mvs and rollouts >= rollout_count and watched >= monitors

            wait_for(converged, 3600, "every object observed", interval=2.0)
            figures.observed_seconds = time.monotonic() - started
            time.sleep(10)
            figures.converged_rss = operator.rss_mib()
            print(f"[{figures.size}] all observed in {figures.observed_seconds:.0f}s, RSS "
                  f"{figures.converged_rss:.0f} MiB", flush=True)

            figures.new_object = _new_objects(cluster, core, new_objects)
            figures.rollback = _rollbacks(cluster, min(rollbacks, rollout_count))

            _settle(operator)
            before = operator.metrics()
            time.sleep(rest_seconds)
            after = operator.metrics()
            if before:
                b, a = _requests(before), _requests(after)
                figures.rest_requests = {verb: a.get(verb, 0.0) - b.get(verb, 0.0) for verb in sorted(set(a) | set(b))}

            versions_before = {(o["metadata"]["namespace"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
                               for o in cluster.all(cluster.mvs) + cluster.all(cluster.rollouts)
                               + cluster.all(cluster.monitors)}
            operator.stop(kill=True)
            restarted = time.monotonic()
            operator.start()
            if before:
                expected = {"ModelVersion": float(len(cluster.all(cluster.mvs))),
                            "Rollout": float(rollout_count)}
                if monitors:
                    expected["DriftMonitor"] = float(monitors)

                def caught_up() -> bool:
                    metrics = operator.metrics()
                    return all((_reconciled(metrics, kind) or 0) >= count for kind, count in expected.items())

                wait_for(caught_up, 600, "every object reconciled after the restart", interval=0.5)
                figures.restart_seconds = time.monotonic() - restarted
                time.sleep(5)
                figures.restart_writes = sum(v for k, v in _requests(operator.metrics()).items() if k in WRITE_VERBS)
            else:
                time.sleep(60)
            versions_after = {(o["metadata"]["namespace"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
                              for o in cluster.all(cluster.mvs) + cluster.all(cluster.rollouts)
                               + cluster.all(cluster.monitors)}
            rewritten = sorted(f"{key[0]}/{key[1]}" for key, rv in versions_before.items()
                               if versions_after.get(key) != rv)
            figures.restart_rewrote = len(rewritten)
            if rewritten:
                print(f"[{figures.size}] the restart rewrote: {', '.join(rewritten[:10])}", flush=True)
        finally:
            operator.stop()
    return figures


def _new_objects(cluster: Cluster, core: client.CoreV1Api, count: int) -> list[float]:
    namespace = f"scale-new-{uuid.uuid4().hex[:5]}"
    core.create_namespace({"metadata": {"name": namespace}})
    seen: dict[str, float] = {}
    failed: list[BaseException] = []
    lock = threading.Condition()
    stream = watch.Watch()
    custom = client.CustomObjectsApi(cluster.api)

    def follow() -> None:
        try:
            for event in stream.stream(custom.list_namespaced_custom_object, "modelops.io", "v1alpha1", namespace,
                                       "modelversions", timeout_seconds=600):
                obj = event["object"]
                status = obj.get("status") or {}
                if status.get("observedGeneration") == obj["metadata"].get("generation"):
                    with lock:
                        seen.setdefault(obj["metadata"]["name"], time.monotonic())
                        lock.notify_all()
        except BaseException as error:  # reported by the waiting loop below
            with lock:
                failed.append(error)
                lock.notify_all()

    threading.Thread(target=follow, daemon=True).start()
    time.sleep(1)
    latencies = []
    for index in range(count):
        name = f"new-v{index + 1}"
        sent = time.monotonic()
        cluster.model_version(namespace, name, "fresh")
        with lock:
            if not lock.wait_for(lambda n=name: n in seen or bool(failed), timeout=60):
                raise TimeoutError(f"{name} was not observed in 60s")
            if failed:
                raise RuntimeError(f"the watch on {namespace} failed: {failed[0]!r}")
            latencies.append(seen[name] - sent)
    stream.stop()
    return latencies


def _rollbacks(cluster: Cluster, count: int) -> list[float]:
    latencies = []
    for model in range(count):
        namespace, name = _namespace(model), f"m{model}"
        stable, candidate = f"{name}-v1-predictor", f"{name}-v2-predictor"
        routes = RouteWatch(cluster.api, namespace, name)
        try:
            start = time.monotonic()
            cluster.rollouts.patch(name=name, namespace=namespace, body={"spec": {"target": f"{name}-v2"}},
                                   content_type="application/merge-patch+json", field_manager="bench")
            split = {stable: 50, candidate: 50}
            routes.wait(lambda o, want=split: backends(o) == want, start, timeout=120)
            time.sleep(0.2)
            sent = time.monotonic()
            cluster.rollouts.patch(name=name, namespace=namespace, body={"spec": {"target": f"{name}-v1"}},
                                   content_type="application/merge-patch+json", field_manager="sre")
            back = {stable: 100}
            latencies.append(routes.wait(lambda o, want=back: backends(o) == want, sent, timeout=60) - sent)
        finally:
            routes.stop()
    return latencies


def _ms(values: list[float], q: float) -> str:
    return f"{1000 * percentile(values, q):.0f}" if values else "n/a"


def report(rows: list[Figures]) -> int:
    print("\nscale — one operator, local control plane, 2-core machine (MLflow and Prometheus off)")
    print(f"{'MVs/Rollouts':>13} {'RSS idle':>9} {'RSS conv.':>9} {'observed':>9} {'new p50/p95 ms':>15} "
          f"{'rollback p50/p95/p99 ms':>24} {'restart':>8} {'rewrote':>8}")
    for row in rows:
        restart = f"{row.restart_seconds:.0f}s" if row.restart_seconds is not None else "n/a"
        print(f"{row.size:>13} {row.idle_rss:>7.0f}Mi {row.converged_rss:>7.0f}Mi {row.observed_seconds:>8.0f}s "
              f"{_ms(row.new_object, .5) + '/' + _ms(row.new_object, .95):>15} "
              f"{_ms(row.rollback, .5) + '/' + _ms(row.rollback, .95) + '/' + _ms(row.rollback, .99):>24} "
              f"{restart:>8} {row.restart_rewrote if row.restart_rewrote is not None else 'n/a':>8}")
    print("\nAPI requests of the operator at rest (60 s), and writes during the restart:")
    for row in rows:
        rest = ", ".join(f"{verb} {value:.0f}" for verb, value in (row.rest_requests or {}).items()) or "none"
        writes = f"{row.restart_writes:.0f}" if row.restart_writes is not None else "n/a"
        print(f"{row.size:>13}: at rest {rest if row.rest_requests is not None else 'n/a'}; restart writes {writes}")
    base, largest = rows[0], rows[-1]
    ok = True
    if base.rollback and largest.rollback:
        ratio = percentile(largest.rollback, .99) / percentile(base.rollback, .99)
        print(f"\nrollback p99 at {largest.size} / at {base.size} (the empty cluster): {ratio:.2f}x (target <= 2x)")
        ok &= ratio <= 2.0
    checks = [
        ("RSS converged < 300 MiB", largest.converged_rss < 300),
        ("new object p95 < 1 s", bool(largest.new_object) and percentile(largest.new_object, .95) < 1.0),
        ("no write at rest", largest.rest_requests is not None
         and sum(v for k, v in largest.rest_requests.items() if k in WRITE_VERBS) == 0),
        ("restart converges < 120 s", largest.restart_seconds is not None and largest.restart_seconds < 120),
        ("a restart rewrites nothing", largest.restart_rewrote == 0),
    ]
    for label, met in checks:
        print(f"  {label:32} {'met' if met else 'NOT met'}")
        ok &= met
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10/2,1000/200,5000/1000", help="MVs/Rollouts, comma-separated")
    parser.add_argument("--source", type=Path, default=None, help="run the operator from this operator/src")
    parser.add_argument("--rest", type=float, default=60.0, help="seconds at rest to count requests")
    parser.add_argument("--new", type=int, default=30, help="new ModelVersions timed one by one")
    parser.add_argument("--rollbacks", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="one small size, short windows (CI: it runs)")
    parser.add_argument("--no-drift-monitors", dest="drift_monitors", action="store_false",
                        help="leave out the DriftMonitor per Rollout (issue 10's mix)")
    args = parser.parse_args(argv)
    sizes = "10/2,40/8" if args.quick else args.sizes
    rows = []
    for size in sizes.split(","):
        mvs, rollouts = (int(part) for part in size.split("/"))
        rows.append(measure(mvs, rollouts, source=args.source, rest_seconds=10.0 if args.quick else args.rest,
                            new_objects=5 if args.quick else args.new,
                            rollbacks=2 if args.quick else args.rollbacks, drift_monitors=args.drift_monitors))
    status = report(rows)
    return 0 if args.quick else status


if __name__ == "__main__":
    sys.exit(main())
