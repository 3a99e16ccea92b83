"""The kubectl plugin without a cluster: every imperative command is one merge patch an SRE could
type (built from the Rollout as it is, refused with a reason when it would do nothing or something
else), and the status, list and history screens are pinned by golden files."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from typing import Any

import pytest

from modelops.cli import patches, render
from modelops.cli.main import main
from tests.support.cli import measurement, rollout_body
from tests.support.golden import assert_golden

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------------- patches


def test_a_patch_is_the_kubectl_command_an_sre_would_type() -> None:
    patch = patches.pause(rollout_body())
    assert patch.body == {"spec": {"paused": True}}
    words = shlex.split(patch.kubectl())
    assert words[:6] == ["kubectl", "patch", "rollouts.modelops.io", "fraud", "-n", "ml"]
    assert words[6:8] == ["--type", "merge"] and json.loads(words[9]) == patch.body


def test_approve_ties_the_step_to_the_candidate_and_keeps_the_other_approvals() -> None:
    body = rollout_body("AwaitingApproval", step=2, reason="AwaitingApproval", spec={"approved": ["shadow@fraud-v1"]})
    patch = patches.approve(body, "ab-test")
    assert patch.body == {"metadata": {"resourceVersion": "42"},
                          "spec": {"approved": ["shadow@fraud-v1", "ab-test@fraud-v2"]}}
    with pytest.raises(patches.Refused, match="not a step of this rollout"):
        patches.approve(body, "nope")


def test_promote_approves_what_waits() -> None:
    waiting = rollout_body("AwaitingApproval", step=2, reason="AwaitingApproval")
    assert patches.promote(waiting).body["spec"] == {"approved": ["ab-test@fraud-v2"]}
    held = rollout_body("Paused", step=1, reason="AnalysisInconclusive")
    assert patches.promote(held).body["spec"] == {"approved": ["ab-test@fraud-v2"]}  # the step after the hold
    with pytest.raises(patches.Refused, match="nothing waits"):
        patches.promote(rollout_body())
    full = patches.promote(rollout_body(), full=True)
    assert full.body == {"spec": {"promoteFull": "fraud-v2"}}  # one field; the operator skips the steps
    assert "skip canary-5, ab-test, full" in full.summary
    with pytest.raises(patches.Refused, match="already names fraud-v2"):
        patches.promote(rollout_body(spec={"promoteFull": "fraud-v2"}), full=True)
    with pytest.raises(patches.Refused, match="use `resume`"):
        patches.promote(rollout_body("Paused", reason="PausedBySpec"))


def test_nothing_to_promote_or_approve_without_a_candidate_in_flight() -> None:
    done = rollout_body("Promoted", candidate=None, reason="Promoted")
    for action in (lambda: patches.promote(done), lambda: patches.approve(done, "ab-test")):
        with pytest.raises(patches.Refused, match="no candidate is in flight"):
            action()


def test_pause_resume_abort_are_one_field_each_and_refuse_a_no_op() -> None:
    assert patches.resume(rollout_body(spec={"paused": True})).body == {"spec": {"paused": False}}
    assert patches.abort(rollout_body()).body == {"spec": {"abort": True}}
    with pytest.raises(patches.Refused):
        patches.resume(rollout_body())
    with pytest.raises(patches.Refused):
        patches.pause(rollout_body(spec={"paused": True}))


def test_retry_clears_an_abort_or_sets_a_new_token_after_a_rollback() -> None:
    assert patches.retry(rollout_body("Aborted", spec={"abort": True}), NOW).body == {"spec": {"abort": False}}
    rolled = rollout_body("RolledBack", step=None, reason="AnalysisFailed")
    assert patches.retry(rolled, NOW).body == {"spec": {"retry": "20260301T120000Z"}}
    with pytest.raises(patches.Refused, match="nothing to retry"):
        patches.retry(rollout_body(), NOW)


def test_rollback_goes_to_the_champion_or_a_warm_ready_version_and_refuses_any_other() -> None:
    body = rollout_body()
    assert patches.rollback(body, None, {}).body == {"spec": {"target": "fraud-v1"}}
    assert patches.rollback(body, "fraud-v0", {"fraud-v0": True}).body == {"spec": {"target": "fraud-v0"}}
    with pytest.raises(patches.Refused, match="fraud-v0 is warm but its ModelVersion is not Ready"):
        patches.rollback(body, "fraud-v0", {"fraud-v0": False})
    with pytest.raises(patches.Refused, match=r"fraud-v9 is not warm .*full rollout through 4 step\(s\).*"
                                              "--full-rollout"):
        patches.rollback(body, "fraud-v9", {})
    assert patches.rollback(body, "fraud-v9", {}, full_rollout=True).body == {"spec": {"target": "fraud-v9"}}
    settled = rollout_body("Promoted", candidate=None)
    with pytest.raises(patches.Refused, match="already the target"):
        patches.rollback(settled, None, {})


# --------------------------------------------------------------------------------- screens


def _analysed() -> dict[str, Any]:
    return rollout_body(analysis={
        "lastRun": "2026-03-01T11:59:30Z",
        "checks": [
            {"name": "error-rate", "last": measurement("error-rate", "2026-03-01T11:59:30Z", "Successful", 0.0021),
             "successful": 3, "failed": 0, "inconclusive": 1, "error": 0, "consecutiveErrors": 0},
            {"name": "latency-p99", "last": measurement("latency-p99", "2026-03-01T11:59:30Z", "Inconclusive", None),
             "successful": 0, "failed": 0, "inconclusive": 2, "error": 0, "consecutiveErrors": 0},
        ],
    })


def test_status_screen_in_flight() -> None:
    assert_golden("cli_status_canary", render.render_status(_analysed(), NOW).splitlines())


def test_status_screen_of_an_ab_test_shows_the_sequential_progress() -> None:
    body = rollout_body(step=2, traffic={"stable": 50, "candidate": 50, "mirror": 0}, abTest={
        "metric": "conversion", "stable": {"samples": 640, "successes": 64, "rate": 0.1},
        "candidate": {"samples": 655, "successes": 85, "rate": 0.1298}, "pValue": 0.21, "decision": "Undecided"})
    assert_golden("cli_status_abtest", render.render_status(body, NOW).splitlines())


def test_status_screen_folds_a_status_without_summary_from_its_measurements() -> None:
    body = rollout_body(analysis={"measurements": [
        measurement("error-rate", "2026-03-01T11:59:00Z", "Successful", 0.001),
        measurement("error-rate", "2026-03-01T11:59:30Z", "Failed", 0.2)]})
    lines = render.render_status(body, NOW).splitlines()
    assert any("error-rate" in line and "Failed" in line and "1 successful, 1 failed" in line for line in lines)


def test_list_and_history_tables() -> None:
    rollouts = [_analysed(), rollout_body("Promoted", candidate=None, reason="Promoted",
                                          traffic={"stable": 100, "candidate": 0, "mirror": 0})]
    rollouts[1]["metadata"]["name"] = "churn"
    assert_golden("cli_list", render.list_rows(rollouts, NOW).splitlines())
    assert_golden("cli_list_wide", render.list_rows(rollouts, NOW, wide=True, namespaces=True).splitlines())
    assert_golden("cli_history", render.history_rows(_analysed(), NOW, wide=True).splitlines())
    assert render.list_rows([], NOW) == "No rollouts found."


# ------------------------------------------------------------------------------ conventions


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["approve", "fraud"])  # STEP missing
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main(["list", "-o", "table"])
    assert exited.value.code == 2


def test_watch_redraws_the_status_screen_live(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``status --watch`` draws the same screen as ``status``, read again every interval."""
    import argparse
    import asyncio

    from modelops.cli import watching

    reads: list[dict[str, Any]] = [rollout_body(), rollout_body("Promoted", candidate=None, reason="Promoted")]

    class Reads:
        async def rollout(self, name: str) -> dict[str, Any]:
            return reads.pop(0)

    monkeypatch.setattr(watching, "INTERVAL", 0.0)
    monkeypatch.setattr(watching, "run", lambda args, work: asyncio.run(work(Reads())))
    assert watching.watch(argparse.Namespace(rollout="fraud"), rounds=2) == 0
    out = capsys.readouterr().out
    assert "Phase:      Promoted" in out and not reads
