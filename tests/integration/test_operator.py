"""The running operator acknowledges every kind, follows spec changes, and does not write when
nothing changed (a restart re-reads every object and must leave them untouched)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kubernetes import dynamic

from localcluster.cluster import LocalCluster, free_port
from tests.support.examples import KINDS, example_of
from tests.support.manifests import apply
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for


def _acknowledged(resource: dynamic.Resource, name: str, namespace: str, generation: int) -> dict | None:
    obj = resource.get(name=name, namespace=namespace).to_dict()
    status = obj.get("status") or {}
    if status.get("observedGeneration") != generation:
        return None
    accepted = [c for c in status.get("conditions") or [] if c["type"] == "Accepted"]
    if not accepted or accepted[0].get("observedGeneration") != generation:
        return None
    return obj


def test_spec_change_is_followed_and_restart_writes_nothing(
    dyn: dynamic.DynamicClient, namespace: str, operator: OperatorProcess
) -> None:
    objects = []
    for kind in KINDS:
        doc = example_of(kind)
        if kind == "DriftMonitor":  # it watches the Rollout applied here (a reference to nothing is refused)
            doc["spec"]["modelRef"] = {"kind": "Rollout", "name": objects[2][1]["metadata"]["name"]}
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=kind)
        apply(dyn, doc, namespace)
        obj = wait_for(lambda r=resource, d=doc: _acknowledged(r, d["metadata"]["name"], namespace, 1),
                       30, f"{kind} acknowledged at generation 1")
        accepted = next(c for c in obj["status"]["conditions"] if c["type"] == "Accepted")
        assert accepted["status"] == "True" and accepted["reason"] == "Valid"
        objects.append((resource, doc, obj))

    # A spec change bumps generation; the operator follows it without moving the transition time.
    resource, doc, before = objects[0]
    assert doc["kind"] == "TrainingRun"
    name = doc["metadata"]["name"]
    first_transition = next(c for c in before["status"]["conditions"]
                            if c["type"] == "Accepted")["lastTransitionTime"]
    time.sleep(1.1)  # so a wrongly moved transition time would differ
    changed = {**doc, "spec": {**doc["spec"], "seed": int(doc["spec"].get("seed", 0)) + 1}}
    apply(dyn, changed, namespace)
    after = wait_for(lambda: _acknowledged(resource, name, namespace, 2), 30, "generation 2 acknowledged")
    accepted = next(c for c in after["status"]["conditions"] if c["type"] == "Accepted")
    assert accepted["lastTransitionTime"] == first_transition, "status did not flip: time must not move"

    # Restart: resume handlers see every object again; nothing changed, so nothing is written.
    versions = {o[1]["metadata"]["name"] + o[1]["kind"]:
                o[0].get(name=o[1]["metadata"]["name"], namespace=namespace).metadata.resourceVersion
                for o in objects}
    operator.stop()
    operator.start()
    # The positive signal: the restarted operator has reconciled every object it knows of.
    wait_for(lambda: all(operator.reconciled(kind) >= operator.stored(kind) > 0 for kind in KINDS), 60,
             "the restarted operator to reconcile every object")
    for resource, doc, _ in objects:
        current = resource.get(name=doc["metadata"]["name"], namespace=namespace).metadata.resourceVersion
        assert current == versions[doc["metadata"]["name"] + doc["kind"]], f"{doc['kind']} was rewritten"


def test_kopf_run_entry_point_starts(cluster: LocalCluster, tmp_path: Path) -> None:
    """`kopf run -m modelops.main` is the other documented way to start the operator."""
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "kopf"), "run", "-m", "modelops.main", "--standalone",
         "--all-namespaces", f"--liveness=http://127.0.0.1:{port}/healthz"],
        env=env, stdout=open(tmp_path / "kopf.log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )
    try:
        def live() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                return response.status == 200
        wait_for(live, 60, "kopf run to serve liveness")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "modelops settings: finalizer=modelops.io/finalizer" in (tmp_path / "kopf.log").read_text()
