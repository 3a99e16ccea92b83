"""Hostile CloudEvents and label posts against the real log sink (issue 15), drawn by hypothesis and
sent concurrently with valid traffic: each hostile post is answered with a 4xx naming the problem,
the sink process stays up (same pid, /healthz), every valid event it acknowledged (unicode ids
included) is in the store after it stops, and the labels posted for valid events are stored.

Reproduce: ``make chaos`` (``MODELOPS_HOSTILE_SEED`` changes the draw).
"""

from __future__ import annotations

import collections
import json
import os
import random
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from localcluster.logsink_server import LogSinkServer
from tests.support.hostile_sink import SINK_CONFIG, Post, hostile_event, hostile_labels, unicode_id_event, valid_event
from tests.support.logsink import post, post_json, rows_by_id

EVENTS, LABELS, UNICODE, VALID = 400, 150, 50, 200
SEED = int(os.environ["MODELOPS_HOSTILE_SEED"]) if os.environ.get("MODELOPS_HOSTILE_SEED") else None


def draw(strategy: st.SearchStrategy[Post], count: int) -> list[Post]:
    posts: list[Post] = []

    @settings(max_examples=count, derandomize=SEED is None, database=None, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(one: Post) -> None:
        posts.append(one)

    collect()
    return posts


def _send(url: str, one: Post) -> tuple[int, str]:
    try:
        status, _, body = post(url + one.path, one.headers, one.body)
    except (ConnectionError, OSError) as error:  # the sink may close a connection whose headers it refused
        return -1, str(error)
    return status, body.decode(errors="replace")


def test_hostile_events_and_labels_get_a_4xx_naming_the_problem_and_lose_nothing_valid(tmp_path: Path) -> None:
    started = time.monotonic()
    hostile = draw(hostile_event(), EVENTS) + draw(hostile_labels(), LABELS)
    unicode_ids = draw(unicode_id_event(), UNICODE)
    valid = []
    for _ in range(VALID):
        headers, body, event_id = valid_event()
        valid.append(Post("valid", "/", headers, body, (200,), "", valid_id=event_id))
    posts = hostile + unicode_ids + valid
    random.Random(SEED or 15).shuffle(posts)
    drawn = time.monotonic() - started

    with LogSinkServer(tmp_path, config=SINK_CONFIG) as sink:
        pid = sink.proc.pid  # type: ignore[union-attr]
        sent = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda p: _send(sink.url, p), posts))
        sent = time.monotonic() - sent
        with urllib.request.urlopen(f"{sink.url}/healthz", timeout=10) as health:
            assert health.status == 200
        assert sink.proc is not None and sink.proc.poll() is None and sink.proc.pid == pid
        # Labels for valid events still join once the hostile flood is over.
        some = [p.valid_id for p in valid[:5]]
        status, joined = post_json(f"{sink.url}/labels", {"labels": [
            {"requestId": i, "metric": "conversion", "outcome": "success"} for i in some]})
        assert status == 200 and joined["stored"] == 5, joined
    rows = rows_by_id(sink.store)

    outcomes: collections.Counter[tuple[str, str, int]] = collections.Counter()
    wrong = []
    for one, (status, text) in zip(posts, answers, strict=True):
        outcomes[(one.path, one.family, status)] += 1
        if status not in one.statuses:
            wrong.append(f"{one.family} {one.path}: {status} (expected {one.statuses}): {text[:300]}")
            continue
        if status >= 400 and one.needle:
            try:
                named = json.loads(text)["error"]
            except (ValueError, KeyError):
                named = text  # aiohttp's own answer to a header past its limit is plain text
            if one.needle not in named:
                wrong.append(f"{one.family}: {status} does not name {one.needle!r}: {named[:300]}")
    lost = [p.valid_id for p in valid + unicode_ids if p.valid_id not in rows]

    print(f"\nhostile sink posts: {len(hostile)} hostile + {len(unicode_ids)} unicode ids + {len(valid)} valid, "
          f"drawn in {drawn:.1f}s, sent in {sent:.1f}s; {len(rows)} events stored, {len(lost)} valid lost")
    print("| path | hostile input | status | count |\n| --- | --- | --- | ---: |")
    for (path, family, status), count in sorted(outcomes.items()):
        print(f"| {path} | {family} | {status} | {count} |")
    assert not wrong, f"{len(wrong)} posts answered wrong:\n" + "\n".join(wrong[:25])
    assert not lost, f"valid events acknowledged but not stored: {lost[:10]}"
    assert str(uuid.UUID(valid[0].valid_id or "")) in rows
