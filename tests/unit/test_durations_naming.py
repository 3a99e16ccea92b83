"""Go-style durations ("1h30m") and deterministic DNS-label names for children."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.api.common import DURATION_PATTERN
from modelops.core.durations import parse_duration
from modelops.core.naming import MAX_LABEL, dns_label

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# -- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)),
    ("5m", timedelta(minutes=5)),
    ("2h", timedelta(hours=2)),
    ("1h30m", timedelta(hours=1, minutes=30)),
    ("250ms", timedelta(milliseconds=250)),
    ("1.5h", timedelta(minutes=90)),
    ("0s", timedelta(0)),
    ("0.5s", timedelta(milliseconds=500)),
    ("1m30s", timedelta(seconds=90)),
    ("1h1m1s1ms", timedelta(hours=1, minutes=1, seconds=1, milliseconds=1)),
    ("5m5ms", timedelta(minutes=5, milliseconds=5)),
    ("90m", timedelta(minutes=90)),
    ("168h", timedelta(days=7)),
    ("1s1s", timedelta(seconds=2)),  # Go accepts repeated units and adds them
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", [
    "", "5", "h", "5x", "1d", "1w", "-5m", "+5m", " 5m", "5m ", "1h 30m", "5m30", "1.h", ".5h", "5M", "5H",
    "1e3s", "5us", "5ns", "m5", "30 s", "1h-30m",
])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_parse_duration_out_of_range_is_a_value_error() -> None:
    """The docstring's contract: callers turn a ValueError into a condition. A value that matches
    the CRD pattern but does not fit a timedelta must be a ValueError too, not an OverflowError."""
    text = "1000000000000h"
    assert re.match(DURATION_PATTERN, text)
    with pytest.raises(ValueError):
        parse_duration(text)


_part = st.tuples(st.integers(min_value=0, max_value=10_000), st.sampled_from(["ms", "s", "m", "h"]))


@given(st.lists(_part, min_size=1, max_size=5))
def test_parse_duration_sums_its_parts(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert re.match(DURATION_PATTERN, text)
    unit = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1), "m": timedelta(minutes=1),
            "h": timedelta(hours=1)}
    expected = sum((n * unit[u] for n, u in parts), timedelta(0))
    assert abs(parse_duration(text) - expected) <= timedelta(microseconds=len(parts))


@given(st.text(alphabet="0123456789.mshd -x", max_size=12))
def test_parse_duration_accepts_exactly_the_crd_pattern(text: str) -> None:
    """Accepted iff it matches the CRD pattern and fits Go's time.Duration (CEL duration())."""
    matches = re.fullmatch(DURATION_PATTERN.strip("^$"), text) is not None
    if matches:
        units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
        seconds = sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(ms|s|m|h)", text))
        matches = seconds <= (2**63 - 1) / 1e9
    try:
        parse_duration(text)
    except ValueError:
        assert not matches
    else:
        assert matches


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["fraud-train-42", "a", "x" * 63, "0abc", "a--b"])
def test_valid_short_labels_are_unchanged(name: str) -> None:
    assert dns_label(name) == name


def test_parts_are_joined_and_empty_parts_skipped() -> None:
    assert dns_label("fraud", "v3") == "fraud-v3"
    assert dns_label("fraud", "", "v3") == "fraud-v3"


@pytest.mark.parametrize("raw", ["Fraud-Train", "fraud.train", "fraud_train", "fraud train", "-fraud-", "é", ""])
def test_names_that_need_cleaning_get_a_hash(raw: str) -> None:
    label = dns_label(raw)
    assert DNS_LABEL.fullmatch(label) and len(label) <= MAX_LABEL
    assert re.search(r"-[0-9a-f]{8}$", label)
    assert label == dns_label(raw)


def test_cleaning_never_merges_distinct_names() -> None:
    names = ["fraud.train", "fraud_train", "fraud-train", "Fraud-Train", "fraud train"]
    assert len({dns_label(n) for n in names}) == len(names)


def test_long_name_is_shortened_with_hash() -> None:
    raw = "a" * 200
    label = dns_label(raw)
    assert len(label) == MAX_LABEL
    assert label.startswith("a" * 54 + "-")
    assert dns_label("a" * 199 + "b") != label


def test_64_chars_is_shortened_63_is_not() -> None:
    assert dns_label("a" * 63) == "a" * 63
    assert len(dns_label("a" * 64)) <= 63 and dns_label("a" * 64) != "a" * 63


def test_hash_boundary_never_leaves_a_dangling_dash() -> None:
    raw = "a" * 53 + "-" + "b" * 50
    label = dns_label(raw)
    assert DNS_LABEL.fullmatch(label)
    assert "--" not in label


def test_custom_max_length() -> None:
    label = dns_label("a" * 100, max_length=20)
    assert len(label) <= 20 and DNS_LABEL.fullmatch(label)


@given(st.lists(st.text(max_size=120), min_size=1, max_size=3))
def test_dns_label_is_always_a_valid_label(parts: list[str]) -> None:
    label = dns_label(*parts)
    assert DNS_LABEL.fullmatch(label), label
    assert len(label) <= MAX_LABEL
    assert label == dns_label(*parts)


@given(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True))
def test_dns_label_keeps_valid_labels(name: str) -> None:
    assert dns_label(name) == name
