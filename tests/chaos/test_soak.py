"""Soak: one rollout cycle after another under steady load for a bounded time
(``MODELOPS_SOAK_SECONDS``, 150 s in ``make test``; 1200 for the full 20-minute soak): each cycle a
new ModelVersion becomes Ready and the Rollout takes it through a canary to
promotion, the version before it kept warm and the one before that retired, while the simulated
data plane sends 200 requests a second by the route. The operator's resident memory, open file
descriptors, sockets and threads are sampled every cycle (from /proc) and must stay flat: the
last quarter's median within a bound of the first quarter's (after two warm-up cycles), and no
route state ever breaks the invariants.
"""

from __future__ import annotations

import os
import statistics
import time

from kubernetes import client

from localcluster.dataplane import DataPlane
from localcluster.exporter import MetricsExporter
from tests.support.chaos import RouteWatch, footprint
from tests.support.names import unique
from tests.support.operator import OperatorProcess
from tests.support.rollouts import GOOD, HTTPROUTE, Env, gateway
from tests.support.waiting import wait_for

SOAK_SECONDS = float(os.environ.get("MODELOPS_SOAK_SECONDS", "150"))
GROWTH = {"rss_mib": 25.0, "fds": 8, "sockets": 6, "threads": 4}  # last quarter vs first, medians


def test_rollout_cycles_under_load_keep_memory_and_descriptors_flat(
    rollout_env: Env, api: client.ApiClient, metrics_exporter: MetricsExporter, operator: OperatorProcess,
) -> None:
    env, model = rollout_env, unique("soak")
    # No analysis: its sample-ratio check holds a 2-second 50/50 step whose windows straddle the
    # switch (the simulated data plane counts by the route it last read); the load is what matters.
    steps = [{"canary": {"weight": 50, "duration": "2s"}}, {"full": {}}]
    assert operator.proc is not None
    pid = operator.proc.pid
    first = env.model_version(model, f"{model}-v1")
    env.rollout(model, model, first, gateway(model), steps, keepWarm=1)
    env.wait_promoted(model, first, timeout=120)
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    with RouteWatch(api, env.namespace) as seen, \
            DataPlane(env.dyn, metrics_exporter, env.namespace, model, (*HTTPROUTE, model), {first: GOOD},
                      rate=200) as plane:
        cycle = 1
        while time.monotonic() - started < SOAK_SECONDS or cycle < 6:
            cycle += 1
            version = env.model_version(model, f"{model}-v{cycle}")
            plane.add(version, GOOD)
            env.patch(model, {"target": version})
            env.wait_promoted(model, version, timeout=120)
            samples.append(footprint(pid))
        time.sleep(1)
    assert operator.proc is not None and operator.proc.pid == pid, "the operator restarted during the soak"
    warm = samples[2:]
    quarter = max(1, len(warm) // 4)
    head = {k: statistics.median(s[k] for s in warm[:quarter]) for k in GROWTH}
    tail = {k: statistics.median(s[k] for s in warm[-quarter:]) for k in GROWTH}
    print(f"\nsoak: {cycle - 1} rollout cycles in {time.monotonic() - started:.0f}s, "
          f"{seen.route_states()} route states; first quarter {head}, last quarter {tail}")
    print("rss MiB per cycle: " + " ".join(f"{s['rss_mib']:.0f}" for s in samples))
    assert seen.violations() == []
    for key, bound in GROWTH.items():
        assert tail[key] - head[key] <= bound, f"{key} grew from {head[key]} to {tail[key]} over the soak"
    status = env.status(model)
    assert len(status.get("warm") or []) == 1, status.get("warm")
    wait_for(lambda: len(env.isvcs.get(namespace=env.namespace).to_dict()["items"]) <= 2, 60,
             "only the stable's and the warm version's InferenceServices left: the others retired")
