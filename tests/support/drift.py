"""The drift job's status write as tests play it (``tests/fixtures/drift-job-status.yaml`` pins
the wire format): drifted or stable, with a given ``consecutiveDrifted`` and ``lastRun``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "drift-job-status.yaml"
JOB_MANAGER = "modelops-drift-job"
JOB_KEYS = frozenset({"lastRun", "window", "rowsSeen", "referenceRows", "results", "drifted", "verdict",
                      "consecutiveDrifted", "reportUri", "servedModelVersion", "message"})


def job_status(*, drifted: bool = True, consecutive: int = 1, last_run: str | None = None,
               rows: int | None = None, served: str | None = None, verdict: str | None = None) -> dict[str, Any]:
    """The ``status`` the drift job writes (a copy of the fixture, with these values)."""
    status: dict[str, Any] = copy.deepcopy(yaml.safe_load(FIXTURE.read_text())["status"])
    assert set(status) == JOB_KEYS, "the fixture is the contract: exactly the job's keys"
    if not drifted:
        for result in status["results"]:
            if result["drifted"]:
                result.update(value=result["threshold"] / 2, drifted=False, verdict="NoDrift")
        status.update(drifted=False, verdict="NoDrift", consecutiveDrifted=0, message="no result drifted")
    else:
        status["consecutiveDrifted"] = consecutive
    if verdict is not None:
        status["verdict"] = verdict
    if last_run is not None:
        status["lastRun"] = last_run
    if rows is not None:
        status["rowsSeen"] = rows
    if served is not None:
        status["servedModelVersion"] = served
    return status
