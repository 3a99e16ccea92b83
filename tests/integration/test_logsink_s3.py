"""The log sink on an object store: a real S3-compatible server on loopback (moto's server mode, a
child process speaking S3 over HTTP — no mocked client), the sink writing through fsspec/s3fs,
compaction merging an hour's objects, and both pyarrow and ``modelops trace`` reading them back.
No Kubernetes cluster is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import pyarrow.dataset as ds
import yaml

from localcluster.kserve_logger import messages
from localcluster.logsink_server import LogSinkServer
from localcluster.s3_server import S3Server
from tests.support.logsink import call_events, loan_call, post, post_all
from tests.support.waiting import wait_for


def test_s3_round_trip(tmp_path: Path) -> None:
    old = (datetime.now(UTC) - timedelta(days=2)).replace(hour=7, minute=0, second=0, microsecond=0)
    with S3Server(tmp_path / "s3") as s3:
        fs = fsspec.filesystem("s3", use_listings_cache=False, skip_instance_cache=True, **s3.storage_options)
        fs.mkdir("prediction-logs")
        config = {"store": {"url": "s3://prediction-logs/prod", "options": s3.storage_options},
                  "flushInterval": "100ms", "compaction": {"interval": "300ms", "grace": "0s"}}
        batches = [[loan_call(f"L-{b}-{i}", when=old + timedelta(minutes=b, seconds=i)) for i in range(4)]
                   for b in range(2)]
        recent = loan_call("L-now")
        hour = f"prediction-logs/prod/predictions/namespace=demo/model=fraud/version=3/date={old:%Y-%m-%d}/hour=07"
        with LogSinkServer(tmp_path / "sink", config=config) as sink:
            for index, batch in enumerate(batches):  # two flushes: two objects in one closed hour, then one
                for headers, body in (m for c in batch for m in messages(c)):
                    assert post(sink.url, headers, body)[0] == 200
                expected = 4 * (index + 1)
                wait_for(lambda n=expected: ds.dataset(hour, filesystem=fs).count_rows() >= n, 30, "the batch on S3")
            wait_for(lambda: [p.rsplit("/", 1)[1][:8] for p in fs.ls(hour)] == ["compact-"], 30,
                     "the hour compacted into one object")
            assert set(post_all(sink.url, call_events([recent]))) == {200}
        table = ds.dataset("prediction-logs/prod/predictions", filesystem=fs, format="parquet",
                           partitioning="hive").to_table()
        rows = {r["request_id"]: r for r in table.to_pylist()}
        assert set(rows) == {c.id for batch in batches for c in batch} | {recent.id}
        assert rows[recent.id]["input.loan_id"] == "L-now" and rows[recent.id]["score"] == 0.8
        assert not [p for p in fs.find("prediction-logs/prod") if "/_" in p or "/." in p]  # no manifest left
        sink_config = tmp_path / "sink-config.yaml"
        sink_config.write_text(yaml.safe_dump({"store": config["store"]}))
        target = batches[1][2]
        traced = subprocess.run(
            [sys.executable, "-m", "modelops.cli.main", "trace", target.id, "--sink-config", str(sink_config),
             "--no-lineage", "-o", "json"],
            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert traced.returncode == 0, traced.stderr
        (found,) = json.loads(traced.stdout)["predictions"]
        assert (found["requestId"], found["inputs"]["loan_id"], found["modelversion"]) == (target.id, "L-1-2",
                                                                                           "fraud-v3")
