"""``python hack/localcluster {build,up,down,status,kubeconfig,run,dev,train,serve}`` — the local control plane CLI.

- ``build``: compile (or find in the cache) every binary (and helm, for the chart tests, and KServe's
  agent, for the model servers), fetch Prometheus and promtool from Debian's ``prometheus`` package
  (for the metrics tests), make KServe's sklearn runtime virtualenv (kserve_runtime.py), and unpack
  Debian's Chromium for the dashboard test (chromium.py).
- ``up``: start a detached cluster in ``--dir`` (default ``~/.cache/modelops/clusters/dev``).
- ``down``: stop it.  ``status``: what runs, where.  ``kubeconfig``: print its path.
- ``run -- CMD...``: start a cluster, run CMD with ``KUBECONFIG`` set, stop the cluster whatever
  CMD did.
- ``dev``: what ``make dev`` runs: the cluster, a real MLflow server, a real Prometheus, the log sink
  and the operator (its output in ``DIR/operator.log``) with a configuration naming them, then the
  quick start live in namespace ``demo`` (dev_loop.py: examples/00-quickstart.yaml trained, served
  on real model servers under real load, rolled out, drawn in the terminal); Ctrl-C stops
  everything. Prometheus scrapes a few loopback ports from its start, recorded in
  ``DIR/serve.json`` for ``serve`` (serving.py explains why).
- ``train -n NS RUN``: play the training container of a TrainingRun (see playing.py).
- ``serve -n NS [--bad MV ...] [--better MV ...] [--rate 400]``: next to ``dev``, play KServe's
  status writes, the gateway/mesh and the model servers for every Rollout in NS, their metrics
  scraped by ``dev``'s Prometheus, until Ctrl-C (see serving.py); one line per change.
- ``serve --real -n NS [--rate 20] [--shift 0]``: the same on real parts (live_serving.py): a real
  KServe model server behind KServe's agent for every predictor, logging to ``dev``'s sink, and real
  load on every Rollout's route with labels posted to the sink.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from localcluster import building, kserve_runtime, versions
from localcluster.chromium import ensure_chromium
from localcluster.cluster import ClusterState, LocalCluster, alive, default_directory, free_port, stop_detached
from localcluster.prometheus_binary import ensure_prometheus_binaries

DEV_NAMESPACE = "demo"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="cluster state directory")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build or find the cached binaries").set_defaults(func=_build)
    sub.add_parser("up", help="start a detached cluster").set_defaults(func=_up)
    sub.add_parser("down", help="stop the detached cluster").set_defaults(func=_down)
    sub.add_parser("status", help="show what runs").set_defaults(func=_status)
    sub.add_parser("kubeconfig", help="print the kubeconfig path").set_defaults(func=_kubeconfig)
    run = sub.add_parser("run", help="start a cluster, run a command against it, stop the cluster")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    run.set_defaults(func=_run)
    sub.add_parser("dev", help="the stack, and the quick start drawn live until Ctrl-C (make dev)").set_defaults(
        func=lambda args: _dev(args.directory))
    train = sub.add_parser("train", help="play the training container of a TrainingRun")
    train.add_argument("-n", "--namespace", default="default")
    train.add_argument("--degrade", type=float, default=0.0, help="fraction of labels to flip (a bad model)")
    train.add_argument("run_name")
    train.set_defaults(func=_train)
    serve = sub.add_parser("serve", help="play KServe, the gateway and the model servers for a namespace's Rollouts")
    serve.add_argument("-n", "--namespace", default="default")
    serve.add_argument("--bad", action="extend", nargs="+", default=[], metavar="MODELVERSION",
                       help="versions half of whose requests fail")
    serve.add_argument("--better", action="extend", nargs="+", default=[], metavar="MODELVERSION",
                       help="versions that convert 3x better in an A/B test")
    serve.add_argument("--rate", type=float, default=None,
                       help="requests a second per Rollout (default 400; 20 with --real)")
    serve.add_argument("--real", action="store_true",
                       help="real model servers behind KServe's agent and real load (live_serving.py)")
    serve.add_argument("--shift", type=float, default=0.0, help="with --real: shift inputs by N std devs")
    serve.set_defaults(func=lambda args: _serve_real(args.directory, args.namespace, rate=args.rate or 20.0,
                                                     shift=args.shift) if args.real else
                       _serve(args.directory, args.namespace, bad=args.bad, better=args.better,
                              rate=args.rate or 400.0))
    args = parser.parse_args(argv)
    args.directory = args.dir or default_directory()
    if args.command == "run" and not [c for c in args.cmd if c != "--"]:
        parser.error("run needs a command after --")
    return int(args.func(args))


def _build(args: argparse.Namespace) -> int:
    for name, path in building.ensure_binaries().items():
        print(f"{name:24} {path}")
    print(f"{'helm':24} {building.ensure_helm()}")
    print(f"{'kserve-agent':24} {building.ensure_kserve_agent()}")
    print(f"{'kserve-sklearn-runtime':24} {kserve_runtime.ensure_runtime()}")
    for name, path in ensure_prometheus_binaries().items():
        print(f"{name:24} {path}")
    print(f"{'chromium':24} {ensure_chromium().binary}")
    return 0


def _up(args: argparse.Namespace) -> int:
    cluster = LocalCluster(args.directory, detached=True)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    print(f"local cluster up in {cluster.startup_seconds:.1f}s at {cluster.server}")
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    return 0


def _down(args: argparse.Namespace) -> int:
    print("stopped" if stop_detached(args.directory) else f"no cluster recorded in {args.directory}")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = ClusterState.load(args.directory)
    if state is None:
        print(f"no cluster recorded in {args.directory}")
        return 1
    print(f"server     {state.server} (Kubernetes {state.kubernetes})")
    print(f"kubeconfig {state.kubeconfig}")
    healthy = True
    for name, pid in state.pids.items():
        running = alive(pid)
        healthy &= running
        print(f"{name:24} pid {pid:<8} {'running' if running else 'DEAD'}")
    return 0 if healthy else 1


def _kubeconfig(args: argparse.Namespace) -> int:
    state = ClusterState.load(args.directory)
    if state is None:
        print(f"no cluster recorded in {args.directory}", file=sys.stderr)
        return 1
    print(state.kubeconfig)
    return 0


def _run(args: argparse.Namespace) -> int:
    cmd = [c for c in args.cmd if c != "--"]
    with LocalCluster(args.directory) as cluster:
        print(f"local cluster up in {cluster.startup_seconds:.1f}s at {cluster.server}", flush=True)
        print(f"point kubectl at it:  export KUBECONFIG={cluster.kubeconfig}", flush=True)
        child = subprocess.Popen(cmd, env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)})
        # Ctrl-C reaches the child through the terminal's process group; wait for it to finish.
        signal.signal(signal.SIGINT, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        return child.wait()


def _train(args: argparse.Namespace) -> int:
    from localcluster.playing import play_training

    state = ClusterState.load(args.directory)
    kubeconfig = Path(state.kubeconfig) if state else Path(os.environ.get("KUBECONFIG", ""))
    return play_training(kubeconfig, args.namespace, args.run_name, degrade=args.degrade)


def _dev(directory: Path) -> int:
    import yaml

    from localcluster.live_serving import record_live
    from localcluster.logsink_server import LogSinkServer
    from localcluster.mlflow_server import MLflowServer
    from localcluster.operator_config import operator_config
    from localcluster.prometheus_server import PrometheusServer
    from localcluster.serving import DEV_EXPORTER_PORTS, record_dev_ports

    # The ports `serve` will listen on are Prometheus targets from its start (see serving.py).
    prometheus = PrometheusServer(directory / "prometheus")
    prometheus.directory.mkdir(parents=True, exist_ok=True)
    exporter_ports = [free_port() for _ in range(DEV_EXPORTER_PORTS)]
    for port in exporter_ports:
        prometheus.add_target(f"127.0.0.1:{port}")
    record = directory / "serve.json"
    # The cluster is new at every start (its etcd data is wiped): so is the registry, or a second pass
    # through the quick start would meet registry versions no ModelVersion records.
    shutil.rmtree(directory / "mlflow", ignore_errors=True)
    with LocalCluster(directory) as cluster, MLflowServer(directory / "mlflow") as mlflow, prometheus, \
            LogSinkServer(directory / "logsink", config={"signatures": {"source": "kubernetes"}},
                          env={"KUBECONFIG": str(cluster.kubeconfig)}) as logsink:
        try:
            record_dev_ports(directory, prometheus.url, exporter_ports)
            record_live(record, mlflow_url=mlflow.url, artifact_root=mlflow.artifact_root, log_sink_url=logsink.url)
            prometheus.add_target(logsink.host_port)
            config_path = directory / "operator-config.yaml"
            # A 2-second alias poll: the quick start's Rollout sees the retrained version at once.
            config_path.write_text(yaml.safe_dump(operator_config(mlflow.url, prometheus_url=prometheus.url,
                                                                    mlflow_artifacts=mlflow.artifact_root.as_uri(),
                                                                    log_sink_url=logsink.url,
                                                                    alias_poll_interval="2s")))
            tools = _tool_dir(directory)
            print(f"""
local cluster up in {cluster.startup_seconds:.1f}s at {cluster.server}
MLflow at {mlflow.url} (a fresh registry, like the cluster)
Prometheus at {prometheus.url} (Rollout analysis queries it)
prediction-log sink at {logsink.url}, store {logsink.store} (modelops trace --store {logsink.store} ...)
operator configuration {config_path}, its log {directory / 'operator.log'}

  # in another terminal: kubectl {versions.KUBERNETES} (built with the control plane) and the plugin
  export PATH={tools}:$PATH KUBECONFIG={cluster.kubeconfig} MLFLOW_TRACKING_URI={mlflow.url}
  kubectl get modelops -n {DEV_NAMESPACE}
  kubectl modelops status -n {DEV_NAMESPACE} quickstart --watch
""", flush=True)
            env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "MODELOPS_CONFIG": str(config_path)}
            with open(directory / "operator.log", "w") as operator_log, \
                    open(directory / "training.log", "w") as training_log:
                child = subprocess.Popen(
                    [sys.executable, "-m", "modelops", "--liveness", "http://127.0.0.1:8080/healthz",
                     "--metrics", "127.0.0.1:8081"], env=env, stdout=operator_log, stderr=subprocess.STDOUT
                )
                try:
                    _live_loop(cluster.kubeconfig, directory, training_log)
                finally:
                    child.send_signal(signal.SIGTERM)
                    code = child.wait(timeout=60)
            print(f"stopped (operator exited with {code})", flush=True)
            return 0 if code in (0, -signal.SIGTERM) else code
        finally:
            record.unlink(missing_ok=True)


def _live_loop(kubeconfig: Path, directory: Path, log: IO[str]) -> None:
    """The quick start and the live view (dev_loop.py) until Ctrl-C or SIGTERM."""
    import threading

    from kubernetes import config, dynamic
    from rich.console import Console, RenderableType
    from rich.live import Live

    from localcluster.dev_loop import DevLoop
    from localcluster.live_serving import read_live
    from localcluster.serving import DEV_RECORD

    live = read_live(directory / DEV_RECORD)
    assert live is not None, f"{directory / DEV_RECORD} lacks what dev recorded"
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    api = config.new_client_from_config(config_file=str(kubeconfig))
    console = Console()
    try:
        if console.is_terminal:
            with Live(console=console, auto_refresh=False) as display:  # taller than the screen: cropped
                DevLoop(dynamic.DynamicClient(api), kubeconfig, DEV_NAMESPACE, directory, live,
                        lambda frame: display.update(frame, refresh=True), log=log).run(stop)
        else:  # a log file: a frame every 15 s instead of redrawing in place
            last = [0.0]

            def append(frame: RenderableType) -> None:
                if time.monotonic() - last[0] >= 15:
                    console.print(frame)
                    last[0] = time.monotonic()

            DevLoop(dynamic.DynamicClient(api), kubeconfig, DEV_NAMESPACE, directory, live, append, log=log).run(stop)
    finally:
        api.close()


def _tool_dir(directory: Path) -> Path:
    """A directory holding only ``kubectl`` (the server's own version) and ``kubectl-modelops`` (this
    checkout's plugin), to put first on the PATH without the rest of the virtualenv."""
    tools = directory / "bin"
    tools.mkdir(parents=True, exist_ok=True)
    links = {"kubectl": building.binary_paths()["kubectl"],
             "kubectl-modelops": Path(sys.executable).parent / "kubectl-modelops"}
    for name, target in links.items():
        link = tools / name
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return tools


def _serve(directory: Path, namespace: str, *, bad: list[str], better: list[str], rate: float) -> int:
    import threading
    import time

    from kubernetes import config, dynamic

    from localcluster.serving import Serving, start_dev_exporter

    state = ClusterState.load(directory)
    kubeconfig = state.kubeconfig if state else os.environ.get("KUBECONFIG", "")
    if not kubeconfig:
        print(f"no cluster recorded in {directory} and no KUBECONFIG: start `make dev` first", file=sys.stderr)
        return 1
    try:
        exporter, prometheus_url = start_dev_exporter(directory)
    except OSError as error:
        print(error, file=sys.stderr)
        return 1

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    # Stop on Ctrl-C and on SIGTERM alike, closing the data planes and the exporter; also when started
    # in the background by a non-interactive shell, which starts it with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupted)
    api = config.new_client_from_config(config_file=kubeconfig)
    if prometheus_url is None:
        scraped = f"WARNING: no `dev` recorded in {directory}, no Prometheus scrapes it"
    elif not _answers(prometheus_url + "/-/ready"):
        scraped = f"WARNING: the Prometheus of `dev` at {prometheus_url} does not answer (is `dev` running?)"
    else:
        scraped = f"scraped by the Prometheus of `dev` at {prometheus_url}"
    print(f"serving namespace {namespace}: metrics at {exporter.url}, {scraped}; Ctrl-C stops", flush=True)
    try:
        with Serving(dynamic.DynamicClient(api), exporter, namespace, bad=bad, better=better, rate=rate,
                     out=lambda line: print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)) as serving:
            serving.run(threading.Event())
    except KeyboardInterrupt:
        pass
    finally:
        exporter.close()
        api.close()
    print("stopped", flush=True)
    return 0


def _serve_real(directory: Path, namespace: str, *, rate: float, shift: float) -> int:
    import threading
    import time

    from kubernetes import config, dynamic

    from localcluster.live_serving import LiveServing, read_live
    from localcluster.serving import DEV_RECORD

    state = ClusterState.load(directory)
    live = read_live(directory / DEV_RECORD)
    if state is None or live is None:
        print(f"no `dev` recorded in {directory}: start `make dev` first", file=sys.stderr)
        return 1

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupted)
    api = config.new_client_from_config(config_file=state.kubeconfig)
    print(f"serving namespace {namespace} on real model servers, logging to {live['logSink']}; Ctrl-C stops",
          flush=True)
    try:
        with LiveServing(dynamic.DynamicClient(api), namespace, directory / "served" / namespace, live, rate=rate,
                         shift=shift, out=lambda line: print(f"{time.strftime('%H:%M:%S')} {line}",
                                                             flush=True)) as serving:
            serving.run(threading.Event())
    except KeyboardInterrupt:
        pass
    finally:
        api.close()
    print("stopped", flush=True)
    return 0


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
