"""``make dev``'s loop (hack/localcluster/dev_loop.py) against the real local stack: the test
cluster, the operator, the real MLflow, the real prediction-log sink and the real Prometheus the
Rollout's analysis queries. Its view is drawn into a recording rich console (a frame a second, as
the Live display draws it in a terminal), and what the recording shows is asserted: the quick start
(examples/00-quickstart.yaml, its model renamed to keep the session's registry apart) trained twice
by the real examples/training/train.py, served by real KServe model servers behind KServe's agent
under real load, the retrained version taken through shadow → canary 25% → canary 50% → full by
the Rollout following the alias ``challenger``, and promoted.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import dynamic
from rich.console import Console, RenderableType

from localcluster.cluster import LocalCluster
from localcluster.dev_loop import QUICKSTART, DevLoop
from localcluster.logsink_server import LogSinkServer
from localcluster.mlflow_server import MLflowServer
from tests.support.names import unique
from tests.support.operator import OperatorProcess
from tests.support.rollouts import API, started_steps

# Seconds the quick start may take: a hang guard. About 2 minutes on 2 idle cores; 5-6 minutes when
# several test sessions share them (each training then takes over a minute, each model server ~40 s).
BOUND = 480


def renamed_quickstart(directory: Path, model: str) -> Path:
    assert QUICKSTART.name == "00-quickstart.yaml"  # what `make dev` applies
    docs = [doc for doc in yaml.safe_load_all(QUICKSTART.read_text()) if doc]
    for doc in docs:
        doc["spec"]["model"] = model
    path = directory / QUICKSTART.name
    path.write_text(yaml.safe_dump_all(docs))
    return path


# pytest-timeout counts the session fixtures this test may be the first to start (the cluster, MLflow:
# minutes on a loaded machine) on top of BOUND.
@pytest.mark.timeout(BOUND + 600)
def test_the_dev_loop_shows_training_the_rollout_steps_and_the_promotion_live(
        cluster: LocalCluster, dyn: dynamic.DynamicClient, namespace: str, operator: OperatorProcess,
        mlflow_server: MLflowServer, log_sink: LogSinkServer, tmp_path: Path) -> None:
    model = unique("quickstart")
    live = {"mlflow": mlflow_server.url, "artifactRoot": str(mlflow_server.artifact_root), "logSink": log_sink.url}
    view = (tmp_path / "view.txt").open("w")  # the frames as they are drawn, for a human to follow
    console = Console(record=True, file=view, width=160, color_system=None)
    frames: list[float] = []

    def show(frame: RenderableType) -> None:
        console.rule(f"frame {len(frames)}")
        console.print(frame)
        frames.append(time.monotonic())
        view.flush()

    stop = threading.Event()
    started = time.monotonic()
    with open(tmp_path / "training.log", "w") as log:
        loop = DevLoop(dyn, cluster.kubeconfig, namespace, tmp_path, live, show, log=log,
                       example=renamed_quickstart(tmp_path, model))
        thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
        thread.start()
        try:
            ran = loop.quickstart.done.wait(timeout=BOUND)
            ran_after = time.monotonic() - started
            shown = len(frames)
            while len(frames) < shown + 2 and thread.is_alive():  # the view after the promotion
                time.sleep(0.2)
        finally:
            stop.set()
            thread.join(timeout=60)
            view.close()
    recording = console.export_text()
    print(f"quick start ran in {ran_after:.0f}s, {len(frames)} frames; the view: {tmp_path / 'view.txt'}")
    last = recording[recording.rindex("frame "):]
    assert ran, f"the quick start did not finish in {BOUND}s:\n{last}\n{loop.events.tail(40)}"
    assert not thread.is_alive(), "the loop did not stop"
    assert loop.serving.drivers == {} and loop.serving.player.served() == {}, "serving left running"

    # What the cluster says: v1 the champion at once, v2 through every step, promoted.
    v1, v2 = f"{model}-v1", f"{model}-v2"
    assert loop.quickstart.promoted == [v1, v2]
    rollouts = dyn.resources.get(api_version=API, kind="Rollout")
    status = rollouts.get(name="quickstart", namespace=namespace).to_dict()["status"]
    assert status["phase"] == "Promoted" and status["stable"] == v2
    assert started_steps(status)[-4:] == ["shadow", "canary-25", "canary-50", "full"], status["history"]

    # What the view showed, frame by frame.
    lines = [line.strip(" │") for line in recording.splitlines()]
    for run in ("quickstart-train-1", "quickstart-train-2"):
        assert any(run in line and "Running" in line for line in lines), f"{run} never shown Running"
        assert any(run in line and "Succeeded" in line and "auc" in line and f"{model}-v" in line
                   for line in lines), f"{run} never shown Succeeded with its metrics and ModelVersion"
    for step in ("shadow", "canary-25", "canary-50"):
        assert any(line.startswith(f"▶ {step}") for line in lines), f"step {step} never shown running"
        assert any(line.startswith(f"{step}: held") and "━" in line for line in lines), \
            f"no progress bar for {step}"
    assert any("mirror 100%" in line for line in lines), "the shadow's mirror never shown"
    assert any("candidate 25%" in line for line in lines) and any("candidate 50%" in line for line in lines)
    assert any(line.startswith("error-rate") and "Successful" in line for line in lines)
    assert any(line.startswith("latency-p99") and "Successful" in line for line in lines)
    assert any(line.strip(" │").startswith(f"stable   {v2}") for line in last.splitlines()), last
    assert "phase    Promoted" in last and "stable 100%" in last, last
    assert any(f"{v2} promoted" in line for line in lines), "the promotion never shown in the latest lines"
    assert "the quick start ran" in last
