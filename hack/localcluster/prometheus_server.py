"""A real Prometheus server on loopback, for the tests and ``make dev`` (its binary comes from
``localcluster.prometheus_binary``).

**The server** (``PrometheusServer``) scrapes every second from a ``file_sd_configs`` targets file in
its directory, so tests add and remove targets while it runs (``add_target``/``remove_target``);
``honor_labels: true`` keeps the ``namespace``/``model``/``modelversion`` labels an exporter serves
(see ``modelops.metrics.names``). It keeps its TSDB in its directory and its port for its whole
life, so ``restart()`` comes back at the same URL with the same data, as a real Prometheus does
after a rollout of its StatefulSet. Prometheus' scrape manager applies discovered target changes
at most every 5 seconds, so a target added while it runs is first scraped 2-6 seconds later;
``wait_scraped`` waits for that.

The process runs in its own process group and gets SIGTERM if the process that started it dies,
even by SIGKILL (``PR_SET_PDEATHSIG``). Linux sends that signal when the *thread* that started it
ends, so call ``start``/``restart`` from a thread that lives as long as the server (the main one),
never from ``asyncio.to_thread`` or another short-lived worker. If it does not become ready,
``start`` raises with the tail of its log: never a skip.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from localcluster.children import ChildServer
from localcluster.cluster import free_port
from localcluster.prometheus_binary import PrometheusUnavailable, ensure_prometheus, ensure_promtool

SCRAPE_JOB = "modelops-test-targets"

__all__ = ["BasicAuth", "PrometheusServer", "PrometheusServerError", "PrometheusUnavailable", "ensure_prometheus",
           "ensure_promtool"]


class PrometheusServerError(RuntimeError):
    """The Prometheus server did not start (or a target was not scraped); the message has its log tail."""


# -- the server -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasicAuth:
    """HTTP basic auth for the server's web endpoints. Prometheus' web config wants a bcrypt hash
    and Python's standard library has no bcrypt, so the caller brings the hash of ``password``;
    the server's own readiness and target probes send ``username``/``password``."""

    username: str
    password: str
    bcrypt_hash: str


def _parse_go_time(text: str) -> float | None:
    """Prometheus' RFC 3339 timestamps (nanoseconds, ``Z`` or an offset) as Unix seconds."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    parsed = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    if parsed.year < 1970:  # Go's zero time: never scraped
        return None
    return parsed.timestamp() + float(f"0.{fraction or '0'}")


class PrometheusServer(ChildServer):
    """``with PrometheusServer(directory) as prometheus: prometheus.add_target("127.0.0.1:8000")``"""

    def __init__(
        self,
        directory: Path,
        *,
        startup_timeout: float = 60.0,
        basic_auth: BasicAuth | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.port = free_port()  # kept for the server's whole life: restart() comes back here
        self.config_path = self.directory / "prometheus.yml"
        self.targets_path = self.directory / "targets.json"
        self.rules_dir = self.directory / "rules"
        self.data_dir = self.directory / "data"
        self.web_config_path = self.directory / "web-config.yml"
        self.log_path = self.directory / "prometheus.log"
        self.startup_timeout = startup_timeout
        self.basic_auth = basic_auth
        self.startup_seconds: float | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._targets: dict[str, dict[str, str]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- configuration ---------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            # Alerting and recording rules dropped here are loaded by reload().
            "rule_files": [str(self.rules_dir / "*.yml")],
            "scrape_configs": [
                {
                    "job_name": SCRAPE_JOB,
                    # The exporters' own namespace/model/modelversion labels must win over target labels.
                    "honor_labels": True,
                    "file_sd_configs": [{"files": [str(self.targets_path)], "refresh_interval": "1s"}],
                }
            ],
        }

    def command(self) -> list[str]:
        cmd = [
            str(ensure_prometheus()),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address={self.host_port}",
            "--web.enable-lifecycle",
        ]
        if self.basic_auth is not None:
            cmd.append(f"--web.config.file={self.web_config_path}")
        return cmd

    def _write_config(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rules_dir.mkdir(exist_ok=True)
        # JSON is YAML: no YAML library needed to write Prometheus' configuration.
        _write_atomically(self.config_path, json.dumps(self.config(), indent=2))
        if self.basic_auth is not None:
            users = {"basic_auth_users": {self.basic_auth.username: self.basic_auth.bcrypt_hash}}
            _write_atomically(self.web_config_path, json.dumps(users, indent=2))
        self._write_targets()

    def _write_targets(self) -> None:
        groups = [{"targets": [address], "labels": labels} for address, labels in sorted(self._targets.items())]
        # Atomic replace: file discovery must never read a half-written file (it would drop every target).
        _write_atomically(self.targets_path, json.dumps(groups, indent=2))

    def add_target(self, host_port: str, labels: Mapping[str, str] | None = None) -> None:
        """Scrape ``http://host_port/metrics`` from now on (first scrape within ~6 s, see the module doc)."""
        self._targets[host_port] = dict(labels or {})
        self._write_targets()

    def remove_target(self, host_port: str) -> None:
        self._targets.pop(host_port, None)
        self._write_targets()

    @property
    def targets(self) -> dict[str, dict[str, str]]:
        return {address: dict(labels) for address, labels in self._targets.items()}

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> PrometheusServer:
        if self.running:
            return self
        self._write_config()
        command = self.command()  # may fetch the binary: not part of the startup time
        started = time.monotonic()
        # SIGTERM, not SIGKILL, when the test runner dies: Prometheus then closes its TSDB cleanly.
        self._spawn(command, cwd=self.directory)
        try:
            self.wait_ready(deadline=started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop_group(timeout)

    def restart(self) -> PrometheusServer:
        """Stop and start again on the same port with the same TSDB and targets."""
        self.stop()
        return self.start()

    def reload(self) -> None:
        """Re-read the configuration and rule files (``POST /-/reload``)."""
        self._write_config()
        self._request("/-/reload", method="POST", timeout=10).close()

    # -- probes ----------------------------------------------------------------------------------

    def _request(self, path: str, *, method: str = "GET", timeout: float = 2.0) -> Any:
        request = urllib.request.Request(self.url + path, method=method)
        if self.basic_auth is not None:
            pair = f"{self.basic_auth.username}:{self.basic_auth.password}".encode()
            request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode("ascii"))
        return urllib.request.urlopen(request, timeout=timeout)

    def _get_json(self, path: str) -> Any:
        with self._request(path) as response:
            return json.load(response)

    def wait_ready(self, timeout: float | None = None, *, deadline: float | None = None) -> None:
        """Poll ``/-/ready`` (200 once the TSDB is open and the configuration loaded)."""
        if deadline is None:
            deadline = time.monotonic() + (self.startup_timeout if timeout is None else timeout)
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise PrometheusServerError(f"prometheus is not running (exit code {code}):\n{self.log_tail()}")
            try:
                with self._request("/-/ready") as response:
                    if response.status == 200:
                        return
                    last_error = f"/-/ready answered {response.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"/-/ready answered {exc.code}"
            except OSError as exc:
                last_error = str(exc)
            time.sleep(0.05)
        raise PrometheusServerError(f"prometheus not ready at {self.url}/-/ready ({last_error}):\n{self.log_tail()}")

    def target_state(self, host_port: str) -> dict[str, Any] | None:
        """The target's entry in ``/api/v1/targets`` (health, lastScrape, lastError), if discovered."""
        payload = self._get_json("/api/v1/targets?state=active")
        for target in payload["data"]["activeTargets"]:
            if target.get("discoveredLabels", {}).get("__address__") == host_port:
                return dict(target)
        return None

    def wait_scraped(self, host_port: str, timeout: float = 30.0, *, since: float | None = None) -> None:
        """Wait until a scrape of ``host_port`` succeeded (``health == "up"``); with ``since`` (Unix
        seconds), a scrape that began after it, so an exporter that replaced another on the same port
        is known to have been read."""
        deadline = time.monotonic() + timeout
        state: dict[str, Any] | None = None
        last_error = ""
        while time.monotonic() < deadline:
            try:
                state = self.target_state(host_port)
            except (OSError, ValueError) as exc:
                last_error = f"targets API: {exc}"
                state = None
            if state is not None and state.get("health") == "up":
                scraped_at = _parse_go_time(str(state.get("lastScrape", "")))
                if since is None or (scraped_at is not None and scraped_at >= since):
                    return
            time.sleep(0.1)
        seen = "never discovered" if state is None else (
            f"health={state.get('health')} lastScrape={state.get('lastScrape')} lastError={state.get('lastError')!r}"
        )
        raise PrometheusServerError(
            f"target {host_port} not scraped by {self.url} within {timeout:.0f}s ({seen}) {last_error}\n"
            f"{self.log_tail()}"
        )


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)
