"""What every server this package runs as a child process shares, written once: starting one in its
own session with its output in a log (it gets a signal when the process that started it dies, also
on SIGKILL), waiting until an HTTP URL of it answers 200 (or it exits: the error then carries its
log tail), stopping its whole process group (SIGTERM, then SIGKILL after a grace), killing it, and
the context-manager protocol (``with Server(directory) as server:`` starts it; leaving stops it,
also when the body raises). MLflow, Prometheus, the log sink, the S3 server, the KServe model
servers and agents (model_servers.py) and the operator the tests run are all ``ChildServer``s.
"""

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
        """SIGTERM to the process group, a grace, then SIGKILL (override for more)."""
        return self._stop_group(self.stop_grace)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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

    def _spawn(self, command: list[str], env: Mapping[str, str] | None = None, cwd: Path | None = None,
               death_signal: int = signal.SIGTERM) -> None:
        """Start ``command`` in its own session, output appended to ``log_path``. ``death_signal``
        reaches it if this process dies (SIGTERM lets servers close their stores cleanly)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                command, env=dict(env) if env is not None else None, cwd=cwd,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=die_with_parent(death_signal),
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
                    last = f"answered {response.status}"
            except urllib.error.HTTPError as answered:
                last = f"answered {answered.code}"
            except OSError as failed:
                last = str(failed)
            time.sleep(0.05)
        raise error(f"{what} not ready at {url} ({last}):\n{self.log_tail()}")

    def _stop_group(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> int | None:
        """Signal the whole process group (children of the server too), wait for the server and
        for the group to be gone, force whatever is left. The server's exit code (None: not running)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        group = proc.pid  # start_new_session: the group id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
        code: int | None
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(group):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        return code if code is not None else proc.returncode

    def _terminate(self, grace: float, must_exit: type[Exception], what: str) -> int | None:
        """``_stop_group`` for a server whose clean exit is a promise: needing the SIGKILL raises
        ``must_exit`` (with the log tail)."""
        code = self._stop_group(grace)
        if code == -signal.SIGKILL:
            raise must_exit(f"{what} did not stop within {grace}s of SIGTERM:\n{self.log_tail()}")
        return code

    def kill(self) -> None:
        """SIGKILL to the group: no flush, no goodbye (what a crash or an OOM kill does)."""
        self._stop_group(timeout=10, sig=signal.SIGKILL)

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


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
