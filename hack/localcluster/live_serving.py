"""``localcluster serve --real``: the serving path of one namespace on real parts, next to ``make dev``.

Runs a ``KServePlayer`` (kserve_player.py: a real model server behind KServe's agent for every
predictor the operator's InferenceServices name, and KServe's status once it answers) and, for every
Rollout of the namespace, a ``LoadDriver`` (load.py: real calls split by the route the Rollout owns,
labels to the sink). A Rollout that appears gets a driver at the next tick; one that goes, its
driver stopped. The sink and MLflow are ``dev``'s, read from ``DIR/serve.json`` (``record_live``):
the agents log to the sink the operator's InferenceServices name, and its metrics are what the
Rollouts' analysis reads through ``dev``'s Prometheus.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import dynamic

from localcluster.kserve_player import KServePlayer
from localcluster.load import LoadDriver

ROLLOUT_API = ("modelops.io/v1alpha1", "Rollout")
LIVE_KEYS = ("mlflow", "artifactRoot", "logSink")


def record_live(record: Path, *, mlflow_url: str, artifact_root: Path, log_sink_url: str) -> None:
    """Add what ``serve --real`` needs to ``dev``'s record (serving.record_dev_ports wrote it)."""
    data: dict[str, Any] = json.loads(record.read_text()) if record.exists() else {}
    data.update({"mlflow": mlflow_url, "artifactRoot": str(artifact_root), "logSink": log_sink_url})
    record.write_text(json.dumps(data, indent=2))


def read_live(record: Path) -> dict[str, str] | None:
    """``dev``'s MLflow, artifact root and sink, or None when no ``dev`` recorded them."""
    if not record.exists():
        return None
    data = json.loads(record.read_text())
    return {key: str(data[key]) for key in LIVE_KEYS} if all(key in data for key in LIVE_KEYS) else None


class LiveServing:
    """``with LiveServing(dyn, "demo", directory, live) as serving: serving.run(stop)``"""

    def __init__(self, dyn: dynamic.DynamicClient, namespace: str, directory: Path, live: dict[str, str], *,
                 rate: float = 20.0, shift: float = 0.0, out: Callable[[str], None] = print) -> None:
        self.dyn, self.namespace, self.live = dyn, namespace, live
        self.rate, self.shift, self.out = rate, shift, out
        self.player = KServePlayer(dyn, namespace, directory, artifact_root=Path(live["artifactRoot"]),
                                   mlflow_url=live["mlflow"], play_unreadable=True, out=out)
        self.rollouts = dyn.resources.get(api_version=ROLLOUT_API[0], kind=ROLLOUT_API[1])
        self.drivers: dict[str, LoadDriver] = {}

    def tick(self) -> None:
        self.player.tick()
        names = {r["metadata"]["name"] for r in self.rollouts.get(namespace=self.namespace).to_dict()["items"]}
        for name in sorted(set(self.drivers) - names):
            self.drivers.pop(name).stop()
            self.out(f"Rollout {name}: gone, its load stopped")
        for name in sorted(names - set(self.drivers)):
            self.drivers[name] = LoadDriver(self.dyn, self.namespace, name, self.player.endpoint, self.live["logSink"],
                                            rate=self.rate, shift=self.shift, out=self.out).start()
            self.out(f"Rollout {name}: {self.rate:g} requests/s on its route, labels to {self.live['logSink']}")

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        last = ""
        while True:
            try:
                self.tick()
                last = ""
            except Exception as error:  # keep serving: the API server may be restarting
                message = f"{type(error).__name__}: {error}".splitlines()[0]
                if message != last:
                    self.out(f"error (retrying every {interval:g}s): {message}")
                last = message
            if stop.wait(interval):
                return

    def close(self) -> None:
        for driver in self.drivers.values():
            driver.stop()
        self.drivers.clear()
        self.player.close()

    def __enter__(self) -> LiveServing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
