"""The imperative commands of the kubectl plugin as patches: each is ONE merge patch of a Rollout's
``spec`` that an SRE could type with ``kubectl patch`` (``--dry-run`` prints exactly that), decided
here from the Rollout as it is, without I/O.

- ``promote``: approve what waits — the step awaiting approval, a pause step without duration, or
  the step after a hold — for the candidate in flight; ``--full``: ``spec.promoteFull`` names the
  candidate, and the operator skips every remaining step (durations, pauses, approvals and
  analysis included) and promotes it as soon as it is Ready, like Argo Rollouts' ``promote --full``.
- ``approve STEP``: list ``STEP@<candidate>`` in ``spec.approved`` (an approval tied to the candidate).
- ``pause`` / ``resume``: ``spec.paused``. ``abort``: ``spec.abort``.
- ``retry``: after an abort, clear ``spec.abort``; after RolledBack or Failed, a new ``spec.retry`` token.
- ``rollback [VERSION]``: ``spec.target`` to the champion or to a warm, Ready version; any other
  version is refused (it would be a full rollout through the steps) unless ``full_rollout``.

Patches that rewrite a list (``spec.approved``) carry ``metadata.resourceVersion``: the API server
refuses them with a conflict if the Rollout changed since it was read, so no approval is lost.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelops.api.rollout import RolloutPhase, RolloutSpec
from modelops.core.rollout import steps as schedule
from modelops.core.rollout.types import HOLD_REASONS

IN_FLIGHT = {RolloutPhase.PROGRESSING.value, RolloutPhase.PAUSED.value, RolloutPhase.AWAITING_APPROVAL.value}
OUT = {RolloutPhase.ROLLED_BACK.value, RolloutPhase.FAILED.value}


class Refused(Exception):
    """The command would do nothing, or something other than what was asked: why, and what to do."""


@dataclass(frozen=True)
class Patch:
    namespace: str
    name: str
    body: dict[str, Any]
    summary: str

    def kubectl(self) -> str:
        """The same change as a kubectl command line."""
        patch = json.dumps(self.body, separators=(",", ":"))
        return (f"kubectl patch rollouts.modelops.io {shlex.quote(self.name)} -n {shlex.quote(self.namespace)} "
                f"--type merge -p {shlex.quote(patch)}")

    def json(self) -> str:
        return json.dumps(self.body, indent=2)


def _meta(rollout: Mapping[str, Any]) -> tuple[str, str]:
    meta = rollout.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _patch(rollout: Mapping[str, Any], spec: dict[str, Any], summary: str, *, locked: bool = False) -> Patch:
    namespace, name = _meta(rollout)
    body: dict[str, Any] = {"spec": spec}
    if locked:
        body = {"metadata": {"resourceVersion": (rollout.get("metadata") or {}).get("resourceVersion")}, **body}
    return Patch(namespace, name, body, summary)


def _status(rollout: Mapping[str, Any]) -> Mapping[str, Any]:
    return rollout.get("status") or {}


def _reason(rollout: Mapping[str, Any]) -> str | None:
    for condition in _status(rollout).get("conditions") or []:
        if condition.get("type") == "Progressing":
            return str(condition.get("reason"))
    return None


def step_names(rollout: Mapping[str, Any]) -> list[str]:
    """Every name ``spec.approved`` may list: the steps', and the implicit ``full-<n>`` promotion."""
    spec = RolloutSpec.model_validate(rollout.get("spec") or {})
    names = schedule.step_names(spec.steps)
    if schedule.last_index(spec.steps) == len(spec.steps):
        names.append(schedule.name_at(spec.steps, len(spec.steps)))
    return names


def _candidate(rollout: Mapping[str, Any], what: str) -> str:
    status = _status(rollout)
    candidate = status.get("candidate")
    if not candidate or status.get("phase") not in IN_FLIGHT:
        raise Refused(f"nothing to {what}: no candidate is in flight (phase {status.get('phase') or 'unknown'})")
    return str(candidate)


def _approving(rollout: Mapping[str, Any], steps: Sequence[str], candidate: str, summary: str) -> Patch:
    current = list((rollout.get("spec") or {}).get("approved") or [])
    added = [f"{step}@{candidate}" for step in steps if f"{step}@{candidate}" not in current]
    if not added:
        raise Refused(f"{', '.join(steps)} already approved for {candidate} in spec.approved; an approval given "
                      "before a hold began does not accept it: remove it (kubectl edit) and approve again")
    return _patch(rollout, {"approved": [*current, *added]}, summary, locked=True)


def approve(rollout: Mapping[str, Any], step: str) -> Patch:
    candidate = _candidate(rollout, "approve")
    names = step_names(rollout)
    if step not in names:
        raise Refused(f"{step!r} is not a step of this rollout (steps: {', '.join(names)})")
    return _approving(rollout, [step], candidate, f"approve step {step} for candidate {candidate}")


def waiting_step(rollout: Mapping[str, Any]) -> str:
    """The name whose approval lets the rollout go on, or Refused saying why nothing waits."""
    status = _status(rollout)
    phase, reason, index = status.get("phase"), _reason(rollout), status.get("currentStep")
    names = step_names(rollout)
    if phase == RolloutPhase.AWAITING_APPROVAL.value or reason == "PauseStep":
        return str(status.get("currentStepName"))
    if reason == "PausedBySpec":
        raise Refused("paused by spec.paused: use `resume`")
    if reason in HOLD_REASONS and isinstance(index, int) and index + 1 < len(names):
        return names[index + 1]
    raise Refused(f"nothing waits for approval (phase {phase}, {reason}): step {index} runs on its own; "
                  "`promote --full` approves every remaining step")


def promote(rollout: Mapping[str, Any], full: bool = False) -> Patch:
    candidate = _candidate(rollout, "promote")
    if not full:
        step = waiting_step(rollout)
        return _approving(rollout, [step], candidate, f"approve step {step} for candidate {candidate}")
    if (rollout.get("spec") or {}).get("promoteFull") == candidate:
        raise Refused(f"spec.promoteFull already names {candidate}: the operator is promoting it (see `status`; "
                      "a candidate that is not Ready waits for it)")
    index = _status(rollout).get("currentStep") or 0
    remaining = step_names(rollout)[int(index):]
    return _patch(rollout, {"promoteFull": candidate},
                  f"promote {candidate} in full: skip {', '.join(remaining) or 'nothing'} (durations, approvals and "
                  "analysis included), 100% once Ready")


def pause(rollout: Mapping[str, Any]) -> Patch:
    if (rollout.get("spec") or {}).get("paused"):
        raise Refused("already paused (spec.paused is true)")
    return _patch(rollout, {"paused": True}, "pause: freeze the split where it is")


def resume(rollout: Mapping[str, Any]) -> Patch:
    if not (rollout.get("spec") or {}).get("paused"):
        raise Refused("not paused by spec.paused; a step waiting for approval needs `promote` or `approve`")
    return _patch(rollout, {"paused": False}, "resume: clear spec.paused")


def abort(rollout: Mapping[str, Any]) -> Patch:
    if (rollout.get("spec") or {}).get("abort"):
        raise Refused("already aborted (spec.abort is true)")
    return _patch(rollout, {"abort": True}, "abort: 100% on the stable version, the candidate kept for debugging")


def retry(rollout: Mapping[str, Any], now: datetime) -> Patch:
    spec, status = rollout.get("spec") or {}, _status(rollout)
    if spec.get("abort"):
        return _patch(rollout, {"abort": False}, f"retry: clear spec.abort, {spec.get('target')} starts again at 0")
    if status.get("phase") in OUT and status.get("candidate") == spec.get("target"):
        token = now.strftime("%Y%m%dT%H%M%SZ")
        return _patch(rollout, {"retry": token},
                      f"retry: spec.retry={token}, {status.get('candidate')} starts again from step 0")
    raise Refused(f"nothing to retry: phase {status.get('phase')}; retry applies to an aborted rollout, or to a "
                  "candidate RolledBack or Failed that spec.target still names")


def rollback(rollout: Mapping[str, Any], version: str | None, ready: Mapping[str, bool],
             full_rollout: bool = False) -> Patch:
    """``ready``: whether each warm version's ModelVersion is Ready (read by the caller)."""
    spec, status = rollout.get("spec") or {}, _status(rollout)
    stable, warm = status.get("stable"), list(status.get("warm") or [])
    version = version or stable
    if not version:
        raise Refused("no champion yet: nothing to roll back to")
    if version == spec.get("target") and version == stable and not status.get("candidate"):
        raise Refused(f"{version} is already the target and serves 100%")
    if version == stable:
        return _patch(rollout, {"target": version}, f"rollback: spec.target={version} (the champion), 100% at once")
    if version in warm and ready.get(version):
        return _patch(rollout, {"target": version}, f"rollback: spec.target={version} (warm), 100% at once")
    steps = len(step_names(rollout))
    why = (f"{version} is warm but its ModelVersion is not Ready" if version in warm else
           f"{version} is not warm (champion {stable}; warm: {', '.join(warm) or 'none'})")
    if not full_rollout:
        raise Refused(f"{why}: setting it as spec.target is not an instant rollback but a full rollout through "
                      f"{steps} step(s). Pass --full-rollout to start that rollout.")
    return _patch(rollout, {"target": version}, f"full rollout: spec.target={version} ({why})")
