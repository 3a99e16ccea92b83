"""What the operator refuses, and how it tells you — against the real API server (with the real
Gateway API, Istio and KServe CRDs), the operator as a subprocess and a real `mlflow server`.

Each test is a defect a newcomer or a hostile manifest found (issue 9) and proves the fix: the
operator never writes an object it did not create, never serves another model's version, lets
exactly one Rollout drive a model, moves nothing for a refused spec, turns a permanent rejection
into a condition and one Warning Event, says when a lineage names nothing, and lets one MLflow
model version have exactly one ModelVersion record.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tests.support.kserve_status import ready_status
from tests.support.kube import API, Namespace
from tests.support.manifests import REPO, documents
from tests.support.names import unique
from tests.support.operator import OperatorProcess
from tests.support.training import training_run
from tests.support.waiting import wait_for

ISVC_API = "serving.kserve.io/v1beta1"
GATEWAY = {"gatewayAPI": {"httpRoute": "ROUTE", "parentRefs": [{"name": "inference-gateway"}]}}
QUICK = [{"canary": {"weight": 50, "duration": "1m"}}, {"full": {}}]



class Env(Namespace):
    """The test namespace, with the ModelVersions and Rollouts these tests make."""

    def model_version(self, model: str, name: str, *, uri: str | None = None, ready: bool = True,
                      **spec: Any) -> str:
        self.apply({"apiVersion": API, "kind": "ModelVersion", "metadata": {"name": name},
                    "spec": {"model": model, "version": "1", "artifact": {
                        "storageUri": uri or f"s3://models/{name}/", "format": "sklearn"}, **spec}})
        if ready:
            wait_for(lambda: self.get(ISVC_API, "InferenceService", name), 30, f"InferenceService {name}")
            self.resource(ISVC_API, "InferenceService").status.patch(
                name=name, namespace=self.name, body={"status": ready_status(f"http://{name}")},
                content_type="application/merge-patch+json")
            wait_for(lambda: self.status("ModelVersion", name).get("ready") is True, 30, f"{name} Ready")
        return name

    def rollout(self, name: str, model: str, target: str, routing: dict[str, Any],
                steps: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        self.apply({"apiVersion": API, "kind": "Rollout", "metadata": {"name": name},
                    "spec": {"model": model, "target": target, "trafficRouting": routing,
                             "steps": steps or QUICK, **extra}})

    def role(self, name: str) -> str | None:
        return self.status("ModelVersion", name).get("role")


def gateway(route: str) -> dict[str, Any]:
    return {"gatewayAPI": {"httpRoute": route, "parentRefs": [{"name": "inference-gateway"}]}}


@pytest.fixture()
def env(dyn: dynamic.DynamicClient, api: client.ApiClient, namespace: str, operator: OperatorProcess) -> Env:
    return Env(dyn, api, namespace)


def alias(mlflow: MlflowClient, model: str, name: str) -> str | None:
    try:
        return str(mlflow.get_model_version_by_alias(model, name).version)
    except MlflowException:
        return None


# ------------------------------------------------------------------------ 1. foreign routes

def _foreign(kind: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the object a platform team made by hand, the Rollout's routing naming it)."""
    if kind == "HTTPRoute":
        return ({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
                 "spec": {"parentRefs": [{"name": "inference-gateway"}],
                          "rules": [{"backendRefs": [{"name": "legacy-scorer", "port": 80}]}]}},
                gateway(name))
    if kind == "VirtualService":
        return ({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": name},
                 "spec": {"hosts": ["scorer.example.com"],
                          "http": [{"route": [{"destination": {"host": "legacy-scorer"}}]}]}},
                {"istio": {"virtualService": name, "host": "scorer.example.com"}})
    return ({"apiVersion": ISVC_API, "kind": "InferenceService", "metadata": {"name": name},
             "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                              "storageUri": "s3://legacy/model/"}}}},
            {"kserve": {"inferenceService": name}})


@pytest.mark.parametrize("kind", ["HTTPRoute", "VirtualService", "InferenceService"])
def test_a_route_someone_else_made_is_refused_and_left_exactly_as_it_was(env: Env, kind: str) -> None:
    model, route = unique("scorer"), unique("shared")
    foreign, routing = _foreign(kind, route)
    env.apply(foreign, manager="platform-team")
    before = env.get(foreign["apiVersion"], kind, route)
    assert before is not None
    v1 = env.model_version(model, f"{model}-v1", ready=kind != "InferenceService")
    env.rollout(model, model, v1, routing, steps=[{"canary": {"weight": 50, "duration": "1m"}}])
    accepted = env.wait_condition("Rollout", model, "Accepted", "False", "RouteConflict")
    assert f"{kind} {route} already exists" in accepted["message"]
    assert "managed by platform-team" in accepted["message"]
    # Another reconcile (a spec change wakes it at once) changes nothing either.
    env.apply({"apiVersion": API, "kind": "Rollout", "metadata": {"name": model},
               "spec": {"model": model, "target": v1, "trafficRouting": routing, "approved": ["x"],
                        "steps": [{"canary": {"weight": 50, "duration": "1m"}}]}})
    env.wait_condition("Rollout", model, "Accepted", "False", "RouteConflict")
    after = env.get(foreign["apiVersion"], kind, route)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"].get("ownerReferences") is None and "labels" not in after["metadata"]
    assert len(env.events("Rollout", model, "RouteConflict")) == 1
    status = env.status("Rollout", model)
    assert status.get("stable") is None and status.get("phase") == "Idle"


def test_a_route_a_deleted_rollout_released_is_taken_back_by_its_successor(env: Env) -> None:
    model = unique("scorer")
    v1 = env.model_version(model, f"{model}-v1")
    env.rollout(model, model, v1, gateway(model))
    wait_for(lambda: env.status("Rollout", model).get("phase") == "Promoted", 60, "the first Rollout to promote")
    env.delete(API, "Rollout", model)
    wait_for(lambda: env.get(API, "Rollout", model) is None, 60, "the Rollout to go")
    released = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", model)
    assert released is not None and not released["metadata"].get("ownerReferences")
    assert released["metadata"]["annotations"]["modelops.io/released-from"] == f"Rollout/{model}"
    env.rollout(model, model, v1, gateway(model))
    env.wait_condition("Rollout", model, "Accepted", "True")
    retaken = wait_for(lambda: (r := env.get("gateway.networking.k8s.io/v1", "HTTPRoute", model))
                       and r["metadata"].get("ownerReferences") and r, 30, "the route to be owned again")
    assert "modelops.io/released-from" not in (retaken["metadata"].get("annotations") or {})


# ------------------------------------------------------------- 2. another model's version

def test_a_target_of_another_model_is_invalid_and_moves_nothing(env: Env, mlflow: MlflowClient) -> None:
    alpha, beta = unique("alpha"), unique("beta")
    env.model_version(alpha, f"{alpha}-v1")
    theirs = env.model_version(beta, f"{beta}-v1")
    wait_for(lambda: env.status("ModelVersion", theirs).get("registry", {}).get("version"), 30, "beta registered")
    env.rollout(alpha, alpha, theirs, gateway(alpha))
    accepted = env.wait_condition("Rollout", alpha, "Accepted", "False", "InvalidSpec")
    assert accepted["message"].startswith(f"spec.target: ModelVersion {theirs} is a version of model '{beta}'")
    env.stays(lambda: env.get("gateway.networking.k8s.io/v1", "HTTPRoute", alpha) is None, 3, "no route")
    assert env.status("Rollout", alpha).get("stable") is None
    assert alias(mlflow, beta, "champion") is None and env.role(theirs) == "none"


# ------------------------------------------------------------------ 3. one Rollout per model

def test_the_oldest_rollout_drives_a_model_and_the_next_takes_over_when_it_goes(
        env: Env, dyn: dynamic.DynamicClient, api: client.ApiClient, other_namespace: str,
        mlflow: MlflowClient) -> None:
    model = unique("fraud")
    v1, v2 = env.model_version(model, f"{model}-v1"), env.model_version(model, f"{model}-v2")
    env.rollout("first", model, v1, gateway("first"))
    wait_for(lambda: env.status("Rollout", "first").get("phase") == "Promoted", 60, "first promoted")
    env.rollout("second", model, v2, gateway("second"))
    accepted = env.wait_condition("Rollout", "second", "Accepted", "False", "RolloutConflict")
    assert f"Rollout {env.name}/first already drives model {model}" in accepted["message"]
    elsewhere = Env(dyn, api, other_namespace)
    v9 = elsewhere.model_version(model, f"{model}-v9")
    elsewhere.rollout("third", model, v9, gateway("third"))
    across = elsewhere.wait_condition("Rollout", "third", "Accepted", "False", "RolloutConflict")
    assert f"Rollout {env.name}/first already drives model {model}" in across["message"]
    # The refused ones touched no route, no alias and no role.
    assert env.get("gateway.networking.k8s.io/v1", "HTTPRoute", "second") is None
    assert elsewhere.get("gateway.networking.k8s.io/v1", "HTTPRoute", "third") is None
    wait_for(lambda: alias(mlflow, model, "champion") is not None, 30, "the champion alias")
    champion = env.status("ModelVersion", v1)["registry"]["version"]
    assert alias(mlflow, model, "champion") == champion
    assert env.role(v1) == "champion" and env.role(v2) == "none" and elsewhere.role(v9) == "none"
    assert len(env.events("Rollout", "second", "RolloutConflict")) == 1
    # The driver goes: the oldest of the others (second, in this namespace) takes over at once.
    env.delete(API, "Rollout", "first")
    env.wait_condition("Rollout", "second", "Accepted", "True", timeout=30)
    wait_for(lambda: env.status("Rollout", "second").get("stable") == v2, 30, "second to serve v2")
    wait_for(lambda: env.role(v2) == "champion", 30, "v2 to become champion")
    assert elsewhere.condition("Rollout", "third", "Accepted")["reason"] == "RolloutConflict"  # type: ignore[index]


# ---------------------------------------------------------------- 4. a refused spec moves nothing

def test_a_rollout_refused_by_the_capability_check_moves_nothing(env: Env, mlflow: MlflowClient) -> None:
    model = unique("churn")
    v1 = env.model_version(model, f"{model}-v1", ready=False)
    wait_for(lambda: env.status("ModelVersion", v1).get("registry", {}).get("version"), 30, "v1 registered")
    env.rollout(model, model, v1, {"kserve": {"inferenceService": f"{model}-shared"}},
                steps=[{"shadow": {"mirrorPercent": 100, "duration": "1m"}}, {"full": {}}])
    accepted = env.wait_condition("Rollout", model, "Accepted", "False", "InvalidSpec")
    assert "spec.steps[0].shadow: the kserve router cannot mirror traffic" in accepted["message"]
    env.stays(lambda: env.get(ISVC_API, "InferenceService", f"{model}-shared") is None, 3,
              "no InferenceService for a refused Rollout")
    status = env.status("Rollout", model)
    assert status.get("stable") is None and status.get("phase") == "Idle"
    assert alias(mlflow, model, "champion") is None and env.role(v1) == "none"


# -------------------------------------------------------- 5. permanent errors are conditions

@pytest.fixture()
def memory_policy(api: client.ApiClient, env: Env) -> Iterator[str]:
    """A ValidatingAdmissionPolicy, as a platform team would have, refusing Jobs that request more
    than 4Gi of memory in the test namespace: the API server answers 422 naming the field."""
    name = f"jobs-memory-{env.name}"
    custom = client.CustomObjectsApi(api)
    group, version = "admissionregistration.k8s.io", "v1"
    custom.create_cluster_custom_object(group, version, "validatingadmissionpolicies", {
        "apiVersion": f"{group}/{version}", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name},
        "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [
            {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
             "resources": ["jobs"]}]},
                 "validations": [{
                     "expression": "object.spec.template.spec.containers.all(c, !has(c.resources) || "
                                   "!has(c.resources.requests) || !('memory' in c.resources.requests) || "
                                   "quantity(c.resources.requests['memory']).compareTo(quantity('4Gi')) <= 0)",
                     "message": "spec.template.spec.containers[].resources.requests.memory: training Jobs may "
                                "request at most 4Gi (policy jobs-memory)",
                     "reason": "Invalid"}]}})
    custom.create_cluster_custom_object(group, version, "validatingadmissionpolicybindings", {
        "apiVersion": f"{group}/{version}", "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"], "matchResources": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": env.name}}}}})
    probe = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "probe"}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
                                                   "resources": {"requests": {"memory": "8Gi"}}}]}}}}

    def denied() -> bool:
        try:
            client.BatchV1Api(api).create_namespaced_job(env.name, probe, dry_run="All")
        except ApiException as error:
            return error.status == 422
        return False

    wait_for(denied, 30, "the admission policy to take effect")
    yield name
    custom.delete_cluster_custom_object(group, version, "validatingadmissionpolicybindings", name)
    custom.delete_cluster_custom_object(group, version, "validatingadmissionpolicies", name)


def test_a_job_the_api_server_refuses_is_a_condition_and_clears_when_the_spec_is_fixed(
        env: Env, memory_policy: str) -> None:
    name, model = unique("train"), unique("fraud")
    body = training_run(name, model=model, resources={"cpu": "2", "memory": "8Gi", "gpus": 1})
    env.apply(body)
    accepted = env.wait_condition("TrainingRun", name, "Accepted", "False", "JobRejected")
    assert "training Jobs may request at most 4Gi (policy jobs-memory)" in accepted["message"]
    assert "422" in accepted["message"] and "resources" in accepted["message"]
    assert env.status("TrainingRun", name).get("phase") == "Pending"
    assert len(env.events("TrainingRun", name, "JobRejected")) == 1
    body["spec"]["resources"]["memory"] = "2Gi"
    env.apply(body)
    env.wait_condition("TrainingRun", name, "Accepted", "True", timeout=30)
    wait_for(lambda: env.get("batch/v1", "Job", name), 30, "the Job, once the spec is fixed")


def test_a_rollout_with_a_name_longer_than_a_label_value_works(env: Env) -> None:
    name = ("a-rollout-whose-name-is-much-longer-than-sixty-three-characters-" + uuid.uuid4().hex[:6])
    assert len(name) > 63
    model = unique("fraud")
    v1 = env.model_version(model, f"{model}-v1")
    env.rollout(name, model, v1, gateway(model))
    wait_for(lambda: env.status("Rollout", name).get("phase") == "Promoted", 60, "the long-named Rollout")
    route = env.get("gateway.networking.k8s.io/v1", "HTTPRoute", model)
    assert route is not None
    label = route["metadata"]["labels"]["modelops.io/rollout"]
    assert len(label) <= 63 and label.startswith(name[:40]) and label != name[:63]


def test_a_registration_mlflow_refuses_is_a_condition_naming_its_message(env: Env) -> None:
    model = unique("fraud")
    name = env.model_version(model, f"{model}-v1", uri="s3://models/../secrets/model/", ready=False)
    registered = env.wait_condition("ModelVersion", name, "Registered", "False", "RegistryRejected")
    assert "Invalid model version source" in registered["message"] and "400" in registered["message"]
    assert len(env.events("ModelVersion", name, "RegistryRejected")) == 1


# ------------------------------------------------------------------------ 7. lineage gaps

def test_a_lineage_naming_a_trainingrun_that_does_not_exist_is_said(env: Env) -> None:
    model = unique("fraud")
    name = env.model_version(model, f"{model}-v1", ready=False, lineage={"trainingRun": "no-such-run"})
    lineage = env.wait_condition("ModelVersion", name, "LineageComplete", "False", "TrainingRunNotFound")
    assert "no-such-run" in lineage["message"] and "the record is kept" in lineage["message"]
    assert env.get(API, "ModelVersion", name) is not None


# ------------------------------------------------------------- 8. one record per registry version

def test_a_registry_version_another_record_claims_is_refused_and_its_tags_kept(
        env: Env, mlflow: MlflowClient) -> None:
    model = unique("fraud")
    first = env.model_version(model, f"{model}-v1", ready=False)
    version = wait_for(lambda: env.status("ModelVersion", first).get("registry", {}).get("version"), 30,
                       "the first record registered")
    uid = env.get(API, "ModelVersion", first)["metadata"]["uid"]  # type: ignore[index]
    second = env.model_version(model, f"{model}-again", uri=f"models:/{model}/{version}", ready=False)
    registered = env.wait_condition("ModelVersion", second, "Registered", "False", "VersionClaimed")
    assert f"already recorded by ModelVersion {env.name}/{first}" in registered["message"]
    assert mlflow.get_model_version(model, version).tags["modelops.io/uid"] == uid
    env.stays(lambda: env.get(ISVC_API, "InferenceService", second) is None, 2,
              "no InferenceService serving another record's artifact")


def _example_model_versions() -> list[dict[str, Any]]:
    """The examples' versions of the fraud-detector family (02, 03, 04): the ones a quick start
    registers side by side, where a models:/ URI can meet a version another example registered."""
    found = []
    for path in sorted((REPO / "examples").glob("0*.yaml")):
        found += [doc for doc in documents(path)
                  if doc["kind"] == "ModelVersion" and doc["spec"]["model"].startswith("fraud-detector")]
    return found


def test_the_examples_claim_each_registry_version_once_in_every_order(
        dyn: dynamic.DynamicClient, api: client.ApiClient, operator: OperatorProcess, mlflow: MlflowClient) -> None:
    """Every order of the examples' ModelVersions, each order in a namespace and registered model
    of its own, applied one after another: no registry version is recorded by two records."""
    examples = _example_model_versions()
    assert len(examples) == 4, [doc["metadata"]["name"] for doc in examples]
    orders = list(itertools.permutations(range(len(examples))))
    core = client.CoreV1Api(api)
    failures: list[str] = []

    def run(order: tuple[int, ...], index: int) -> None:
        namespace = f"t-order-{index}-{uuid.uuid4().hex[:5]}"
        core.create_namespace({"metadata": {"name": namespace, "labels": {"modelops.io/test": "true"}}})
        env = Env(dyn, api, namespace)
        model = f"examples-{index}-{uuid.uuid4().hex[:4]}"
        try:
            names = []
            for position in order:
                doc = _renamed(examples[position], model)
                env.apply(doc)
                names.append(doc["metadata"]["name"])
                wait_for(lambda n=doc["metadata"]["name"]: env.condition("ModelVersion", n, "Registered"), 60,
                         f"{doc['metadata']['name']} to say whether it is registered")
            claims: dict[tuple[str, str], str] = {}
            for name in names:
                record = env.status("ModelVersion", name).get("registry") or {}
                if record.get("version"):
                    key = (record["name"], str(record["version"]))
                    if key in claims:
                        failures.append(f"order {order}: {name} and {claims[key]} both record {key}")
                    claims[key] = name
                    uid = env.get(API, "ModelVersion", name)["metadata"]["uid"]  # type: ignore[index]
                    tags = mlflow.get_model_version(*key).tags
                    if tags.get("modelops.io/uid") != uid:
                        failures.append(f"order {order}: {key} is tagged {tags.get('modelops.io/uid')}, not {name}")
        finally:
            core.delete_namespace(namespace, propagation_policy="Background")

    threads = [threading.Thread(target=run, args=(order, i)) for i, order in enumerate(orders)]
    for start in range(0, len(threads), 6):
        batch = threads[start:start + 6]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join(timeout=300)
    assert not failures, "\n".join(failures)


def _renamed(doc: dict[str, Any], model: str) -> dict[str, Any]:
    """The example as a version of ``model`` (one registered model per order: registry versions are
    numbered per model), its ``models:/`` URI pointing into that model — so the example that
    resolves a registry version meets, in some orders, a version another example registered."""
    spec = dict(doc["spec"])
    artifact = dict(spec["artifact"])
    if artifact["storageUri"].startswith("models:/"):
        artifact["storageUri"] = f"models:/{model}/" + artifact["storageUri"].rsplit("/", 1)[-1]
    spec.update(model=model, artifact=artifact)
    return {**doc, "metadata": {"name": doc["metadata"]["name"]}, "spec": spec}


# ------------------------------------------------------------- 9. status says what is true now

def test_status_says_what_is_true_now_after_a_rollback_and_spec_changes(env: Env, mlflow: MlflowClient) -> None:
    model = unique("fraud")
    v1, v2 = env.model_version(model, f"{model}-v1"), env.model_version(model, f"{model}-v2")
    env.rollout(model, model, v1, gateway(model), steps=[{"canary": {"weight": 50, "duration": "1h"}}])
    wait_for(lambda: env.status("Rollout", model).get("phase") == "Promoted", 60, "v1 promoted")
    env.rollout(model, model, v2, gateway(model), steps=[{"canary": {"weight": 50, "duration": "1h"}}])
    wait_for(lambda: (env.status("Rollout", model).get("registry") or {}).get("challenger") == v2, 60,
             "the challenger alias recorded")
    challenger = env.status("ModelVersion", v2)["registry"]["version"]
    assert alias(mlflow, model, "challenger") == challenger
    env.rollout(model, model, v1, gateway(model), steps=[{"canary": {"weight": 50, "duration": "1h"}}])
    wait_for(lambda: env.status("Rollout", model).get("phase") == "RolledBack", 60, "the rollback")
    wait_for(lambda: "challenger" not in (env.status("Rollout", model).get("registry") or {}), 30,
             "status.registry without a challenger once MLflow has none")
    assert alias(mlflow, model, "challenger") is None
    for paused in (True, False, True):
        env.rollout(model, model, v1, gateway(model), steps=[{"canary": {"weight": 50, "duration": "1h"}}],
                    paused=paused)
    rollout = wait_for(lambda: (r := env.get(API, "Rollout", model)) and r["status"].get("observedGeneration")
                       == r["metadata"]["generation"] and r, 30, "the last spec observed")
    stale = [c["type"] for c in rollout["status"]["conditions"]
             if c.get("observedGeneration") != rollout["metadata"]["generation"]]
    assert stale == [], f"conditions describing an older generation: {stale}"
