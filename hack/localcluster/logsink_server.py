"""The prediction-log sink (``python -m modelops.logsink``) as a child process on loopback, for the
tests, the benchmarks and ``make dev``.

``LogSinkServer(directory)`` writes a configuration (store ``directory/store``, spool
``directory/spool``, anything in ``config`` on top), starts the sink on a free loopback port and
waits until ``/readyz`` answers 200 (the spool replayed). It keeps its port, store and spool for
its whole life, so ``restart()`` comes back at the same URL with the same data — as a sink Pod
does on its volume. ``stop()`` sends SIGTERM (the sink writes everything it holds) and waits;
``kill()`` sends SIGKILL (what the durability tests do). The process runs in its own session and
gets SIGTERM if the process that started it dies (``PR_SET_PDEATHSIG``). If it does not become
ready, ``start`` raises with the tail of its log: never a skip.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from localcluster.children import ChildServer
from localcluster.cluster import free_port


class LogSinkServerError(RuntimeError):
    """The sink did not start or stop as asked; the message carries the tail of its log."""


class LogSinkServer(ChildServer):
    """``with LogSinkServer(directory) as sink: sink.url``"""

    def __init__(self, directory: Path, *, config: dict[str, Any] | None = None, env: dict[str, str] | None = None,
                 port: int | None = None, startup_timeout: float = 60.0) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = self.directory / "store"
        self.spool = self.directory / "spool"
        self.config_path = self.directory / "logsink.yaml"
        self.log_path = self.directory / "logsink.log"
        self.config: dict[str, Any] = {
            "listen": f"127.0.0.1:{self.port}",
            "store": {"url": str(self.store)},
            "spoolDir": str(self.spool),
            **(config or {}),
        }
        self.env = env or {}
        self.startup_timeout = startup_timeout
        self.startup_seconds: float | None = None

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise LogSinkServerError("the sink is not running")
        return self.proc.pid

    def start(self) -> LogSinkServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config))
        started = time.monotonic()
        self._spawn([sys.executable, "-m", "modelops.logsink", "--config", str(self.config_path)],
                    env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env})
        try:
            self._await_http(f"{self.url}/readyz", started + self.startup_timeout, LogSinkServerError, "the sink")
        except BaseException:
            self.kill()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait for it to write everything and exit; its exit code (None if not running)."""
        return self._terminate(timeout, must_exit=LogSinkServerError, what="the sink")

    def restart(self) -> LogSinkServer:
        self.stop()
        return self.start()
