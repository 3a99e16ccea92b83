"""API errors the reconcilers act on, free of any client library's exception types."""

from __future__ import annotations


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        # The object a write was for ("Job fraud-train"), set by the writes in ``objects``.
        self.target: str | None = None


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    """409: already exists, or a resourceVersion precondition failed; re-read and retry."""


class Invalid(KubeError):
    """422: the API server refused the object; retrying the same object cannot help."""


class Unavailable(KubeError):
    """5xx, 429, timeouts, connection errors: retry with backoff."""
