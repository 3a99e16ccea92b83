"""Starts and stops one local control plane: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, all on free loopback ports, with freshly generated certificates.

``LocalCluster`` is a context manager: leaving it (also by an exception, a failed test or Ctrl-C)
stops every process it started. Processes started for a context manager also get
``PR_SET_PDEATHSIG``, so even a SIGKILLed test runner leaves no orphan behind. A *detached*
cluster (the CLI's ``up``) records its pids in ``state.json`` instead, for ``down``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from localcluster import building, certificates, nodepools, versions

REPO_ROOT = Path(__file__).resolve().parents[2]
START_ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


class ClusterStartError(RuntimeError):
    """A component did not come up; the message carries the tail of its log."""


@dataclass
class ClusterState:
    directory: str
    kubeconfig: str
    server: str
    pids: dict[str, int]
    ports: dict[str, int]
    kubernetes: str = versions.KUBERNETES

    def save(self) -> None:
        (Path(self.directory) / "state.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> ClusterState | None:
        path = directory / "state.json"
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


def default_directory(name: str = "dev") -> Path:
    return building.cache_root() / "clusters" / name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn``: Linux delivers ``sig`` to the child when the process that started it dies."""

    def arm() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # 1 == PR_SET_PDEATHSIG

    return arm


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


class LocalCluster:
    def __init__(self, directory: Path, *, detached: bool = False, install_crds: bool = True) -> None:
        self.directory = directory
        self.detached = detached
        self.install_crds = install_crds
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.kubeconfig = directory / "kubeconfig"
        self.server = ""
        self.pki: certificates.Pki | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        started = time.monotonic()
        binaries = building.ensure_binaries()
        existing = ClusterState.load(self.directory)
        if existing and any(alive(pid) for pid in existing.pids.values()):
            raise ClusterStartError(
                f"a cluster is already running from {self.directory}; run `down` first"
            )
        for sub in ("etcd-data", "logs"):
            path = self.directory / sub
            if path.exists():
                subprocess.run(["rm", "-rf", str(path)], check=True)
        (self.directory / "logs").mkdir(parents=True)
        self.pki = certificates.generate(self.directory / "pki")
        for name in ("etcd", "etcd-peer", "kube-apiserver", "kube-controller-manager",
                     "kube-scheduler", "kwok"):
            self.ports[name] = free_port()
        self.server = f"https://127.0.0.1:{self.ports['kube-apiserver']}"
        self._write_kubeconfig()

        self._spawn("etcd", self._etcd_command(binaries["etcd"]))
        self._wait_http("etcd", f"http://127.0.0.1:{self.ports['etcd']}/health", timeout=30)
        self._spawn("kube-apiserver", self._apiserver_command(binaries["kube-apiserver"]))
        self._wait_https("kube-apiserver", "/readyz", timeout=90)
        self._spawn("kube-controller-manager", self._kcm_command(binaries["kube-controller-manager"]))
        self._spawn("kube-scheduler", self._scheduler_command(binaries["kube-scheduler"]))
        self._spawn("kwok", self._kwok_command(binaries["kwok"]))
        self._save_state()

        from localcluster import provisioning  # the Kubernetes client is imported only when needed

        provisioning.provision(self.kubeconfig, install_crds=self.install_crds, repo_root=REPO_ROOT)
        for name in ("kube-controller-manager", "kube-scheduler"):
            self._wait_https(name, "/healthz", timeout=60, port=self.ports[name])
        self.check_running()
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Stop every process this object started: all but etcd at once, then etcd last, so the
        apiserver never loses its store while shutting down."""
        others = [self.processes.pop(name) for name in START_ORDER[1:] if name in self.processes]
        with concurrent.futures.ThreadPoolExecutor() as pool:
            list(pool.map(lambda proc: _terminate(proc.pid, wait=proc.wait), others))
        etcd = self.processes.pop("etcd", None)
        if etcd is not None:
            _terminate(etcd.pid, wait=etcd.wait)
        state = ClusterState.load(self.directory)
        if state is not None and not self.processes:
            (self.directory / "state.json").unlink(missing_ok=True)

    def check_running(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise ClusterStartError(f"{name} exited with {proc.returncode}\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.directory / "logs" / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- commands --------------------------------------------------------------------------

    def _etcd_command(self, binary: Path) -> list[str]:
        client = f"http://127.0.0.1:{self.ports['etcd']}"
        peer = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        return [
            str(binary), "--name=modelops", f"--data-dir={self.directory / 'etcd-data'}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=modelops={peer}",
            # A throwaway test store: fsync buys nothing here and costs seconds per test.
            "--unsafe-no-fsync", "--quota-backend-bytes=4294967296", "--log-level=warn",
        ]

    def _apiserver_command(self, binary: Path) -> list[str]:
        assert self.pki is not None
        port = self.ports["kube-apiserver"]
        return [
            str(binary),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
            f"--cert-dir={self.directory / 'pki'}",
            f"--tls-cert-file={self.pki.serving_cert}", f"--tls-private-key-file={self.pki.serving_key}",
            f"--client-ca-file={self.pki.ca_cert}",
            "--authorization-mode=Node,RBAC",
            f"--service-account-issuer=https://127.0.0.1:{port}",
            f"--service-account-key-file={self.pki.sa_public}",
            f"--service-account-signing-key-file={self.pki.sa_private}",
            "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true",
            # No kubelet mounts tokens here, and the ServiceAccount admission plugin would reject
            # Pods in a namespace whose default ServiceAccount the controller has not made yet.
            "--disable-admission-plugins=ServiceAccount",
            "--endpoint-reconciler-type=none", "--profiling=false", "--event-ttl=1h",
            # A machine shared by several test sessions can make the server-side apply of KServe's
            # ~2 MB CRD take longer than the default minute (504 "request did not complete").
            "--request-timeout=3m",
        ]

    def _component_common(self, name: str) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={self.ports[name]}",
            f"--cert-dir={self.directory / 'pki' / name}",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
        ]

    def _kcm_command(self, binary: Path) -> list[str]:
        assert self.pki is not None
        return [
            str(binary), *self._component_common("kube-controller-manager"),
            f"--service-account-private-key-file={self.pki.sa_private}",
            f"--root-ca-file={self.pki.ca_cert}",
            f"--cluster-signing-cert-file={self.pki.ca_cert}",
            f"--cluster-signing-key-file={self.pki.ca_key}",
            "--use-service-account-credentials=false",
            # Fast, deterministic reactions for tests: the Job controller and GC sync quickly.
            "--concurrent-job-syncs=10", "--concurrent-gc-syncs=10",
        ]

    def _scheduler_command(self, binary: Path) -> list[str]:
        return [str(binary), *self._component_common("kube-scheduler")]

    def _kwok_command(self, binary: Path) -> list[str]:
        stages = [f"--config={path}" for path in nodepools.stage_paths()]
        return [
            str(binary), f"--kubeconfig={self.kubeconfig}", *stages,
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--cidr=10.0.1.0/24", "--node-ip=127.0.0.1",
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{self.ports['kwok']}",
        ]

    # -- helpers ---------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.directory / "logs" / f"{name}.log", "wb")  # noqa: SIM115 - child owns it
        (self.directory / "logs" / f"{name}.cmd").write_text(" ".join(command) + "\n")
        self.processes[name] = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own session: Ctrl-C in the terminal reaches only us; we stop children in order.
            start_new_session=True,
            preexec_fn=None if self.detached else die_with_parent(),
        )
        log.close()

    def _save_state(self) -> None:
        ClusterState(
            directory=str(self.directory),
            kubeconfig=str(self.kubeconfig),
            server=self.server,
            pids={name: proc.pid for name, proc in self.processes.items()},
            ports=self.ports,
        ).save()

    def _wait_http(self, name: str, url: str, timeout: float) -> None:
        host_port = url.split("//", 1)[1].split("/", 1)[0]
        path = "/" + url.split("//", 1)[1].split("/", 1)[1]
        self._wait(name, timeout, lambda: _get(http.client.HTTPConnection(host_port, timeout=2), path))

    def _wait_https(self, name: str, path: str, timeout: float, port: int | None = None) -> None:
        assert self.pki is not None
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        if port is not None:
            # Controller-manager and scheduler serve a self-signed certificate of their own.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        target = port or self.ports["kube-apiserver"]
        self._wait(name, timeout,
                   lambda: _get(http.client.HTTPSConnection("127.0.0.1", target, context=context,
                                                            timeout=2), path))

    def _wait(self, name: str, timeout: float, probe: Any) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            proc = self.processes[name]
            if proc.poll() is not None:
                raise ClusterStartError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
            try:
                if probe():
                    return
            except OSError as error:
                last_error = str(error)
            time.sleep(0.2)
        raise ClusterStartError(
            f"{name} not healthy after {timeout}s ({last_error}):\n{self.log_tail(name)}"
        )

    def _write_kubeconfig(self) -> None:
        assert self.pki is not None
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "modelops-local", "cluster": {
                "server": self.server, "certificate-authority": str(self.pki.ca_cert)}}],
            "users": [{"name": "modelops-admin", "user": {
                "client-certificate": str(self.pki.admin_cert),
                "client-key": str(self.pki.admin_key)}}],
            "contexts": [{"name": "modelops-local", "context": {
                "cluster": "modelops-local", "user": "modelops-admin", "namespace": "default"}}],
            "current-context": "modelops-local",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
        self.kubeconfig.chmod(0o600)


def _get(conn: http.client.HTTPConnection, path: str) -> bool:
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status == 200
    finally:
        conn.close()


def _terminate(pid: int, wait: Any = None, grace: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if wait is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                wait(timeout=0.2)
                return
        elif not alive(pid):
            return
        else:
            time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if wait is not None:
        wait()


def stop_detached(directory: Path) -> bool:
    """Stop a cluster started by ``up`` (pids from state.json). Returns whether one was running."""
    state = ClusterState.load(directory)
    if state is None:
        return False
    with concurrent.futures.ThreadPoolExecutor() as pool:
        # Everything but etcd first, in parallel; etcd last so the apiserver shuts down cleanly.
        others = [pid for name, pid in state.pids.items() if name != "etcd"]
        list(pool.map(_terminate, others))
    if "etcd" in state.pids:
        _terminate(state.pids["etcd"])
    (directory / "state.json").unlink(missing_ok=True)
    return True
