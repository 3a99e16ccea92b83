"""What the servers this package runs as child processes share: starting one in its own session
with its output in a log (it gets SIGTERM if the process that started it dies), waiting until an
HTTP URL of it answers 200 (or it exits: the error then carries its log tail), and the
context-manager protocol (``with Server(directory) as server:`` starts it; leaving stops it, also
when the body raises), and stopping it (SIGTERM to its process group, ``stop_grace`` seconds, then
SIGKILL). Used by logsink_server.py, s3_server.py and model_servers.py."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from localcluster.cluster import die_with_parent


class ChildServer:
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    stop_grace: float = 15.0

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> object:
        return self._terminate(self.stop_grace)

    def _start(self, command: list[str], *, ready_url: str, timeout: float, error: type[Exception], what: str,
               env: Mapping[str, str] | None = None, cwd: Path | None = None,
               headers: Mapping[str, str] | None = None) -> None:
        """Spawn ``command`` and wait until ``ready_url`` answers 200; on any failure stop it and re-raise."""
        started = time.monotonic()
        self._spawn(command, env=env, cwd=cwd)
        try:
            self._await_http(ready_url, started + timeout, error, what, headers=headers)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, command: list[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                command, env=dict(env) if env is not None else None, cwd=cwd,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=die_with_parent(signal.SIGTERM),
            )  # fmt: skip

    def _await_http(self, url: str, deadline: float, error: type[Exception], what: str,
                    headers: Mapping[str, str] | None = None) -> None:
        """Poll ``url`` (with ``headers``) until it answers 200; raise ``error`` if the process exits or
        time runs out."""
        assert self.proc is not None
        last = "no answer yet"
        request = urllib.request.Request(url, headers=dict(headers or {}))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise error(f"{what} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as answered:
                last = f"answered {answered.code}"
            except OSError as failed:
                last = str(failed)
            time.sleep(0.05)
        raise error(f"{what} not ready at {url} ({last}):\n{self.log_tail()}")

    def _terminate(self, grace: float, must_exit: type[Exception] | None = None, what: str = "it") -> int | None:
        """SIGTERM to the child's process group, ``grace`` seconds to exit, then SIGKILL; its exit code
        (None if it was not running). Forgets the process either way. With ``must_exit``, needing the
        SIGKILL raises that error (with the log tail): for a server whose clean exit is a promise."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=grace)
        except subprocess.TimeoutExpired as timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait(timeout=10)
            if must_exit is not None:
                raise must_exit(f"{what} did not stop within {grace}s of SIGTERM:\n{self.log_tail()}") from timed_out
            return code

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as failed:
            return f"(no log: {failed})"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
