"""Polling with a deadline, for conditions the tests wait on. A timeout says what was awaited, and
when the probe itself failed (an API error, an assertion inside it), that failure is raised as the
cause — never swallowed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Timeout(AssertionError):
    """The awaited condition did not hold in time."""


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            value = probe()
            last = None
        except Exception as error:  # the API may answer 404 until the object exists
            value, last = None, error
        if value:
            return value
        if time.monotonic() > deadline:
            if last is not None:
                raise Timeout(f"timed out after {timeout}s waiting for {what}; the probe last raised "
                              f"{type(last).__name__}: {last}") from last
            raise Timeout(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
