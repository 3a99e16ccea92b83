"""Go-style durations as the CRDs accept them ("30s", "5m", "1h30m", "250ms") -> timedelta.

The CRD schema already rejects anything else (pattern + CEL ``duration()``), so a failure here
means an object stored before a rule existed; callers turn the ValueError into a condition.
"""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# timedelta's own limit is ~2.7 million years; anything near it is a typo, not a timeout.
MAX_SECONDS = 100 * 365 * 24 * 3600


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
        raise ValueError(f"{text!r} is longer than 100 years")
    return timedelta(seconds=seconds)
