"""``kubectl modelops`` as a subprocess against the real API server with the operator running:
list and status (text and ``-o json``), approve a waiting step, pause and resume, abort, roll back
to a warm version, the refusal of a version that is not warm (exit 1, and why), and ``--dry-run``
printing the kubectl command and the patch while changing nothing."""

from __future__ import annotations

import json
import shlex

from localcluster.cluster import LocalCluster
from tests.support.cli import Ran, run_cli
from tests.support.names import unique
from tests.support.rollouts import Env, gateway
from tests.support.waiting import wait_for

STEPS = [{"canary": {"weight": 10, "duration": "1s"}},
         {"name": "big-canary", "approval": True, "canary": {"weight": 50, "duration": "1s"}},
         {"name": "hold", "pause": {}}]


def _reason(env: Env, name: str) -> str | None:
    found = [c for c in env.status(name).get("conditions") or [] if c["type"] == "Progressing"]
    return found[0].get("reason") if found else None


def _cli(cluster: LocalCluster, env: Env, *args: str) -> Ran:
    return run_cli(*args, "-n", env.namespace, kubeconfig=cluster.kubeconfig)


def test_the_plugin_reads_approves_pauses_aborts_and_rolls_back(rollout_env: Env, cluster: LocalCluster) -> None:
    env = rollout_env
    model = unique("cli")
    v1, v2, v3 = (env.model_version(model, f"{model}-v{i}") for i in (1, 2, 3))
    env.rollout(model, model, v1, gateway(model), STEPS, keepWarm=1)
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    env.wait_phase(model, "AwaitingApproval", timeout=30)

    listed = _cli(cluster, env, "list")
    assert listed.code == 0 and model in listed.out and "AwaitingApproval" in listed.out
    parsed = json.loads(_cli(cluster, env, "list", "-o", "json").out)
    assert [item["metadata"]["name"] for item in parsed["items"]] == [model]
    status = _cli(cluster, env, "status", model)
    assert status.code == 0 and "▶  1  big-canary" in status.out and "stable 90%  candidate 10%" in status.out
    assert json.loads(_cli(cluster, env, "status", model, "-o", "json").out)["status"]["candidate"] == v2

    before = env.get(env.rollouts, model)["metadata"]["resourceVersion"]  # type: ignore[index]
    dry = _cli(cluster, env, "approve", model, "big-canary", "--dry-run")
    assert dry.code == 0, dry.err
    command = next(line for line in dry.out.splitlines() if line.startswith("kubectl patch"))
    patch = json.loads(shlex.split(command)[-1])
    assert patch["spec"] == {"approved": [f"big-canary@{v2}"]}
    assert env.get(env.rollouts, model)["metadata"]["resourceVersion"] == before  # type: ignore[index]
    assert json.loads(_cli(cluster, env, "approve", model, "big-canary", "--dry-run", "-o", "json").out) == patch

    approved = _cli(cluster, env, "approve", model, "big-canary")
    assert approved.code == 0, approved.err
    env.wait_phase(model, "Paused", timeout=30)  # the pause step waits for a human
    assert _cli(cluster, env, "resume", model).code == 1  # not paused by spec: says to promote
    paused = _cli(cluster, env, "pause", model)
    assert paused.code == 0 and env.get(env.rollouts, model)["spec"]["paused"] is True  # type: ignore[index]
    wait_for(lambda: _reason(env, model) == "PausedBySpec", 10, "paused by spec")
    assert _cli(cluster, env, "resume", model).code == 0
    wait_for(lambda: _reason(env, model) == "PauseStep", 10, "back at the pause step")
    promoted = _cli(cluster, env, "promote", model)
    assert promoted.code == 0, promoted.err
    done = env.wait_promoted(model, v2, timeout=30)
    assert done["warm"] == [v1]
    history = _cli(cluster, env, "history", model)
    assert "kubectl-modelops" in history.out and "Promoted" in history.out

    env.patch(model, {"target": v3})
    env.wait_phase(model, "AwaitingApproval", timeout=30)
    assert _cli(cluster, env, "abort", model).code == 0
    assert env.wait_phase(model, "Aborted", timeout=10)["traffic"]["stable"] == 100

    refused = _cli(cluster, env, "rollback", model, f"{model}-v9")
    assert refused.code == 1 and "is not warm" in refused.err and "--full-rollout" in refused.err
    back = _cli(cluster, env, "rollback", model, v1)
    assert back.code == 0, back.err
    rolled = env.wait_phase(model, "RolledBack", timeout=10)
    assert rolled["stable"] == v1 and rolled["traffic"]["stable"] == 100
    assert _cli(cluster, env, "status", "no-such-rollout").code == 1


def test_promote_full_skips_the_remaining_steps_and_their_durations(rollout_env: Env, cluster: LocalCluster) -> None:
    """Hour-long steps and an approval: ``promote --full`` writes one field of spec and the operator
    promotes within seconds, writing status only (the spec's fields stay the test's and the plugin's)."""
    env = rollout_env
    model = unique("full")
    v1, v2 = (env.model_version(model, f"{model}-v{i}") for i in (1, 2))
    steps = [{"canary": {"weight": 10, "duration": "1h"}},
             {"name": "gate", "approval": True, "canary": {"weight": 50, "duration": "1h"}},
             {"pause": {"duration": "1h"}}]
    env.rollout(model, model, v1, gateway(model), steps)
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    env.wait_step(model, 0, timeout=30)

    dry = _cli(cluster, env, "promote", model, "--full", "--dry-run", "-o", "json")
    assert dry.code == 0 and json.loads(dry.out) == {"spec": {"promoteFull": v2}}, dry.err
    assert env.status(model)["currentStep"] == 0
    promoted = _cli(cluster, env, "promote", model, "--full")
    assert promoted.code == 0 and "skip canary-0, gate, pause-2" in promoted.out, promoted.err
    done = env.wait_promoted(model, v2, timeout=30)  # not 3 hours
    assert done["traffic"]["stable"] == 100 and done["warm"] == [v1]
    skipped = [h for h in done["history"] if h["reason"] == "PromoteFull"]
    assert len(skipped) == 1 and skipped[0]["actor"] == "kubectl-modelops", done["history"]
    assert _cli(cluster, env, "promote", model, "--full").code == 1  # nothing in flight any more

    body = env.get(env.rollouts, model)
    assert body is not None and body["spec"]["promoteFull"] == v2
    spec_writers = {entry["manager"] for entry in body["metadata"]["managedFields"]
                    if "f:spec" in (entry.get("fieldsV1") or {})}
    assert "modelops" not in spec_writers and "kubectl-modelops" in spec_writers, spec_writers
