"""Benchmark: records per second per core into the prediction-log sink over real HTTP, each one
durable (fdatasync'd spool) before its 200 — against the peer measured in the same run: a bare
aiohttp server that reads each body and answers 200 (the ceiling of the HTTP stack the sink is
built on, without parsing, pairing, spooling or Parquet).

    make bench-sink          # or: PYTHONPATH=hack .venv/bin/python bench/sink.py --calls 60000

A record is one CloudEvent as KServe's agent posts it (a call is two: request and response; both
numbers are printed). The sink runs as its own process with its production defaults (fsync on);
the client is one asyncio process with ``--concurrency`` keep-alive connections (KServe's agent
posts from a pool of workers the same way). "Per core" divides by the CPU seconds the server
process used (user + system, all its threads, from /proc), so the client's share of this 2-core
machine does not count against the server. At the end the sink is stopped with SIGTERM and the
Parquet rows are counted: every acknowledged call must be there (the run fails otherwise).
Target (DESIGN §6): >= 5,000 records/s per core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pyarrow.dataset as ds

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack"))

from localcluster.cluster import die_with_parent, free_port  # noqa: E402
from localcluster.kserve_logger import Call, Message, messages  # noqa: E402
from localcluster.logsink_server import LogSinkServer  # noqa: E402

TARGET = 5000.0
PEER = textwrap.dedent("""
    import sys
    from aiohttp import web
    async def ok(request):
        await request.read()
        return web.Response(status=200)
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", ok)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
""")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, all threads


def calls(count: int, namespace: str, instances: int = 1) -> list[list[Message]]:
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        rows = [{"amount": 100.0 + i % 900, "age": 20 + j, "loan_id": f"L-{i}-{j}"} for j in range(instances)]
        call = Call(id=str(uuid.uuid4()), namespace=namespace, modelversion="fraud-detector-v3", model="fraud-detector",
                    version="3", stage="fraud-detector/canary-5", time=now, request={"instances": rows},
                    response={"predictions": [[0.3, 0.7]] * instances})
        out.append(messages(call))
    return out


async def drive(url: str, work: list[list[Message]], concurrency: int) -> tuple[float, int, int]:
    """Send every event; (seconds, events answered 200, others)."""
    queue: asyncio.Queue[list[Message]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    ok = failed = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal ok, failed
        while not queue.empty():
            for headers, body in queue.get_nowait():
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status == 200:
                        ok += 1
                    else:
                        failed += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - started, ok, failed


def measure(url: str, pid: int, work: list[list[Message]], concurrency: int) -> tuple[float, float, int, int]:
    cpu_before = cpu_seconds(pid)
    seconds, ok, failed = asyncio.run(drive(url, work, concurrency))
    return seconds, cpu_seconds(pid) - cpu_before, ok, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60000, help="calls (two records each) per measured run")
    parser.add_argument("--concurrency", type=int, default=64, help="client connections")
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--instances", type=int, default=1, help="predictions per call (a KServe v1 batch)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sink-") as tmp:
        namespace = "bench"
        warmup, work = calls(args.warmup, namespace, args.instances), calls(args.calls, namespace, args.instances)
        records = sum(len(m) for m in work)

        port = free_port()
        peer = subprocess.Popen([sys.executable, "-c", PEER, str(port)], preexec_fn=die_with_parent())
        try:
            peer_url = f"http://127.0.0.1:{port}/"
            for _ in range(100):
                try:
                    asyncio.run(drive(peer_url, warmup[:1], 1))
                    break
                except aiohttp.ClientError:
                    time.sleep(0.1)
            asyncio.run(drive(peer_url, warmup, args.concurrency))
            peer_seconds, peer_cpu, peer_ok, _ = measure(peer_url, peer.pid, work, args.concurrency)
        finally:
            peer.terminate()
            peer.wait(timeout=10)

        sink = LogSinkServer(Path(tmp) / "sink", config={"flushInterval": "2s"})
        with sink:
            asyncio.run(drive(sink.url + "/", warmup, args.concurrency))
            seconds, cpu, ok, failed = measure(sink.url + "/", sink.pid,
                                               calls(args.calls, namespace, args.instances), args.concurrency)
            stopped = time.perf_counter()
        flush_seconds = time.perf_counter() - stopped
        rows = ds.dataset(str(sink.store / "predictions"), partitioning="hive").count_rows()

    expected_rows = (args.warmup + args.calls) * args.instances
    per_core = ok / cpu if cpu else float("nan")
    peer_per_core = peer_ok / peer_cpu if peer_cpu else float("nan")
    print(f"records: {records} CloudEvents ({args.calls} calls of {args.instances} prediction(s)), concurrency "
          f"{args.concurrency}, {os.cpu_count()} cores on this machine")
    print(f"{'':34}{'events/s':>10}{'server CPU s':>14}{'events/s/core':>15}{'calls/s/core':>14}{'rows/s/core':>13}")
    for name, rate, used, core in (("modelops log sink (durable)", ok / seconds, cpu, per_core),
                                   ("peer: bare aiohttp, answer 200", peer_ok / peer_seconds, peer_cpu, peer_per_core)):
        print(f"{name:34}{rate:10.0f}{used:14.2f}{core:15.0f}{core / 2:14.0f}{core / 2 * args.instances:13.0f}")
    print(f"sink cost per record {1e6 / per_core:.0f} us of CPU vs {1e6 / peer_per_core:.0f} us for the peer "
          f"({per_core / peer_per_core:.2f}x its rate); non-200 answers: {failed}; "
          f"SIGTERM flush {flush_seconds:.2f}s; rows in Parquet {rows} of {expected_rows} acknowledged calls")
    print(f"target >= {TARGET:.0f} records (CloudEvents) /s per core: {'met' if per_core >= TARGET else 'NOT met'}")
    return 0 if failed == 0 and rows == expected_rows else 1


if __name__ == "__main__":
    sys.exit(main())
