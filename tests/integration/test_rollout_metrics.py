"""The operator's own per-Rollout series, scraped from its /metrics during a real rollout: the
phase, step and weights while a canary runs, the last measurement and the verdict counter of the
analysis, the registry sync state, and the phase after an SRE rollback — the names and labels the
chart's rules and dashboard and docs/operations.md rely on — and a log without kopf's line per
handler success."""

from __future__ import annotations

import re

from localcluster.dataplane import DataPlane
from localcluster.exporter import MetricsExporter
from tests.support.names import unique
from tests.support.operator import OperatorProcess
from tests.support.rollouts import CHECKS, GOOD, HTTPROUTE, Env, gateway
from tests.support.waiting import wait_for


def _series(operator: OperatorProcess, name: str, namespace: str, rollout: str) -> dict[str, float]:
    """``name``'s series of one Rollout, keyed by their other labels (``phase="Paused"``; "" for none)."""
    found = {}
    for key, value in operator.metrics().items():
        metric, _, rest = key.partition("{")
        labels = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if metric == name and labels.pop("namespace", None) == namespace and labels.pop("rollout", None) == rollout:
            found[",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))] = value
    return found


def test_rollout_series_follow_a_canary_its_analysis_and_a_rollback(
    rollout_env: Env, operator: OperatorProcess, metrics_exporter: MetricsExporter
) -> None:
    env = rollout_env
    model = unique("metrics")
    v1, v2 = env.model_version(model, f"{model}-v1"), env.model_version(model, f"{model}-v2")
    env.rollout(model, model, v1, gateway(model), [{"canary": {"weight": 20, "duration": "5m"}}],
                analysis={"interval": "2s", "window": "6s", "checks": [CHECKS[0]]})
    env.wait_phase(model, "Promoted")
    ns = env.namespace
    with DataPlane(env.dyn, metrics_exporter, ns, model, (*HTTPROUTE, model), {v1: GOOD, v2: GOOD}):
        env.patch(model, {"target": v2})
        env.wait_step(model, 0)
        phases = wait_for(lambda: (p := _series(operator, "modelops_rollout_phase", ns, model))
                          .get('phase="Progressing"') == 1 and p, 30, "phase Progressing exported")
        assert sum(phases.values()) == 1 and len(phases) == 8
        assert _series(operator, "modelops_rollout_step", ns, model) == {"": 0}
        assert _series(operator, "modelops_rollout_weight", ns, model) == {
            'backend="stable"': 80, 'backend="candidate"': 20, 'backend="mirror"': 0}
        verdicts = wait_for(lambda: (v := _series(operator, "modelops_analysis_verdicts_total", ns, model))
                            .get('check="error-rate",verdict="Successful"', 0) >= 2 and v, 60,
                            "two Successful error-rate verdicts counted")
        assert set(verdicts) <= {f'check="error-rate",verdict="{v}"' for v in
                                 ("Successful", "Failed", "Inconclusive", "Error")}
        measured = _series(operator, "modelops_analysis_measurement", ns, model)
        assert list(measured) == ['check="error-rate"'] and 0 <= measured['check="error-rate"'] <= 0.05
        wait_for(lambda: _series(operator, "modelops_registry_synced", ns, model) == {"": 1}, 30,
                 "registry synced exported")
        env.patch(model, {"target": v1})
        env.wait_phase(model, "RolledBack")
    after = wait_for(lambda: (p := _series(operator, "modelops_rollout_phase", ns, model))
                     .get('phase="RolledBack"') == 1 and p, 30, "phase RolledBack exported")
    assert sum(after.values()) == 1
    assert _series(operator, "modelops_rollout_step", ns, model) == {}
    assert _series(operator, "modelops_rollout_weight", ns, model)['backend="stable"'] == 100
    # Quiet at rest: no INFO line per handler success (one per watch event) or per liveness probe.
    chatter = [line for line in operator.log_path.read_text(errors="replace").splitlines() if "[INFO" in line
               and ("Handler '" in line or "Activity 'alive'" in line or "GET /healthz" in line)]
    assert chatter == []  # warnings and errors still are (another test's namespace may be terminating)
    env.rollouts.delete(name=model, namespace=ns)
    wait_for(lambda: not _series(operator, "modelops_rollout_phase", ns, model), 30, "series gone with the Rollout")
