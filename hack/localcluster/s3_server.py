"""A real S3-compatible server on loopback (moto's server mode, ``moto_server`` of the ``[dev]``
extra), for the log sink's object-store tests: clients talk S3 over HTTP to it exactly as to AWS —
no mocked client anywhere.

``S3Server(directory)`` starts ``moto_server`` on a free loopback port and waits until it answers;
``storage_options`` are what fsspec/s3fs need to reach it (endpoint, dummy credentials), and
``env`` the same as AWS environment variables for a child process. It runs in its own session and
gets SIGTERM if the process that started it dies. If it does not come up, ``start`` raises with
the tail of its log: never a skip.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from localcluster.children import ChildServer
from localcluster.cluster import free_port

ACCESS_KEY, SECRET_KEY, REGION = "modelops-test", "modelops-test-secret", "eu-west-1"


class S3ServerError(RuntimeError):
    """moto_server did not start; the message carries the tail of its log."""


class S3Server(ChildServer):
    """``with S3Server(directory) as s3: s3.storage_options``"""

    def __init__(self, directory: Path, *, startup_timeout: float = 60.0) -> None:
        self.directory = Path(directory)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.directory / "moto.log"
        self.startup_timeout = startup_timeout

    @property
    def storage_options(self) -> dict[str, Any]:
        return {"key": ACCESS_KEY, "secret": SECRET_KEY,
                "client_kwargs": {"endpoint_url": self.url, "region_name": REGION}}

    @property
    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": self.url}

    def start(self) -> S3Server:
        executable = Path(sys.executable).parent / "moto_server"
        if not executable.exists():
            raise S3ServerError(f"no `moto_server` next to {sys.executable}: install the [dev] extra")
        self._start([str(executable), "-H", "127.0.0.1", "-p", str(self.port)], ready_url=f"{self.url}/moto-api/",
                    timeout=self.startup_timeout, error=S3ServerError, what="moto_server")
        return self
