"""DriftMonitors as tests drive them: the drift job's status write as tests play it
(``tests/fixtures/drift-job-status.yaml`` pins the wire format: drifted or stable, with a given
``consecutiveDrifted`` and ``lastRun``), a monitor's children, the monitor and ModelVersion bodies,
the retraining block, and the namespace helper that writes as the job and lists the retraining
runs (used by the integration tier and the chaos tier's kills)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import yaml

from tests.support.kube import API, Namespace
from tests.support.manifests import REPO, documents
from tests.support.waiting import wait_for

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


CHILDREN = [("batch/v1", "CronJob", "{}-drift"), ("v1", "ServiceAccount", "{}-drift-job"),
            ("rbac.authorization.k8s.io/v1", "Role", "{}-drift-job"),
            ("rbac.authorization.k8s.io/v1", "RoleBinding", "{}-drift-job"),
            ("monitoring.coreos.com/v1", "PrometheusRule", "{}-drift")]

RETRAIN = {"enabled": True, "after": 2, "cooldown": "1h", "maxConcurrent": 2,
           "template": {"metadata": {"labels": {"team": "risk"}},
                        "spec": {"model": "MODEL", "image": "registry.example/train@sha256:" + "cd" * 32,
                                 "nodePool": "tpu-v5", "tracking": {"experiment": "EXPERIMENT"}}}}


def monitor_body(name: str, ref: dict[str, str], model: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "DriftMonitor", "metadata": {"name": name},
            "spec": {"modelRef": ref, "features": [{"name": "income", "type": "numeric"}],
                     "schedule": "*/15 * * * *", **spec}}


def model_version_body(name: str, model: str) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name},
            "spec": {"model": model, "version": "1", "serving": {"enabled": False},
                     "artifact": {"storageUri": f"s3://models/{name}/", "format": "sklearn"}}}


class MonitorEnv(Namespace):
    def example(self, model: str) -> list[dict[str, Any]]:
        """Example 07 with its model renamed (tests share one cluster: one Rollout per model)."""
        docs = documents(REPO / "examples" / "07-driftmonitor.yaml")
        for doc in docs:
            if doc["kind"] in ("ModelVersion", "Rollout"):
                doc["spec"]["model"] = model
            if doc["kind"] == "DriftMonitor" and doc["spec"].get("retrain"):
                doc["spec"]["retrain"]["template"]["spec"]["model"] = model
        return docs

    def monitor(self, name: str) -> dict[str, Any]:
        found = self.get(API, "DriftMonitor", name)
        assert found is not None
        return found

    def write_as_job(self, name: str, status: dict[str, Any]) -> None:
        self.resource(API, "DriftMonitor").status.patch(
            name=name, namespace=self.name, body={"status": status}, content_type="application/merge-patch+json",
            field_manager=JOB_MANAGER)

    def training_runs(self, monitor: str) -> list[dict[str, Any]]:
        items = self.resource(API, "TrainingRun").get(namespace=self.name,
                                                      label_selector=f"modelops.io/drift-monitor={monitor}")
        return [dict(item) for item in items.to_dict()["items"]]

    def one_warning(self, name: str, reason: str) -> None:
        """Exactly one Warning Event of ``reason`` on the monitor, and no second one a little later."""
        wait_for(lambda: self.events("DriftMonitor", name, reason), 30, f"a {reason} Event")
        time.sleep(3)
        found = self.events("DriftMonitor", name, reason)
        assert [e.type for e in found] == ["Warning"] and (found[0].count or 1) == 1, found
