"""The per-Rollout series (metrics.rollouts): read from statuses, counted on status writes."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from modelops.metrics.rollouts import RolloutCollector, VerdictTally, new_measurements


def _m(check: str, at: str, verdict: str, value: float | None) -> dict[str, Any]:
    return {"check": check, "at": at, "verdict": verdict, "value": value, "step": 0}


def _rollout(status: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": "ml", "name": "fraud"}, "status": status}


def _scrape(bodies: list[dict[str, Any]], tally: VerdictTally) -> str:
    registry = CollectorRegistry()
    registry.register(RolloutCollector(lambda: bodies, tally))
    return generate_latest(registry).decode()


def test_a_rollout_in_flight_exports_phase_step_weights_sync_and_last_values() -> None:
    status = {
        "phase": "Progressing", "currentStep": 1, "traffic": {"stable": 75, "candidate": 25, "mirror": 0},
        "conditions": [{"type": "RegistrySynced", "status": "False"}],
        "analysis": {"measurements": [_m("error-rate", "2026-01-01T00:00:01Z", "Successful", 0.01),
                                      _m("error-rate", "2026-01-01T00:00:03Z", "Failed", 0.2),
                                      _m("latency", "2026-01-01T00:00:03Z", "Inconclusive", None)]},
    }
    text = _scrape([_rollout(status)], VerdictTally())
    assert 'modelops_rollout_phase{namespace="ml",phase="Progressing",rollout="fraud"} 1.0' in text
    assert 'modelops_rollout_phase{namespace="ml",phase="Paused",rollout="fraud"} 0.0' in text
    assert text.count("modelops_rollout_phase{") == 8
    assert 'modelops_rollout_step{namespace="ml",rollout="fraud"} 1.0' in text
    assert 'modelops_rollout_weight{backend="candidate",namespace="ml",rollout="fraud"} 25.0' in text
    assert 'modelops_registry_synced{namespace="ml",rollout="fraud"} 0.0' in text
    assert 'modelops_analysis_measurement{check="error-rate",namespace="ml",rollout="fraud"} 0.2' in text
    assert 'check="latency"' not in text  # no data: no value


def test_a_check_whose_newest_measurement_has_no_data_has_no_value() -> None:
    status = {"phase": "Progressing", "analysis": {"measurements": [
        _m("error-rate", "2026-01-01T00:00:01Z", "Successful", 0.01),
        _m("error-rate", "2026-01-01T00:00:03Z", "Inconclusive", None)]}}
    assert "modelops_analysis_measurement{" not in _scrape([_rollout(status)], VerdictTally())


def test_out_of_flight_there_is_no_step_and_unknown_sync_is_absent() -> None:
    status = {"phase": "Promoted", "traffic": {"stable": 100, "candidate": 0, "mirror": 0},
              "conditions": [{"type": "RegistrySynced", "status": "Unknown"}]}
    text = _scrape([_rollout(status)], VerdictTally())
    assert "modelops_rollout_step{" not in text and "modelops_registry_synced{" not in text
    assert _scrape([], VerdictTally()).count("namespace=") == 0


def test_verdicts_are_counted_once_per_new_measurement() -> None:
    tally = VerdictTally()
    first = {"analysis": {"measurements": [_m("error-rate", "t1", "Successful", 0.0)]}}
    second = {"analysis": {"measurements": [_m("error-rate", "t1", "Successful", 0.0),
                                            _m("error-rate", "t2", "Failed", 0.3)]}}
    tally.add("ml", "fraud", new_measurements(None, first))
    tally.add("ml", "fraud", new_measurements(first, second))
    tally.add("ml", "fraud", new_measurements(second, second))
    text = _scrape([], tally)
    assert ('modelops_analysis_verdicts_total{check="error-rate",namespace="ml",rollout="fraud",'
            'verdict="Successful"} 1.0') in text
    assert 'verdict="Failed"} 1.0' in text


def test_a_summarised_status_counts_its_last_measurement_per_check() -> None:
    before = {"analysis": {"checks": [{"name": "error-rate", "last": {"at": "t1", "verdict": "Successful",
                                                                      "value": 0.0}}]}}
    after = {"analysis": {"checks": [{"name": "error-rate", "last": {"at": "t2", "verdict": "Error"}}]}}
    fresh = new_measurements(before, after)
    assert [(m["check"], m["verdict"]) for m in fresh] == [("error-rate", "Error")]
