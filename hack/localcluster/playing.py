"""Plays a training container on the local cluster, where kwok only pretends to run Pods: runs
examples/training/train.py here with the exact environment the operator put on the TrainingRun's
Job, then relabels the held Pod so kwok lets it finish (succeed, or fail if the script failed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from kubernetes import client, config

from localcluster.nodepools import OUTCOME_LABEL

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = REPO_ROOT / "examples" / "training" / "train.py"


def play_training(kubeconfig: Path, namespace: str, run_name: str, *, degrade: float = 0.0,
                  timeout: float = 120, out: Callable[[str], None] = print, log: IO[str] | None = None) -> int:
    """Play the run's container once its Pod runs; the script's output goes to ``log`` (default:
    this process's), the lines saying what was played to ``out``."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        custom, batch, core = client.CustomObjectsApi(api), client.BatchV1Api(api), client.CoreV1Api(api)
        deadline = time.monotonic() + timeout
        while True:
            run = custom.get_namespaced_custom_object("modelops.io", "v1alpha1", namespace, "trainingruns",
                                                      run_name)
            job_name = (run.get("status") or {}).get("job")
            pods = core.list_namespaced_pod(namespace, label_selector=f"modelops.io/trainingrun={run_name}").items
            running = [p for p in pods if p.status.phase == "Running"]
            if job_name and running:
                break
            if time.monotonic() > deadline:
                out(f"no Running training Pod for {namespace}/{run_name} after {timeout}s")
                return 1
            time.sleep(0.5)
        job = batch.read_namespaced_job(job_name, namespace)
        job_env = {e.name: e.value or "" for e in job.spec.template.spec.containers[0].env}
        env = {**os.environ, **job_env, "MODELOPS_TRAIN_DEGRADE": str(degrade)}
        out(f"playing {namespace}/{run_name}: {TRAIN_SCRIPT.name} with MLFLOW_RUN_ID={job_env['MLFLOW_RUN_ID']}")
        result = subprocess.run([sys.executable, str(TRAIN_SCRIPT)], env=env, check=False, stdout=log,
                                stderr=subprocess.STDOUT if log is not None else None)
        outcome = "succeed" if result.returncode == 0 else "fail"
        core.patch_namespaced_pod(running[0].metadata.name, namespace,
                                  {"metadata": {"labels": {OUTCOME_LABEL: outcome}}})
        out(f"Pod {running[0].metadata.name} released to {outcome}")
        return result.returncode
    finally:
        api.close()
