"""The live view of one namespace that ``make dev`` draws (hack/localcluster/dev_loop.py): every
TrainingRun's phase with a progress bar through its life (Pending → Running → Evaluating →
Succeeded → registered), the ModelVersions and their serving state, per Rollout its phase, steps,
the running step's progress against its duration (an A/B test: samples against minSamples), the
weights, the last measurement of each check, and per DriftMonitor the drift of each feature — then
the latest lines of what the loop did. Pure: objects as the API server returns them (dicts) and
``now`` in, ``rich`` renderables out; the polling and the drawing are the loop's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from modelops.cli.render import age, check_summaries, describe_step, number, rollout_spec
from modelops.core.conditions import parse_time
from modelops.core.rollout import steps as schedule

Obj = Mapping[str, Any]
TRAINING_STAGES = ("Pending", "Running", "Evaluating", "Succeeded")
BAR_WIDTH = 24
PHASE_STYLES = {"Succeeded": "green", "Promoted": "green", "Ready": "green", "Successful": "green",
                "Rejected": "red", "Failed": "red", "RolledBack": "red", "Error": "red", "Drift": "red",
                "Progressing": "yellow", "Running": "yellow", "Evaluating": "yellow", "Paused": "magenta",
                "Inconclusive": "magenta", "NoDrift": "green"}


def styled(word: Any) -> Text:
    text = str(word) if word else "-"
    return Text(text, style=PHASE_STYLES.get(text, ""))


def bar(completed: float, total: float | None) -> ProgressBar:
    """A progress bar; ``total`` None pulses (work whose length is unknown)."""
    return ProgressBar(total=total, completed=min(completed, total) if total else completed, width=BAR_WIDTH,
                       pulse=total is None)


def _seconds(start: Any, end: Any, now: datetime) -> float | None:
    began = parse_time(start)
    if began is None:
        return None
    return max(0.0, ((parse_time(end) or now) - began).total_seconds())


def training_progress(run: Obj) -> tuple[int, int]:
    """Stages of a run's life done: Pending 0 … Succeeded 3, registered (a ModelVersion) 4, of 4."""
    status = run.get("status") or {}
    phase = status.get("phase")
    done = TRAINING_STAGES.index(phase) if phase in TRAINING_STAGES else 0
    return (done + 1 if status.get("modelVersion") else done), len(TRAINING_STAGES)


def training_table(runs: Sequence[Obj], now: datetime) -> Table:
    table = Table(title="TrainingRuns", title_justify="left", expand=True)
    for column in ("NAME", "PHASE", "PROGRESS", "TIME", "METRICS", "MODELVERSION"):
        table.add_column(column)
    for run in runs:
        status = run.get("status") or {}
        done, total = training_progress(run)
        final = status.get("phase") in ("Succeeded", "Rejected", "Failed")
        seconds = _seconds(status.get("startTime"), status.get("completionTime"), now)
        metrics = ", ".join(f"{k} {number(v)}" for k, v in sorted((status.get("metrics") or {}).items())[:3])
        table.add_row(run["metadata"]["name"], styled(status.get("phase") or "Pending"),
                      bar(done, total) if final or done else bar(0, None),
                      "-" if seconds is None else f"{seconds:.0f}s", metrics or "-", status.get("modelVersion") or "-")
    return table


def model_version_table(versions: Sequence[Obj], now: datetime) -> Table:
    table = Table(title="ModelVersions", title_justify="left", expand=True)
    for column in ("NAME", "MODEL", "REGISTRY", "READY", "ROLE", "SERVED BY", "AGE"):
        table.add_column(column)
    for mv in versions:
        spec, status = mv.get("spec") or {}, mv.get("status") or {}
        ready = status.get("ready")
        state = Text("Ready", style="green") if ready else Text(status.get("reason") or "NotReady", style="yellow")
        table.add_row(mv["metadata"]["name"], f"{spec.get('model')} v{spec.get('version')}",
                      ((status.get("registry") or {}).get("version") or "-"), state, status.get("role") or "-",
                      ", ".join(status.get("servedBy") or []) or "-",
                      age(mv["metadata"].get("creationTimestamp"), now))
    return table


def traffic_line(status: Obj) -> Text:
    traffic = status.get("traffic") or {}
    if not traffic:
        return Text("-")
    text = Text()
    text.append(f"stable {traffic.get('stable', 0)}%", style="green")
    text.append("  ")
    text.append(f"candidate {traffic.get('candidate', 0)}%", style="yellow")
    if traffic.get("mirror"):
        text.append(f"  mirror {traffic['mirror']}%", style="cyan")
    return text


def step_progress(rollout: Obj, now: datetime) -> tuple[str, float, float | None] | None:
    """The running step's name, progress and total: seconds held against its duration, or an A/B
    test's samples per arm against minSamples; None when no step runs."""
    spec, status = rollout_spec(rollout), rollout.get("status") or {}
    index = status.get("currentStep")
    if spec is None or not status.get("candidate") or not isinstance(index, int) or index >= len(spec.steps):
        return None
    step = spec.steps[index]
    name = schedule.step_name(step, index)
    if step.ab_test is not None:
        ab = status.get("abTest") or {}
        samples = min((ab.get(arm) or {}).get("samples", 0) for arm in ("stable", "candidate"))
        return f"{name}: samples/arm", float(samples), float(step.ab_test.min_samples)
    held = _seconds(status.get("stepStartedAt"), None, now)
    duration = schedule.step_duration(step)
    total = duration.total_seconds() if duration is not None else None
    return f"{name}: held", held or 0.0, total


def rollout_panel(rollout: Obj, now: datetime) -> Panel:
    meta, spec_raw, status = rollout.get("metadata") or {}, rollout.get("spec") or {}, rollout.get("status") or {}
    head = Table.grid(padding=(0, 2))
    head.add_row("phase", styled(status.get("phase")), Text(status.get("message") or "", overflow="fold"))
    followed = status.get("followed") or {}
    target = spec_raw.get("target") or (f"alias {spec_raw['targetFrom'].get('alias')} → "
                                        f"{followed.get('modelVersion') or '-'}" if spec_raw.get("targetFrom") else "-")
    head.add_row("target", target, "")
    head.add_row("stable", status.get("stable") or "-", f"candidate {status.get('candidate') or '-'}")
    head.add_row("weights", traffic_line(status), "")
    parts: list[RenderableType] = [head]
    spec = rollout_spec(rollout)
    if spec is not None:
        current = status.get("currentStep") if status.get("candidate") else None
        steps = Table.grid(padding=(0, 1))
        for index, step in enumerate(spec.steps):
            if index == current:
                mark = Text("▶", style="yellow")
            elif isinstance(current, int) and index < current:
                mark = Text("✓", style="green")
            else:
                mark = Text(" ")
            steps.add_row(mark, schedule.step_name(step, index), describe_step(step))
        parts.append(steps)
    progress = step_progress(rollout, now)
    if progress is not None:
        label, completed, total = progress
        line = Table.grid(padding=(0, 1))
        count = f"{completed:.0f}/{total:.0f}" + ("s" if "held" in label else "") if total else f"{completed:.0f}s"
        line.add_row(label, bar(completed, total), count)
        parts.append(line)
    summaries = check_summaries(status)
    if summaries:
        checks = Table(show_edge=False, box=None, padding=(0, 2))
        for column in ("CHECK", "LAST", "VERDICT", "AGE"):
            checks.add_column(column)
        for summary in summaries:
            last = summary.get("last") or {}
            checks.add_row(str(summary.get("name")), number(last.get("value")), styled(last.get("verdict")),
                           age(last.get("at"), now))
        parts.append(checks)
    history = list(status.get("history") or [])[-3:]
    for entry in history:
        parts.append(Text(f"{age(entry.get('time'), now):>4} ago  {entry.get('from') or '-'} → "
                          f"{entry.get('to') or '-'}  {entry.get('reason') or ''}", style="dim"))
    return Panel(Group(*parts), title=f"Rollout {meta.get('name')} (model {spec_raw.get('model')})",
                 title_align="left")


def drift_panel(monitor: Obj, now: datetime) -> Panel:
    meta, status = monitor.get("metadata") or {}, monitor.get("status") or {}
    table = Table(show_edge=False, box=None, padding=(0, 2))
    for column in ("FEATURE", "STATISTIC", "VALUE", "THRESHOLD", "VERDICT"):
        table.add_column(column)
    for result in status.get("results") or []:
        verdict = result.get("verdict") or ("Drift" if result.get("drifted") else "NoDrift")
        table.add_row(str(result.get("feature")), str(result.get("statistic")), number(result.get("value")),
                      number(result.get("threshold")), styled(verdict))
    summary = Text(f"last run {age(status.get('lastRun'), now)} ago, {status.get('rowsSeen') or 0} rows, verdict ")
    summary.append_text(styled(status.get("verdict")))
    if status.get("retrainRuns"):
        summary.append(f", retraining {', '.join(status['retrainRuns'])}")
    return Panel(Group(summary, table) if status.get("results") else summary,
                 title=f"DriftMonitor {meta.get('name')}", title_align="left")


def render(namespace: str, objects: Mapping[str, Sequence[Obj]], now: datetime,
           events: Sequence[str] = (), note: str = "") -> RenderableType:
    """The whole screen: ``objects`` maps TrainingRun, ModelVersion, Rollout, DriftMonitor to lists."""
    parts: list[RenderableType] = [Text(f"modelops dev — namespace {namespace}  {now:%H:%M:%S}", style="bold")]
    if note:
        parts.append(Text(note, style="cyan"))
    parts.append(training_table(objects.get("TrainingRun") or [], now))
    parts.append(model_version_table(objects.get("ModelVersion") or [], now))
    parts.extend(rollout_panel(r, now) for r in objects.get("Rollout") or [])
    parts.extend(drift_panel(m, now) for m in objects.get("DriftMonitor") or [])
    if events:
        parts.append(Panel(Text("\n".join(events)), title="latest", title_align="left"))
    return Group(*parts)
