"""A real Prometheus server on loopback, for the tests and ``make dev``, and where its binary comes from.

**The binary** is Debian's ``prometheus`` package, never installed system-wide: ``apt-get download``
fetches the .deb into a temporary directory, ``dpkg-deb -x`` unpacks it there, and ``prometheus``
and ``promtool`` are copied into ``${XDG_CACHE_HOME:-~/.cache}/modelops/bin/prometheus-<Debian
version>/`` (the directory appears in one rename, so a half-copied pair is never taken for a cached
one). The cache is keyed by the exact Debian version apt offers, so a security update of the package
is picked up, and a machine that cannot reach the archive keeps using any cached 2.x. Debian, not a
Go build: Prometheus' own go.mod pulls in every cloud SDK its service discoveries use, which would
cost minutes of compiling on first use, and Debian's archive is one the project's machines reach.

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
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from localcluster import versions
from localcluster.building import bin_dir
from localcluster.cluster import die_with_parent, free_port

DEBIAN_PACKAGE = "prometheus"
COMMANDS = ("prometheus", "promtool")
SCRAPE_JOB = "modelops-test-targets"

# apt-get's answers when its package lists are missing or older than the archive (a superseded
# version 404s); `apt-get update` cures both, anything else (no network) it does not.
_STALE_LISTS = re.compile(r"Unable to locate package|no installation candidate|Can't select|404\s+Not Found")


class PrometheusUnavailable(RuntimeError):
    """The ``prometheus`` binary could not be had; the message carries apt's own error."""


class PrometheusServerError(RuntimeError):
    """The Prometheus server did not start (or a target was not scraped); the message has its log tail."""


# -- the binary -------------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    print(f"+ {' '.join(cmd)}", file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=cwd, text=True, capture_output=True, stdin=subprocess.DEVNULL)


def _candidate_version() -> str | None:
    """The version ``apt-get download prometheus`` would fetch, from the local package lists."""
    try:
        proc = subprocess.run(["apt-cache", "policy", DEBIAN_PACKAGE], text=True, capture_output=True)
    except FileNotFoundError:
        return None
    match = re.search(r"^\s*Candidate:\s*(\S+)", proc.stdout, flags=re.MULTILINE)
    if match is None or match.group(1) == "(none)":
        return None
    return match.group(1)


def upstream_version(debian_version: str) -> str:
    """``2.42.0+ds-5+deb12u1`` -> ``2.42.0`` (epoch, repack suffix and Debian revision removed)."""
    return re.split(r"[+~-]", debian_version.rpartition(":")[2], maxsplit=1)[0]


def _version_key(debian_version: str) -> tuple[tuple[int, ...], str]:
    numbers = tuple(int(part) for part in re.findall(r"\d+", upstream_version(debian_version)))
    return numbers, debian_version


def _cache_dir(debian_version: str) -> Path:
    return bin_dir() / f"{DEBIAN_PACKAGE}-{debian_version}"


def _complete(directory: Path) -> bool:
    return all(os.access(directory / command, os.X_OK) for command in COMMANDS)


def _cached_versions() -> list[str]:
    """Debian versions of Prometheus 2.x already in the cache, newest first."""
    root = bin_dir()
    if not root.is_dir():
        return []
    found = [
        entry.name.removeprefix(f"{DEBIAN_PACKAGE}-")
        for entry in root.glob(f"{DEBIAN_PACKAGE}-2.*")
        if entry.is_dir() and _complete(entry)
    ]
    return sorted(found, key=_version_key, reverse=True)


def _download_deb(workdir: Path) -> Path:
    download = ["apt-get", "download", DEBIAN_PACKAGE]
    proc = _run(download, cwd=workdir)
    if proc.returncode != 0 and _STALE_LISTS.search(proc.stderr) and os.geteuid() == 0:
        update = _run(["apt-get", "update"])
        if update.returncode != 0:
            raise PrometheusUnavailable(
                f"`{' '.join(download)}` failed and `apt-get update` failed too ({update.returncode}):\n"
                f"{proc.stderr}\n{update.stderr}"
            )
        proc = _run(download, cwd=workdir)
    if proc.returncode != 0:
        raise PrometheusUnavailable(
            f"`{' '.join(download)}` failed ({proc.returncode}); the tests need Debian's `prometheus` "
            f"package (they never skip):\n{proc.stdout}\n{proc.stderr}"
        )
    debs = sorted(workdir.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    if len(debs) != 1:
        raise PrometheusUnavailable(f"`{' '.join(download)}` left {[d.name for d in debs]} in {workdir}")
    return debs[0]


def _unpack_into_cache(deb: Path, workdir: Path) -> str:
    """Unpack the .deb and move its two binaries into the cache; return the Debian version."""
    field = _run(["dpkg-deb", "-f", str(deb), "Version"])
    if field.returncode != 0 or not field.stdout.strip():
        raise PrometheusUnavailable(f"cannot read the version of {deb.name}:\n{field.stderr}")
    version = field.stdout.strip()
    target = _cache_dir(version)
    if _complete(target):
        return version
    tree = workdir / "tree"
    unpacked = _run(["dpkg-deb", "-x", str(deb), str(tree)])
    if unpacked.returncode != 0:
        raise PrometheusUnavailable(f"`dpkg-deb -x {deb.name}` failed:\n{unpacked.stderr}")
    staging = bin_dir() / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for command in COMMANDS:
        source = tree / "usr" / "bin" / command
        if not source.is_file():
            raise PrometheusUnavailable(f"{deb.name} has no usr/bin/{command}")
        shutil.copy2(source, staging / command)
        (staging / command).chmod(0o755)
    shutil.rmtree(target, ignore_errors=True)  # an incomplete leftover of an older layout
    try:
        staging.rename(target)
    except OSError:
        # Another process installed the same version at the same moment: theirs is as good.
        shutil.rmtree(staging, ignore_errors=True)
        if not _complete(target):
            raise
    return version


def _warn_if_unexpected(debian_version: str) -> None:
    upstream = upstream_version(debian_version)
    if upstream != versions.PROMETHEUS and not upstream.startswith(versions.PROMETHEUS + "."):
        warnings.warn(
            f"Prometheus {debian_version} is not the pinned {versions.PROMETHEUS}.x "
            "(hack/localcluster/versions.py); using it anyway",
            stacklevel=3,
        )


def ensure_prometheus_binaries() -> dict[str, Path]:
    """Fetch (or find in the cache) ``prometheus`` and ``promtool``; return their paths by name."""
    directory = _ensure_cached_directory()
    return {command: directory / command for command in COMMANDS}


# Once per process: asking apt for the candidate costs half a second, and every restart() asks.
@functools.cache
def _ensure_cached_directory() -> Path:
    candidate = _candidate_version()
    cached = _cached_versions()
    if candidate is not None and _complete(_cache_dir(candidate)):
        version = candidate
    elif candidate is None and cached:
        # apt knows no candidate (no package lists): what is cached is the best this machine has,
        # and an `apt-get update` against an archive that may be unreachable would only cost time.
        version = cached[0]
    else:
        try:
            with tempfile.TemporaryDirectory(prefix="modelops-prometheus-") as tmp:
                version = _unpack_into_cache(_download_deb(Path(tmp)), Path(tmp))
        except PrometheusUnavailable as exc:
            if not cached:
                raise
            warnings.warn(f"using the cached Prometheus {cached[0]}: {exc}", stacklevel=2)
            version = cached[0]
    _warn_if_unexpected(version)
    return _cache_dir(version)


def ensure_prometheus() -> Path:
    """The path of a cached ``prometheus`` binary (Debian's package, fetched on first use)."""
    return ensure_prometheus_binaries()["prometheus"]


def ensure_promtool() -> Path:
    """The path of the ``promtool`` shipped beside :func:`ensure_prometheus`'s binary."""
    return ensure_prometheus_binaries()["promtool"]


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


class PrometheusServer:
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

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                # SIGTERM, not SIGKILL: Prometheus then closes its TSDB head cleanly.
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        try:
            self.wait_ready(deadline=started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self, timeout: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # start_new_session: the group id is its pid
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def restart(self) -> PrometheusServer:
        """Stop and start again on the same port with the same TSDB and targets."""
        self.stop()
        return self.start()

    def reload(self) -> None:
        """Re-read the configuration and rule files (``POST /-/reload``)."""
        self._write_config()
        self._request("/-/reload", method="POST", timeout=10).close()

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

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

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)
