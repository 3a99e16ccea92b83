"""What the chaos tier shares: the seed every random choice comes from (printed, and taken from
``MODELOPS_CHAOS_SEED`` to reproduce a run), a watch that records every state of the namespace's
routes and InferenceServices for the whole run and judges it (weights sum to 100, never weight or
mirror on a backend whose InferenceService was not Ready at that revision), a killer that SIGKILLs
the operator at seeded random moments and restarts it, counting what each kill interrupted, and
the duplicate counts a test checks at the end.

Readiness "at that moment" is exact, not timed: every watch event carries the object's
resourceVersion, which on this control plane is etcd's global revision, so a route revision R is
judged against the newest InferenceService event with a revision below R.
"""

from __future__ import annotations

import collections
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, watch

from tests.support.operator import OperatorProcess

DEFAULT_SEED = 20261201
# Kills across the kill tests (make test: 50); a smaller number for a quick look on a busy machine.
KILLS = int(os.environ.get("MODELOPS_CHAOS_KILLS", "50"))


def chaos_seed(what: str) -> random.Random:
    """A Random seeded from ``MODELOPS_CHAOS_SEED`` (``random``: a fresh seed), the seed printed."""
    raw = os.environ.get("MODELOPS_CHAOS_SEED", str(DEFAULT_SEED))
    seed = random.SystemRandom().randrange(1, 2**31) if raw == "random" else int(raw)
    print(f"\n{what}: chaos seed {seed} (reproduce with MODELOPS_CHAOS_SEED={seed})")
    return random.Random(seed)


# ------------------------------------------------------------------------------ the route watch

WATCHED = {
    "HTTPRoute": ("gateway.networking.k8s.io", "v1", "httproutes"),
    "InferenceService": ("serving.kserve.io", "v1beta1", "inferenceservices"),
}
PREDICTOR = "-predictor"


@dataclass(frozen=True)
class Recorded:
    revision: int
    kind: str
    name: str
    deleted: bool
    body: dict[str, Any]


def isvc_ready(body: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (body.get("status") or {}).get("conditions") or [])


def route_backends(body: dict[str, Any]) -> tuple[dict[str, int], str | None]:
    """The HTTPRoute's ``split`` rule as written: {InferenceService: weight}, and the mirrored one."""
    rules = [r for r in (body.get("spec") or {}).get("rules") or [] if r.get("name") == "split"]
    weights: dict[str, int] = {}
    mirror = None
    for rule in rules:
        for ref in rule.get("backendRefs") or []:
            weights[ref["name"].removesuffix(PREDICTOR)] = weights.get(ref["name"].removesuffix(PREDICTOR), 0) + int(
                ref.get("weight", 1))
        for item in rule.get("filters") or []:
            if item.get("type") == "RequestMirror":
                mirror = item["requestMirror"]["backendRef"]["name"].removesuffix(PREDICTOR)
    return weights, mirror


class RouteWatch:
    """``with RouteWatch(api, namespace) as seen:`` records every HTTPRoute and InferenceService
    event of the namespace; ``violations()`` judges the route states against the invariants."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.events: list[Recorded] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch, args=(kind,), name=f"chaos-watch-{kind}", daemon=True)
                         for kind in WATCHED]

    def __enter__(self) -> RouteWatch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _watch(self, kind: str) -> None:
        group, version, plural = WATCHED[kind]
        listed = self.custom.list_namespaced_custom_object(group, version, self.namespace, plural)
        revision = listed["metadata"]["resourceVersion"]
        for item in listed["items"]:
            self._record(kind, "ADDED", item)
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(self.custom.list_namespaced_custom_object, group, version,
                                           self.namespace, plural, resource_version=revision,
                                           timeout_seconds=2, allow_watch_bookmarks=True):
                    body = event["object"]
                    revision = body["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._record(kind, event["type"], body)
                    if self._stop.is_set():
                        stream.stop()
            except Exception as error:  # a 410 Gone would lose states: that is a failed recording
                self.errors.append(f"{kind} watch: {error!r}")
                return

    def _record(self, kind: str, type_: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        with self._lock:
            self.events.append(Recorded(int(meta["resourceVersion"]), kind, meta["name"], type_ == "DELETED", body))

    def route_states(self) -> int:
        return sum(1 for e in self.recorded() if e.kind == "HTTPRoute")

    def recorded(self) -> list[Recorded]:
        with self._lock:
            return sorted(self.events, key=lambda e: e.revision)

    def violations(self) -> list[str]:
        """Every route state whose weights do not sum to 100, or that gives weight (or a mirror) to
        a backend whose InferenceService was not Ready at that revision."""
        ready: dict[str, bool] = {}
        found = [f"recording incomplete: {error}" for error in self.errors]
        for event in self.recorded():
            if event.kind == "InferenceService":
                ready[event.name] = not event.deleted and isvc_ready(event.body)
                continue
            if event.deleted:
                continue
            weights, mirror = route_backends(event.body)
            if not weights:
                continue
            if sum(weights.values()) != 100:
                found.append(f"route {event.name}@{event.revision}: weights {weights} sum to {sum(weights.values())}")
            for backend in [b for b, w in weights.items() if w > 0] + ([mirror] if mirror else []):
                if not ready.get(backend, False):
                    found.append(f"route {event.name}@{event.revision}: traffic on {backend}, not Ready then "
                                 f"(weights {weights}, mirror {mirror})")
        return found


# ------------------------------------------------------------------------------ the killer


@dataclass
class Killer:
    """SIGKILLs ``operator`` a seeded random while (``interval`` seconds) after it is healthy again,
    leaves it down a seeded random while (up to ``down`` s), restarts it, and again, until ``quota``
    kills or ``stop()``; ``hold()``/``release()`` pause it (while a test sets up what is not under
    test), ``nudge()`` brings the next kill forward. ``describe()`` names what each kill
    interrupted (counted in ``moments``).

    The restarts run in the killer's thread, and the operator dies with the thread that started it
    (``die_with_parent``: PR_SET_PDEATHSIG fires when the starting *thread* ends), so ``stop()``
    restarts it once more from the caller's thread: the operator outlives the killer."""

    operator: OperatorProcess
    rng: random.Random
    describe: Callable[[], list[str]]
    interval: tuple[float, float] = (3.0, 8.0)
    down: float = 1.0
    quota: int = 10
    kills: int = 0
    moments: collections.Counter[str] = field(default_factory=collections.Counter)
    restarts: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _free: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _next_at: float = float("inf")

    def __post_init__(self) -> None:
        self._free.set()

    def __enter__(self) -> Killer:
        self._thread = threading.Thread(target=self._run, name="chaos-killer", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def done(self) -> bool:
        return self.kills >= self.quota or bool(self.errors)

    def hold(self) -> None:
        self._free.clear()

    def release(self) -> None:
        self._free.set()

    def stop(self) -> None:
        self._stop.set()
        self._free.set()
        if self._thread is not None:
            self._thread.join(timeout=180)
        if self.kills:  # started by the killer's thread, which has ended: started again from here
            self.operator.stop()
        if not self.operator.running:
            self.operator.start(timeout=120)

    def nudge(self, within: float) -> None:
        """Bring the next kill forward to a seeded moment at most ``within`` seconds from now: for
        a moment too brief for the random spacing to hit often (a retraining run about to be
        created, a training run before its MLflow run)."""
        self._next_at = min(self._next_at, time.monotonic() + self.rng.uniform(0, within))

    def _sleep(self) -> bool:
        """Wait until the next kill is due (``interval`` after the last restart, or nudged
        sooner); True when stopped meanwhile."""
        self._next_at = time.monotonic() + self.rng.uniform(*self.interval)
        while (remaining := self._next_at - time.monotonic()) > 0:
            if self._stop.wait(min(remaining, 0.05)):
                return True
        return False

    def _run(self) -> None:
        while not self.done and not self._sleep():
            self._free.wait()
            if self._stop.is_set():
                return
            try:
                moments = self.describe()
            except Exception as error:  # an API blip while describing is not the kill's business
                moments = [f"(not described: {type(error).__name__})"]
            self.operator.kill()
            self.kills += 1
            self.moments.update(moments)
            time.sleep(self.rng.uniform(0, self.down))
            started = time.monotonic()
            try:
                self.operator.start(timeout=120)
            except Exception as error:
                self.errors.append(f"restart after kill {self.kills} failed: {error}")
                return
            self.restarts.append(time.monotonic() - started)
        # The operator this thread started last dies with the thread (PR_SET_PDEATHSIG): the thread
        # lives until stop(), which starts it again from the caller's thread.
        self._stop.wait()

    def summary(self) -> str:
        restarts = sorted(self.restarts) or [0.0]
        lines = [f"{self.kills} kills; restart to healthy median {restarts[len(restarts) // 2]:.1f}s, "
                 f"max {restarts[-1]:.1f}s; what the kills interrupted:"]
        lines += [f"  {count:3d}  {moment}" for moment, count in sorted(self.moments.items())]
        return "\n".join(lines)


def duplicates(names: list[str]) -> dict[str, int]:
    """The names that occur more than once, with their counts."""
    return {name: count for name, count in collections.Counter(names).items() if count > 1}


# ------------------------------------------------------------------------------ the soak's gauges


def footprint(pid: int) -> dict[str, float]:
    """A process's resident memory (MiB), open file descriptors, sockets and threads, from /proc."""
    text = Path(f"/proc/{pid}/status").read_text()
    status = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fds = os.listdir(f"/proc/{pid}/fd")
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue  # closed while being read
    return {"rss_mib": int(status["VmRSS"].split()[0]) / 1024, "fds": len(fds), "sockets": sockets,
            "threads": int(status["Threads"])}
