"""What the kubectl plugin shows: a Rollout's status as a screen a human reads at 3 a.m. — the
steps with the running one marked, the weights, each check's last measurement and verdict with its
counts, the sequential test's progress toward a decision, the recent history — plus the ``list``
and ``history`` tables. Pure: a Rollout (a dict as the API server returns it) and ``now`` in, text
out, so the same text is pinned by golden files and drawn live by ``status --watch``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from modelops.api.rollout import RolloutSpec
from modelops.api.steps import Step
from modelops.core.rollout import steps as schedule

VERDICTS = ("Successful", "Failed", "Inconclusive", "Error")
HISTORY_SHOWN = 8


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """kubectl's plain table: upper-case header, columns padded to their widest cell."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["   ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(value: Any, now: datetime) -> str:
    """kubectl's short age: 45s, 12m, 3h, 5d."""
    then = _time(value)
    if then is None:
        return "-"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def weights(status: Mapping[str, Any]) -> str:
    traffic = status.get("traffic") or {}
    if not traffic:
        return "-"
    text = f"{traffic.get('stable', 0)}/{traffic.get('candidate', 0)}"
    return f"{text} +{traffic['mirror']}m" if traffic.get("mirror") else text


def number(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.4g}"


def describe_step(step: Step) -> str:
    if step.shadow is not None:
        return f"shadow: mirror {step.shadow.mirror_percent}% for {step.shadow.duration}"
    if step.canary is not None:
        return f"canary: {step.canary.weight}%" + (f" for {step.canary.duration}" if step.canary.duration else "")
    if step.ab_test is not None:
        ab = step.ab_test
        return (f"abTest: {ab.metric} at {ab.weight}%, >= {ab.min_samples} samples/arm, alpha {ab.alpha:g}, "
                f"up to {ab.max_duration}")
    if step.pause is not None:
        return f"pause: {step.pause.duration}" if step.pause.duration else "pause: until approved"
    return "full: 100% to the candidate, promote"


def rollout_spec(rollout: Mapping[str, Any]) -> RolloutSpec | None:
    try:
        return RolloutSpec.model_validate(rollout.get("spec") or {})
    except ValueError:
        return None


def check_summaries(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per check: the last measurement and the verdict counts — the status's own summary when it has
    one (``analysis.checks``), else folded from its recent measurements."""
    analysis = status.get("analysis") or {}
    if analysis.get("checks"):
        return [{"name": c.get("name"), "last": c.get("last") or {},
                 "counts": {v: c.get(v.lower(), 0) for v in VERDICTS}} for c in analysis["checks"]]
    summaries: dict[str, dict[str, Any]] = {}
    for m in analysis.get("measurements") or []:
        entry = summaries.setdefault(m.get("check"), {"name": m.get("check"), "counts": Counter()})
        entry["last"] = m
        entry["counts"][m.get("verdict")] += 1
    return list(summaries.values())


def _counts(summary: Mapping[str, Any]) -> str:
    counts = summary.get("counts") or {}
    return ", ".join(f"{counts.get(v, 0)} {v.lower()}" for v in VERDICTS if counts.get(v))


def render_status(rollout: Mapping[str, Any], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    meta, spec_raw, status = rollout.get("metadata") or {}, rollout.get("spec") or {}, rollout.get("status") or {}
    lines = [
        f"Rollout:    {meta.get('namespace')}/{meta.get('name')}  (model {spec_raw.get('model')})",
        f"Phase:      {status.get('phase') or '-'}" + (f"  {status['message']}" if status.get("message") else ""),
        f"Target:     {spec_raw.get('target')}"
        + ("  [paused]" if spec_raw.get("paused") else "") + ("  [abort]" if spec_raw.get("abort") else ""),
        f"Stable:     {status.get('stable') or '-'}",
        f"Candidate:  {status.get('candidate') or '-'}",
        "Traffic:    " + _traffic(status),
        f"Warm:       {', '.join(status.get('warm') or []) or '-'}",
    ]
    spec = rollout_spec(rollout)
    if spec is not None:
        lines += ["", "Steps:"]
        current = status.get("currentStep") if status.get("candidate") else None
        started = status.get("stepStartedAt")
        for index, step in enumerate(spec.steps):
            mark = "▶" if index == current else ("✓" if isinstance(current, int) and index < current else " ")
            extra = ""
            if index == current:
                extra = f"  (started {age(started, now)} ago)" if started else "  (waiting to start)"
            approval = "  [approval]" if step.approval else ""
            lines.append(f"  {mark} {index:>2}  {schedule.step_name(step, index):<16} {describe_step(step)}"
                         f"{approval}{extra}")
    summaries = check_summaries(status)
    if summaries:
        analysis = status.get("analysis") or {}
        lines += ["", f"Analysis:   last run {analysis.get('lastRun') or '-'}"]
        rows = []
        for s in summaries:
            last = s.get("last") or {}
            rows.append([f"  {s.get('name')}", number(last.get("value")), str(last.get("verdict") or "-"),
                         age(last.get("at"), now), _counts(s) or "-"])
        lines.append(table(["  CHECK", "LAST", "VERDICT", "AGE", "COUNTS"], rows))
    ab = status.get("abTest")
    if ab:
        lines += ["", "A/B test:   " + _ab(ab, spec, status)]
    history = list(status.get("history") or [])[-HISTORY_SHOWN:]
    if history:
        lines += ["", "History:"]
        lines.append(table(["  AGE", "FROM", "TO", "REASON", "ACTOR"],
                           [[f"  {age(h.get('time'), now)}", h.get("from") or "-", h.get("to") or "-",
                             h.get("reason") or "-", h.get("actor") or "-"] for h in history]))
    return "\n".join(lines)


def _traffic(status: Mapping[str, Any]) -> str:
    traffic = status.get("traffic") or {}
    if not traffic:
        return "-"
    return (f"stable {traffic.get('stable', 0)}%  candidate {traffic.get('candidate', 0)}%  "
            f"mirror {traffic.get('mirror', 0)}%")


def _arm(arm: Mapping[str, Any] | None) -> str:
    if not arm:
        return "-"
    rate = arm.get("rate")
    return f"{arm.get('successes', 0)}/{arm.get('samples', 0)}" + (f" ({rate:.1%})" if isinstance(rate, float) else "")


def _ab(ab: Mapping[str, Any], spec: RolloutSpec | None, status: Mapping[str, Any]) -> str:
    step: Step | None = None
    index = status.get("currentStep")
    if spec is not None and isinstance(index, int) and index < len(spec.steps):
        step = spec.steps[index]
    p_value = ab.get("pValue")
    text = f"{ab.get('metric')}: stable {_arm(ab.get('stable'))} vs candidate {_arm(ab.get('candidate'))}"
    if step is not None and step.ab_test is not None:
        samples = min((ab.get(arm) or {}).get("samples", 0) for arm in ("stable", "candidate"))
        text += (f"; samples {samples}/{step.ab_test.min_samples} per arm; p = {number(p_value)}, decides at "
                 f"<= {step.ab_test.alpha:g}")
    else:
        text += f"; p = {number(p_value)}"
    return f"{text}; {ab.get('decision') or 'Undecided'}"


def list_rows(rollouts: Sequence[Mapping[str, Any]], now: datetime, *, wide: bool = False,
              namespaces: bool = False) -> str:
    header = ["NAME", "PHASE", "STABLE", "CANDIDATE", "STEP", "WEIGHTS", "AGE"]
    if wide:
        header += ["TARGET", "MESSAGE"]
    if namespaces:
        header = ["NAMESPACE", *header]
    rows = []
    for r in rollouts:
        meta, status, spec = r.get("metadata") or {}, r.get("status") or {}, r.get("spec") or {}
        step = status.get("currentStepName") or (str(status["currentStep"]) if "currentStep" in status else "-")
        row = [meta.get("name", ""), status.get("phase") or "-", status.get("stable") or "-",
               status.get("candidate") or "-", step if status.get("candidate") else "-", weights(status),
               age(meta.get("creationTimestamp"), now)]
        if wide:
            row += [spec.get("target") or "-", (status.get("message") or "-")[:100]]
        if namespaces:
            row = [meta.get("namespace", ""), *row]
        rows.append(row)
    if not rows:
        return "No rollouts found."
    return table(header, rows)


def history_rows(rollout: Mapping[str, Any], now: datetime, *, wide: bool = False) -> str:
    history = list((rollout.get("status") or {}).get("history") or [])
    if not history:
        return "No history yet."
    header = ["TIME", "AGE", "FROM", "TO", "REASON", "ACTOR"] + (["MESSAGE"] if wide else [])
    rows = []
    for h in history:
        row = [h.get("time") or "-", age(h.get("time"), now), h.get("from") or "-", h.get("to") or "-",
               h.get("reason") or "-", h.get("actor") or "-"]
        if wide:
            row.append(h.get("message") or "")
        rows.append(row)
    return table(header, rows)
