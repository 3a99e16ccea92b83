"""The load driver: real HTTP inference requests to the real model servers, split the way the route
object a Rollout owns says, with delayed labels posted to the prediction-log sink.

Every second it reads, from the API server, the Rollout (``status.route``, ``spec.model``, the
``metric`` of its abTest steps) and the route object it names (route_reading.py), and sends
``rate`` KServe v1 ``predict`` calls (one instance each) spread over that second: split by the
route's weights between its backends' Services, with the mirrored share copied to the mirror's
Service (that answer is discarded: it serves nobody and is never labelled), carrying the headers the
route sets (the stage header the sink records). A Service is resolved to the agent URL in front of
its model server by ``endpoints`` (``KServePlayer.endpoint``, as kube-proxy resolves a Service).

Inputs are rows of scikit-learn's breast-cancer data set (the one examples/training/train.py
trains on, shipped in the package), drawn at random with a fixed seed; ``shift`` moves every
feature by that many of its standard deviations (drifted traffic). ``label_delay`` seconds after a
served call answered, its label is posted to the sink's ``/labels``: ``label`` the true class (1 =
malignant, train.py's convention) and, for each abTest metric, ``outcome`` success when the
prediction (the class with the larger probability) was right: a worse model has worse outcomes.

Each call carries its own ``Ce-Id`` (the agent logs it as the request id, so a label names it); a
mirrored copy gets another id, so a label never lands on the shadow's prediction (a mesh would copy
the header; a label joined to both predictions would credit the shadow with an outcome it never
served). Counts per second are deterministic (fractional shares carried over), so the served split
matches the weights. What it did is in ``stats`` and ``splits`` (every distinct split it applied).
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from kubernetes import dynamic
from sklearn.datasets import load_breast_cancer

from localcluster.route_reading import ROUTE_API_VERSIONS, Split, read_split

ROLLOUT_API = ("modelops.io/v1alpha1", "Rollout")
Endpoint = tuple[str, str]  # (agent URL, model name the server serves)


@dataclass(frozen=True)
class _Sent:
    request_id: str
    true_class: int
    due: float
    predicted: int
    tries: int = 0


def dataset(shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, true classes): breast_cancer, class 1 = malignant, shifted by ``shift`` std devs."""
    data = load_breast_cancer()
    rows = np.asarray(data.data, dtype=float)
    return rows + shift * rows.std(axis=0), (np.asarray(data.target) == 0).astype(int)


class LoadDriver:
    """``with LoadDriver(dyn, ns, "fraud", player.endpoint, sink_url, rate=20): ...``"""

    def __init__(self, dyn: dynamic.DynamicClient, namespace: str, rollout: str,
                 endpoints: Callable[[str], Endpoint | None], sink_url: str, *, rate: float = 20.0,
                 label_delay: float = 2.0, shift: float = 0.0, seed: int = 7, workers: int = 8,
                 out: Callable[[str], None] = print) -> None:
        self.dyn, self.namespace, self.rollout = dyn, namespace, rollout
        self.endpoints, self.sink_url = endpoints, sink_url.rstrip("/")
        self.rate, self.label_delay = rate, label_delay
        self.random = random.Random(seed)
        self.rows, self.classes = dataset(shift)
        self.out = out
        self.rollouts = dyn.resources.get(api_version=ROLLOUT_API[0], kind=ROLLOUT_API[1])
        self.stats: Counter[str] = Counter()
        self.splits: list[Split] = []
        self.errors: list[str] = []
        # (request id, Service, headers) of the latest served calls that answered 200.
        self.answered: deque[tuple[str, str, dict[str, str]]] = deque(maxlen=5000)
        self._carry: dict[tuple[str, bool], float] = {}
        self._pending: list[_Sent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"load-{rollout}")
        self._thread = threading.Thread(target=self._run, name=f"load-{rollout}", daemon=True)

    def set_shift(self, shift: float) -> None:
        """Shift the inputs from now on (``shift`` standard deviations per feature)."""
        self.rows, self.classes = dataset(shift)

    # -- reading ------------------------------------------------------------------------------

    def _read(self) -> tuple[Split | None, list[str]]:
        items = self.rollouts.get(namespace=self.namespace,
                                  field_selector=f"metadata.name={self.rollout}").to_dict()["items"]
        if not items:
            return None, []
        rollout = items[0]
        metrics = sorted({(s.get("abTest") or {}).get("metric") for s in (rollout.get("spec") or {}).get("steps") or []
                          if (s.get("abTest") or {}).get("metric")})
        kind, _, name = ((rollout.get("status") or {}).get("route") or "").partition("/")
        if kind not in ROUTE_API_VERSIONS or not name:
            return None, metrics
        resource = self.dyn.resources.get(api_version=ROUTE_API_VERSIONS[kind], kind=kind)
        found = resource.get(namespace=self.namespace, field_selector=f"metadata.name={name}").to_dict()["items"]
        return read_split(kind, found[0] if found else None), metrics

    def _count(self, key: tuple[str, bool], wanted: float) -> int:
        total = self._carry.get(key, 0.0) + wanted
        whole = int(total)
        self._carry[key] = total - whole
        return whole

    # -- sending ------------------------------------------------------------------------------

    def _plan_second(self, split: Split) -> list[tuple[str, bool]]:
        calls: list[tuple[str, bool]] = []
        for service, percent in split.percents().items():
            calls += [(service, False)] * self._count((service, False), self.rate * percent / 100)
        if split.mirror is not None:
            service, percent = split.mirror
            served = sum(1 for _, mirrored in calls if not mirrored)
            # A mirror copies ``percent`` of the requests the rule served.
            calls += [(service, True)] * self._count((service, True), served * percent / 100)
        self.random.shuffle(calls)
        return calls

    def _call(self, service: str, mirrored: bool, index: int, headers: dict[str, str], metrics: list[str]) -> None:
        endpoint = self.endpoints(service)
        kind = "mirrored" if mirrored else "served"
        if endpoint is None:
            self.stats[f"{service}:{kind}:no-endpoint"] += 1
            return
        url, model = endpoint
        request_id = str(uuid.uuid4())
        body = json.dumps({"instances": [self.rows[index].tolist()]}).encode()
        request = urllib.request.Request(f"{url}/v1/models/{model}:predict", data=body, method="POST",
                                         headers={"Content-Type": "application/json", "Ce-Id": request_id, **headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.load(response)
            status = 200
        except urllib.error.HTTPError as error:
            status, answer = error.code, None
        except OSError as error:
            self.stats[f"{service}:{kind}:unreachable"] += 1
            self._note(f"{service}: {error}")
            return
        self.stats[f"{service}:{kind}:{status}"] += 1
        if mirrored or status != 200 or answer is None:
            return
        self.answered.append((request_id, service, headers))
        probabilities = answer["predictions"][0]
        predicted = int(np.argmax(probabilities)) if isinstance(probabilities, list) else int(probabilities)
        with self._lock:
            self._pending.append(_Sent(request_id, int(self.classes[index]), time.monotonic() + self.label_delay,
                                       predicted))

    def _note(self, message: str) -> None:
        if not self.errors or self.errors[-1] != message:
            self.errors.append(message)

    # -- labelling ----------------------------------------------------------------------------

    def _post_labels(self, metrics: list[str], *, flush: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            due = [s for s in self._pending if flush or s.due <= now]
            self._pending = [s for s in self._pending if not (flush or s.due <= now)]
        if not due:
            return
        items: list[dict[str, Any]] = []
        owners: list[_Sent] = []
        for sent in due:
            outcome = "success" if sent.predicted == sent.true_class else "failure"
            for i, metric in enumerate(metrics or [None]):
                item: dict[str, Any] = {"requestId": sent.request_id}
                if i == 0:
                    item["label"] = sent.true_class
                if metric is not None:
                    item.update(metric=metric, outcome=outcome)
                items.append(item)
                owners.append(sent)
        status, answer = self._post({"labels": items})
        if status == 422:
            # All or nothing: the calls the sink has not logged yet wait for another try.
            late = {owners[p["index"]].request_id for p in answer.get("problems") or [] if "index" in p}
            retry = [s for s in due if s.request_id in late and s.tries < 5]
            keep = [item for item, sent in zip(items, owners, strict=True) if sent.request_id not in late]
            with self._lock:
                self._pending += [_Sent(s.request_id, s.true_class, now + 1.0, s.predicted, s.tries + 1)
                                  for s in retry]
            self.stats["labels:late"] += len(late)
            if keep:
                status, answer = self._post({"labels": keep})
                items = keep
        if status == 200:
            self.stats["labels:posted"] += len(items)
        else:
            self.stats[f"labels:{status}"] += len(items)
            self._note(f"/labels answered {status}: {str(answer)[:300]}")

    def _post(self, body: dict[str, Any]) -> tuple[int, Any]:
        request = urllib.request.Request(f"{self.sink_url}/labels", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text or b"null")
            except ValueError:
                return error.code, text.decode(errors="replace")
        except OSError as error:
            return 0, str(error)

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        metrics: list[str] = []
        while not self._stop.is_set():
            second = time.monotonic()
            try:
                split, metrics = self._read()
            except Exception as error:  # the API server restarting is not the driver's end
                self._note(f"reading the route: {error}")
                split = None
            if split is not None:
                if not self.splits or self.splits[-1] != split:
                    self.splits.append(split)
                    shares = ", ".join(f"{s} {p:.0f}%" for s, p in split.percents().items())
                    mirror = f" + mirror {split.mirror[1]}% to {split.mirror[0]}" if split.mirror else ""
                    self.out(f"load on Rollout {self.rollout}: {shares}{mirror}")
                calls = self._plan_second(split)
                headers = dict(split.headers)
                for i, (service, mirrored) in enumerate(calls):
                    if self._stop.wait(max(0.0, second + i / max(len(calls), 1) - time.monotonic())):
                        break
                    index = self.random.randrange(len(self.rows))
                    self._pool.submit(self._call, service, mirrored, index, headers, metrics)
            self._post_labels(metrics)
            self._stop.wait(max(0.0, second + 1.0 - time.monotonic()))
        self._pool.shutdown(wait=True)
        self._post_labels(metrics, flush=True)

    def start(self) -> LoadDriver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def __enter__(self) -> LoadDriver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
