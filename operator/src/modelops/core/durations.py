"""Go-style durations as the CRDs accept them ("30s", "5m", "1h30m", "250ms") -> timedelta.

The CRD schema already rejects anything else (pattern + CEL ``duration()``), so a failure here
means an object stored before a rule existed; callers turn the ValueError into a condition.
"""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# The API server's CEL duration() is Go's time.Duration: at most 2^63-1 ns (~292 years). A
# longer value cannot have been admitted, so it is refused here too, as a ValueError.
MAX_SECONDS = (2**63 - 1) / 1e9


def parse_duration(text: str) -> timedelta:
    position, seconds = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h30m")
    if seconds > MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than the longest duration Kubernetes accepts (~292 years)")
    return timedelta(seconds=seconds)
