"""The kubectl plugin as its tests use it: Rollout bodies in the states the commands act on (as the
API server returns them, status written by the operator), and the CLI run as a subprocess the way
kubectl runs a plugin — its own process, the kubeconfig from the environment, exit code and both
streams kept."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOW = "2026-03-01T12:00:00Z"
STEPS: list[dict[str, Any]] = [
    {"name": "shadow", "shadow": {"mirrorPercent": 100, "duration": "10m"}},
    {"name": "canary-5", "canary": {"weight": 5, "duration": "5m"}},
    {"name": "ab-test", "approval": True,
     "abTest": {"weight": 50, "metric": "conversion", "minSamples": 1000, "maxDuration": "24h"}},
    {"name": "full", "full": {}},
]


def measurement(check: str, at: str, verdict: str, value: float | None, step: int = 1) -> dict[str, Any]:
    return {"check": check, "at": at, "verdict": verdict, "value": value, "step": step}


def rollout_body(phase: str = "Progressing", *, step: int | None = 1, candidate: str | None = "fraud-v2",
                 reason: str = "StepRunning", spec: dict[str, Any] | None = None,
                 **status: Any) -> dict[str, Any]:
    """A Rollout of model fraud in namespace ml: v1 stable (v0 warm), v2 the candidate at ``step``."""
    names = [s["name"] for s in STEPS]
    body: dict[str, Any] = {
        "apiVersion": "modelops.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "fraud", "namespace": "ml", "resourceVersion": "42",
                     "creationTimestamp": "2026-03-01T10:00:00Z"},
        "spec": {"model": "fraud", "target": candidate or "fraud-v1",
                 "trafficRouting": {"gatewayAPI": {"httpRoute": "fraud", "parentRefs": [{"name": "gw"}]}},
                 "steps": STEPS, **(spec or {})},
        "status": {"phase": phase, "stable": "fraud-v1", "warm": ["fraud-v0"],
                   "conditions": [{"type": "Progressing", "status": "True" if phase == "Progressing" else "False",
                                   "reason": reason}],
                   "traffic": {"stable": 95, "candidate": 5, "mirror": 0},
                   "history": [{"time": "2026-03-01T11:40:00Z", "from": "Promoted", "to": "Progressing",
                                "reason": "TargetChanged", "actor": "kubectl-patch"},
                               {"time": "2026-03-01T11:50:00Z", "from": "shadow", "to": "canary-5",
                                "reason": "StepStarted", "actor": "operator"}]},
    }
    if candidate is not None:
        body["status"]["candidate"] = candidate
    if step is not None and candidate is not None:
        body["status"] |= {"currentStep": step, "currentStepName": names[step],
                           "stepStartedAt": "2026-03-01T11:58:00Z"}
    body["status"] |= status
    return body


@dataclass
class Ran:
    code: int
    out: str
    err: str


def run_cli(*args: str, kubeconfig: Path | None = None, timeout: float = 60) -> Ran:
    """``kubectl-modelops ARGS`` as a subprocess (the console script's own main)."""
    env = dict(os.environ)
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    done = subprocess.run([sys.executable, "-c", "import sys; from modelops.cli.main import main; "
                           "sys.argv[0] = 'kubectl-modelops'; sys.exit(main())", *args],
                          capture_output=True, text=True, timeout=timeout, env=env, check=False)
    return Ran(done.returncode, done.stdout, done.stderr)
