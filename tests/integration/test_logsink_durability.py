"""What a 200 from the log sink promises, tested on the real process: past its buffer cap it answers
503 with Retry-After and loses nothing it accepted; SIGKILL in the middle of a stream, a restart
and the client's resends lose and duplicate nothing acknowledged; redacted values never reach a
byte on disk; closed hours are compacted into one file and old dates deleted by retention."""

from __future__ import annotations

import os
import signal
import threading
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from localcluster.kserve_logger import Message, messages
from localcluster.logsink_server import LogSinkServer
from modelops.logsink.layout import iso_week
from tests.support.logsink import call_events, loan_call, metric_value, post, post_all, post_json, rows_by_id, scrape
from tests.support.waiting import wait_for


def test_overload_answers_503_and_loses_nothing_accepted(tmp_path: Path) -> None:
    # Requests whose responses never come stay in memory until the pairing timeout: a full buffer.
    calls = [loan_call(f"L-{i}", answered=False) for i in range(60)]
    sink = LogSinkServer(tmp_path, config={"bufferRecords": 40, "pairTimeout": "1h", "flushInterval": "1s"})
    with sink:
        answers = [post(sink.url, headers, body) for headers, body in call_events(calls)]
        statuses = [status for status, _, _ in answers]
        assert statuses == [200] * 40 + [503] * 20
        assert {headers.get("Retry-After") for status, headers, _ in answers if status == 503} == {"1"}
        page = scrape(sink.url)
        assert metric_value(page, "modelops_logsink_overloaded_total") == 20
        assert metric_value(page, "modelops_logsink_buffered_records") == 40
    # SIGTERM wrote the 40 it had taken; a client retrying the refused ones finds room after the restart.
    rows = rows_by_id(sink.store)
    assert sorted(rows) == sorted(c.id for c in calls[:40])
    with sink:
        assert post_all(sink.url, call_events(calls[40:])) == [200] * 20
    rows = rows_by_id(sink.store)
    assert sorted(rows) == sorted(c.id for c in calls) and all(len(r) == 1 for r in rows.values())


def _send_until_killed(sink: LogSinkServer, events: list[Message], kill_after: int) -> set[int]:
    """Post from 16 threads; SIGKILL the sink once ``kill_after`` events are acknowledged. Returns the
    indexes of the events acknowledged (200) before the sink died."""
    acked: set[int] = set()
    lock = threading.Lock()
    killed = threading.Event()
    pid = sink.pid
    cursor: Iterator[int] = iter(range(len(events)))

    def worker() -> None:
        while not killed.is_set():
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            try:
                status = post(sink.url, *events[index], timeout=10)[0]
            except (urllib.error.URLError, ConnectionError, OSError):
                continue  # the sink died under it: not acknowledged
            if status == 200:
                with lock:
                    acked.add(index)
                    if len(acked) >= kill_after and not killed.is_set():
                        os.kill(pid, signal.SIGKILL)
                        killed.set()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert killed.is_set(), "the stream ended before the kill"
    return acked


def test_sigkill_mid_stream_then_restart_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    calls = [loan_call(f"L-{i}") for i in range(1500)]
    events = call_events(calls)
    sink = LogSinkServer(tmp_path, config={"flushInterval": "100ms", "pairTimeout": "1h"}).start()
    try:
        acked = _send_until_killed(sink, events, kill_after=1800)
        sink.kill()  # reap the process the test killed
        written_before = sum(1 for _ in (sink.store / "predictions").rglob("*.parquet"))
        assert written_before > 0, "no flush happened before the kill: the test would not cross one"
        sink.start()
        # The client resends what it never saw acknowledged, and (timeouts happen) some of what it did.
        resend = [events[i] for i in range(len(events)) if i not in acked] + [events[i] for i in sorted(acked)[:300]]
        assert post_all(sink.url, resend) == [200] * len(resend)
        page = scrape(sink.url)
        assert metric_value(page, "modelops_logsink_duplicates_total") >= 300
    finally:
        assert sink.stop() == 0
    rows = rows_by_id(sink.store)
    lost = [c.id for c in calls if c.id not in rows]
    doubled = [i for i, r in rows.items() if len(r) != 1]
    print(f"\nacknowledged before SIGKILL: {len(acked)} of {len(events)} events; files before: {written_before}; "
          f"after restart and resends: {len(rows)} calls, lost {len(lost)}, duplicated {len(doubled)}")
    assert lost == [] and doubled == []
    assert {r[0]["status"] for r in rows.values()} == {"complete"}


def test_redacted_values_never_reach_a_byte_on_disk(tmp_path: Path) -> None:
    key = tmp_path / "hash-key"
    key.write_text("k-0123456789\n")
    secrets = ("123-45-6789", "alice@example.com", "L-SECRET-77")
    calls = [loan_call(secrets[2], ssn=secrets[0], email=secrets[1])]
    calls += [loan_call(f"L-{i}", ssn=f"999-00-{i:04d}", email=f"u{i}@example.com") for i in range(20)]
    config = {"redaction": {"drop": ["ssn"], "hash": ["email", "loan_id"], "hashKeyFile": str(key)},
              "flushInterval": "200ms"}
    sink_dir = tmp_path / "sink"
    with LogSinkServer(sink_dir, config=config) as sink:
        assert set(post_all(sink.url, call_events(calls))) == {200}
        assert list((sink_dir / "spool").glob("seg-*.log")), "nothing spooled to look at"
        status, answer = post_json(f"{sink.url}/labels", {"labels": [
            {"key": {"column": "loan_id", "value": secrets[2]}, "from": "2020-01-01T00:00:00Z", "label": "repaid"}]})
        assert status == 200, answer  # a hashed column still joins
        spooled = b"".join(p.read_bytes() for p in (sink_dir / "spool").glob("seg-*.log"))
    files = [p for p in sink_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and spooled
    for secret in secrets:
        assert secret.encode() not in spooled
        leaks = [str(p) for p in files if secret.encode() in p.read_bytes()]
        assert leaks == [], f"{secret!r} found in {leaks}"
    (row,) = rows_by_id(sink.store)[calls[0].id]
    assert "input.ssn" not in row and row["input.email"].startswith("hmac-sha256:")
    assert row["input.loan_id"].startswith("hmac-sha256:") and row["input.amount"] == 1200.5


def test_closed_hours_are_compacted_and_old_dates_deleted(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    hour = (now - timedelta(days=10)).replace(hour=10, minute=0, second=0, microsecond=0)  # its week is over
    expired = now - timedelta(days=40)
    config = {"flushInterval": "100ms", "retentionDays": 30, "compaction": {"interval": "300ms", "grace": "0s"}}
    with LogSinkServer(tmp_path, config=config) as sink:
        batches = [[loan_call(f"L-{b}-{i}", when=hour + timedelta(minutes=b, seconds=i)) for i in range(5)]
                   for b in range(3)]
        hour_dir = sink.store / "predictions/namespace=demo/model=fraud/version=3" / \
            f"date={hour:%Y-%m-%d}" / "hour=10"
        old_dir = sink.store / "predictions/namespace=demo/model=fraud/version=3" / f"date={expired:%Y-%m-%d}"
        assert set(post_all(sink.url, call_events([loan_call("L-old", when=expired)]))) == {200}
        for batch in batches:  # one flush each: several small files in one closed hour
            for headers, body in (m for c in batch for m in messages(c)):
                assert post(sink.url, headers, body)[0] == 200
            wait_for(lambda: metric_value(scrape(sink.url), "modelops_logsink_buffered_records") == 0, 20,
                     "the batch written")
        wait_for(lambda: [p.name for p in hour_dir.glob("*.parquet")] and
                 all(p.name.startswith("compact-") for p in hour_dir.glob("*.parquet")) and
                 len(list(hour_dir.glob("*.parquet"))) == 1, 30, "the hour compacted into one file")
        wait_for(lambda: not old_dir.exists(), 30, "the expired date deleted")
        index_week = sink.store / "index" / f"week={iso_week(f'{hour:%Y-%m-%d}')}"
        wait_for(lambda: [p.name[:13] for p in index_week.glob("*.parquet")] == ["week-compact-"], 30,
                 "the index of the closed week compacted into one file")
        assert not (sink.store / "index" / f"date={hour:%Y-%m-%d}").exists()
        assert not list((sink.store / "index").glob(f"*={iso_week(f'{expired:%Y-%m-%d}')}"))
        page = scrape(sink.url)
        assert metric_value(page, "modelops_logsink_compacted_files_total") >= 3
        assert metric_value(page, "modelops_logsink_retention_deleted_total") >= 2
    rows = rows_by_id(sink.store)
    assert len(rows) == 15 and all(len(r) == 1 for r in rows.values())
    (compacted,) = hour_dir.glob("*.parquet")
    import pyarrow.parquet as pq

    ids = pq.read_table(compacted).column("request_id").to_pylist()
    assert ids == sorted(ids) and len(ids) == 15
