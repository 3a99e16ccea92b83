"""``spec.targetFrom`` against the real MLflow registry: a Rollout that follows the alias
``challenger`` rolls out the version the alias is moved to — nobody edits its YAML — and records
the move in status and history; the operator's own alias writes (challenger on the candidate,
cleared on promotion) leave the followed version as it was."""

from __future__ import annotations

from typing import Any

from mlflow.tracking import MlflowClient

from tests.support.manifests import apply
from tests.support.names import unique
from tests.support.rollouts import API, Env, alias_version, gateway, started_steps
from tests.support.waiting import wait_for

STEPS: list[dict[str, Any]] = [{"name": "canary-50", "canary": {"weight": 50, "duration": "2s"}},
                               {"name": "full", "full": {}}]


def registry_version(env: Env, name: str) -> str:
    return str(wait_for(lambda: (env.mv(name).get("status") or {}).get("registry"), 30,
                        f"{name} registered")["version"])


def test_moving_the_alias_rolls_the_new_version_out_without_a_yaml_edit(rollout_env: Env,
                                                                       mlflow: MlflowClient) -> None:
    env, model = rollout_env, unique("follow")
    v1 = env.model_version(model, f"{model}-v1")
    v2 = env.model_version(model, f"{model}-v2")
    mlflow.set_registered_model_alias(model, "challenger", registry_version(env, v1))
    spec = {"model": model, "targetFrom": {"alias": "challenger"}, "trafficRouting": gateway(model), "steps": STEPS}
    apply(env.dyn, {"apiVersion": API, "kind": "Rollout", "metadata": {"name": model}, "spec": spec}, env.namespace)
    status = env.wait_promoted(model, v1)
    assert status["followed"]["modelVersion"] == v1 and status["followed"]["alias"] == "challenger"
    wait_for(lambda: alias_version(mlflow, model, "champion") == registry_version(env, v1), 30, "champion v1")

    # A new version registered under the alias (what a TrainingRun with register.alias does).
    mlflow.set_registered_model_alias(model, "challenger", registry_version(env, v2))
    status = env.wait_promoted(model, v2, timeout=60)
    changed = next(e for e in status["history"] if e["reason"] == "TargetChanged")
    assert changed["actor"] == "mlflow:alias/challenger" and v2 in changed["message"]
    assert started_steps(status) == ["canary-50", "full"]
    assert (status["followed"]["version"], status["followed"]["modelVersion"]) == (registry_version(env, v2), v2)
    wait_for(lambda: alias_version(mlflow, model, "champion") == registry_version(env, v2), 30, "champion v2")

    # The operator never wrote spec: still no target, and only the test's field manager owns spec.
    stored = env.get(env.rollouts, model)
    assert stored is not None and "target" not in stored["spec"]
    assert stored["spec"]["targetFrom"] == {"alias": "challenger"}
    owners = {f["manager"] for f in stored["metadata"]["managedFields"] if "f:spec" in (f.get("fieldsV1") or {})}
    assert "modelops" not in owners, owners
    # Promotion cleared challenger (the Rollout's own alias write): the followed version stays.
    wait_for(lambda: alias_version(mlflow, model, "challenger") is None, 30, "challenger cleared")
    status = wait_for(lambda: (s := env.status(model)).get("followed", {}).get("message") and s, 30,
                      "followed says the alias names nothing")
    assert status["stable"] == v2 and status["phase"] == "Promoted"
    assert status["followed"]["modelVersion"] == v2 and "names no version" in status["followed"]["message"]


def test_spec_target_pins_and_wins_over_the_alias(rollout_env: Env, mlflow: MlflowClient) -> None:
    env, model = rollout_env, unique("pinned")
    v1 = env.model_version(model, f"{model}-v1")
    v2 = env.model_version(model, f"{model}-v2")
    mlflow.set_registered_model_alias(model, "challenger", registry_version(env, v2))
    env.rollout(model, model, v1, gateway(model), STEPS, targetFrom={"alias": "challenger"})
    status = env.wait_promoted(model, v1)
    assert status.get("candidate") is None
    # Unpinning hands the choice to the alias: v2 goes through its steps.
    env.rollouts.patch(name=model, namespace=env.namespace, body={"spec": {"target": None}},
                       content_type="application/merge-patch+json", field_manager="sre-kubectl")
    status = env.wait_promoted(model, v2, timeout=60)
    assert started_steps(status) == ["canary-50", "full"]
