"""The figures the page draws, derived from the objects as the API server returns them, pure:

- **weights over time** from ``status.history`` and the steps: each entry that starts a step moves
  the split to that step's (``core.rollout.traffic.split_at``, the rule the machine itself
  applies), an entry that ends a rollout (Promoted, RolledBack, Aborted, Failed) or starts one
  (TargetChanged) puts 100% on the stable, and the last point is ``status.traffic`` now;
- **measurements per check** from ``status.analysis.measurements`` (the bounded tail the operator
  keeps; the full series is Prometheus');
- **the route's weights** as the router's object carries them now (HTTPRoute backendRefs,
  VirtualService destinations, an InferenceService's canaryTrafficPercent);
- **a version's lineage** as graph nodes: data, code, image -> TrainingRun -> MLflow run ->
  ModelVersion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from modelops.api.rollout import RolloutPhase, RolloutSpec
from modelops.api.steps import Step
from modelops.cli.dashboard.charts import Node, Point
from modelops.cli.lineage import Lineage
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.traffic import ALL_STABLE, Split, split_at

ENDINGS = {RolloutPhase.PROMOTED.value, RolloutPhase.ROLLED_BACK.value, RolloutPhase.ABORTED.value,
           RolloutPhase.FAILED.value}
IN_FLIGHT = {RolloutPhase.PROGRESSING.value, RolloutPhase.PAUSED.value, RolloutPhase.AWAITING_APPROVAL.value}


def _seconds(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parsed_steps(body: Mapping[str, Any]) -> list[Step] | None:
    try:
        return RolloutSpec.model_validate(body.get("spec") or {}).steps
    except ValueError:
        return None


def step_rows(body: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Every step with the implicit promotion: (name, what it does, state: done|current|next|idle)."""
    steps = parsed_steps(body)
    if steps is None:
        return []
    status = body.get("status") or {}
    in_flight = status.get("phase") in IN_FLIGHT and isinstance(status.get("currentStep"), int)
    current = int(status["currentStep"]) if in_flight else -1
    rows = []
    for index in range(schedule.last_index(steps) + 1):
        name = schedule.name_at(steps, index)
        kind = steps[index].kind.lower() if index < len(steps) else "full"
        what = f"{kind}: {split_at(steps, index).describe()}"
        duration = schedule.step_duration(steps[index]) if index < len(steps) else None
        if duration is not None:
            what += f" for {duration}"
        if index < len(steps) and steps[index].approval:
            what += ", needs approval"
        state = "idle" if current < 0 else "done" if index < current else "current" if index == current else "next"
        rows.append((name, what, state))
    return rows


def weights_over_time(body: Mapping[str, Any], now: datetime) -> dict[str, list[Point]]:
    """stable / candidate / mirror percent at each history entry that moved the split, and now."""
    steps = parsed_steps(body) or []
    names = {schedule.name_at(steps, i): i for i in range(schedule.last_index(steps) + 1)} if steps else {}
    status = body.get("status") or {}
    points: list[tuple[float, Split]] = []
    for entry in status.get("history") or []:
        at = _seconds(entry.get("time"))
        if at is None:
            continue
        to = entry.get("to")
        if to in names:
            points.append((at, split_at(steps, names[to])))
        elif to in ENDINGS or entry.get("reason") == "TargetChanged":
            points.append((at, ALL_STABLE))  # a new target starts from the stable's 100%
    traffic = status.get("traffic") or {}
    if traffic:
        points.append((now.timestamp(), Split(int(traffic.get("stable") or 0), int(traffic.get("candidate") or 0),
                                              int(traffic.get("mirror") or 0))))
    series: dict[str, list[Point]] = {"stable": [], "candidate": [], "mirror": []}
    for at, split in points:
        series["stable"].append((at, float(split.stable)))
        series["candidate"].append((at, float(split.candidate)))
        series["mirror"].append((at, float(split.mirror)))
    if not any(v for _, v in series["mirror"]):
        del series["mirror"]
    return {name: values for name, values in series.items() if values}


def history_marks(body: Mapping[str, Any]) -> list[tuple[float, str]]:
    marks = []
    for entry in (body.get("status") or {}).get("history") or []:
        at = _seconds(entry.get("time"))
        if at is not None:
            marks.append((at, f"{entry.get('reason')}: {entry.get('from')} -> {entry.get('to')}"))
    return marks


def measurements(body: Mapping[str, Any]) -> dict[str, list[Point]]:
    """Each check's measured values (those with a value) from ``status.analysis.measurements``."""
    found: dict[str, list[Point]] = {}
    for item in ((body.get("status") or {}).get("analysis") or {}).get("measurements") or []:
        at, value = _seconds(item.get("at")), item.get("value")
        if at is not None and isinstance(value, int | float):
            found.setdefault(str(item.get("check")), []).append((at, float(value)))
    return found


def route_weights(route: Mapping[str, Any] | None) -> list[tuple[str, int]]:
    """(backend, weight) of the route's default rule as the router's object carries it now."""
    if not route:
        return []
    spec = route.get("spec") or {}
    if route.get("kind") == "HTTPRoute":
        every = spec.get("rules") or []
        rules = [r for r in every if r.get("name") == "split"] or [r for r in every if not r.get("matches")]
        refs = (rules[-1] if rules else {}).get("backendRefs") or []
        return [(str(ref.get("name")), int(ref.get("weight", 1))) for ref in refs]
    if route.get("kind") == "VirtualService":
        routes = [r for r in spec.get("http") or [] if not r.get("match")]
        return [(str((d.get("destination") or {}).get("host")), int(d.get("weight", 100)))
                for d in (routes[-1] if routes else {}).get("route") or []]
    if route.get("kind") == "InferenceService":
        canary = int((spec.get("predictor") or {}).get("canaryTrafficPercent", 0) or 0)
        return [("latest", canary), ("previous", 100 - canary)]
    return []


def lineage_graph(lineage: Lineage, role: str) -> tuple[list[Node], list[tuple[str, str]]]:
    """Nodes and edges: inputs -> TrainingRun -> MLflow run -> ModelVersion (absent ones left out)."""
    mv = lineage.model_version
    spec, status = mv.get("spec") or {}, mv.get("status") or {}
    facts = spec.get("lineage") or {}
    name = str(mv["metadata"]["name"])
    nodes = [Node("mv", "ModelVersion", name, f"{role}, ready={status.get('ready')}", column=3)]
    produced_by = "mv"
    edges: list[tuple[str, str]] = []
    if facts.get("mlflowRunId"):
        run = lineage.run
        detail = f"status {run.status}" if run is not None else "run not read"
        nodes.append(Node("run", "MLflow run", str(facts["mlflowRunId"]), detail, column=2))
        edges.append(("run", produced_by))
        produced_by = "run"
    if facts.get("trainingRun"):
        phase = ((lineage.training_run or {}).get("status") or {}).get("phase") if lineage.training_run else None
        nodes.append(Node("tr", "TrainingRun", str(facts["trainingRun"]),
                          f"phase {phase}" if phase else "deleted (record kept)", column=1))
        edges.append(("tr", produced_by))
        produced_by = "tr"
    data, code = facts.get("data") or {}, facts.get("code") or {}
    inputs = [("data", "Data", data.get("uri"), f"version {data.get('version', '-')}"),
              ("code", "Code", code.get("repo"), f"@ {str(code.get('commit', '-'))[:12]}"),
              ("image", "Image", facts.get("image"), "")]
    for key, kind, label, detail in inputs:
        if label:
            nodes.append(Node(key, kind, str(label), detail, column=0))
            edges.append((key, produced_by))
    return _ordered(nodes), edges


def _ordered(nodes: Sequence[Node]) -> list[Node]:
    return sorted(nodes, key=lambda node: node.column)


def role_of(body: Mapping[str, Any], version: str) -> str:
    status = body.get("status") or {}
    if version == status.get("candidate"):
        return "candidate"
    return "stable" if version == status.get("stable") else "warm"
