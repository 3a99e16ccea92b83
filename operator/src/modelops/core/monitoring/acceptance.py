"""Whether a DriftMonitor's spec is accepted, and if not, which field is wrong and why.

Beyond what the schema and CEL reject at admission (``core.acceptance.parse_spec``), a monitor is
refused (``Accepted=False``) when:

- ``spec.schedule`` is not a cron schedule the CronJob controller accepts (``InvalidSchedule``);
- ``spec.timeZone`` is not in the tz database (``UnknownTimeZone``);
- ``spec.retrain.template.spec.nodePool`` is not a node pool of the operator's configuration
  (``UnknownNodePool``: the TrainingRun it would create could never be scheduled);
- ``spec.modelRef`` names a ModelVersion or Rollout that does not exist (``ModelRefNotFound``);
  this one heals by itself: the object's creation wakes the monitor.

Every problem found is named in the message; the reason is the first one's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelops.api.config import OperatorConfig
from modelops.api.driftmonitor import DriftMonitorSpec
from modelops.core.acceptance import Verdict, parse_spec
from modelops.core.monitoring.schedule import schedule_problem, time_zone_problem


@dataclass(frozen=True)
class Judgement:
    spec: DriftMonitorSpec | None
    verdict: Verdict


def judge(spec: Mapping[str, Any] | None, config: OperatorConfig, model_ref_found: bool) -> Judgement:
    """The parsed spec (None when it does not parse) and the verdict on it."""
    parsed, verdict = parse_spec(DriftMonitorSpec, spec)
    if parsed is None:
        return Judgement(None, verdict)
    problems: list[tuple[str, str]] = []
    schedule = schedule_problem(parsed.schedule)
    if schedule is not None:
        problems.append(("InvalidSchedule", f"spec.schedule: {schedule}"))
    if parsed.time_zone is not None:
        zone = time_zone_problem(parsed.time_zone)
        if zone is not None:
            problems.append(("UnknownTimeZone", f"spec.timeZone: {zone}"))
    template = parsed.retrain.template if parsed.retrain is not None else None
    pool = template.spec.node_pool if template is not None else None
    if pool is not None and pool not in config.node_pools:
        known = ", ".join(sorted(config.node_pools)) or "none configured"
        problems.append(("UnknownNodePool", f"spec.retrain.template.spec.nodePool: {pool!r} is not a node pool of "
                                            f"the operator's configuration (known: {known})"))
    if not model_ref_found:
        ref = parsed.model_ref
        problems.append(("ModelRefNotFound", f"spec.modelRef: {ref.kind.value} {ref.name} does not exist in this "
                                             "namespace; the monitor is accepted once it does"))
    if problems:
        return Judgement(parsed, Verdict(False, problems[0][0], "; ".join(message for _, message in problems)))
    return Judgement(parsed, verdict)
