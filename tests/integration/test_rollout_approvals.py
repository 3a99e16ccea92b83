"""Approvals tied to the candidate and retry by token, on the real API server with the operator:
a step name left in spec.approved from one rollout does not pre-approve the next candidate (and
``step@candidate`` approves only that one); a candidate that Failed is rolled out again by a new
``spec.retry`` token, without moving spec.target away and back."""

from __future__ import annotations

from tests.support.names import unique
from tests.support.rollouts import Env, gateway, started_steps

STEPS = [{"canary": {"weight": 10, "duration": "1s"}},
         {"name": "big-canary", "approval": True, "canary": {"weight": 50, "duration": "1s"}}]


def test_an_approval_left_from_the_last_rollout_does_not_approve_the_next_candidate(rollout_env: Env) -> None:
    env = rollout_env
    model = unique("approve")
    v1, v2, v3 = (env.model_version(model, f"{model}-v{i}") for i in (1, 2, 3))
    env.rollout(model, model, v1, gateway(model), STEPS)
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    env.wait_phase(model, "AwaitingApproval", timeout=30)
    env.patch(model, {"approved": ["big-canary"]})  # a plain name, added while v2 waits: approves v2
    env.wait_promoted(model, v2, timeout=30)

    env.patch(model, {"target": v3})  # "big-canary" is still listed
    waiting = env.wait_phase(model, "AwaitingApproval", timeout=30)
    assert waiting["candidate"] == v3 and waiting["approvedAtStart"] == ["big-canary"]
    assert f"add big-canary@{v3} to spec.approved" in waiting["message"]
    env.patch(model, {"approved": ["big-canary", f"big-canary@{v2}"]})  # another candidate's approval
    assert env.wait_phase(model, "AwaitingApproval", timeout=5)["candidate"] == v3
    env.patch(model, {"approved": ["big-canary", f"big-canary@{v3}"]}, manager="release-manager")
    done = env.wait_promoted(model, v3, timeout=30)
    approval = [h for h in done["history"] if h["reason"] == "Approved"][-1]
    assert approval["to"] == "big-canary" and approval["actor"] != "operator"  # a human's field manager


def test_a_new_retry_token_rolls_a_failed_candidate_out_again(rollout_env: Env) -> None:
    env = rollout_env
    model = unique("retry")
    v1 = env.model_version(model, f"{model}-v1")
    v2 = env.model_version(model, f"{model}-v2", ready=False)
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 20, "duration": "1s"}}],
                progressDeadline="3s")
    env.wait_phase(model, "Promoted")
    env.patch(model, {"target": v2})
    failed = env.wait_phase(model, "Failed", timeout=30)
    assert failed["candidate"] == v2 and failed["traffic"]["stable"] == 100
    env.make_ready(v2)
    assert env.status(model)["phase"] == "Failed"  # out until the target or the retry token changes
    env.patch(model, {"retry": "first"})
    done = env.wait_promoted(model, v2, timeout=30)
    assert done["observedRetry"] == "first" and "canary-0" in started_steps(done)
    retried = next(h for h in done["history"] if h["reason"] == "Retried")
    assert retried["actor"] == "sre-kubectl" and retried["to"] == "Progressing"
