"""The dashboard as a user sees it: ``kubectl modelops dashboard`` started as its own process on a free
loopback port, and Debian's Chromium (hack/localcluster/chromium.py, unpacked into the cache by
``make cluster-build`` or here on first use) loading it headless — ``--dump-dom`` for the DOM after
layout, ``--screenshot`` for the picture. Chromium that cannot be had or cannot start fails the test
with its own error (``ChromiumUnavailable``): never a skip."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from localcluster.chromium import ensure_chromium
from localcluster.cluster import free_port
from tests.support.waiting import wait_for


@contextlib.contextmanager
def dashboard(kubeconfig: Path, namespace: str, *extra: str) -> Iterator[str]:
    """``kubectl-modelops dashboard -n NAMESPACE`` on a free port; yields its URL."""
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from modelops.cli.main import main; "
                                 "sys.argv[0] = 'kubectl-modelops'; sys.exit(main())",
                                 "dashboard", "-n", namespace, "--port", str(port), *extra],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}/"

        def healthy() -> bool:
            if proc.poll() is not None:
                log.seek(0)
                raise AssertionError(f"the dashboard exited with {proc.returncode}:\n{log.read()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url + "healthz", timeout=2) as answer:
                return bool(answer.status == 200)
            return False

        try:
            wait_for(healthy, 60, "the dashboard to listen")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass(frozen=True)
class Capture:
    dom: str
    screenshot: Path
    version: str


def capture(url: str, directory: Path, width: int = 1280, height: int = 2000, timeout: float = 180) -> Capture:
    """The page's DOM and a screenshot of ``width`` x ``height``, from headless Chromium."""
    chromium = ensure_chromium()
    profile = directory / "profile"
    shot = directory / "dashboard.png"
    common = [f"--window-size={width},{height}", "--virtual-time-budget=5000"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(chromium.command(*common, *args, url, profile=profile), env=chromium.env(),
                              capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise AssertionError(f"chromium {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-4000:]}")
        return done

    dom = run("--dump-dom").stdout
    run(f"--screenshot={shot}")
    if not shot.is_file():
        raise AssertionError(f"chromium wrote no screenshot at {shot}")
    return Capture(dom, shot, chromium.version)
