"""PromQL as the chart ships it: which metric names an expression reads, Grafana's variables replaced
so Prometheus can parse a dashboard query, and the list of series docs/operations.md documents.

Prometheus 2.42 has no parse-only endpoint and promtool no query parser, so whether an expression
parses is asked of a real Prometheus (``/api/v1/query`` answers ``bad_data`` for a parse error);
this module only finds the names in it. The scan is a small lexer rather than a PromQL parser
(there is none on PyPI that tracks Prometheus): strings, label matchers (``{...}``), grouping
clauses (``by (...)``, ``on (...)``, ...), ranges and durations are removed, and every identifier
left that is not a function call, a keyword or a number is a metric name.
"""

from __future__ import annotations

import re
from pathlib import Path

KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                      "offset", "bool", "inf", "nan", "atan2", "start", "end"})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-z]+")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:.])[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# Grafana's built-in interval variables, and a value for any dashboard variable, that Prometheus accepts.
GRAFANA_INTERVALS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects, e.g. ``{"modelops_reconciles_total", "up"}``."""
    text = _STRING.sub('""', expr)
    previous = None
    while previous != text:  # matchers never nest, grouping clauses never nest: one pass each suffices,
        previous = text      # but loop for safety on odd spacing
        text = _MATCHERS.sub(" ", text)
        text = _GROUPING.sub(" ", text)
        text = _RANGE.sub(" ", text)
        text = _OFFSET.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        word = match.group(0)
        following = text[match.end():].lstrip()
        if word.lower() in KEYWORDS or following.startswith("("):
            continue
        names.add(word)
    return names


def base_name(name: str) -> str:
    """``modelops_reconcile_duration_seconds_bucket`` -> ``modelops_reconcile_duration_seconds``."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression as Prometheus would receive it from Grafana: interval variables as
    durations, every other variable as ``.*`` (they only ever appear inside ``=~"..."``)."""
    for variable, value in GRAFANA_INTERVALS.items():
        expr = expr.replace(variable, value)
    return _VARIABLE.sub(".*", expr)


def variable_query_selector(query: str) -> str:
    """``label_values(metric{...}, label)`` (Grafana's, not PromQL) -> ``metric{...}``."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        raise ValueError(f"not a label_values() query: {query!r}")
    return match.group(1)


def documented_metrics(markdown: Path) -> dict[str, str]:
    """Name -> type of every series in the tables of ``markdown`` (rows ``| `modelops_x` | gauge | ...``)."""
    rows = re.findall(r"^\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|\s*(counter|gauge|histogram)\s*\|", markdown.read_text(), re.M)
    return dict(rows)
