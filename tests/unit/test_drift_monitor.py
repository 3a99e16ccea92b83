"""DriftMonitor decisions (pure): schedules and time zones as the CronJob controller reads them,
acceptance naming the field, the drift job's CronJob (single and sharded) and its RBAC pinned as
golden files, shard counts, the plan's conditions and that the operator's status write never drops
or rewrites a key of the drift job."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.api.config import DriftJobSettings, OperatorConfig
from modelops.api.driftmonitor import DriftMonitorSpec
from modelops.core.drafting import status_patch
from modelops.core.monitoring.acceptance import judge
from modelops.core.monitoring.children import (
    cron_job_name,
    desired_cron_job,
    desired_job_access,
    holds,
    job_role_rules,
    shard_count,
)
from modelops.core.monitoring.progress import JOB_KEYS, DriftObservation, ModelRefState, plan
from modelops.core.monitoring.schedule import schedule_problem, time_zone_problem
from modelops.core.ownership import Claim, ClaimState
from tests.support.drift import JOB_KEYS as CONTRACT_KEYS
from tests.support.drift import job_status
from tests.support.golden import assert_golden

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 12, 20, tzinfo=UTC)
UID = "0b6d3c1e-8f2a-4e5b-9c7d-1a2b3c4d5e6f"
CONFIG = OperatorConfig.model_validate({"nodePools": {"cpu": {}, "gpu-a100": {}},
                                        "driftJob": {"logsUri": "s3://ml-logs/store"}})


def monitors() -> list[dict[str, Any]]:
    docs = yaml.safe_load_all((REPO / "examples" / "07-driftmonitor.yaml").read_text())
    return [d for d in docs if d and d["kind"] == "DriftMonitor"]


def example_spec(index: int = 0) -> dict[str, Any]:
    return copy.deepcopy(monitors()[index]["spec"])


# ------------------------------------------------------------------------------ schedule


@pytest.mark.parametrize("schedule", ["*/15 * * * *", "0 * * * *", "@daily", "@hourly", "@every 5m",
                                      "0 9 * * mon-fri", "0 0 1 jan,jul *", "? * * * *", "5/10 1-5 */2 * 0,6",
                                      "0 0 * * SUN"])
def test_schedules_the_cronjob_controller_parses(schedule: str) -> None:
    assert schedule_problem(schedule) is None


@pytest.mark.parametrize(("schedule", "says"), [
    ("* * * *", "has 4 fields"),
    ("0 0 * * * *", "has 6 fields"),
    ("61 * * * *", "minute field '61': '61' is outside 0-59"),
    ("* 24 * * *", "hour field"),
    ("* * 0 * *", "day of month field"),
    ("* * * 13 *", "month field"),
    ("* * * * 7", "day of week field '7'"),
    ("*/0 * * * *", "step '0' must be a positive number"),
    ("5-1 * * * *", "ends before it starts"),
    ("0 0 L * *", "is not a value"),
    ("CRON_TZ=UTC 0 * * * *", "spec.timeZone"),
    ("TZ=Europe/Paris 0 * * *", "spec.timeZone"),
    ("@fortnightly", "is not a descriptor"),
    ("@every soon", "positive duration"),
])
def test_schedules_the_cronjob_controller_refuses(schedule: str, says: str) -> None:
    problem = schedule_problem(schedule)
    assert problem is not None and says in problem


def test_time_zones_come_from_the_tz_database() -> None:
    assert time_zone_problem("Europe/Paris") is None and time_zone_problem("Etc/UTC") is None
    problem = time_zone_problem("Mars/Olympus_Mons")
    assert problem is not None and "IANA tz database" in problem


# ---------------------------------------------------------------------------- acceptance


def test_the_examples_are_accepted() -> None:
    for doc in monitors():
        judgement = judge(doc["spec"], CONFIG, model_ref_found=True)
        assert judgement.verdict.accepted, judgement.verdict.message


@pytest.mark.parametrize(("change", "reason", "field"), [
    (lambda s: s.update(schedule="*/15 * * * 9"), "InvalidSchedule", "spec.schedule"),
    (lambda s: s.update(timeZone="Mars/Olympus_Mons"), "UnknownTimeZone", "spec.timeZone"),
    (lambda s: s["retrain"]["template"]["spec"].update(nodePool="tpu-v5"), "UnknownNodePool",
     "spec.retrain.template.spec.nodePool"),
    (lambda s: s.update(features=[]), "InvalidSpec", "spec.features"),
])
def test_bad_input_is_refused_naming_the_field(change: Any, reason: str, field: str) -> None:
    spec = example_spec()
    change(spec)
    verdict = judge(spec, CONFIG, model_ref_found=True).verdict
    assert (verdict.accepted, verdict.reason) == (False, reason)
    assert verdict.message.startswith(field + ":") or f"{field}:" in verdict.message


def test_a_model_ref_to_nothing_is_refused_and_every_problem_is_named() -> None:
    verdict = judge(example_spec(), CONFIG, model_ref_found=False).verdict
    assert (verdict.accepted, verdict.reason) == (False, "ModelRefNotFound")
    assert "spec.modelRef: Rollout credit-risk does not exist" in verdict.message
    spec = example_spec()
    spec["timeZone"] = "Nowhere/Atlantis"
    verdict = judge(spec, CONFIG, model_ref_found=False).verdict
    assert verdict.reason == "UnknownTimeZone" and "spec.modelRef" in verdict.message


# ------------------------------------------------------------------------------ children


def _parsed(index: int = 0) -> DriftMonitorSpec:
    return DriftMonitorSpec.model_validate(example_spec(index))


def test_cron_job_golden() -> None:
    job = desired_cron_job(monitor="credit-risk", namespace="risk", uid=UID, spec=_parsed(), shards=1,
                           settings=CONFIG.drift_job)
    assert_golden("drift-cronjob", job)
    spec = job["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["timeZone"] == "Etc/UTC"
    assert "completionMode" not in spec["jobTemplate"]["spec"]


def test_sharded_cron_job_golden() -> None:
    shards = shard_count(12_000_000, CONFIG.drift_job)
    assert shards == 3
    job = desired_cron_job(monitor="credit-risk-v1-weekly", namespace="risk", uid=UID, spec=_parsed(1),
                           shards=shards, settings=DriftJobSettings())
    assert_golden("drift-cronjob-sharded", job)
    template = job["spec"]["jobTemplate"]["spec"]
    assert (template["completionMode"], template["completions"], template["parallelism"]) == ("Indexed", 3, 3)
    assert template["template"]["spec"]["containers"][0]["args"][-2:] == ["--shards", "3"]
    assert "timeZone" not in job["spec"]  # absent: UTC, the controller's default


def test_job_access_golden_grants_only_what_the_job_needs() -> None:
    access = desired_job_access(monitor="credit-risk", namespace="risk", uid=UID)
    assert_golden("drift-job-access", access)
    assert [a["kind"] for a in access] == ["ServiceAccount", "Role", "RoleBinding"]
    granted = {(r, v) for rule in job_role_rules("credit-risk") for r in rule["resources"] for v in rule["verbs"]}
    assert granted == {("driftmonitors", "get"), ("driftmonitors/status", "patch"), ("modelversions", "get"),
                       ("rollouts", "get")}


@settings(deadline=None, max_examples=60)  # plans parse a spec: slow on a shared machine
@given(rows=st.integers(min_value=0, max_value=10**10), limit=st.integers(min_value=1, max_value=10**8),
       cap=st.integers(min_value=1, max_value=64))
def test_shards_cover_the_rows_up_to_the_cap(rows: int, limit: int, cap: int) -> None:
    settings = DriftJobSettings(rows_per_shard=limit, max_shards=cap)
    shards = shard_count(rows, settings)
    assert 1 <= shards <= cap
    assert shards == cap or shards * limit >= rows
    assert shards == 1 or (shards - 1) * limit < rows
    assert shard_count(rows + limit, settings) >= shards  # more rows never fewer shards


def test_shards_of_no_or_odd_rows() -> None:
    assert shard_count(None, DriftJobSettings()) == 1 and shard_count("many", DriftJobSettings()) == 1
    assert shard_count(5_000_000, DriftJobSettings()) == 1 and shard_count(5_000_001, DriftJobSettings()) == 2
    assert shard_count(10**12, DriftJobSettings()) == 16


def test_cron_job_names_leave_room_for_the_job_suffix() -> None:
    assert len(cron_job_name("m" * 253)) <= 52 and cron_job_name("credit-risk") == "credit-risk-drift"


def test_holds_ignores_what_the_server_adds() -> None:
    desired = {"spec": {"a": 1, "list": [{"x": 1}]}}
    assert holds({"spec": {"a": 1, "b": 2, "list": [{"x": 1, "default": True}]}, "status": {}}, desired)
    assert not holds({"spec": {"a": 2, "list": [{"x": 1}]}}, desired)
    assert not holds({"spec": {"a": 1, "list": [{"x": 1}, {"x": 2}]}}, desired)
    assert not holds(None, desired)


# ---------------------------------------------------------------------------------- plan


def observation(status: dict[str, Any] | None = None, *, spec: dict[str, Any] | None = None, found: bool = True,
                children: dict[Any, Any] | None = None, claims: dict[Any, Claim] | None = None
                ) -> DriftObservation:
    return DriftObservation(name="credit-risk", namespace="risk", uid=UID, generation=2,
                            spec=spec if spec is not None else example_spec(), status=status or {},
                            model_ref=ModelRefState(found, "credit-risk" if found else None,
                                                    "credit-risk-v1" if found else None),
                            children=children or {}, claims=claims or {})


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_an_accepted_monitor_applies_its_children_and_waits_for_its_first_run() -> None:
    decision = plan(observation(), CONFIG, NOW)
    assert [c["kind"] for c in decision.apply] == ["ServiceAccount", "Role", "RoleBinding", "CronJob",
                                                   "PrometheusRule"]
    assert conditions(decision.status) == {"Evaluated": ("Unknown", "AwaitingFirstRun"),
                                           "Accepted": ("True", "Valid"), "Ready": ("True", "ChildrenApplied"),
                                           "RetrainingThrottled": ("False", "NotThrottled")}
    assert decision.status["cronJob"] == "credit-risk-drift" and decision.status["shards"] == 1
    assert decision.status["prometheusRule"] == "credit-risk-drift"
    # Children already holding every field are not applied again.
    applied = {(c["apiVersion"], c["kind"], c["metadata"]["name"]): {**c, "status": {}} for c in decision.apply}
    again = plan(observation(decision.status, children=applied), CONFIG, NOW + timedelta(seconds=5))
    assert again.apply == [] and status_patch(decision.status, again.status) == {} and again.events == []


def test_a_refused_monitor_applies_nothing_and_warns_once() -> None:
    decision = plan(observation(found=False), CONFIG, NOW)
    assert decision.apply == [] and decision.create_training_run is None
    assert conditions(decision.status)["Accepted"] == ("False", "ModelRefNotFound")
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", "ModelRefNotFound")]
    again = plan(observation(decision.status, found=False), CONFIG, NOW + timedelta(minutes=1))
    assert again.events == [] and status_patch(decision.status, again.status) == {}
    healed = plan(observation(decision.status), CONFIG, NOW + timedelta(minutes=2))
    assert conditions(healed.status)["Accepted"] == ("True", "Valid") and healed.apply


def test_a_foreign_cron_job_is_left_alone() -> None:
    key = ("batch/v1", "CronJob", "credit-risk-drift")
    foreign = Claim(ClaimState.FOREIGN, managers=("kubectl",))
    decision = plan(observation(children={key: {"metadata": {}}}, claims={key: foreign}), CONFIG, NOW)
    assert decision.apply == []
    assert conditions(decision.status)["Ready"] == ("False", "CronJobConflict")


@pytest.mark.parametrize(("verdict", "expected"), [
    ("Drift", ("True", "DriftDetected")), ("NoDrift", ("True", "NoDrift")),
    ("Inconclusive", ("False", "InsufficientData")),
])
def test_evaluated_follows_the_jobs_verdict(verdict: str, expected: tuple[str, str]) -> None:
    decision = plan(observation(job_status(verdict=verdict)), CONFIG, NOW)
    assert conditions(decision.status)["Evaluated"] == expected


def test_large_windows_shard_the_next_run() -> None:
    decision = plan(observation(job_status(rows=40_000_000)), CONFIG, NOW)
    cron = next(c for c in decision.apply if c["kind"] == "CronJob")
    assert cron["spec"]["jobTemplate"]["spec"]["parallelism"] == 8 and decision.status["shards"] == 8


def test_alerts_disabled_deletes_the_rule_it_made() -> None:
    spec = example_spec()
    spec["alerts"]["enabled"] = False
    key = ("monitoring.coreos.com/v1", "PrometheusRule", "credit-risk-drift")
    decision = plan(observation(spec=spec, children={key: {"metadata": {}}}, claims={key: Claim(ClaimState.OURS)}),
                    CONFIG, NOW)
    assert decision.delete == [key] and "PrometheusRule" not in [c["kind"] for c in decision.apply]
    assert decision.status.get("prometheusRule") is None  # None: the merge patch deletes it


job_results = st.lists(st.fixed_dictionaries({
    "feature": st.sampled_from(["income", "age", "__prediction__"]),
    "statistic": st.sampled_from(["psi", "ks", "nullRate", "infRate"]),
    "value": st.floats(0, 2), "threshold": st.floats(0, 1), "drifted": st.booleans(),
    "verdict": st.sampled_from(["Drift", "NoDrift", "Inconclusive"])}), max_size=5)


@settings(deadline=None, max_examples=60)  # plans parse a spec: slow on a shared machine
@given(results=job_results, consecutive=st.integers(0, 9), rows=st.integers(0, 10**9),
       verdict=st.sampled_from(["Drift", "NoDrift", "Inconclusive"]), stored_conditions=st.booleans())
def test_the_operators_status_write_never_drops_or_rewrites_a_job_key(
        results: list[dict[str, Any]], consecutive: int, rows: int, verdict: str, stored_conditions: bool) -> None:
    status = job_status(consecutive=consecutive, rows=rows, verdict=verdict)
    status["results"] = results
    status["drifted"] = verdict == "Drift"
    if stored_conditions:
        status = {**plan(observation({}), CONFIG, NOW).status, **status}
    decision = plan(observation(status), CONFIG, NOW + timedelta(minutes=1))
    patch = status_patch(status, decision.status)
    assert not set(patch) & set(JOB_KEYS), patch
    assert all(decision.status[key] == status[key] for key in JOB_KEYS)
    assert set(JOB_KEYS) == CONTRACT_KEYS


def test_without_the_prometheus_operator_the_rest_still_applies() -> None:
    decision = DriftObservation(**{**observation().__dict__, "rules_served": False})
    planned = plan(decision, CONFIG, NOW)
    assert "PrometheusRule" not in [c["kind"] for c in planned.apply] and planned.apply
    ready = next(c for c in planned.status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and "does not serve monitoring.coreos.com/v1" in ready["message"]
