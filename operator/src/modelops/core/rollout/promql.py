"""Whether a check's PromQL can parse at all, judged before any query runs.

Owns one lexical check of ``spec.analysis.checks[].prometheus.query``: every bracket ``( [ {``
closes in order and every string literal (``"..."``, ``'...'`` with backslash escapes, or a raw
```...``` string) ends, comments (``#`` to the end of the line) aside, once the placeholders
(``${model}``...) are set aside. A query that fails it can never run: Prometheus' parser refuses it
with ``bad_data``, so the step would only collect Error measurements. The operator refuses the spec
at once (``Accepted=False``, ``InvalidSpec``, naming the check) instead of waiting for the step
that needs it. This is not the whole PromQL grammar (Prometheus still judges what passes: a
balanced query it refuses is an Error measurement, as before); it is the part that needs no parser.
"""

from __future__ import annotations

import re

from modelops.api.rollout import RolloutSpec

PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
CLOSING = {"(": ")", "[": "]", "{": "}"}


def query_problem(query: str) -> str | None:
    """Why ``query`` cannot parse (an unclosed bracket or string); None when it may."""
    text = PLACEHOLDER.sub("0", query)
    if not text.strip():
        return "is empty"
    open_: list[tuple[str, int]] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in "\"'`":
            end = _string_end(text, index)
            if end is None:
                return f"the string opened with {char} at character {index + 1} never ends"
            index = end
        elif char == "#":
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
        elif char in CLOSING:
            open_.append((char, index))
        elif char in CLOSING.values():
            if not open_ or CLOSING[open_[-1][0]] != char:
                return f"{char!r} at character {index + 1} closes nothing that is open"
            open_.pop()
        index += 1
    if open_:
        char, at = open_[-1]
        return f"{char!r} at character {at + 1} is never closed"
    return None


def _string_end(text: str, start: int) -> int | None:
    """Index of the quote closing the string that opens at ``start`` (raw strings have no escapes)."""
    quote, index = text[start], start + 1
    while index < len(text):
        if text[index] == "\\" and quote != "`":
            index += 2
            continue
        if text[index] == quote:
            return index
        index += 1
    return None


def problems(spec: RolloutSpec) -> list[str]:
    """One problem per check whose query cannot parse, naming the field."""
    found = []
    for index, check in enumerate(spec.analysis.checks if spec.analysis is not None else []):
        if check.prometheus is None:
            continue
        problem = query_problem(check.prometheus.query)
        if problem is not None:
            found.append(f"spec.analysis.checks[{index}].prometheus.query: PromQL that cannot parse: {problem}")
    return found
