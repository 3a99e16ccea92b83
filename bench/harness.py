"""What the benchmarks share: the operator as a subprocess (its RSS and its own metrics), a watch
on one route that records when each state first appears, a pass-through proxy that records when
each answer of an upstream (the real Prometheus) went back to the operator, percentiles, and
polling with a deadline.

Kept out of the benchmarks themselves so each stays one command about one question."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, watch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack"))

from localcluster.cluster import free_port  # noqa: E402

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


class RecordingProxy:
    """A loopback HTTP proxy in front of ``upstream`` (the real Prometheus) that forwards every
    request unchanged and records ``(monotonic time the answer was sent, query text)`` — the
    moment the operator had a measurement in hand. Measurement only: it changes no answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.answers: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
                request = urllib.request.Request(proxy.upstream + self.path, data=body, headers=headers,
                                                 method=self.command)
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, payload, kind = answer.status, answer.read(), answer.headers.get("Content-Type")
                except urllib.error.HTTPError as error:
                    status, payload, kind = error.code, error.read(), error.headers.get("Content-Type")
                self.send_response(status)
                self.send_header("Content-Type", kind or "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                if body:
                    query.update(urllib.parse.parse_qs(body.decode(errors="replace")))
                with proxy.lock:
                    proxy.answers.append((time.monotonic(), " ".join(query.get("query", []))))

            do_GET = do_POST = _forward  # BaseHTTPRequestHandler dispatches on these names

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def last_answer(self, containing: str, before: float) -> float | None:
        """When the last answer to a query containing ``containing`` was sent, before ``before``."""
        with self.lock:
            times = [at for at, query in self.answers if containing in query and at <= before]
        return max(times) if times else None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def backends(route: dict[str, Any]) -> dict[str, int]:
    rule = next(r for r in route["spec"]["rules"] if r.get("name") == "split")
    return {ref["name"]: int(ref.get("weight", 1)) for ref in rule["backendRefs"]}


def wait_for(probe: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except Exception as error:
            value, last = None, error
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} (last error: {last!r})" if last else what)


class Operator:
    """The operator as a subprocess (``python -m modelops``), with its liveness and metrics ports.
    ``source``: run the package from another checkout's ``operator/src`` (to measure a before)."""

    def __init__(self, kubeconfig: Path, directory: Path, *, config: dict[str, Any] | None = None,
                 source: Path | None = None) -> None:
        self.kubeconfig, self.directory, self.source = kubeconfig, directory, source
        self.config_path = directory / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(config or {}))
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = self.metrics_port = 0

    def start(self, timeout: float = 120) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "MODELOPS_CONFIG": str(self.config_path)}
        if self.source is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(self.source), env.get("PYTHONPATH", "")])
        log = open(self.directory / "operator.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "modelops", "--liveness", f"http://127.0.0.1:{self.port}/healthz",
             "--metrics", f"127.0.0.1:{self.metrics_port}"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status == 200,
                 timeout, "operator live")

    def rss_mib(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def metrics(self) -> dict[str, float]:
        """The operator's own metrics, ``name{labels}`` -> value (empty when it serves none)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as answer:
                text = answer.read().decode()
        except OSError:
            return {}
        found: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    found[name] = float(value)
                except ValueError:
                    continue
        return found

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


