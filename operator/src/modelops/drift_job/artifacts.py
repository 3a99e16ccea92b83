"""The reports root (``--reports``, default ``<logs>/_reports``): where the job keeps what it
writes — stored reference sketches, shards' partials, HTML reports — on a local disk or an object
store, through fsspec.

Owns the paths under the root and whole-object writes (a temporary name renamed into place on a
local disk, so a reader never sees half a file; an object store's PUT is atomic already):

```
<reports>/_sketches/<ns>/<monitor>/<hash-of-reference-identity>.json
<reports>/_partials/<ns>/<monitor>/<run-id>/shard-<i>.json
<reports>/<ns>/<monitor>/<run-id>.html
```
"""

from __future__ import annotations

import json
import os
import posixpath
import uuid
from typing import Any

import fsspec

from modelops.drift_job.logs import storage_options


class Artifacts:
    def __init__(self, root: str) -> None:
        self.url = root.rstrip("/")
        self.fs, path = fsspec.core.url_to_fs(self.url, **storage_options(self.url))
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.local = "file" in protocols or "local" in protocols
        if not self.local:
            self.fs.invalidate_cache()
        self.root = path.rstrip("/")

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def uri(self, *parts: str) -> str:
        """The URI a user opens: ``s3://bucket/…`` on an object store, the absolute path locally."""
        if self.local:
            return self.path(*parts)
        return posixpath.join(self.url, *parts)

    def exists(self, *parts: str) -> bool:
        if not self.local:
            self.fs.invalidate_cache()
        return bool(self.fs.exists(self.path(*parts)))

    def write_bytes(self, data: bytes, *parts: str) -> str:
        target = self.path(*parts)
        if self.local:
            directory = posixpath.dirname(target)
            os.makedirs(directory, exist_ok=True)
            temporary = posixpath.join(directory, f".{posixpath.basename(target)}.{uuid.uuid4().hex[:8]}.tmp")
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        else:
            with self.fs.open(target, "wb") as handle:
                handle.write(data)
        return self.uri(*parts)

    def write_json(self, data: Any, *parts: str) -> str:
        return self.write_bytes(json.dumps(data, separators=(",", ":"), allow_nan=False).encode(), *parts)

    def read_json(self, *parts: str) -> Any:
        with self.fs.open(self.path(*parts), "rb") as handle:
            return json.loads(handle.read())
