"""The sink's state between acknowledgement and Parquet, in-process on a temporary directory:
pairing in either order, the spool's replay (a torn tail dropped), a flush interrupted between its
files redone after a restart without a duplicate, and labels and configuration refused with the
field named."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from localcluster.kserve_logger import messages
from modelops.logsink.config import ConfigError, LogSinkConfig, load
from modelops.logsink.events import parse
from modelops.logsink.labels import LabelError
from modelops.logsink.labels import parse as parse_labels
from modelops.logsink.layout import Store
from modelops.logsink.metrics import SinkMetrics
from modelops.logsink.pairing import Pairing
from modelops.logsink.records import Half
from modelops.logsink.redaction import Redactor
from modelops.logsink.signatures import NoSignatures
from modelops.logsink.sink import Sink
from modelops.logsink.spool import Spool
from tests.support.logsink import loan_call, rows_by_id


def half(call_id: str, kind: str, received: float) -> Half:
    return Half(id=call_id, kind=kind, time_us=1, received=received, namespace="n", model="m", version="1",
                modelversion="mv", stage="", inference_service="i", component="c", endpoint="", source="s",
                features=[{"x": 1}] if kind == "request" else None,
                outputs=[("1", 1.0)] if kind == "response" else None)


def test_pairing_in_either_order_and_expiry() -> None:
    pairing = Pairing(timeout=10.0, window=60.0)
    assert pairing.add(half("a", "response", 0.0)) is None
    assert pairing.add(half("b", "request", 1.0)) is None
    pair = pairing.add(half("a", "request", 2.0))
    assert pair is not None and pair.complete and pair.request and pair.response
    assert pairing.seen(("a", "request")) and pairing.seen(("b", "request")) and not pairing.seen(("b", "response"))
    assert pairing.expired(5.0) == []
    (lone,) = pairing.expired(11.5)
    assert lone.id == "b" and lone.response is None
    assert len(pairing) == 3
    pairing.flushed([("a", "request"), ("a", "response"), ("b", "request")], now=20.0)
    assert len(pairing) == 0 and pairing.seen(("a", "request"))  # remembered for the dedupe window
    pairing.forget(81.0)
    assert not pairing.seen(("a", "request"))


def test_spool_replay_drops_a_torn_tail(tmp_path: Path) -> None:
    (tmp_path / "seg-000000000001.log").write_bytes(b'{"e":"d","f":1}\n{"e":"d","f":2}\n{"e":"d","f"')
    spool = Spool(tmp_path)
    assert [entry["f"] for _, entry in spool.replay()] == [1, 2]
    assert (tmp_path / "seg-000000000001.log").read_bytes() == b'{"e":"d","f":1}\n{"e":"d","f":2}\n'

    async def append_and_trim() -> list[int]:
        spool.start()
        assert await spool.append(b'{"e":"d","f":3}\n') == 2  # a fresh segment after a restart
        spool.rotate()
        assert await spool.append(b'{"e":"d","f":4}\n') == 3
        deleted = spool.trim(keep=0.0)
        await spool.close()
        return deleted

    assert asyncio.run(append_and_trim()) == [1, 2]
    assert [entry["f"] for _, entry in Spool(tmp_path).replay()] == [4]


def make_sink(tmp_path: Path, **config: Any) -> Sink:
    settings = LogSinkConfig.model_validate({"store": {"url": str(tmp_path / "store")},
                                             "spoolDir": str(tmp_path / "spool"), **config})
    return Sink(settings, store=Store(settings.store.url), spool=Spool(settings.spool_dir),
                signatures=NoSignatures(), redactor=Redactor(), metrics=SinkMetrics())


async def accept_calls(sink: Sink, loans: list[str]) -> list[str]:
    ids = []
    for index, loan in enumerate(loans):
        call = loan_call(loan, namespace=f"ns{index % 2}")  # two partitions: a flush writes two files
        ids.append(call.id)
        for headers, body in messages(call):
            assert await sink.accept(parse(headers, body))
    return ids


def test_a_flush_cut_between_its_files_is_redone_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    real_write = Store.write_table

    def write_one_then_fail(self: Store, path: str, table: Any, **kw: Any) -> int:
        if written and "/predictions/" in path:
            raise OSError("disk went away")
        written.append(path)
        return real_write(self, path, table, **kw)

    async def first_life() -> list[str]:
        sink = make_sink(tmp_path)
        await sink.start()
        ids = await accept_calls(sink, ["L-1", "L-2", "L-3", "L-4"])
        monkeypatch.setattr(Store, "write_table", write_one_then_fail)
        with pytest.raises(OSError):
            await sink.flush()
        await sink.spool.close()  # the process dies here: no final flush
        return ids

    ids = asyncio.run(first_life())
    assert len(written) == 1 and len(rows_by_id(tmp_path / "store")) in (1, 2)
    monkeypatch.setattr(Store, "write_table", real_write)

    async def second_life() -> None:
        sink = make_sink(tmp_path)
        await sink.start()  # redoes the flush: writes the missing file, skips the one there
        await sink.stop()

    asyncio.run(second_life())
    rows = rows_by_id(tmp_path / "store")
    assert sorted(rows) == sorted(ids) and all(len(r) == 1 for r in rows.values())


def test_a_duplicate_within_the_window_is_dropped_after_a_restart(tmp_path: Path) -> None:
    call = loan_call("L-9")

    async def life(resend: bool) -> bool:
        sink = make_sink(tmp_path)
        await sink.start()
        accepted = [await sink.accept(parse(h, b)) for h, b in messages(call)] if resend else []
        if not resend:
            for headers, body in messages(call):
                await sink.accept(parse(headers, body))
            await sink.flush()
            await sink.spool.close()  # killed after the flush, before the client saw its answer
            return True
        await sink.stop()
        return not any(accepted)

    asyncio.run(life(resend=False))
    assert asyncio.run(life(resend=True))
    assert [len(v) for v in rows_by_id(tmp_path / "store").values()] == [1]


def test_rows_of_a_batched_call_with_a_lone_request(tmp_path: Path) -> None:
    async def run() -> None:
        sink = make_sink(tmp_path, pairTimeout="1ms")
        await sink.start()
        call = loan_call("L-5", answered=False)
        call.request["instances"].append({"amount": 3.0, "age": 51, "loan_id": "L-6"})
        for headers, body in messages(call):
            await sink.accept(parse(headers, body))
        await asyncio.sleep(0.01)
        await sink.flush()
        await sink.stop()

    asyncio.run(run())
    (rows,) = rows_by_id(tmp_path / "store").values()
    assert [(r["instance"], r["input.loan_id"], r["status"], r["prediction"]) for r in rows] == \
        [(0, "L-5", "request_only", None), (1, "L-6", "request_only", None)]


@pytest.mark.parametrize(("body", "field"), [
    (b"not json", "(body)"),
    (b'{"labels": []}', "labels"),
    (b'{"labels": [{"requestId": "a", "metric": "conv"}]}', "metric and outcome go together"),
    (b'{"labels": [{"requestId": "a", "metric": "conv", "outcome": "maybe"}]}', "labels[0].outcome"),
    (b'{"labels": [{"requestId": "a"}]}', "give a label, or a metric and an outcome"),
    (b'{"labels": [{"label": 1}]}', "exactly one of requestId or key"),
    (b'{"labels": [{"requestId": "a", "key": {"column": "c", "value": 1}, "label": 1}]}', "exactly one"),
    (b'{"labels": [{"key": {"column": "c", "value": 1}, "label": 1, "from": "2026-01-02T00:00:00Z",'
     b' "to": "2026-01-01T00:00:00Z"}]}', "from is after to"),
    (b'{"labels": [{"requestId": "a", "label": 1, "time": "2026-01-01T00:00:00"}]}', "labels[0].time"),
    (b'{"labels": [{"requestId": "a", "label": 1, "colour": "red"}]}', "labels[0].colour"),
    # A key that itself begins with a dot is named as sent (found by the hostile-sink suite).
    (b'{"labels": [{"requestId": "a", "label": 1}], ".status.ready": 1}', ".status.ready: Extra inputs"),
])
def test_bad_labels_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(LabelError) as caught:
        parse_labels(body, max_labels=10)
    assert caught.value.status == 400 and field in str(caught.value)


def test_too_many_labels() -> None:
    body = json.dumps({"labels": [{"requestId": str(i), "label": 1} for i in range(3)]}).encode()
    with pytest.raises(LabelError) as caught:
        parse_labels(body, max_labels=2)
    assert caught.value.status == 413


@pytest.mark.parametrize(("text", "field"), [
    ("pairTimeout: soon\n", "pairTimeout"),
    ("listen: 8080\n", "listen"),
    ("flushIntervall: 5s\n", "flushIntervall"),
    ("redaction: {hash: [email]}\n", "redaction.hash needs a key"),
    ("redaction: {hash: [email], drop: [email], hashKeyFile: /dev/null}\n", "redaction"),
    ("- a list\n", "must be a mapping"),
])
def test_bad_configuration_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "sink.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert field in str(caught.value)
