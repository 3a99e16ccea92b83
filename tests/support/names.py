"""Names no other test uses: every test makes its own models and objects, so tests sharing one
cluster, one MLflow server and one Prometheus never see each other's series or versions."""

from __future__ import annotations

import uuid


def unique(prefix: str, length: int = 5) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:length]}"
