"""Rollouts as the integration tests drive them: a namespace with ModelVersions made Ready the way
KServe would (their InferenceService's status written in KServe's format), Rollouts applied and
patched as a human would, and what the tests read back — phases, steps, routes, Events, the splits
a data plane saw, the MLflow aliases — plus the examples (04–06) loaded with their clock shortened.
The simulated data plane (hack/localcluster/dataplane.py) plays the gateway, mesh or KServe."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client, dynamic
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from localcluster.dataplane import Behaviour, Seen
from tests.support.kserve_status import ready_status
from tests.support.manifests import REPO, apply, documents
from tests.support.waiting import wait_for

API = "modelops.io/v1alpha1"
ISVC_API = "serving.kserve.io/v1beta1"
HTTPROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")
VIRTUALSERVICE = ("networking.istio.io/v1", "VirtualService")
GOOD = Behaviour(error_rate=0.0, latency=0.02, score=0.3, conversion=0.10)
BETTER = Behaviour(error_rate=0.0, latency=0.02, score=0.3, conversion=0.30)
BROKEN = Behaviour(error_rate=0.5, latency=0.02, score=0.3, conversion=0.10)
# Analysis every 2 s over the last 6 s; the test Prometheus scrapes every second; the data plane
# sends 400 requests a second, so a 5% canary answers 120 in a window.
CHECKS: list[dict[str, Any]] = [
    {"name": "error-rate", "builtin": "errorRate", "max": 0.05},
    {"name": "latency-p99", "builtin": "latencyP99", "max": 0.5},
    {"name": "prediction-divergence", "builtin": "predictionDivergence", "max": 0.35, "minSamples": 100},
    {"name": "candidate-traffic", "prometheus": {
        "query": 'sum(rate(modelops_requests_total{namespace="${namespace}",modelversion="${candidate}"}[${window}]))'},
     "min": 1},
]
ANALYSIS: dict[str, Any] = {"interval": "2s", "window": "6s", "checks": CHECKS}



class Env:
    def __init__(self, dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str) -> None:
        self.dyn, self.namespace = dyn, namespace
        self.core = client.CoreV1Api(api)
        self.mvs = dyn.resources.get(api_version=API, kind="ModelVersion")
        self.rollouts = dyn.resources.get(api_version=API, kind="Rollout")
        self.isvcs = dyn.resources.get(api_version=ISVC_API, kind="InferenceService")
        # Seconds to wait for the operator's part of a set-up step (its child, a Ready status); the
        # chaos tier raises it: a killed operator or a faulty API server stretches every step.
        self.patience = 30.0

    # -- objects --------------------------------------------------------------------------

    def get(self, resource: Any, name: str) -> dict[str, Any] | None:
        items = resource.get(namespace=self.namespace, field_selector=f"metadata.name={name}").to_dict()["items"]
        return items[0] if items else None

    def model_version(self, model: str, name: str, *, ready: bool = True, mode: str | None = None) -> str:
        serving: dict[str, Any] = {"minReplicas": 1}
        if mode:
            serving["deploymentMode"] = mode
        apply(self.dyn, {
            "apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name},
            "spec": {"model": model, "version": name.rsplit("-v", 1)[-1],
                     "artifact": {"storageUri": f"s3://models/{name}/", "format": "sklearn"}, "serving": serving},
        }, self.namespace)
        if ready:
            self.make_ready(name)
        return name

    def make_ready(self, name: str) -> None:
        wait_for(lambda: self.get(self.isvcs, name), self.patience, f"InferenceService {name}")
        self.isvcs.status.patch(name=name, namespace=self.namespace, body={"status": ready_status(f"http://{name}")},
                                content_type="application/merge-patch+json")
        wait_for(lambda: (self.mv(name).get("status") or {}).get("ready") is True, self.patience, f"{name} Ready")

    def mv(self, name: str) -> dict[str, Any]:
        found = self.get(self.mvs, name)
        assert found is not None, f"no ModelVersion {name}"
        return found

    def rollout(self, name: str, model: str, target: str, routing: dict[str, Any], steps: list[dict[str, Any]],
                **extra: Any) -> None:
        apply(self.dyn, {
            "apiVersion": API, "kind": "Rollout", "metadata": {"name": name},
            "spec": {"model": model, "target": target, "trafficRouting": routing, "steps": steps, **extra},
        }, self.namespace)

    def following(self, name: str, model: str, alias: str, routing: dict[str, Any], steps: list[dict[str, Any]],
                  **extra: Any) -> None:
        """A Rollout with no ``target``: it rolls out whatever version the MLflow alias names."""
        apply(self.dyn, {
            "apiVersion": API, "kind": "Rollout", "metadata": {"name": name},
            "spec": {"model": model, "targetFrom": {"alias": alias}, "trafficRouting": routing, "steps": steps,
                     **extra},
        }, self.namespace)

    def status(self, name: str) -> dict[str, Any]:
        return (self.get(self.rollouts, name) or {}).get("status") or {}

    def patch(self, name: str, spec: dict[str, Any], manager: str = "sre-kubectl") -> float:
        """Merge-patch the Rollout's spec as a human would; returns the monotonic time of the patch."""
        self.rollouts.patch(name=name, namespace=self.namespace, body={"spec": spec},
                            content_type="application/merge-patch+json", field_manager=manager)
        return time.monotonic()

    def wait_phase(self, name: str, phase: str, timeout: float = 60) -> dict[str, Any]:
        try:
            return wait_for(lambda: (s := self.status(name)).get("phase") == phase and s, timeout,
                            f"Rollout {name} phase {phase}")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.explain(name)}") from None

    def wait_promoted(self, name: str, version: str, timeout: float = 60) -> dict[str, Any]:
        try:
            return wait_for(lambda: (s := self.status(name)).get("phase") == "Promoted" and s.get("stable") == version
                            and s, timeout, f"Rollout {name} to promote {version}")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.explain(name)}") from None

    def wait_step(self, name: str, step: int, timeout: float = 60) -> dict[str, Any]:
        try:
            return wait_for(lambda: (s := self.status(name)).get("currentStep") == step and s.get("stepStartedAt")
                            and s, timeout, f"Rollout {name} at step {step}")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.explain(name)}") from None

    def explain(self, name: str) -> str:
        """What a failing wait shows: the status that did not get there, measurements last."""
        status = self.status(name)
        measurements = (status.get("analysis") or {}).get("measurements") or []
        lines = [f"phase={status.get('phase')} step={status.get('currentStep')} message={status.get('message')}",
                 f"traffic={status.get('traffic')} abTest={status.get('abTest')}"]
        lines += [f"  condition {c['type']}={c['status']} {c.get('reason')}: {c.get('message')}"
                  for c in status.get("conditions") or []]
        lines += [f"  {m['at']} step {m.get('step')} {m['check']} {m['verdict']}: {m.get('message')}"
                  for m in measurements[-12:]]
        return "\n".join(lines)

    def route(self, kind: tuple[str, str], name: str) -> dict[str, Any] | None:
        return self.get(self.dyn.resources.get(api_version=kind[0], kind=kind[1]), name)

    def events(self, name: str) -> list[Any]:
        return self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name},involvedObject.kind=Rollout").items


def gateway(route: str) -> dict[str, Any]:
    return {"gatewayAPI": {"httpRoute": route, "parentRefs": [{"name": "inference-gateway", "namespace": "gateways"}],
                           "port": 80}}



def served(seen: list[Seen], stable: str, candidate: str) -> list[tuple[int, int, int]]:
    """The splits a data plane saw, as (stable %, candidate %, mirror %), consecutive repeats merged."""
    found: list[tuple[int, int, int]] = []
    for item in seen:
        mirror = item.mirror[1] if item.mirror is not None and item.mirror[0] == candidate else 0
        split = (item.of(stable), item.of(candidate), mirror)
        if not found or found[-1] != split:
            found.append(split)
    return found



def alias_version(mlflow: MlflowClient, model: str, alias: str) -> str | None:
    try:
        return str(mlflow.get_model_version_by_alias(model, alias).version)
    except MlflowException:
        return None



def started_steps(status: dict[str, Any]) -> list[str]:
    return [h["to"] for h in status.get("history") or [] if h["reason"] in ("StepStarted", "Approved")]



SHORT = {"duration": "3s", "maxDuration": "90s", "interval": "2s", "window": "10s", "progressDeadline": "1m"}


def shorten(node: Any) -> Any:
    """The example with its clock sped up (see the module docstring); nothing else changes."""
    if isinstance(node, dict):
        return {key: SHORT[key] if key in SHORT and isinstance(value, str) else shorten(value)
                for key, value in node.items()}
    if isinstance(node, list):
        return [shorten(item) for item in node]
    return node


def load(path: str, suffix: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(ModelVersions, Rollout) of an example, renamed ``<name>-<suffix>`` to be unique."""
    docs = documents(REPO / "examples" / path)
    versions = [d for d in docs if d["kind"] == "ModelVersion"]
    rollout = next(d for d in docs if d["kind"] == "Rollout")
    model = rollout["spec"]["model"]
    renamed = {v["metadata"]["name"]: f"{v['metadata']['name']}-{suffix}" for v in versions}
    for version in versions:
        version["metadata"]["name"] = renamed[version["metadata"]["name"]]
        version["spec"]["model"] = f"{model}-{suffix}"
    rollout["spec"]["model"] = f"{model}-{suffix}"
    rollout["spec"]["target"] = renamed[rollout["spec"]["target"]]
    if "approved" in rollout["spec"]:  # step@candidate approvals name the renamed versions
        rollout["spec"]["approved"] = ["@".join([step, renamed.get(who, who)]) if at else step for step, at, who
                                       in (entry.partition("@") for entry in rollout["spec"]["approved"])]
    rollout["metadata"]["name"] = f"{rollout['metadata']['name']}-{suffix}"
    return versions, shorten(rollout)


def start_on_first_version(env: Env, versions: list[dict[str, Any]], rollout: dict[str, Any]) -> tuple[str, str]:
    """Apply the example with its first version as the target; return (first, example's target)."""
    first, target = versions[0]["metadata"]["name"], rollout["spec"]["target"]
    for version in versions:
        apply(env.dyn, version, env.namespace)
    apply(env.dyn, {**rollout, "spec": {**rollout["spec"], "target": first}}, env.namespace)
    return first, target


