"""Beyond one operator, on the real control plane: two shards, each object reconciled by exactly one
operator; and a shard's two replicas, exactly one active, the other taking over when the leader is
killed or frozen — never both writing.

Each operator runs as a real ``python -m modelops`` subprocess whose every API request goes through
its own recording proxy (``tests/support/sharding.py``): who wrote which object is read off the
traffic. The session's shared operator owns only unlabelled objects (``--selector
!modelops.io/shard``), so it never touches these.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, dynamic

from localcluster.building import ensure_helm
from localcluster.cluster import LocalCluster
from modelops.core.sharding import SHARD_LABEL
from modelops.reconcilers.leading import lease_name
from tests.support.api_recorder import unexercised
from tests.support.chart import CHART, apply_rbac, one, render
from tests.support.examples import example_of
from tests.support.sharding import (
    admin_account,
    lease_holder,
    non_lease_requests,
    recorded_operator,
    wait_holder,
    written,
)
from tests.support.waiting import wait_for

API = "modelops.io/v1alpha1"
# Short enough for a bounded test, in the client-go proportions (duration > deadline > period).
TIMING = ("--lease-duration", "6", "--renew-deadline", "4", "--retry-period", "1")
LEASE_DURATION = 6.0
TAKEOVER_MARGIN = 12.0  # one retry period, reading the Lease, and a loaded machine


def _object(kind: str, name: str, shard: str) -> dict[str, Any]:
    doc = copy.deepcopy(example_of(kind))
    doc["metadata"] = {"name": name, "labels": {SHARD_LABEL: shard}}
    doc["spec"]["model"] = name
    return doc


def _apply(dyn: dynamic.DynamicClient, namespace: str, doc: dict[str, Any]) -> None:
    dyn.resources.get(api_version=API, kind=doc["kind"]).server_side_apply(
        body=doc, namespace=namespace, field_manager="shard-test")


def _conditions(dyn: dynamic.DynamicClient, namespace: str, kind: str, name: str) -> list[Any] | None:
    body = dyn.resources.get(api_version=API, kind=kind).get(name=name, namespace=namespace).to_dict()
    return (body.get("status") or {}).get("conditions") or None


def test_two_shards_reconcile_each_object_exactly_once(
    api: client.ApiClient, dyn: dynamic.DynamicClient, cluster: LocalCluster, namespace: str,
    other_namespace: str, tmp_path: Path,
) -> None:
    # Shard a: a label selector over every namespace. Shard b: a namespace list and a selector.
    args_a = ("--shard", "a", "--selector", f"{SHARD_LABEL}=a", "--lease-namespace", namespace,
              "--identity", "op-a", *TIMING)
    args_b = ("--shard", "b", "-n", namespace, "-n", other_namespace, "--selector", f"{SHARD_LABEL}=b",
              "--lease-namespace", namespace, "--identity", "op-b", *TIMING)
    objects = [(ns, kind, f"{kind.lower()}-{shard}-{i}", shard)
               for i, ns in enumerate((namespace, other_namespace))
               for kind in ("TrainingRun", "ModelVersion") for shard in ("a", "b")]
    with admin_account(api, namespace) as account, \
            recorded_operator(api, cluster, namespace, account, tmp_path / "a", args_a) as (op_a, proxy_a), \
            recorded_operator(api, cluster, namespace, account, tmp_path / "b", args_b) as (op_b, proxy_b):
        op_a.start()
        op_b.start()
        wait_holder(api, namespace, "modelops-shard-a", "op-a", 30)
        wait_holder(api, namespace, "modelops-shard-b", "op-b", 30)
        for ns, kind, name, shard in objects:
            _apply(dyn, ns, _object(kind, name, shard))
        for ns, kind, name, _ in objects:
            wait_for(lambda ns=ns, kind=kind, name=name: _conditions(dyn, ns, kind, name), 90,
                     f"{kind} {ns}/{name} reconciled by its shard's operator")
        time.sleep(2)  # any late write of the wrong operator would show now
        proxies = {"a": proxy_a, "b": proxy_b}
        for ns, kind, name, shard in objects:
            other = "b" if shard == "a" else "a"
            assert written(proxies[shard], ns, name), f"{kind} {ns}/{name}: no write by its shard's operator"
            assert written(proxies[other], ns, name) == [], \
                f"{kind} {ns}/{name} (shard {shard}) written by shard {other}'s operator"
        # Children carry their owner's shard (the ModelVersions' InferenceServices here), so a
        # shard's objects are listed with kubectl get -l modelops.io/shard=a.
        isvcs = dyn.resources.get(api_version="serving.kserve.io/v1beta1", kind="InferenceService")
        shards_of = {isvc["metadata"]["ownerReferences"][0]["name"]: isvc["metadata"]["labels"].get(SHARD_LABEL)
                     for ns in (namespace, other_namespace) for isvc in isvcs.get(namespace=ns).to_dict()["items"]}
        assert shards_of == {name: shard for _, kind, name, shard in objects if kind == "ModelVersion"}
        # Each operator keeps only its shard's objects.
        assert op_a.stored("TrainingRun") == 2 and op_b.stored("TrainingRun") == 2
        assert op_a.metrics().get('modelops_shard_leader{identity="op-a",shard="a"}') == 1.0


def _writes_of_models(proxy: Any, namespace: str) -> list[Any]:
    return [a for a in non_lease_requests(proxy)
            if a.verb in ("create", "update", "patch", "delete") and a.namespace == namespace
            and a.resource != "events"]


def test_a_shards_standby_takes_over_and_never_writes_with_the_leader(
    api: client.ApiClient, dyn: dynamic.DynamicClient, cluster: LocalCluster, namespace: str, tmp_path: Path,
) -> None:
    def args(identity: str) -> tuple[str, ...]:
        return ("--shard", "c", "--selector", f"{SHARD_LABEL}=c", "--lease-namespace", namespace,
                "--identity", identity, *TIMING)

    lease = "modelops-shard-c"
    with admin_account(api, namespace) as account, \
            recorded_operator(api, cluster, namespace, account, tmp_path / "r1", args("r1")) as (r1, proxy1), \
            recorded_operator(api, cluster, namespace, account, tmp_path / "r2", args("r2")) as (r2, proxy2):
        r1.start()
        wait_holder(api, namespace, lease, "r1", 30)
        r2.start()  # answers its liveness probe as a standby
        _apply(dyn, namespace, _object("ModelVersion", "mv-c-1", "c"))
        wait_for(lambda: _conditions(dyn, namespace, "ModelVersion", "mv-c-1"), 60, "mv-c-1 reconciled by r1")
        assert written(proxy1, namespace, "mv-c-1")
        # The standby made no request but on its Lease: no watch, no read, no write.
        assert non_lease_requests(proxy2) == [], non_lease_requests(proxy2)[:5]
        assert r2.metrics().get('modelops_shard_leader{identity="r2",shard="c"}') == 0.0

        # Kill the leader: the standby holds the Lease within leaseDuration + a margin, then reconciles.
        assert r1.proc is not None
        killed = time.monotonic()
        r1.kill()
        takeover = wait_holder(api, namespace, lease, "r2", LEASE_DURATION + TAKEOVER_MARGIN)
        _apply(dyn, namespace, _object("ModelVersion", "mv-c-2", "c"))
        wait_for(lambda: _conditions(dyn, namespace, "ModelVersion", "mv-c-2"), 60, "mv-c-2 reconciled by r2")
        assert written(proxy2, namespace, "mv-c-2") and written(proxy1, namespace, "mv-c-2") == []
        assert max(a.at for a in _writes_of_models(proxy1, namespace)) < killed
        assert min(a.at for a in _writes_of_models(proxy2, namespace)) > killed
        print(f"takeover after the leader was killed: {takeover:.1f} s (lease duration {LEASE_DURATION} s)")

        # Freeze the new leader (a paused VM): r1, back as a standby, takes over once the Lease
        # expires; the frozen one, resumed, exits without a single write.
        r1.start()
        assert r2.proc is not None
        os.killpg(r2.proc.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            wait_holder(api, namespace, lease, "r1", LEASE_DURATION + TAKEOVER_MARGIN)
            resumed = time.monotonic()
        finally:
            os.killpg(r2.proc.pid, signal.SIGCONT)
        code = r2.proc.wait(timeout=30)
        assert code == 3, f"the resumed ex-leader exited with {code}, not 3 (lost the lead):\n{r2.log_tail()}"
        assert "lost the lead of shard c" in r2.log_path.read_text()
        late = [a for a in _writes_of_models(proxy2, namespace) if a.at > frozen]
        assert late == [], late
        _apply(dyn, namespace, _object("ModelVersion", "mv-c-3", "c"))
        wait_for(lambda: _conditions(dyn, namespace, "ModelVersion", "mv-c-3"), 60, "mv-c-3 reconciled by r1")
        assert written(proxy2, namespace, "mv-c-3") == []
        assert lease_holder(api, namespace, lease) == "r1"
        print(f"takeover after the leader froze: {resumed - frozen:.1f} s")
        # A clean stop (a rolling update) releases the Lease rather than letting it expire.
        assert r1.stop() in (0, -15)
        assert lease_holder(api, namespace, lease) is None


def test_the_chart_runs_a_shard_with_leader_election(tmp_path: Path) -> None:
    helm = ensure_helm()
    values = {"shard": {"name": "a", "selector": f"{SHARD_LABEL}=a"}, "replicas": 2,
              "leaderElection": {"leaseDuration": 20, "renewDeadline": 12, "retryPeriod": 3}}
    docs = render(helm, CHART, "ml-platform", values, tmp_path)
    deployment = one(docs, "Deployment", "modelops")
    assert deployment["spec"]["replicas"] == 2 and deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for arg in ("--shard=a", f"--selector={SHARD_LABEL}=a", "--lease-duration=20", "--renew-deadline=12",
                "--retry-period=3"):
        assert arg in container["args"]
    assert {e["name"] for e in container["env"]} >= {"POD_NAME", "POD_NAMESPACE"}
    role = one(docs, "Role")
    assert role["metadata"]["namespace"] == "ml-platform"
    assert {(tuple(r["verbs"]), tuple(r.get("resourceNames", ()))) for r in role["rules"]} == {
        (("create",), ()), (("get", "update"), (lease_name("a"),))}
    assert one(docs, "RoleBinding")["subjects"][0]["name"] == "modelops"
    # Without a shard name: one replica, never overlapping, and no Lease permissions.
    plain = render(helm, CHART, "ml-platform")
    assert not [d for d in plain if d["kind"] in ("Role", "RoleBinding")]
    assert one(plain, "Deployment", "modelops")["spec"]["strategy"]["type"] == "Recreate"
    (tmp_path / "two.yaml").write_text(yaml.safe_dump({"replicas": 2}))
    refused = subprocess.run([str(helm), "template", "x", str(CHART), "-f", str(tmp_path / "two.yaml")],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "replicas > 1 needs shard.name" in refused.stderr


def test_the_charts_lease_role_is_all_a_replica_needs_to_lead(
    api: client.ApiClient, dyn: dynamic.DynamicClient, cluster: LocalCluster, namespace: str, tmp_path: Path,
) -> None:
    """The operator under only the chart's ServiceAccount (ClusterRole + the shard's Role) leads, renews
    and releases its Lease; every Lease permission of the Role is used, none refused."""
    docs = render(ensure_helm(), CHART, namespace, {"shard": {"name": "r", "selector": f"{SHARD_LABEL}=r"}}, tmp_path)
    apply_rbac(dyn, docs, namespace, f"modelops-shard-{namespace}")
    account = one(docs, "ServiceAccount", "modelops")["metadata"]["name"]
    args = ("--shard", "r", "--selector", f"{SHARD_LABEL}=r", "--lease-namespace", namespace,
            "--identity", "pod-1", *TIMING)
    with recorded_operator(api, cluster, namespace, account, tmp_path / "op", args) as (operator, proxy):
        operator.start()
        wait_holder(api, namespace, "modelops-shard-r", "pod-1", 60)
        time.sleep(3)  # a few renewals
        assert operator.stop() in (0, -15)
    assert lease_holder(api, namespace, "modelops-shard-r") is None  # released under the Role too
    leases = [a for a in proxy.recorded() if a.resource == "leases"]
    assert [a for a in leases if a.status == 403] == []
    assert unexercised(one(docs, "Role")["rules"], leases) == []
