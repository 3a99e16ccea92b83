"""``python hack/localcluster {build,up,down,status,kubeconfig,run}`` — the local control plane CLI.

- ``build``: compile (or find in the cache) every binary (and helm, for the chart tests), and fetch
  Prometheus and promtool from Debian's ``prometheus`` package (for the metrics tests).
- ``up``: start a detached cluster in ``--dir`` (default ``~/.cache/modelops/clusters/dev``).
- ``down``: stop it.  ``status``: what runs, where.  ``kubeconfig``: print its path.
- ``run -- CMD...``: start a cluster, run CMD with ``KUBECONFIG`` set, stop the cluster whatever
  CMD did.
- ``dev``: what ``make dev`` runs: the cluster, a real MLflow server, and the operator in the
  foreground with a configuration naming both; Ctrl-C stops everything.
- ``train -n NS RUN``: play the training container of a TrainingRun (see playing.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from localcluster import building
from localcluster.cluster import ClusterState, LocalCluster, _alive, default_directory, stop_detached
from localcluster.prometheus_server import ensure_prometheus_binaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="cluster state directory")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build or find the cached binaries")
    sub.add_parser("up", help="start a detached cluster")
    sub.add_parser("down", help="stop the detached cluster")
    sub.add_parser("status", help="show what runs")
    sub.add_parser("kubeconfig", help="print the kubeconfig path")
    run = sub.add_parser("run", help="start a cluster, run a command against it, stop the cluster")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    sub.add_parser("dev", help="cluster + MLflow + the operator in the foreground (make dev)")
    train = sub.add_parser("train", help="play the training container of a TrainingRun")
    train.add_argument("-n", "--namespace", default="default")
    train.add_argument("--degrade", type=float, default=0.0, help="fraction of labels to flip (a bad model)")
    train.add_argument("run_name")
    args = parser.parse_args(argv)
    directory: Path = args.dir or default_directory()

    if args.command == "build":
        for name, path in building.ensure_binaries().items():
            print(f"{name:24} {path}")
        print(f"{'helm':24} {building.ensure_helm()}")
        for name, path in ensure_prometheus_binaries().items():
            print(f"{name:24} {path}")
        return 0
    if args.command == "up":
        cluster = LocalCluster(directory, detached=True)
        try:
            cluster.start()
        except BaseException:
            cluster.stop()
            raise
        print(f"local cluster up in {cluster.startup_seconds:.1f}s at {cluster.server}")
        print(f"export KUBECONFIG={cluster.kubeconfig}")
        return 0
    if args.command == "down":
        print("stopped" if stop_detached(directory) else f"no cluster recorded in {directory}")
        return 0
    if args.command == "status":
        state = ClusterState.load(directory)
        if state is None:
            print(f"no cluster recorded in {directory}")
            return 1
        print(f"server     {state.server} (Kubernetes {state.kubernetes})")
        print(f"kubeconfig {state.kubeconfig}")
        healthy = True
        for name, pid in state.pids.items():
            alive = _alive(pid)
            healthy &= alive
            print(f"{name:24} pid {pid:<8} {'running' if alive else 'DEAD'}")
        return 0 if healthy else 1
    if args.command == "kubeconfig":
        state = ClusterState.load(directory)
        if state is None:
            print(f"no cluster recorded in {directory}", file=sys.stderr)
            return 1
        print(state.kubeconfig)
        return 0
    if args.command == "run":
        cmd = [c for c in args.cmd if c != "--"]
        if not cmd:
            parser.error("run needs a command after --")
        with LocalCluster(directory) as cluster:
            print(f"local cluster up in {cluster.startup_seconds:.1f}s at {cluster.server}", flush=True)
            print(f"point kubectl at it:  export KUBECONFIG={cluster.kubeconfig}", flush=True)
            child = subprocess.Popen(cmd, env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)})
            # Ctrl-C reaches the child through the terminal's process group; wait for it to finish.
            signal.signal(signal.SIGINT, lambda *_: None)
            signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
            return child.wait()
    if args.command == "dev":
        return _dev(directory)
    if args.command == "train":
        from localcluster.playing import play_training

        state = ClusterState.load(directory)
        kubeconfig = Path(state.kubeconfig) if state else Path(os.environ.get("KUBECONFIG", ""))
        return play_training(kubeconfig, args.namespace, args.run_name, degrade=args.degrade)
    return 2


def _dev(directory: Path) -> int:
    import yaml

    from localcluster.mlflow_server import MLflowServer
    from localcluster.operator_config import operator_config

    with LocalCluster(directory) as cluster, MLflowServer(directory / "mlflow") as mlflow:
        config_path = directory / "operator-config.yaml"
        config_path.write_text(yaml.safe_dump(operator_config(mlflow.url)))
        here = Path(__file__).resolve().parent
        print(f"""
local cluster up in {cluster.startup_seconds:.1f}s at {cluster.server}; MLflow at {mlflow.url}

  export KUBECONFIG={cluster.kubeconfig}
  kubectl create namespace demo
  kubectl apply -n demo --server-side -f examples/
  kubectl get modelops -n demo
  {sys.executable} {here} --dir {directory} train -n demo fraud-detector-train-2025-01-31
  kubectl get tr,mv -n demo   # the run Succeeded and registered a ModelVersion

operator configuration: {config_path}  (Ctrl-C stops everything)
""", flush=True)
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "MODELOPS_CONFIG": str(config_path)}
        child = subprocess.Popen([sys.executable, "-m", "modelops", "--liveness", "http://127.0.0.1:8080/healthz"],
                                 env=env)
        signal.signal(signal.SIGINT, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        return child.wait()


if __name__ == "__main__":
    sys.exit(main())
