"""``modelops trace``'s pure parts: the times it accepts, a stored row as the record it prints, and
the ISO-week tiers of the index it reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelops.cli import trace
from modelops.logsink import parquet
from modelops.logsink.layout import iso_week, week_days
from modelops.logsink.retention import cutoff

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_the_input_prefix_is_the_sinks() -> None:
    assert trace.INPUT_PREFIX == parquet.INPUT_PREFIX


@pytest.mark.parametrize(("text", "expected"), [
    ("90d", NOW - timedelta(days=90)),
    ("36h", NOW - timedelta(hours=36)),
    ("15m", NOW - timedelta(minutes=15)),
    ("2026-08-30", datetime(2026, 8, 30, tzinfo=UTC)),
    ("2026-08-30T10:15:00Z", datetime(2026, 8, 30, 10, 15, tzinfo=UTC)),
    ("2026-08-30T12:15:00+02:00", datetime(2026, 8, 30, 10, 15, tzinfo=UTC)),
])
def test_times_and_ages(text: str, expected: datetime) -> None:
    assert trace.parse_when(text, NOW) == expected


def test_a_time_that_is_neither_names_both_forms() -> None:
    with pytest.raises(ValueError, match="90d"):
        trace.parse_when("last tuesday", NOW)


def test_a_row_becomes_the_printed_record() -> None:
    row = {
        "request_id": "r-1", "instance": 0, "time": datetime(2026, 9, 2, 16, 42, tzinfo=UTC), "namespace": "demo",
        "model": "loans", "version": 7, "modelversion": "loans-v7", "stage": "loans/canary-25", "status": "complete",
        "inference_service": "loans-v7", "component": "predictor", "source": "loans-v7-predictor-x",
        "latency_seconds": 0.012, "prediction": "[0.07,0.93]", "score": 0.93, "input.loan_id": "L-1",
        "input.amount": 25000.0, "input.gone": None, "date": "2026-09-02", "hour": 16,
    }
    record = trace.prediction(row)
    assert record["inputs"] == {"loan_id": "L-1", "amount": 25000.0}
    assert (record["version"], record["time"]) == ("7", "2026-09-02T16:42:00Z")
    text = trace.render_prediction(record, None)
    for expected in ("Prediction    r-1  instance 0  (complete)", "latency 12 ms", "ModelVersion demo/loans-v7",
                     "(model loans version 7)", "stage       loans/canary-25", "amount=25000.0  loan_id=L-1",
                     "[0.07,0.93]  score 0.93"):
        assert expected in text


def test_iso_weeks_of_the_index() -> None:
    assert iso_week("2026-09-02") == "2026-W36"
    assert week_days("2026-W36") == ["2026-08-31", "2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04",
                                     "2026-09-05", "2026-09-06"]
    assert iso_week("2027-01-01") == "2026-W53"  # a week belongs to the year of its Thursday
    assert cutoff(NOW, 90) == "2026-09-03"
